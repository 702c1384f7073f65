/**
 * Streaming CSV rows (csv-parse) with errors that name the file, the row and the problem. A row with a
 * missing (or extra) column is an error, or, with `skipBad`, skipped and counted in `stats.skipped`.
 */
import { createReadStream, existsSync } from 'node:fs';
import { parse } from 'csv-parse';

export interface CsvRow {
  /** Values by column name. */
  values: Record<string, string>;
  /** 1-based data row number (the header is row 0). */
  row: number;
  /** 1-based line in the file where the row ends (multi-line quoted fields span several). */
  line: number;
}

export interface ReadCsvOptions {
  /** Columns that must exist in the header. */
  required?: readonly string[];
  /** Column names when the file has no header row (e.g. FSD50K vocabulary.csv). */
  columns?: readonly string[];
  /** Skip rows with a wrong number of columns instead of throwing; see `stats`. */
  skipBad?: boolean;
  onSkip?: (message: string) => void;
  stats?: LoadStats;
}

export interface LoadStats {
  rows: number;
  skipped: number;
  /** Why rows were skipped (first 20 messages). */
  problems: string[];
}

export function newStats(): LoadStats {
  return { rows: 0, skipped: 0, problems: [] };
}

export function skipOrThrow(options: { skipBad?: boolean; onSkip?: (m: string) => void; stats?: LoadStats }, message: string): void {
  if (!options.skipBad) throw new Error(message);
  if (options.stats) {
    options.stats.skipped++;
    if (options.stats.problems.length < 20) options.stats.problems.push(message);
  }
  options.onSkip?.(message);
}

export async function* readCsvRows(path: string, options: ReadCsvOptions = {}): AsyncGenerator<CsvRow> {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  const parser = createReadStream(path).pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, trim: false }),
  );
  let header: string[] | null = options.columns ? [...options.columns] : null;
  let row = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (header === null) {
        header = record.map((h) => h.trim());
        const missing = (options.required ?? []).filter((c) => !header!.includes(c));
        if (missing.length > 0) {
          throw new Error(`${path}: header is missing column(s) ${missing.join(', ')} (found: ${header.join(', ')})`);
        }
        continue;
      }
      row++;
      if (record.length !== header.length) {
        const problem = record.length < header.length ? `missing column(s) ${header.slice(record.length).join(', ')}` : `${record.length - header.length} extra column(s)`;
        skipOrThrow(options, `${path}: row ${row} (line ${info.lines}): ${record.length} columns, expected ${header.length} (${problem})`);
        continue;
      }
      const values: Record<string, string> = {};
      header.forEach((h, i) => (values[h] = record[i]));
      if (options.stats) options.stats.rows++;
      yield { values, row, line: info.lines };
    }
  } catch (err) {
    const e = err as Error & { code?: string; lines?: number };
    if (e.code && e.code.startsWith('CSV_')) throw new Error(`${path}: line ${e.lines ?? '?'}: malformed CSV (${e.message})`);
    throw err;
  }
  if (header === null) throw new Error(`${path}: empty CSV file (no header row)`);
}

/** Reads all rows into memory (fine for CSVs of up to a few hundred thousand rows). */
export async function readCsv(path: string, options: ReadCsvOptions = {}): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const r of readCsvRows(path, options)) rows.push(r);
  return rows;
}

/** A non-empty field or an error naming file, row and column. */
export function field(path: string, r: CsvRow, column: string): string {
  const v = r.values[column];
  if (v === undefined || v.trim() === '') throw new Error(`${path}: row ${r.row} (line ${r.line}): column "${column}" is empty`);
  return v;
}

/** A numeric field or an error naming file, row and column. */
export function numberField(path: string, r: CsvRow, column: string): number {
  const v = field(path, r, column);
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${path}: row ${r.row} (line ${r.line}): column "${column}" must be a number, got "${v}"`);
  return n;
}
