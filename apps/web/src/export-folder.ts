/**
 * Opening an export folder (written by `mats export RUN --out DIR`) over HTTP: the browser version of
 * @mats/model's loadExported. Files are fetched instead of read; everything else is @mats/model's own
 * code (manifest validation, opset and graph checks, OrtMapper / OrtTinyClap / OrtLlm), so the page
 * runs exactly what Node runs. `fetchFn` and `ort` are parameters so that Node tests can run it on
 * onnxruntime-node.
 */
import { createEmbeddings, parseSafetensors } from '@mats/core';
import { validateTinyConfig } from '@mats/clap';
import { tokenizerFromJson, type TextTokenizer } from '@mats/llm-lora';
import { checkMemory, type SantaMemory } from '@mats/santa';
import {
  CLAP_AUDIO_IO,
  DECODER_IO,
  MANIFEST_FILE,
  MAPPER_IO,
  OrtLlm,
  OrtMapper,
  OrtTinyClap,
  checkOpsets,
  createSession,
  inspectModel,
  validateManifest,
  type ExportManifest,
  type ModelInfo,
  type OrtModule,
  type OrtSession,
  type SessionOptions,
} from '@mats/model';

export type FetchFn = (url: string) => Promise<Response>;

/**
 * The export folder was read and checked, but ONNX Runtime could not start a session on the
 * requested execution provider: another provider may work (the files themselves are fine).
 */
export class SessionStartError extends Error {
  override name = 'SessionStartError';
}

/** An opened export folder: the same pieces as @mats/model's ExportedModel. */
export interface WebExport {
  url: string;
  manifest: ExportManifest;
  llm: OrtLlm;
  tokenizer: TextTokenizer;
  mapper: OrtMapper;
  clap: OrtTinyClap;
  memory: SantaMemory | null;
  dispose(): Promise<void>;
}

/** Resolves `file` against the folder URL (which gets a trailing slash). */
export function fileUrl(folder: string, file: string): string {
  const base = folder.endsWith('/') ? folder : `${folder}/`;
  return new URL(file, new URL(base, typeof location === 'undefined' ? 'http://localhost/' : location.href)).href;
}

async function fetchBytes(fetchFn: FetchFn, folder: string, file: string, what: string): Promise<Uint8Array> {
  const url = fileUrl(folder, file);
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (err) {
    throw new Error(`${url}: could not fetch ${what} (${(err as Error).message})`);
  }
  if (!res.ok) {
    const why = file === MANIFEST_FILE ? 'not an export folder, or the export did not finish; make one with exportRun / "mats export"' : `the manifest ${MANIFEST_FILE} names it`;
    throw new Error(`${url}: ${what} is missing from the export folder (HTTP ${res.status}; ${why})`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

async function fetchJson(fetchFn: FetchFn, folder: string, file: string, what: string): Promise<unknown> {
  const bytes = await fetchBytes(fetchFn, folder, file, what);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`${fileUrl(folder, file)}: ${what} is not valid JSON (${(err as Error).message})`);
  }
}

/** Checks that a graph has input/output `name` whose fixed dimensions match `expected` (null = any). */
export function expectDims(info: ModelInfo, kind: 'input' | 'output', name: string, expected: (number | null)[], source: string, field: string): void {
  const list = kind === 'input' ? info.inputs : info.outputs;
  const v = list.find((x) => x.name === name);
  if (!v) throw new Error(`${source}: the graph has no ${kind} "${name}" (${kind}s: ${list.map((x) => x.name).join(', ') || 'none'})`);
  if (!v.shape) return;
  if (v.shape.length !== expected.length) throw new Error(`${source}: ${kind} "${name}" has rank ${v.shape.length}, expected ${expected.length}`);
  expected.forEach((e, i) => {
    const got = v.shape![i];
    if (e !== null && typeof got === 'number' && got !== e) {
      throw new Error(`${source}: ${kind} "${name}" has dimension ${i} = ${got} but the manifest (${field}) says ${e}`);
    }
  });
}

/** Santa's memory from the bytes of santa.safetensors (the format of @mats/santa saveMemory). */
export function memoryFromBytes(bytes: Uint8Array, source: string): SantaMemory {
  const file = parseSafetensors(bytes, source);
  const fail = (msg: string): never => {
    throw new Error(`${source}: not a valid Santa memory file: ${msg}`);
  };
  if (file.metadata.format !== 'mats-santa-memory') fail(`metadata "format" is ${JSON.stringify(file.metadata.format)}, expected "mats-santa-memory"`);
  const matrix = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) return fail(`missing tensor "${name}"`);
    if (!(t.data instanceof Float32Array) || t.shape.length !== 2) return fail(`tensor "${name}" must be F32 [rows, dim]`);
    return createEmbeddings(t.shape[0], t.shape[1], t.data);
  };
  const memory = matrix('memory');
  const centroids = matrix('centroids');
  const a = file.tensors.get('assignments');
  if (!a || !(a.data instanceof Int32Array)) return fail('tensor "assignments" must be I32');
  const assignments = a.data;
  const clusters: Int32Array[] = [];
  for (let c = 0; c < centroids.rows; c++) {
    const members: number[] = [];
    assignments.forEach((k, i) => k === c && members.push(i));
    clusters.push(Int32Array.from(members));
  }
  const loaded: SantaMemory = { memory, centroids, assignments, clusters, info: JSON.parse(file.metadata.options ?? '{}') };
  checkMemory(loaded, source);
  return loaded;
}

