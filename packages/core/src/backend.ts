import * as tf from '@tensorflow/tfjs';

/** Which tfjs backend to run on. `auto` takes the fastest one that is installed. */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The npm package each optional native backend needs. */
const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

export interface BackendInfo {
  /** What was asked for. */
  requested: BackendName;
  /** What runs: one of the concrete names. */
  selected: Exclude<BackendName, 'auto'>;
  /** The tfjs backend id (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
}

/** Importer used to load optional packages; tests replace it to simulate installed packages. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

/**
 * Selects and initialises the tfjs backend. The native packages are optional peer dependencies
 * (their install downloads libtensorflow, which offline machines cannot do), so `auto` tries
 * tfjs-node-gpu, then tfjs-node, then wasm. Asking explicitly for a backend that is not installed
 * is an error naming the package to install - never a silent switch to a slower backend.
 */
export async function selectBackend(requested: BackendName = 'auto', importer: ModuleImporter = defaultImporter): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`backend: unknown backend ${JSON.stringify(requested)}, expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (requested === 'auto') {
    for (const native of ['tensorflow-gpu', 'tensorflow'] as const) {
      if (await tryImport(NATIVE_PACKAGES[native], importer)) return activate(requested, native, 'tensorflow');
    }
    return activate(requested, 'wasm', 'wasm', importer);
  }
  if (requested === 'tensorflow-gpu' || requested === 'tensorflow') {
    const pkg = NATIVE_PACKAGES[requested];
    const error = await importError(pkg, importer);
    if (error) {
      throw new Error(
        `backend "${requested}" needs the optional package ${pkg}, which could not be loaded (${error}). ` +
          `Install it with \`npm install ${pkg}\` (it downloads libtensorflow at install time), or use backend "wasm".`,
      );
    }
    return activate(requested, requested, 'tensorflow');
  }
  if (requested === 'wasm') return activate(requested, 'wasm', 'wasm', importer);
  return activate(requested, 'cpu', 'cpu');
}

async function activate(requested: BackendName, selected: BackendInfo['selected'], tfBackend: string, importer?: ModuleImporter): Promise<BackendInfo> {
  if (tfBackend === 'wasm' && importer) await importer('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(tfBackend);
  if (!ok) throw new Error(`backend "${selected}": tfjs could not initialise the "${tfBackend}" backend`);
  await tf.ready();
  return { requested, selected, tfBackend };
}

async function importError(specifier: string, importer: ModuleImporter): Promise<string | null> {
  try {
    await importer(specifier);
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

async function tryImport(specifier: string, importer: ModuleImporter): Promise<boolean> {
  return (await importError(specifier, importer)) === null;
}

/** Parses a backend name from config or the command line, with a clear error. */
export function parseBackendName(value: string, source = 'backend'): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`${source}: unknown backend ${JSON.stringify(value)}, expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  return value as BackendName;
}
