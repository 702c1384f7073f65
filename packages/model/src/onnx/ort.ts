/**
 * ONNX Runtime, loaded lazily. onnxruntime-node is an optional peer dependency (its install script
 * downloads CUDA files that offline machines cannot fetch), so nothing imports it until a session is
 * made. The runtime classes take the module as a parameter (`OrtModule`), so the same code runs on
 * onnxruntime-web, which has the same API.
 */
import type * as OrtTypes from 'onnxruntime-common';

/** The parts of the onnxruntime-node / onnxruntime-web module this package uses. */
export interface OrtModule {
  InferenceSession: typeof OrtTypes.InferenceSession;
  Tensor: typeof OrtTypes.Tensor;
}
export type OrtSession = OrtTypes.InferenceSession;
export type OrtTensor = OrtTypes.Tensor;

export interface SessionOptions {
  /** Intra-op threads (default: ONNX Runtime's own choice, one per core). */
  threads?: number;
  /** Execution providers, default ['cpu']. */
  executionProviders?: string[];
}

let cached: Promise<OrtModule> | null = null;

/** Imports onnxruntime-node, or fails with what to install. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  cached ??= import('onnxruntime-node').then(
    (m) => ((m as { default?: OrtModule }).default?.InferenceSession ? (m as { default: OrtModule }).default : (m as unknown as OrtModule)),
    (err: Error) => {
      cached = null;
      throw new Error(`ONNX Runtime is not installed: run "npm install onnxruntime-node" (needed to run exported models in Node; import failed: ${err.message.split('\n')[0]})`);
    },
  );
  return cached;
}

/** Session options for ONNX Runtime from ours. */
export function ortSessionOptions(options: SessionOptions): OrtTypes.InferenceSession.SessionOptions {
  const out: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ['cpu'],
    graphOptimizationLevel: 'all',
  };
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error(`ONNX Runtime: threads must be a positive integer, got ${options.threads}`);
    out.intraOpNumThreads = options.threads;
    out.interOpNumThreads = 1;
  }
  return out;
}

/** Creates a session from .onnx bytes; `source` names the file in errors. */
export async function createSession(ort: OrtModule, bytes: Uint8Array, options: SessionOptions, source: string): Promise<OrtSession> {
  try {
    return await ort.InferenceSession.create(bytes, ortSessionOptions(options));
  } catch (err) {
    throw new Error(`${source}: ONNX Runtime could not load the model: ${(err as Error).message}`);
  }
}
