/**
 * The exported GPT-2 decoder on ONNX Runtime as a BatchDecoder: batched prefill, then one cached
 * step per generated token with rows reordered or dropped through `parents` (greedy and beam search
 * share it). The key/value cache stays in ONNX Runtime's output tensors between steps; it is copied
 * only when rows are reordered or dropped.
 */
import type { BatchDecoder } from '@mats/llm-lora';
import { DECODER_IO } from './export-gpt2.js';
import type { OrtModule, OrtSession, OrtTensor } from './ort.js';

/** What the decoder needs to know about the exported model (from the manifest). */
export interface DecoderShape {
  nLayer: number;
  nHead: number;
  headDim: number;
  nEmbd: number;
  vocabSize: number;
  nPositions: number;
}

/** The decoder shape of a GPT-2 config or an export manifest's `llm`. */
export function decoderShape(config: Omit<DecoderShape, 'headDim'>): DecoderShape {
  return { nLayer: config.nLayer, nHead: config.nHead, headDim: config.nEmbd / config.nHead, nEmbd: config.nEmbd, vocabSize: config.vocabSize, nPositions: config.nPositions };
}

/** The row state that lives between steps. */
interface CacheState {
  rows: number;
  /** attention_mask so far, row-major [rows, length]. */
  mask: BigInt64Array;
  length: number;
  /** Position id of each row's last input. */
  lastPosition: number[];
  keys: OrtTensor[];
  values: OrtTensor[];
}

