/**
 * Streaming JSON Lines. Reading goes line by line through a stream, so a file of millions of records is
 * never held in memory; every error names the file and the 1-based line. Writing appends lines through a
 * write stream and renames a temporary file into place on close, so a killed run leaves no half file.
 */
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { validateRecord, type AudioTIARecord } from './records.js';

export interface JsonlLine<T> {
  value: T;
  /** 1-based line number in the file. */
  line: number;
}

export interface ReadJsonlOptions<T> {
  /**
   * Called on each parsed value with its location ("file:line"); return the value to yield or throw.
   * Use it to validate (see `readRecords`).
   */
  validate?: (value: unknown, where: string) => T;
  /**
   * When true, lines that fail to parse or validate are skipped instead of throwing; each is reported
   * through `onSkip` and counted in `stats.skipped`. Default false: the first bad line is an error.
   */
  skipBad?: boolean;
  onSkip?: (error: Error, line: number) => void;
  /** Filled while reading: lines yielded and lines skipped. Blank lines are neither. */
  stats?: { read: number; skipped: number };
}

/** Async iterator over the JSON values of a JSONL file, with line numbers. Blank lines are ignored. */
export async function* readJsonlLines<T = unknown>(path: string, options: ReadJsonlOptions<T> = {}): AsyncGenerator<JsonlLine<T>> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`${path}: cannot read JSONL file (${err.code ?? err.message})`)));
  });
  await opened;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      const text = lineNo === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (text.trim() === '') continue;
      let value: T;
      try {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (err) {
          const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
          throw new Error(`${path}:${lineNo}: line is not valid JSON (${(err as Error).message}): ${shown}`);
        }
        value = options.validate ? options.validate(parsed, `${path}:${lineNo}`) : (parsed as T);
      } catch (err) {
        if (!options.skipBad) throw err;
        if (options.stats) options.stats.skipped++;
        options.onSkip?.(err as Error, lineNo);
        continue;
      }
      if (options.stats) options.stats.read++;
      yield { value, line: lineNo };
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Async iterator over the values of a JSONL file (see `readJsonlLines`). */
export async function* readJsonl<T = unknown>(path: string, options: ReadJsonlOptions<T> = {}): AsyncGenerator<T> {
  for await (const { value } of readJsonlLines(path, options)) yield value;
}

/** Streams AudioTIA records from a JSONL file, validating each (errors name file:line and field). */
export function readRecords(path: string, options: Omit<ReadJsonlOptions<AudioTIARecord>, 'validate'> = {}): AsyncGenerator<AudioTIARecord> {
  return readJsonl<AudioTIARecord>(path, { ...options, validate: validateRecord });
}

let writerSerial = 0;

/** Writes values one per line. Use `write` then `close`; the file appears under its name only after close. */
export class JsonlWriter {
  private readonly tmp: string;
  private readonly stream: WriteStream;
  private count = 0;
  private failed: Error | null = null;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++writerSerial}.tmp`);
    this.stream = createWriteStream(this.tmp, { encoding: 'utf8' });
    this.stream.on('error', (err) => {
      this.failed = err;
    });
  }

  /** Appends one value; resolves when the stream can take more (backpressure). */
  async write(value: unknown): Promise<void> {
    if (this.failed) throw new Error(`${this.path}: write failed: ${this.failed.message}`);
    const line = JSON.stringify(value);
    if (line === undefined) throw new Error(`${this.path}: line ${this.count + 1}: value is not JSON-serialisable`);
    this.count++;
    if (!this.stream.write(line + '\n')) await once(this.stream, 'drain');
  }

  /** Lines written so far. */
  get lines(): number {
    return this.count;
  }

  /** Flushes, closes and renames into place. */
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    if (this.failed) {
      rmSync(this.tmp, { force: true });
      throw new Error(`${this.path}: write failed: ${this.failed.message}`);
    }
    renameSync(this.tmp, this.path);
  }

  /** Closes and deletes the temporary file (nothing appears under the real name). */
  async abort(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'close').catch(() => undefined);
    rmSync(this.tmp, { force: true });
  }
}

/** Writes all values of an (async) iterable to a JSONL file; returns the number of lines. */
export async function writeJsonl(path: string, values: Iterable<unknown> | AsyncIterable<unknown>): Promise<number> {
  const writer = new JsonlWriter(path);
  try {
    for await (const v of values as AsyncIterable<unknown>) await writer.write(v);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  await writer.close();
  return writer.lines;
}
