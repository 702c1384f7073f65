/**
 * Training records streamed from JSONL files in bounded memory, mixed by weight, with an exactly
 * resumable position.
 *
 * - `JsonlCursor` reads a file line by line from any byte offset (positional reads of 256 KiB), so a
 *   position is three numbers: byte offset, line, and the ordinal of the next record (the index among
 *   the file's valid records, which is also the record's row in a per-file embedding cache).
 * - `RecordStream` walks each source in a new shuffled order every epoch through a shuffle buffer
 *   (`shuffleBuffer` records per source: the only records in memory) and picks the source of each
 *   draw with probability weight / sum(weights). Its state (`getState`) is plain JSON: the mixing RNG,
 *   and per source the cursor, the shuffle RNG and the positions of the records in the buffer (which
 *   `setState` reads back from the file). A stream restored from a state yields exactly what the
 *   original would have yielded next.
 * - `scanRecords` is one pass in file order (embedding, validation, Santa's memory), and
 *   `reservoirSample` a seeded uniform sample of k items from a stream of unknown length.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Rng, type RngState } from '@mats/core';
import { validateRecord, type AudioTIARecord } from './records.js';

/** Bytes per read. Reads are synchronous positional reads: for a stream of small lines they are several
 * times faster than the thread-pool round trip of each async read, and a read of 256 KiB is short. */
const CHUNK = 1 << 18;

export interface CursorPosition {
  /** Byte offset of the next unread line. */
  offset: number;
  /** 1-based number of that line. */
  line: number;
  /** Ordinal the next valid record gets (0-based, counts valid records only). */
  ordinal: number;
}

export interface CursorOptions {
  /** Skip malformed lines (counted in `skipped`) instead of throwing `file:line: ...`. */
  skipBad?: boolean;
  onSkip?: (error: Error) => void;
}

/** A valid record of a file and where it is. */
export interface LocatedRecord {
  record: AudioTIARecord;
  offset: number;
  line: number;
  ordinal: number;
}

function fileError(path: string, err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new Error(`${path}: the source file is gone (${what}); restore it, or remove the source from the config`);
  return new Error(`${path}: cannot read (${what}): ${code ?? (err as Error).message}`);
}

/** Parses and validates one line; throws `file:line: ...`. Returns null for a blank line. */
function parseLine(path: string, line: number, text: string): AudioTIARecord | null {
  const t = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch (err) {
    const shown = t.length > 60 ? `${t.slice(0, 60)}...` : t;
    throw new Error(`${path}:${line}: line is not valid JSON (${(err as Error).message}): ${shown}`);
  }
  return validateRecord(parsed, `${path}:${line}`);
}

/** Reads AudioTIA records of one JSONL file from a position; see the module comment. */
export class JsonlCursor {
  private fd: number | null = null;
  /** Read buffer, reused: bytes [0, bufLen) are the file from `pendingStart` on. */
  private buf: Buffer = Buffer.allocUnsafe(2 * CHUNK);
  private bufLen = 0;
  /** File offset of buf[0]. */
  private pendingStart = 0;
  private eof = false;
  private position: CursorPosition;
  /** Malformed lines skipped so far (with `skipBad`). */
  skipped = 0;

  private constructor(
    readonly path: string,
    readonly size: number,
    start: CursorPosition,
    private readonly options: CursorOptions,
  ) {
    this.position = { ...start };
    this.pendingStart = start.offset;
  }

  /** Opens `path` at `start` (default: the beginning). `what` names the moment in errors. */
  static async open(path: string, start: CursorPosition = { offset: 0, line: 1, ordinal: 0 }, options: CursorOptions = {}, what = 'opening it'): Promise<JsonlCursor> {
    let size: number;
    let fd: number;
    try {
      fd = openSync(path, 'r');
      size = fstatSync(fd).size;
    } catch (err) {
      throw fileError(path, err, what);
    }
    if (start.offset > size) {
      closeSync(fd);
      throw new Error(`${path}: position ${start.offset} is past the end of the file (${size} bytes): the file changed since the position was saved`);
    }
    const c = new JsonlCursor(path, size, start, options);
    c.fd = fd;
    return c;
  }

  get at(): CursorPosition {
    return { ...this.position };
  }

