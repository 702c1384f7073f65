/**
 * A small, general ONNX graph builder: named inputs, outputs, initializers, nodes with typed
 * attributes, value infos and opset imports, serialised to .onnx bytes with protobufjs and the
 * schema in schema.ts. Nothing here knows about GPT-2 or the mapper; the exporters use it.
 *
 * Initializers are stored as raw little-endian bytes (`raw_data`), as PyTorch's exporter does.
 */
import { modelProtoType } from './schema.js';

/** Element types used by the exporters (ONNX TensorProto.DataType codes in DTYPE_CODES). */
export type DType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8';

export const DTYPE_CODES: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9 };

export function dtypeFromCode(code: number): DType | undefined {
  return (Object.keys(DTYPE_CODES) as DType[]).find((k) => DTYPE_CODES[k] === code);
}

/** A dimension: a fixed size, or a symbolic name (e.g. 'batch'), or null for unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** null: rank unknown. */
  shape: Dim[] | null;
  doc?: string;
}

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface InitializerTensor {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** A typed attribute value (ONNX distinguishes ints from floats, so the tag is explicit). */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { tensor: InitializerTensor }
  | { graph: Graph };

export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain: string;
  attrs: Record<string, Attr>;
}

export interface ModelOptions {
  /** Opset of the default domain (ai.onnx). */
  opset: number;
  /** Other domains' opsets, e.g. { 'com.microsoft': 1 } (the exporters use none). */
  extraOpsets?: Record<string, number>;
  producerName?: string;
  producerVersion?: string;
  doc?: string;
  /** metadata_props of the model (string key/value pairs). */
  metadata?: Record<string, string>;
}

/** IR version that goes with opsets up to 17 (ONNX 1.12+). */
export const IR_VERSION = 8;

function elementCount(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function expectedArray(dtype: DType): string {
  return { float32: 'Float32Array', int64: 'BigInt64Array', int32: 'Int32Array', bool: 'Uint8Array', uint8: 'Uint8Array' }[dtype];
}

function checkData(name: string, dtype: DType, dims: number[], data: TensorData): void {
  const ok =
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'int64' && data instanceof BigInt64Array) ||
    (dtype === 'int32' && data instanceof Int32Array) ||
    ((dtype === 'bool' || dtype === 'uint8') && data instanceof Uint8Array);
  if (!ok) throw new Error(`ONNX graph: initializer "${name}" of type ${dtype} needs a ${expectedArray(dtype)}, got ${data.constructor.name}`);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`ONNX graph: initializer "${name}" has invalid dims ${JSON.stringify(dims)}`);
  if (data.length !== elementCount(dims)) throw new Error(`ONNX graph: initializer "${name}" has ${data.length} values, dims ${JSON.stringify(dims)} need ${elementCount(dims)}`);
}

