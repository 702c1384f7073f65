import { readFileBytes } from './files.js';
import { writeFileAtomic } from './files.js';

/** Tensor dtypes this project reads and writes (the safetensors spelling). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/**
 * One tensor. Floating-point dtypes (F64/F32/F16/BF16) are always read into a Float32Array; I64 into
 * a BigInt64Array; the other integer types into their matching typed array.
 */
export interface Tensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The `__metadata__` string map of the header. */
  metadata: Record<string, string>;
}

/** What a writer accepts per tensor; `dtype` defaults from the typed array (F32 for Float32Array). */
export interface TensorToWrite {
  data: Float32Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;
  shape: number[];
  /** Store a Float32Array as F16 or BF16 (lossy) instead of F32. */
  dtype?: SafetensorsDtype;
}

const MAX_HEADER = 100_000_000;

/** Reads a .safetensors file (see parseSafetensors). */
export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileBytes(path);
  } catch (err) {
    throw new Error(`${path}: cannot read safetensors file: ${(err as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Parses safetensors bytes, validating the header, every dtype/shape/offset, that data regions
 * neither overlap nor leave holes, and that the file is not truncated.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER) fail(`header length ${headerLength} exceeds ${MAX_HEADER} bytes`);
  if (8 + headerLength > bytes.length) fail(`header claims ${headerLength} bytes but the file has only ${bytes.length - 8} after the length (truncated?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    return fail(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as object)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!info || typeof info !== 'object') fail(`tensor "${name}": entry is not an object`);
    if (typeof info.dtype !== 'string' || !(info.dtype in BYTES)) {
      fail(`tensor "${name}": unsupported dtype ${JSON.stringify(info.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`);
    }
    const dtype = info.dtype as SafetensorsDtype;
    if (!Array.isArray(info.shape) || info.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      fail(`tensor "${name}": shape must be a list of non-negative integers, got ${JSON.stringify(info.shape)}`);
    }
    const shape = info.shape as number[];
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isInteger(o) || o < 0)) {
      fail(`tensor "${name}": data_offsets must be [begin, end] integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (end < begin) fail(`tensor "${name}": data_offsets end ${end} is before begin ${begin}`);
    if (end - begin !== expected) {
      fail(`tensor "${name}": ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLength) fail(`tensor "${name}": data_offsets end ${end} is past the end of the data (${dataLength} bytes; truncated file?)`);
    entries.push({ name, dtype, shape, begin, end });
  }
  // The format stores tensors back to back: overlaps mean corruption, holes mean a bad writer.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`tensor "${e.name}": data [${e.begin}, ${e.end}) overlaps the previous tensor (which ends at ${cursor})`);
    if (e.begin > cursor) fail(`tensor "${e.name}": gap of ${e.begin - cursor} bytes before its data at ${e.begin}`);
    cursor = e.end;
  }
  if (cursor !== dataLength) fail(`${dataLength - cursor} trailing bytes after the last tensor`);

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, raw) });
  }
  return { tensors, metadata };
}

function decode(dtype: SafetensorsDtype, raw: Uint8Array): Tensor['data'] {
  // Copy into a fresh, aligned buffer: typed-array views need alignment and callers may keep the data.
  const buf = new Uint8Array(raw).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16':
      return f16ToF32(new Uint16Array(buf));
    case 'BF16': {
      const src = new Uint16Array(buf);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return new BigInt64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buf);
  }
}

/** IEEE half -> single precision, subnormals, infinities and NaN included. */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Single -> half precision with round-to-nearest-even (as numpy and torch do). */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/** Single -> bfloat16 with round-to-nearest-even. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Serialises tensors (in the order given) and metadata to safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const items = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of items) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const dtype = t.dtype ?? defaultDtype(t.data);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`safetensors: tensor "${name}" has invalid shape ${JSON.stringify(t.shape)}`);
    if (count !== t.data.length) throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values but shape ${JSON.stringify(t.shape)} needs ${count}`);
    const blob = encode(name, dtype, t.data);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const b of blobs) {
    out.set(b, cursor);
    cursor += b.length;
  }
  return out;
}

/** Writes a .safetensors file atomically (temporary name, then rename). */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

function defaultDtype(data: TensorToWrite['data']): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  return 'U8';
}

function encode(name: string, dtype: SafetensorsDtype, data: TensorToWrite['data']): Uint8Array {
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const mismatch = () => new Error(`safetensors: tensor "${name}" cannot be written as ${dtype} from a ${data.constructor.name}`);
  switch (dtype) {
    case 'F32':
      if (!(data instanceof Float32Array)) throw mismatch();
      return bytesOf(data);
    case 'F16':
      if (!(data instanceof Float32Array)) throw mismatch();
      return bytesOf(f32ToF16(data));
    case 'BF16':
      if (!(data instanceof Float32Array)) throw mismatch();
      return bytesOf(f32ToBf16(data));
    case 'F64':
      if (!(data instanceof Float32Array)) throw mismatch();
      return bytesOf(Float64Array.from(data));
    case 'I64':
      if (data instanceof BigInt64Array) return bytesOf(data);
      if (data instanceof Int32Array) return bytesOf(BigInt64Array.from(data, (v) => BigInt(v)));
      throw mismatch();
    case 'I32':
      if (!(data instanceof Int32Array)) throw mismatch();
      return bytesOf(data);
    case 'I16':
      if (!(data instanceof Int16Array)) throw mismatch();
      return bytesOf(data);
    case 'I8':
      if (!(data instanceof Int8Array)) throw mismatch();
      return bytesOf(data);
    case 'U8':
    case 'BOOL':
      if (!(data instanceof Uint8Array)) throw mismatch();
      return bytesOf(data);
  }
}

/** Returns a float tensor's data, or throws naming the tensor when it is missing or not floating point. */
export function getFloatTensor(file: SafetensorsFile, name: string, expectedShape?: number[], source = 'safetensors'): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`${source}: missing tensor "${name}"`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${source}: tensor "${name}" has dtype ${t.dtype}, expected a floating-point dtype`);
  if (expectedShape && (expectedShape.length !== t.shape.length || expectedShape.some((d, i) => d !== t.shape[i]))) {
    throw new Error(`${source}: tensor "${name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(expectedShape)}`);
  }
  return t.data;
}

/**
 * Rejects a weight file holding NaN or +-Infinity in any floating-point tensor (a diverged or
 * corrupted save), naming the file, the tensor and the first bad element, so a model never runs on
 * weights that turn every output into NaN.
 */
export function assertFiniteTensors(file: SafetensorsFile, source = 'safetensors'): void {
  for (const [name, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v - v !== 0) {
        throw new Error(`${source}: tensor "${name}" (shape ${JSON.stringify(t.shape)}) holds ${v} at element ${i}; the weights are corrupt or come from a diverged run`);
      }
    }
  }
}