  /** The next valid record, or null at the end of the file. */
  async next(): Promise<LocatedRecord | null> {
    for (;;) {
      const raw = await this.rawLine();
      if (raw === null) return null;
      const { text, offset, line } = raw;
      let record: AudioTIARecord | null;
      try {
        record = parseLine(this.path, line, text);
      } catch (err) {
        if (!this.options.skipBad) throw err;
        this.skipped++;
        this.options.onSkip?.(err as Error);
        continue;
      }
      if (record === null) continue;
      const ordinal = this.position.ordinal++;
      return { record, offset, line, ordinal };
    }
  }

  /** Reads and validates the single line at `offset` (a position saved earlier). */
  async recordAt(offset: number, line: number, ordinal: number): Promise<LocatedRecord> {
    if (this.fd === null) throw new Error(`${this.path}: cursor is closed`);
    let buf = Buffer.alloc(0);
    for (let at = offset; ; at += CHUNK) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const bytesRead = readSync(this.fd, chunk, 0, CHUNK, at);
      buf = Buffer.concat([buf, chunk.subarray(0, bytesRead)]);
      const nl = buf.indexOf(0x0a);
      if (nl >= 0 || bytesRead < CHUNK) {
        const record = parseLine(this.path, line, buf.subarray(0, nl >= 0 ? nl : buf.length).toString('utf8').replace(/\r$/, ''));
        if (record === null) throw new Error(`${this.path}:${line}: the saved position (byte ${offset}) points at a blank line: the file changed since the state was saved`);
        return { record, offset, line, ordinal };
      }
    }
  }

  private async rawLine(): Promise<{ text: string; offset: number; line: number } | null> {
    if (this.fd === null) throw new Error(`${this.path}: cursor is closed`);
    for (;;) {
      const rel = this.position.offset - this.pendingStart;
      let nl = this.buf.indexOf(0x0a, rel);
      if (nl >= this.bufLen) nl = -1; // bytes past bufLen are stale
      if (nl >= 0 || (this.eof && rel < this.bufLen)) {
        const end = nl >= 0 ? nl : this.bufLen;
        const text = this.buf.toString('utf8', rel, end > rel && this.buf[end - 1] === 0x0d ? end - 1 : end);
        const offset = this.position.offset;
        const line = this.position.line;
        this.position.offset = this.pendingStart + end + (nl >= 0 ? 1 : 0);
        this.position.line++;
        return { text, offset, line };
      }
      if (this.eof) return null;
      // Move the unread tail to the front of the (reused) buffer and read the next chunk after it.
      const tail = this.bufLen - rel;
      if (this.buf.length - tail < CHUNK) {
        const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, tail + CHUNK));
        this.buf.copy(bigger, 0, rel, this.bufLen);
        this.buf = bigger;
      } else this.buf.copyWithin(0, rel, this.bufLen);
      this.pendingStart = this.position.offset;
      this.bufLen = tail;
      let bytesRead: number;
      try {
        bytesRead = readSync(this.fd, this.buf, tail, CHUNK, this.pendingStart + tail);
      } catch (err) {
        throw fileError(this.path, err, `reading line ${this.position.line}`);
      }
      this.bufLen += bytesRead;
      if (bytesRead === 0) this.eof = true;
    }
  }

  async close(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export interface ScanOptions extends CursorOptions {
  /** Records for which this is false are read (they keep their ordinal) but not yielded. */
  keep?: (record: AudioTIARecord, ordinal: number) => boolean;
}

/** One pass over the valid records of a file in order, with their ordinals. */
export async function* scanRecords(path: string, options: ScanOptions = {}): AsyncGenerator<LocatedRecord> {
  const cursor = await JsonlCursor.open(path, undefined, options);
  try {
    for (;;) {
      const r = await cursor.next();
      if (r === null) return;
      if (!options.keep || options.keep(r.record, r.ordinal)) yield r;
    }
  } finally {
    await cursor.close();
  }
}

/** A seeded uniform sample of `k` items of a stream (Algorithm R); fewer when the stream is shorter. Memory: k items. */
export async function reservoirSample<T>(items: Iterable<T> | AsyncIterable<T>, k: number, seed: number | string): Promise<T[]> {
  if (!Number.isInteger(k) || k < 0) throw new Error(`reservoirSample: k must be an integer >= 0, got ${k}`);
  const rng = new Rng(seed);
  const sample: T[] = [];
  let seen = 0;
  for await (const item of items as AsyncIterable<T>) {
    if (sample.length < k) sample.push(item);
    else {
      const j = rng.int(seen + 1);
      if (j < k) sample[j] = item;
    }
    seen++;
  }
  return sample;
}

export interface StreamSource {
  name: string;
  path: string;
  /** Relative weight; a source with weight 0 is never drawn. */
  weight: number;
}

export interface RecordStreamOptions<A = undefined> extends CursorOptions {
  seed: number | string;
  /**
   * Called for each record as it enters its source's shuffle buffer (in file order, so a cache read
   * this way is read sequentially); what it returns travels with the record (`attached`). Records
   * restored from a state are attached again when the stream opens.
   */
  attach?: (source: number, record: AudioTIARecord, ordinal: number) => Promise<A> | A;
  /** Records held per source for shuffling (default 1024). 1 = file order. */
  shuffleBuffer?: number;
  /** Records for which this is false are not drawn (e.g. the validation hold-out); they keep their ordinal. */
  keep?: (record: AudioTIARecord, ordinal: number) => boolean;
}

/** A drawn record: which source, its ordinal in that file, and the epoch of that source it belongs to. */
export interface StreamedRecord<A = undefined> {
  source: number;
  record: AudioTIARecord;
  ordinal: number;
  epoch: number;
  /** What `attach` returned for it. */
  attached: A;
}

export interface SourceStreamState {
  path: string;
  /** File size when the stream started: a changed file is an error on resume, not silent drift. */
  size: number;
  epoch: number;
  cursor: CursorPosition;
  shuffle: RngState;
  /** Records in the shuffle buffer, in buffer order: [byte offset, line, ordinal]. */
  buffer: [number, number, number][];
  /** Records drawn in the current epoch. */
  drawn: number;
  skipped: number;
}

export interface RecordStreamState {
  version: 1;
  mix: RngState;
  sources: SourceStreamState[];
}

interface LiveSource<A> {
  spec: StreamSource;
  cursor: JsonlCursor;
  exhausted: boolean;
  epoch: number;
  shuffle: Rng;
  buffer: (LocatedRecord & { attached: A })[];
  drawn: number;
  skippedBefore: number;
}

/** See the module comment. Create with `RecordStream.open`; call `close` at the end. */
export class RecordStream<A = undefined> {
  private readonly indices: number[];
  private readonly weights: number[];

  private constructor(
    private readonly sources: LiveSource<A>[],
    private readonly mix: Rng,
    private readonly options: RecordStreamOptions<A>,
    private readonly capacity: number,
  ) {
    this.indices = sources.map((_, i) => i);
    this.weights = sources.map((s) => s.spec.weight);
  }

  static async open<A = undefined>(sources: StreamSource[], options: RecordStreamOptions<A>, state?: RecordStreamState): Promise<RecordStream<A>> {
    if (sources.length === 0) throw new Error('RecordStream: no sources');
    for (const s of sources) {
      if (!Number.isFinite(s.weight) || s.weight < 0) throw new Error(`RecordStream: source "${s.name}" (${s.path}) has weight ${s.weight}; weights must be finite and >= 0`);
    }
    const total = sources.reduce((a, s) => a + s.weight, 0);
    if (!(total > 0)) throw new Error(`RecordStream: the weights of the ${sources.length} source(s) sum to ${total}; at least one must be > 0 (${sources.map((s) => `${s.name}: ${s.weight}`).join(', ')})`);
    const capacity = options.shuffleBuffer ?? 1024;
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`RecordStream: shuffleBuffer must be a positive integer, got ${capacity}`);
    if (state) {
      if (state.version !== 1 || !Array.isArray(state.sources) || state.sources.length !== sources.length) {
        throw new Error(`RecordStream state: expected version 1 with ${sources.length} sources, got version ${state?.version} with ${state?.sources?.length}`);
      }
    }
    const live: LiveSource<A>[] = [];
    try {
      for (const [i, spec] of sources.entries()) {
        const st = state?.sources[i];
        if (st && st.path !== spec.path) throw new Error(`RecordStream state: source ${i} was ${st.path}, now ${spec.path}`);
        const cursor = await JsonlCursor.open(spec.path, st?.cursor, options, st ? `resuming epoch ${st.epoch}` : 'opening it');
        const source: LiveSource<A> = { spec, cursor, exhausted: false, epoch: st?.epoch ?? 0, shuffle: new Rng(`${options.seed}/stream-shuffle/${i}`), buffer: [], drawn: st?.drawn ?? 0, skippedBefore: st?.skipped ?? 0 };
        live.push(source);
        if (st) {
          if (st.size !== cursor.size) throw new Error(`${spec.path}: the file changed since the state was saved (${cursor.size} bytes, was ${st.size}); the position cannot be trusted`);
          source.shuffle.setState(st.shuffle);
          for (const [offset, line, ordinal] of st.buffer) {
            const r = await cursor.recordAt(offset, line, ordinal);
            source.buffer.push({ ...r, attached: (await options.attach?.(i, r.record, r.ordinal)) as A });
          }
        }
      }
    } catch (err) {
      for (const s of live) await s.cursor.close();
      throw err;
    }
    const mix = new Rng(`${options.seed}/stream-mix`);
    if (state) mix.setState(state.mix);
    return new RecordStream<A>(live, mix, options, capacity);
  }

  /** The next record of the mix (the stream never ends: each source starts a new epoch when it runs out). */
  async next(): Promise<StreamedRecord<A>> {
    const s = this.sources.length === 1 ? 0 : this.mix.choice(this.indices, this.weights);
    return this.draw(s);
  }

  /** `count` records. */
  async take(count: number): Promise<StreamedRecord<A>[]> {
    const out: StreamedRecord<A>[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next());
    return out;
  }

  private async fill(src: LiveSource<A>, index: number): Promise<void> {
    while (!src.exhausted && src.buffer.length < this.capacity) {
      const r = await src.cursor.next();
      if (r === null) src.exhausted = true;
      else if (!this.options.keep || this.options.keep(r.record, r.ordinal)) src.buffer.push({ ...r, attached: (await this.options.attach?.(index, r.record, r.ordinal)) as A });
    }
  }

  private async draw(index: number): Promise<StreamedRecord<A>> {
    const src = this.sources[index];
    await this.fill(src, index);
    if (src.buffer.length === 0) {
      if (src.drawn === 0) throw new Error(`${src.spec.path}: source "${src.spec.name}" has no records to draw${this.options.keep ? ' (after holding out validation records)' : ''}`);
      // A new epoch: read the file again from the start.
      const epoch = src.epoch + 1;
      const skipped = src.skippedBefore + src.cursor.skipped;
      const size = src.cursor.size;
      await src.cursor.close();
      src.cursor = await JsonlCursor.open(src.spec.path, undefined, this.options, `starting epoch ${epoch} of source "${src.spec.name}"`);
      if (src.cursor.size !== size) throw new Error(`${src.spec.path}: the file changed during the run (${src.cursor.size} bytes, was ${size})`);
      src.skippedBefore = skipped;
      src.epoch = epoch;
      src.exhausted = false;
      src.drawn = 0;
      await this.fill(src, index);
    }
    const j = src.shuffle.int(src.buffer.length);
    const picked = src.buffer[j];
    src.buffer[j] = src.buffer[src.buffer.length - 1];
    src.buffer.pop();
    src.drawn++;
    return { source: index, record: picked.record, ordinal: picked.ordinal, epoch: src.epoch, attached: picked.attached };
  }

  /** Malformed lines skipped so far per source (`skipBad`), counted once per epoch they were read in. */
  get skipped(): number[] {
    return this.sources.map((s) => s.skippedBefore + s.cursor.skipped);
  }

  getState(): RecordStreamState {
    return {
      version: 1,
      mix: this.mix.getState(),
      sources: this.sources.map((s) => ({
        path: s.spec.path,
        size: s.cursor.size,
        epoch: s.epoch,
        cursor: s.cursor.at,
        shuffle: s.shuffle.getState(),
        buffer: s.buffer.map((r) => [r.offset, r.line, r.ordinal] as [number, number, number]),
        drawn: s.drawn,
        skipped: s.skippedBefore + s.cursor.skipped,
      })),
    };
  }

  async close(): Promise<void> {
    for (const s of this.sources) await s.cursor.close();
  }
}
