import type * as ort from 'onnxruntime-node';

export type OrtModule = typeof ort;
let ortModule: Promise<OrtModule> | undefined;

/** The message when onnxruntime-node is not installed (an optional peer dependency of @mats/clap). */
export const ONNXRUNTIME_MISSING =
  'the msclap ONNX route needs onnxruntime-node, an optional peer dependency of @mats/clap that is not installed. ' +
  'Install it with `npm install onnxruntime-node` (its CPU binaries ship in the package; where npm runs dependency install scripts, ' +
  'prefix ONNXRUNTIME_NODE_INSTALL=skip so that on Linux x64 it does not download CUDA libraries), or use the tiny CLAP ({ type: "tiny" })';

/**
 * onnxruntime-node, imported on first use so that @mats/clap installs and runs the tiny CLAP without
 * it. `importer` replaces the import (tests); its result is not cached.
 */
export function loadOnnxRuntime(importer?: () => Promise<unknown>): Promise<OrtModule> {
  if (importer) return importOrt(importer);
  ortModule ??= importOrt(() => import('onnxruntime-node')).catch((err: unknown) => {
    ortModule = undefined;
    throw err;
  });
  return ortModule;
}

async function importOrt(importer: () => Promise<unknown>): Promise<OrtModule> {
  try {
    return (await importer()) as OrtModule;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(ONNXRUNTIME_MISSING, { cause: err });
    throw new Error(`onnxruntime-node is installed but cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
}