export class Graph {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly valueInfos: ValueInfo[] = [];
  readonly initializers: InitializerTensor[] = [];
  readonly nodes: NodeSpec[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph "${this.name}": the name "${name}" is already used`);
    this.names.add(name);
    return name;
  }

  /** A fresh value name with this stem (stem_0, stem_1, ...). */
  fresh(stem: string): string {
    let name: string;
    do name = `${stem}_${this.counter++}`;
    while (this.names.has(name));
    return this.claim(name);
  }

  input(name: string, dtype: DType, shape: Dim[] | null, doc?: string): string {
    this.inputs.push({ name: this.claim(name), dtype, shape, doc });
    return name;
  }

  /** Declares `value` (an existing value name) as a graph output, renaming it through Identity when needed. */
  output(value: string, name: string, dtype: DType, shape: Dim[] | null, doc?: string): string {
    if (value !== name) this.node('Identity', [value], {}, [name]);
    this.outputs.push({ name, dtype, shape, doc });
    return name;
  }

  /** Shape/type annotation of an intermediate value (optional in ONNX; helps readers). */
  valueInfo(name: string, dtype: DType, shape: Dim[] | null): void {
    this.valueInfos.push({ name, dtype, shape });
  }

  initializer(name: string, dtype: DType, dims: number[], data: TensorData): string {
    checkData(name, dtype, dims, data);
    this.initializers.push({ name: this.claim(name), dtype, dims: [...dims], data });
    return name;
  }

  /** A small constant as an initializer with a generated name. */
  constant(dtype: DType, dims: number[], values: number[] | TensorData, stem = 'const'): string {
    let data: TensorData;
    if (Array.isArray(values)) {
      if (dtype === 'float32') data = Float32Array.from(values);
      else if (dtype === 'int64') data = BigInt64Array.from(values.map((v) => BigInt(v)));
      else if (dtype === 'int32') data = Int32Array.from(values);
      else data = Uint8Array.from(values);
    } else data = values;
    const name = this.fresh(stem);
    this.names.delete(name);
    return this.initializer(name, dtype, dims, data);
  }

  /** A scalar float constant. */
  scalar(value: number): string {
    return this.constant('float32', [], [value], 'scalar');
  }

  /** A 1-D int64 constant (shapes, axes, indices). */
  ints(values: number[]): string {
    return this.constant('int64', [values.length], values, 'ints');
  }

  /**
   * Adds a node; `outputs` are names to use, or a count of fresh names. Returns the output names.
   * An empty string in `inputs` is an omitted optional input, as in ONNX.
   */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs: string[] | number = 1, domain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs.map((o) => this.claim(o));
    this.nodes.push({ opType, inputs, outputs: outs, name: `${opType}_${this.nodes.length}`, domain, attrs });
    return outs;
  }

  /** A single-output node; returns its output name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputName?: string): string {
    return this.node(opType, inputs, attrs, outputName ? [outputName] : 1)[0];
  }

  /** Bytes of the model (ModelProto) holding this graph. */
  toBytes(options: ModelOptions): Uint8Array {
    const type = modelProtoType();
    const message = type.fromObject(modelObject(this, options));
    return type.encode(message).finish();
  }
}

function valueInfoObject(v: ValueInfo): Record<string, unknown> {
  const tensorType: Record<string, unknown> = { elem_type: DTYPE_CODES[v.dtype] };
  if (v.shape) tensorType.shape = { dim: v.shape.map((d) => (d === null ? {} : typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  return { name: v.name, type: { tensor_type: tensorType }, ...(v.doc ? { doc_string: v.doc } : {}) };
}

function tensorObject(t: InitializerTensor): Record<string, unknown> {
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name: t.name, data_type: DTYPE_CODES[t.dtype], dims: t.dims, raw_data: raw };
}

function attributeObject(name: string, a: Attr, options: ModelOptions): Record<string, unknown> {
  if ('int' in a) return { name, type: 2, i: a.int };
  if ('float' in a) return { name, type: 1, f: a.float };
  if ('ints' in a) return { name, type: 7, ints: a.ints };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  if ('string' in a) return { name, type: 3, s: new TextEncoder().encode(a.string) };
  if ('tensor' in a) return { name, type: 4, t: tensorObject(a.tensor) };
  return { name, type: 5, g: graphObject(a.graph, options) };
}

function graphObject(g: Graph, options: ModelOptions): Record<string, unknown> {
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      input: n.inputs,
      output: n.outputs,
      name: n.name,
      op_type: n.opType,
      domain: n.domain,
      attribute: Object.entries(n.attrs).map(([k, v]) => attributeObject(k, v, options)),
    })),
    initializer: g.initializers.map(tensorObject),
    input: g.inputs.map(valueInfoObject),
    output: g.outputs.map(valueInfoObject),
    value_info: g.valueInfos.map(valueInfoObject),
  };
}

function modelObject(g: Graph, options: ModelOptions): Record<string, unknown> {
  const opsets = [{ domain: '', version: options.opset }, ...Object.entries(options.extraOpsets ?? {}).map(([domain, version]) => ({ domain, version }))];
  return {
    ir_version: IR_VERSION,
    opset_import: opsets,
    producer_name: options.producerName ?? '@mats/model',
    producer_version: options.producerVersion ?? '',
    doc_string: options.doc ?? '',
    graph: graphObject(g, options),
    metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}