/** A decoder over one ONNX Runtime session; one `start ... end` at a time per instance. */
export class OrtDecoder implements BatchDecoder<Float32Array> {
  readonly vocabSize: number;
  private state: CacheState | null = null;
  /** Whether the graph has the num_logits_to_keep input (files from other exporters may not). */
  private readonly canKeepLast: boolean;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly shape: DecoderShape,
  ) {
    this.vocabSize = shape.vocabSize;
    this.canKeepLast = session.inputNames.includes(DECODER_IO.numLogitsToKeep);
  }

  /**
   * Prefill. `prefix` is host data [rows, P, n_embd] (P may differ from run to run, not from row to
   * row), or null. Rows of different prompt lengths are padded on the left of their ids and the
   * padding is masked; positions count real inputs only, so each row computes what it would alone.
   */
  async start(prefix: Float32Array | null, promptIds: number[][]): Promise<Float32Array> {
    this.end();
    const { nEmbd: C, vocabSize: V } = this.shape;
    const rows = promptIds.length;
    if (rows === 0) throw new Error('OrtDecoder.start: no rows');
    let P = 0;
    if (prefix) {
      if (prefix.length % (rows * C) !== 0) throw new Error(`OrtDecoder.start: prefix has ${prefix.length} values, not a multiple of rows ${rows} x n_embd ${C}`);
      P = prefix.length / (rows * C);
    }
    const lengths = promptIds.map((r) => r.length);
    const S = Math.max(...lengths);
    if (P === 0 && S === 0) throw new Error('OrtDecoder.start: empty input (no prefix and no prompt ids)');
    if (P > 0 && S > 0 && lengths.some((n) => n === 0)) {
      throw new Error('OrtDecoder.start: with a prefix, every row needs at least one prompt id when some rows have ids (the last input of each row must be real)');
    }
    const T = P + S;
    if (T > this.shape.nPositions) throw new Error(`OrtDecoder.start: ${T} positions exceed n_positions ${this.shape.nPositions}`);
    const ids = new BigInt64Array(rows * S);
    const mask = new BigInt64Array(rows * T);
    const positions = new BigInt64Array(rows * T);
    const lastPosition: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row = promptIds[r];
      const pad = S - row.length;
      for (let t = 0; t < P; t++) {
        mask[r * T + t] = 1n;
        positions[r * T + t] = BigInt(t);
      }
      row.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`OrtDecoder.start: id ${id} at [${r}, ${j}] is outside the vocabulary [0, ${V})`);
        ids[r * S + pad + j] = BigInt(id);
        mask[r * T + P + pad + j] = 1n;
        positions[r * T + P + pad + j] = BigInt(P + j);
      });
      lastPosition.push(P + row.length - 1);
    }
    const { Tensor } = this.ort;
    const empty = new Float32Array(0);
    const past = (): OrtTensor => new Tensor('float32', empty, [rows, this.shape.nHead, 0, this.shape.headDim]);
    const feeds: Record<string, OrtTensor> = {
      [DECODER_IO.inputIds]: new Tensor('int64', ids, [rows, S]),
      [DECODER_IO.inputsEmbeds]: new Tensor('float32', prefix ?? empty, [rows, P, C]),
      [DECODER_IO.attentionMask]: new Tensor('int64', mask, [rows, T]),
      [DECODER_IO.positionIds]: new Tensor('int64', positions, [rows, T]),
    };
    for (let i = 0; i < this.shape.nLayer; i++) {
      feeds[DECODER_IO.pastKey(i)] = past();
      feeds[DECODER_IO.pastValue(i)] = past();
    }
    if (this.canKeepLast) feeds[DECODER_IO.numLogitsToKeep] = new Tensor('int64', BigInt64Array.from([1n]), [1]);
    const out = await this.session.run(feeds);
    const logits = out[DECODER_IO.logits];
    const L = logits.dims[1];
    const data = logits.data as Float32Array;
    const last = new Float32Array(rows * V);
    for (let r = 0; r < rows; r++) last.set(data.subarray((r * L + L - 1) * V, (r * L + L) * V), r * V);
    this.state = { rows, mask, length: T, lastPosition, ...this.presents(out) };
    return last;
  }

  async step(tokens: number[], parents: number[]): Promise<Float32Array> {
    const s = this.state;
    if (!s) throw new Error('OrtDecoder.step: call start() first');
    const rows = tokens.length;
    if (parents.length !== rows) throw new Error(`OrtDecoder.step: ${rows} tokens but ${parents.length} parents`);
    if (rows === 0) throw new Error('OrtDecoder.step: no rows');
    for (const p of parents) if (!Number.isInteger(p) || p < 0 || p >= s.rows) throw new Error(`OrtDecoder.step: parent ${p} is not a row of the previous step (0..${s.rows - 1})`);
    const V = this.vocabSize;
    const T = s.length + 1;
    if (T > this.shape.nPositions) throw new Error(`OrtDecoder.step: ${T} positions exceed n_positions ${this.shape.nPositions}`);
    const identity = rows === s.rows && parents.every((p, r) => p === r);
    const ids = new BigInt64Array(rows);
    const mask = new BigInt64Array(rows * T);
    const positions = new BigInt64Array(rows);
    const lastPosition: number[] = [];
    tokens.forEach((t, r) => {
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new Error(`OrtDecoder.step: token ${t} of row ${r} is outside the vocabulary [0, ${V})`);
      ids[r] = BigInt(t);
      const p = parents[r];
      mask.set(s.mask.subarray(p * s.length, (p + 1) * s.length), r * T);
      mask[r * T + s.length] = 1n;
      positions[r] = BigInt(s.lastPosition[p] + 1);
      lastPosition.push(s.lastPosition[p] + 1);
    });
    const { Tensor } = this.ort;
    const feeds: Record<string, OrtTensor> = {
      [DECODER_IO.inputIds]: new Tensor('int64', ids, [rows, 1]),
      [DECODER_IO.inputsEmbeds]: new Tensor('float32', new Float32Array(0), [rows, 0, this.shape.nEmbd]),
      [DECODER_IO.attentionMask]: new Tensor('int64', mask, [rows, T]),
      [DECODER_IO.positionIds]: new Tensor('int64', positions, [rows, 1]),
    };
    for (let i = 0; i < this.shape.nLayer; i++) {
      feeds[DECODER_IO.pastKey(i)] = identity ? s.keys[i] : this.gatherRows(s.keys[i], parents);
      feeds[DECODER_IO.pastValue(i)] = identity ? s.values[i] : this.gatherRows(s.values[i], parents);
    }
    if (this.canKeepLast) feeds[DECODER_IO.numLogitsToKeep] = new Tensor('int64', BigInt64Array.from([1n]), [1]);
    const out = await this.session.run(feeds);
    const logits = new Float32Array(out[DECODER_IO.logits].data as Float32Array);
    this.disposeCache(s);
    this.state = { rows, mask, length: T, lastPosition, ...this.presents(out) };
    return logits;
  }

  end(): void {
    if (this.state) this.disposeCache(this.state);
    this.state = null;
  }

  private presents(out: Record<string, OrtTensor>): { keys: OrtTensor[]; values: OrtTensor[] } {
    const keys: OrtTensor[] = [];
    const values: OrtTensor[] = [];
    for (let i = 0; i < this.shape.nLayer; i++) {
      keys.push(out[DECODER_IO.presentKey(i)]);
      values.push(out[DECODER_IO.presentValue(i)]);
    }
    out[DECODER_IO.logits].dispose?.();
    return { keys, values };
  }

  /** Rows `parents` of a [rows, H, past, D] tensor, as a new tensor. */
  private gatherRows(t: OrtTensor, parents: number[]): OrtTensor {
    const [, H, past, D] = t.dims;
    const block = H * past * D;
    const src = t.data as Float32Array;
    const out = new Float32Array(parents.length * block);
    parents.forEach((p, r) => out.set(src.subarray(p * block, (p + 1) * block), r * block));
    return new this.ort.Tensor('float32', out, [parents.length, H, past, D]);
  }

  private disposeCache(s: CacheState): void {
    for (const t of [...s.keys, ...s.values]) t.dispose?.();
  }
}