export interface OpenExportOptions extends SessionOptions {
  ort: OrtModule;
  fetchFn?: FetchFn;
  /** Progress messages for the page. */
  onStatus?: (message: string) => void;
}

/**
 * Fetches and checks an export folder, then creates the ONNX Runtime sessions. Every problem (missing
 * file, manifest vs graph mismatch, unsupported opset, not a world export) is an Error naming the file;
 * a session that does not start on the execution providers asked for is a SessionStartError.
 */
export async function openExport(folder: string, options: OpenExportOptions): Promise<WebExport> {
  const fetchFn = options.fetchFn ?? ((url: string) => fetch(url));
  const status = options.onStatus ?? (() => {});
  const manifestUrl = fileUrl(folder, MANIFEST_FILE);
  status(`reading ${manifestUrl}`);
  const manifest = validateManifest(await fetchJson(fetchFn, folder, MANIFEST_FILE, 'the manifest'), manifestUrl);
  const { llm: l, mapper: mp, clap: c } = manifest;
  if (!c || c.kind !== 'tiny') {
    throw new Error(`${manifestUrl}: this page runs exports with the tiny world CLAP (clap.kind "tiny"); this one has ${c ? `clap.kind "${c.kind}"` : 'no CLAP'}`);
  }
  const graph = async (file: string, what: string) => {
    status(`fetching ${file}`);
    const bytes = await fetchBytes(fetchFn, folder, file, what);
    const source = fileUrl(folder, file);
    const info = inspectModel(bytes, source);
    checkOpsets(info, source);
    return { bytes, info, source };
  };
  const dec = await graph(manifest.files.decoder, 'the decoder');
  expectDims(dec.info, 'input', DECODER_IO.inputsEmbeds, [null, null, l.nEmbd], dec.source, 'llm.nEmbd');
  expectDims(dec.info, 'output', DECODER_IO.logits, [null, null, l.vocabSize], dec.source, 'llm.vocabSize');
  const layers = dec.info.inputs.filter((v) => /^past_key_values\.\d+\.key$/.test(v.name)).length;
  if (layers !== l.nLayer) throw new Error(`${dec.source}: the graph has ${layers} past_key_values.*.key inputs but the manifest (llm.nLayer) says ${l.nLayer}`);
  for (let i = 0; i < l.nLayer; i++) expectDims(dec.info, 'input', DECODER_IO.pastKey(i), [null, l.nHead, null, l.headDim], dec.source, 'llm.nHead / llm.headDim');
  const map = await graph(manifest.files.mapper, 'the mapper');
  expectDims(map.info, 'input', MAPPER_IO.input, [null, mp.clapDim], map.source, 'mapper.clapDim');
  expectDims(map.info, 'output', MAPPER_IO.output, [null, mp.prefixLength, mp.outDim], map.source, 'mapper.prefixLength / mapper.outDim');
  const audio = await graph(manifest.files.clapAudio!, 'the CLAP audio encoder');
  expectDims(audio.info, 'input', CLAP_AUDIO_IO.input, [null, c.frames, c.mel.nMels], audio.source, 'clap.frames / clap.mel.nMels');
  expectDims(audio.info, 'output', CLAP_AUDIO_IO.output, [null, c.dim], audio.source, 'clap.dim');
  const text = await graph(manifest.files.clapText!, 'the CLAP text encoder');
  const clapConfigUrl = fileUrl(folder, manifest.files.clapConfig!);
  const clapConfig = validateTinyConfig(await fetchJson(fetchFn, folder, manifest.files.clapConfig!, 'the CLAP config'), clapConfigUrl);
  if (clapConfig.dim !== c.dim) throw new Error(`${clapConfigUrl}: dim is ${clapConfig.dim} but the manifest (clap.dim) says ${c.dim}`);

  let memory: SantaMemory | null = null;
  if (manifest.santa) {
    status(`fetching ${manifest.files.santa}`);
    const source = fileUrl(folder, manifest.files.santa);
    memory = memoryFromBytes(await fetchBytes(fetchFn, folder, manifest.files.santa, 'the Santa memory'), source);
    if (memory.memory.dim !== mp.clapDim) throw new Error(`${source}: the memory holds ${memory.memory.dim}-d embeddings but the manifest (mapper.clapDim) says ${mp.clapDim}`);
  }
  if (!manifest.files.tokenizer.includes('tokenizer.json')) throw new Error(`${manifestUrl}: this page needs a tokenizer.json in the export (files.tokenizer is ${JSON.stringify(manifest.files.tokenizer)})`);
  const tokenizerJson = (await fetchJson(fetchFn, folder, 'tokenizer.json', 'the tokenizer')) as Record<string, unknown>;
  const tokenizerConfig = manifest.files.tokenizer.includes('tokenizer_config.json')
    ? ((await fetchJson(fetchFn, folder, 'tokenizer_config.json', 'the tokenizer config')) as Record<string, unknown>)
    : {};
  const tokenizer = tokenizerFromJson(tokenizerJson, tokenizerConfig, fileUrl(folder, 'tokenizer.json'));
  if (tokenizer.vocabSize > l.vocabSize) throw new Error(`${fileUrl(folder, 'tokenizer.json')}: the tokenizer has ${tokenizer.vocabSize} tokens but the manifest (llm.vocabSize) says ${l.vocabSize}`);

  const opened: OrtSession[] = [];
  const open = async (part: { bytes: Uint8Array; source: string }) => {
    status(`starting ONNX Runtime on ${part.source.split('/').pop()}`);
    const s = await createSession(options.ort, part.bytes, options, part.source);
    opened.push(s);
    return s;
  };
  try {
    const llm = new OrtLlm(options.ort, await open(dec), l);
    const mapper = new OrtMapper(options.ort, await open(map), mp.clapDim, mp.prefixLength, mp.outDim);
    const clap = new OrtTinyClap(options.ort, await open(audio), await open(text), clapConfig, c.frames);
    return {
      url: folder,
      manifest,
      llm,
      tokenizer,
      mapper,
      clap,
      memory,
      async dispose() {
        await Promise.all(opened.map((s) => s.release()));
      },
    };
  } catch (err) {
    await Promise.all(opened.map((s) => s.release()));
    throw new SessionStartError((err as Error).message, { cause: err });
  }
}
