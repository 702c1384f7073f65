/**
 * Reads what a model file declares (opsets, inputs and outputs with their types and shapes) without
 * decoding its weights: the ModelProto is walked field by field and initializers are skipped. Used to
 * check an export folder against its manifest, and a user's file against the opsets supported here,
 * before ONNX Runtime sees it.
 */
import protobuf from 'protobufjs';
import { type DType, type Dim, type ValueInfo, dtypeFromCode } from './graph.js';
import { onnxRoot } from './schema.js';

/** Opsets of the default domain that the exporters write and the runtime is tested with. */
export const SUPPORTED_OPSETS = { min: 14, max: 17 } as const;

export interface ModelInfo {
  irVersion: number;
  /** Domain ('' = ai.onnx) -> version. */
  opsets: Map<string, number>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  metadata: Record<string, string>;
}

interface DecodedValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number | protobuf.Long; dim_param?: string }[] } } };
}

/** int64 fields: protobufjs gives numbers, or { low, high } objects when long.js is installed. */
function toNumber(v: number | protobuf.Long | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  return v.high * 2 ** 32 + (v.low >>> 0);
}

function valueInfo(v: DecodedValueInfo): ValueInfo {
  const t = v.type?.tensor_type;
  const dtype = (t?.elem_type !== undefined ? dtypeFromCode(t.elem_type) : undefined) ?? (`type ${t?.elem_type ?? '?'}` as DType);
  const shape: Dim[] | null = t?.shape ? (t.shape.dim ?? []).map((d) => (d.dim_param ? d.dim_param : d.dim_value !== undefined ? toNumber(d.dim_value) : null)) : null;
  return { name: v.name, dtype, shape };
}

/** Inputs, outputs, opsets and metadata of .onnx bytes; `source` names the file in errors. */
export function inspectModel(bytes: Uint8Array, source: string): ModelInfo {
  const root = onnxRoot();
  const ValueInfoProto = root.lookupType('onnx.ValueInfoProto');
  const OpsetProto = root.lookupType('onnx.OperatorSetIdProto');
  const Entry = root.lookupType('onnx.StringStringEntryProto');
  const info: ModelInfo = { irVersion: 0, opsets: new Map(), inputs: [], outputs: [], metadata: {} };
  let sawGraph = false;
  try {
    const r = protobuf.Reader.create(bytes);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if (field === 1 && (tag & 7) === 0) info.irVersion = toNumber(r.int64());
      else if (field === 8) {
        const o = OpsetProto.toObject(OpsetProto.decode(r.bytes())) as { domain?: string; version?: number | protobuf.Long };
        info.opsets.set(o.domain ?? '', toNumber(o.version));
      } else if (field === 14) {
        const e = Entry.toObject(Entry.decode(r.bytes())) as { key?: string; value?: string };
        if (e.key) info.metadata[e.key] = e.value ?? '';
      } else if (field === 7) {
        sawGraph = true;
        const g = protobuf.Reader.create(r.bytes());
        while (g.pos < g.len) {
          const gt = g.uint32();
          const gf = gt >>> 3;
          if (gf === 11 || gf === 12) {
            const v = valueInfo(ValueInfoProto.toObject(ValueInfoProto.decode(g.bytes())) as DecodedValueInfo);
            (gf === 11 ? info.inputs : info.outputs).push(v);
          } else g.skipType(gt & 7);
        }
      } else r.skipType(tag & 7);
    }
  } catch (err) {
    throw new Error(`${source}: not a readable ONNX model (${(err as Error).message})`);
  }
  if (!sawGraph) throw new Error(`${source}: not an ONNX model (no graph)`);
  return info;
}

/**
 * Throws unless the model uses only the default domain at an opset in SUPPORTED_OPSETS (other
 * domains, e.g. com.microsoft contrib ops, do not run on every ONNX Runtime build, onnxruntime-web
 * included).
 */
export function checkOpsets(info: ModelInfo, source: string): void {
  const version = info.opsets.get('') ?? info.opsets.get('ai.onnx');
  if (version === undefined) throw new Error(`${source}: the model imports no opset of the default domain (ai.onnx)`);
  if (version < SUPPORTED_OPSETS.min || version > SUPPORTED_OPSETS.max) {
    throw new Error(`${source}: opset ${version} of ai.onnx is not supported (expected ${SUPPORTED_OPSETS.min}..${SUPPORTED_OPSETS.max}; re-export the model with an opset in that range)`);
  }
  for (const [domain, v] of info.opsets) {
    if (domain !== '' && domain !== 'ai.onnx') throw new Error(`${source}: operator domain "${domain}" (version ${v}) is not supported (only the standard ai.onnx operators)`);
  }
}
