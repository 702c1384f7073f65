/**
 * The manifest of an exported run (`config.json` in the export folder): what each file is, the
 * dimensions the graphs must have, Santa's method and parameters, and generation defaults.
 */
export const EXPORT_FORMAT = 'mats-onnx-export';
export const EXPORT_VERSION = 1;
export const MANIFEST_FILE = 'config.json';

export const EXPORT_FILES = {
  decoder: 'decoder.onnx',
  mapper: 'mapper.onnx',
  clapAudio: 'clap-audio.onnx',
  clapText: 'clap-text.onnx',
  /** The tiny CLAP's own config.json (vocabulary, mel settings), for the TypeScript front end. */
  clapConfig: 'clap-config.json',
  santa: 'santa.safetensors',
  /** The trainer's config of the run (its config.json), when the export was made from a trainer's run folder. */
  runConfig: 'run-config.json',
} as const;

export interface LlmManifest {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  headDim: number;
  nInner: number;
  layerNormEpsilon: number;
  eosTokenId: number;
}

export interface MapperManifest {
  clapDim: number;
  prefixLength: number;
  outDim: number;
  /** The graph L2-normalises its input (always true for this exporter). */
  normalizesInput: boolean;
}

/** The tiny world CLAP: log-mel frames in (computed by @mats/clap's LogMel), word ids in. */
export interface TinyClapManifest {
  kind: 'tiny';
  dim: number;
  sampleRate: number;
  clipSeconds: number;
  /** Log-mel frames per clip (the audio graph's fixed input length). */
  frames: number;
  mel: { nFft: number; hopLength: number; nMels: number; fmin: number; fmax: number; amin: number };
  textMaxLength: number;
}

/** msclap through its own ONNX files (copied): waveform in, GPT-2 ids in (see @mats/clap ONNX_CONTRACT). */
export interface OnnxClapManifest {
  kind: 'onnx';
  dim: number;
}

export interface SantaManifest {
  /** Modal transfer at inference: santa | noise-only | memory-only | no-kmeans | no-audio. */
  method: string;
  topL: number;
  tau: number;
  lambda: number;
  normalizeAudio: boolean;
  padClusters: boolean;
  /** Variance of fresh noise on the retrieved members at every query (official code); 0 = off. */
  queryNoise: number;
  /** Noise variance of training. */
  noiseVariance: number;
  /** Seed of the query-noise stream (`${seed}/santa-query`, as MatsModel draws it). */
  seed: number;
  k: number;
  memoryRows: number;
}

export interface GenerationDefaults {
  maxNewTokens: number;
  numBeams: number;
  noRepeatNgramSize: number;
  repetitionPenalty: number;
}

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  opset: number;
  producer: string;
  createdAt: string;
  /** The run folder it was exported from, if any. */
  sourceRun: string | null;
  files: {
    decoder: string;
    mapper: string;
    santa: string;
    /** Tokenizer files of the LLM (tokenizer.json, or vocab.json + merges.txt; none = GPT-2 BPE). */
    tokenizer: string[];
    clapAudio?: string;
    clapText?: string;
    clapConfig?: string;
    /** The trainer's config of the source run (what the evaluator reads), when there was one. */
    runConfig?: string;
  };
  llm: LlmManifest;
  mapper: MapperManifest;
  clap: TinyClapManifest | OnnxClapManifest | null;
  santa: SantaManifest | null;
  generation: GenerationDefaults;
}

/** Checks the shape of a parsed manifest and names the first bad field. */
export function validateManifest(raw: unknown, source: string): ExportManifest {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!raw || typeof raw !== 'object') fail('is not a JSON object');
  const m = raw as ExportManifest;
  if (m.format !== EXPORT_FORMAT) fail(`field "format" is ${JSON.stringify(m.format)}, expected "${EXPORT_FORMAT}" (is this an export folder made by "mats export"?)`);
  if (m.version !== EXPORT_VERSION) fail(`field "version" is ${JSON.stringify(m.version)}, this reader supports ${EXPORT_VERSION}`);
  const posInt = (path: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`field "${path}" must be a positive integer, got ${JSON.stringify(v)}`);
  };
  const str = (path: string, v: unknown) => {
    if (typeof v !== 'string' || !v) fail(`field "${path}" must be a file name, got ${JSON.stringify(v)}`);
  };
  if (!m.files || typeof m.files !== 'object') fail('field "files" is missing');
  str('files.decoder', m.files.decoder);
  str('files.mapper', m.files.mapper);
  str('files.santa', m.files.santa);
  if (!Array.isArray(m.files.tokenizer)) fail('field "files.tokenizer" must be an array of file names');
  if (m.files.runConfig !== undefined) str('files.runConfig', m.files.runConfig);
  if (!m.llm || typeof m.llm !== 'object') fail('field "llm" is missing');
  for (const k of ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead', 'headDim', 'nInner'] as const) posInt(`llm.${k}`, m.llm[k]);
  if (m.llm.nHead * m.llm.headDim !== m.llm.nEmbd) fail(`llm.nHead (${m.llm.nHead}) x llm.headDim (${m.llm.headDim}) must equal llm.nEmbd (${m.llm.nEmbd})`);
  if (!Number.isInteger(m.llm.eosTokenId) || m.llm.eosTokenId < 0 || m.llm.eosTokenId >= m.llm.vocabSize) fail(`field "llm.eosTokenId" is ${JSON.stringify(m.llm.eosTokenId)}, outside the vocabulary [0, ${m.llm.vocabSize})`);
  if (!m.mapper || typeof m.mapper !== 'object') fail('field "mapper" is missing');
  for (const k of ['clapDim', 'prefixLength', 'outDim'] as const) posInt(`mapper.${k}`, m.mapper[k]);
  if (m.mapper.outDim !== m.llm.nEmbd) fail(`mapper.outDim (${m.mapper.outDim}) must equal llm.nEmbd (${m.llm.nEmbd})`);
  if (m.clap) {
    posInt('clap.dim', m.clap.dim);
    if (m.clap.dim !== m.mapper.clapDim) fail(`clap.dim (${m.clap.dim}) must equal mapper.clapDim (${m.mapper.clapDim})`);
    if (m.clap.kind === 'tiny') {
      posInt('clap.frames', m.clap.frames);
      posInt('clap.textMaxLength', m.clap.textMaxLength);
      if (!m.clap.mel) fail('field "clap.mel" is missing');
      posInt('clap.mel.nMels', m.clap.mel.nMels);
      str('files.clapAudio', m.files.clapAudio);
      str('files.clapText', m.files.clapText);
      str('files.clapConfig', m.files.clapConfig);
    } else if (m.clap.kind === 'onnx') {
      str('files.clapAudio', m.files.clapAudio);
      str('files.clapText', m.files.clapText);
    } else fail(`field "clap.kind" is ${JSON.stringify((m.clap as { kind: unknown }).kind)}, expected "tiny" or "onnx"`);
  }
  if (!m.generation || typeof m.generation !== 'object') fail('field "generation" is missing');
  posInt('generation.maxNewTokens', m.generation.maxNewTokens);
  posInt('generation.numBeams', m.generation.numBeams);
  return m;
}
