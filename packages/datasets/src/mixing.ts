/**
 * Streaming shuffles and weighted mixing of record sources, seeded with @mats/core's Rng.
 */
import { Rng } from '@mats/core';

/**
 * A shuffle buffer (as in tf.data): keeps `bufferSize` items, yields a random one of them for each new
 * item read. Memory is bounded by the buffer; a buffer at least as large as the input is a full shuffle.
 */
export async function* shuffleBuffer<T>(source: Iterable<T> | AsyncIterable<T>, bufferSize: number, seed: number | string | Rng): AsyncGenerator<T> {
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`shuffleBuffer: bufferSize must be a positive integer, got ${bufferSize}`);
  const rng = seed instanceof Rng ? seed : new Rng(seed);
  const buffer: T[] = [];
  for await (const item of source as AsyncIterable<T>) {
    if (buffer.length < bufferSize) {
      buffer.push(item);
      continue;
    }
    const j = rng.int(bufferSize);
    const out = buffer[j];
    buffer[j] = item;
    yield out;
  }
  // Drain the rest in random order.
  rng.shuffle(buffer);
  yield* buffer;
}

export interface MixSource<T> {
  name: string;
  /** A function that opens the source (called again when `repeat` restarts it). */
  open: () => Iterable<T> | AsyncIterable<T>;
  /** Relative weight (the paper mixes datasets by ratio). */
  weight: number;
}

export interface MixOptions {
  seed: number | string | Rng;
  /**
   * 'exhaust' (default): when a source runs out it leaves the mix and the others continue with their
   * weights renormalised; the mix ends when all are exhausted.
   * 'stop': the mix ends when the first source runs out.
   * 'repeat': exhausted sources are reopened; the mix never ends on its own (take what you need).
   */
  until?: 'exhaust' | 'stop' | 'repeat';
}

/** Interleaves several sources: each next item comes from a source drawn with probability proportional to its weight. */
export async function* mixSources<T>(sources: MixSource<T>[], options: MixOptions): AsyncGenerator<{ source: string; item: T }> {
  if (sources.length === 0) throw new Error('mixSources: no sources');
  for (const s of sources) {
    if (!(s.weight >= 0) || !Number.isFinite(s.weight)) throw new Error(`mixSources: source "${s.name}" has weight ${s.weight}; weights must be finite and >= 0`);
  }
  const rng = options.seed instanceof Rng ? options.seed : new Rng(options.seed);
  const until = options.until ?? 'exhaust';
  const live = sources.filter((s) => s.weight > 0).map((s) => ({ s, it: iteratorOf(s.open()), restarts: 0 }));
  if (live.length === 0) throw new Error('mixSources: all weights are zero');
  while (live.length > 0) {
    const k = live.length === 1 ? 0 : pickIndex(rng, live.map((l) => l.s.weight));
    const entry = live[k];
    let next = await entry.it.next();
    if (next.done && until === 'repeat') {
      entry.it = iteratorOf(entry.s.open());
      next = await entry.it.next();
      if (next.done) throw new Error(`mixSources: source "${entry.s.name}" is empty and cannot be repeated`);
    }
    if (next.done) {
      if (until === 'stop') return;
      live.splice(k, 1);
      continue;
    }
    yield { source: entry.s.name, item: next.value };
  }
}

function pickIndex(rng: Rng, weights: number[]): number {
  return rng.choice(weights.map((_, i) => i), weights);
}

function iteratorOf<T>(source: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> & { next(): IteratorResult<T> } {
  const asyncIt = (source as AsyncIterable<T>)[Symbol.asyncIterator];
  if (asyncIt) return asyncIt.call(source);
  return (source as Iterable<T>)[Symbol.iterator]();
}
