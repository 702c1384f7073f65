/**
 * The page: loads an exported run (URL parameter `export`, default ./export/) and a world folder
 * (`world`, default ./world/), then answers questions about a world clip, a dropped file or a
 * recording. `engine` picks ONNX Runtime's execution provider (engine.ts): `auto` (default) takes
 * WebGPU on a hardware adapter, `webgpu` any adapter, `wasm` WebAssembly; the page says which it uses.
 */
import * as ort from 'onnxruntime-web';
import { Rng } from '@mats/core';
import { decodeAudio, downmixMean, encodeWav, resample, type AudioClip } from '@mats/datasets/browser';
import { fitLength } from '@mats/clap/browser';
import { answerClip } from './answer.js';
import { SessionStartError, openExport, type WebExport } from './export-folder.js';
import type { OrtModule } from '@mats/model';
import { drawLogMel, drawWaveform } from './views.js';
import { chooseEngine, parseEngine, probeWebGpu, type Engine } from './engine.js';
import { recordingFrames, startRecording, type Recording } from './recorder.js';
import { wasmProblem } from './wasm-support.js';
import { loadWorldClips, presetPrompts, type WorldClip } from './world.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const exportUrl = params.get('export') ?? 'export/';
const worldUrl = params.get('world') ?? 'world/';

let model: WebExport | null = null;
let clip: AudioClip | null = null;
let worldClip: WorldClip | null = null;
let clips: WorldClip[] = [];
let busy = false;
/** Counts clip selections: a load that finishes after a newer selection is dropped. */
let clipRequest = 0;
/** A clip is being fetched / decoded: asking now would answer about the previous one. */
let loadingClip = false;

function status(text: string): void {
  $('status').textContent = text;
}

/** Shows an error in the page (and keeps the page usable). */
function showError(err: unknown): void {
  const box = $('error');
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  console.error(err);
}

/** A lasting notice (the engine the page could not give): not cleared by the next clip or answer. */
function notice(text: string): void {
  const box = $('notice');
  box.textContent = box.textContent ? `${box.textContent}\n${text}` : text;
  box.hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
  $('error').textContent = '';
}

function updateButton(): void {
  ($('go') as HTMLButtonElement).disabled = busy || loadingClip || !model || !clip || !($('question') as HTMLTextAreaElement).value.trim();
}

function fillPresets(): void {
  const select = $('preset') as HTMLSelectElement;
  select.innerHTML = '';
  for (const p of presetPrompts(worldClip)) select.add(new Option(p.name, p.prompt));
  select.add(new Option('your own question', ''));
  // Keep the MMAU question selected when the clip has one (the most specific preset).
  select.selectedIndex = worldClip?.mmau ? 2 : 0;
  ($('question') as HTMLTextAreaElement).value = select.value;
}

/** Shows a clip: waveform and the log-mel the CLAP encoder will see. */
function setClip(next: AudioClip, description: string): void {
  clip = next;
  offerRecording(null);
  // A dropped file or a recording: no world clip is selected (so choosing the previous one again loads it).
  if (!worldClip) ($('clip') as HTMLSelectElement).selectedIndex = -1;
  $('source').textContent = `${description}: ${(next.channels[0].length / next.sampleRate).toFixed(2)} s, ${next.sampleRate} Hz, ${next.channels.length} channel(s)`;
  const mono = downmixMean(next);
  drawWaveform($('wave') as HTMLCanvasElement, mono);
  if (model) {
    const { clap } = model;
    // Display only (a separate Rng: the encoder's own crop sequence is not advanced here).
    const signal = fitLength(resample(mono, next.sampleRate, clap.config.sampleRate), clap.clipSamples, new Rng(0));
    const mel = clap.features.logMel.compute(signal);
    drawLogMel($('mel') as HTMLCanvasElement, mel.data, mel.frames, mel.nMels);
  }
  $('answer').textContent = '';
  $('answer').dataset.done = 'false';
  $('santa').textContent = '-';
  $('reference').textContent = worldClip?.caption ? `reference caption: ${worldClip.caption}` : '';
  updateButton();
}

async function loadFileBytes(bytes: Uint8Array, name: string): Promise<void> {
  const request = startLoading();
  clearError();
  worldClip = null;
  fillPresets();
  try {
    const decoded = await decodeAudio(bytes, name);
    if (doneLoading(request)) setClip(decoded, name);
  } catch (err) {
    if (doneLoading(request)) showError(err);
  }
}


function startLoading(): number {
  loadingClip = true;
  updateButton();
  return ++clipRequest;
}

function doneLoading(request: number): boolean {
  if (request !== clipRequest) return false;
  loadingClip = false;
  updateButton();
  return true;
}

async function selectWorldClip(index: number): Promise<void> {
  const request = startLoading();
  clearError();
  worldClip = clips[index] ?? null;
  fillPresets();
  if (!worldClip) {
    doneLoading(request);
    return;
  }
  const chosen = worldClip;
  try {
    const res = await fetch(chosen.url);
    if (!res.ok) throw new Error(`${chosen.url}: HTTP ${res.status}`);
    const decoded = await decodeAudio(new Uint8Array(await res.arrayBuffer()), chosen.url);
    if (doneLoading(request)) setClip(decoded, `world clip ${chosen.audio.replace(/^audio\/|\.wav$/g, '')}`);
  } catch (err) {
    if (doneLoading(request)) showError(err);
  }
}

function renderSanta(step: Awaited<ReturnType<typeof answerClip>>['santa']): void {
  const box = $('santa');
  if (!step) {
    box.textContent = model?.manifest.santa ? `${model.manifest.santa.method}: no retrieval step` : 'no Santa memory in this export';
    return;
  }
  box.innerHTML = '';
  const head = document.createElement('p');
  head.textContent = `${step.method}: nearest cluster ${step.cluster} (${step.clusterSize} members); mix = ${(1 - step.lambda).toFixed(2)} x audio + ${step.lambda.toFixed(2)} x weighted members`;
  box.append(head);
  const heaviest = step.members[0]?.weight || 1;
  for (const m of step.members.slice(0, 8)) {
    const row = document.createElement('div');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(2, Math.round((m.weight / heaviest) * 160))}px`;
    row.append(bar, `memory row ${m.row}: weight ${m.weight.toFixed(3)}`);
    box.append(row);
  }
  if (step.members.length > 8) box.append(`... and ${step.members.length - 8} more`);
}

async function ask(): Promise<void> {
  if (!model || !clip || busy) return;
  clearError();
  busy = true;
  updateButton();
  const out = $('answer');
  out.dataset.done = 'false';
  out.textContent = '';
  const started = performance.now();
  try {
    const prompt = ($('question') as HTMLTextAreaElement).value.trim();
    const result = await answerClip(model, clip, prompt, { onText: (text) => (out.textContent = text) });
    drawLogMel($('mel') as HTMLCanvasElement, result.mel, result.frames, result.nMels);
    renderSanta(result.santa);
    out.textContent = result.text || '(empty answer)';
    out.dataset.ids = result.ids.join(' ');
    status(`answered in ${((performance.now() - started) / 1000).toFixed(2)} s (${result.ids.length} token${result.ids.length === 1 ? '' : 's'}${result.finished ? '' : ', stopped at the token limit'})`);
  } catch (err) {
    showError(err);
  } finally {
    out.dataset.done = 'true';
    busy = false;
    updateButton();
  }
}

/** The download link of the last recording (a float32 WAV of exactly the samples the model gets). */
let recordingUrl: string | null = null;
function offerRecording(recorded: AudioClip | null): void {
  const link = $('save-recording') as HTMLAnchorElement;
  if (recordingUrl) URL.revokeObjectURL(recordingUrl);
  recordingUrl = recorded ? URL.createObjectURL(new Blob([encodeWav(recorded, { format: 'float32' }) as BlobPart], { type: 'audio/wav' })) : null;
  link.href = recordingUrl ?? '';
  link.hidden = !recordingUrl;
}

/** Microphone: records one CLAP clip (or until stopped), then it is the clip the question is about. */
let recording: Recording | null = null;
async function toggleRecord(): Promise<void> {
  const button = $('record') as HTMLButtonElement;
  if (recording) {
    recording.stop();
    return;
  }
  if (!model) return;
  clearError();
  const { clipSamples, config } = model.clap;
  const request = startLoading();
  button.disabled = true;
  try {
    recording = await startRecording(
      (rate) => recordingFrames(clipSamples, config.sampleRate, rate),
      (recorded, frames, rate) => (button.textContent = `Stop recording (${(recorded / rate).toFixed(1)} of ${(frames / rate).toFixed(1)} s)`),
    );
  } catch (err) {
    button.disabled = false;
    if (doneLoading(request)) showError(err);
    return;
  }
  button.disabled = false;
  button.textContent = 'Stop recording';
  status(`recording from the microphone (${recording.sampleRate} Hz)`);
  const recorded = await recording.done;
  recording = null;
  button.textContent = 'Record from the microphone';
  if (!doneLoading(request)) return;
  status(`recorded ${(recorded.channels[0].length / recorded.sampleRate).toFixed(2)} s`);
  worldClip = null;
  fillPresets();
  if (recorded.channels[0].length === 0) {
    showError('The recording is empty (the microphone delivered no samples).');
    return;
  }
  setClip(recorded, 'recording');
  offerRecording(recorded);
}

function wireInputs(): void {
  ($('clip') as HTMLSelectElement).addEventListener('change', (e) => void selectWorldClip(Number((e.target as HTMLSelectElement).value)));
  ($('preset') as HTMLSelectElement).addEventListener('change', (e) => {
    const v = (e.target as HTMLSelectElement).value;
    if (v) ($('question') as HTMLTextAreaElement).value = v;
    updateButton();
  });
  $('question').addEventListener('input', () => {
    const preset = $('preset') as HTMLSelectElement;
    if (preset.value !== ($('question') as HTMLTextAreaElement).value) preset.value = '';
    updateButton();
  });
  $('go').addEventListener('click', () => void ask());
  $('record').addEventListener('click', () => void toggleRecord());
  ($('file') as HTMLInputElement).addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) await loadFileBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) await loadFileBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  });
}

/**
 * Opens the export on one execution provider. Only that one is listed: ONNX Runtime drops a listed
 * provider that fails to start with nothing but a console warning, which would be a silent fallback.
 */
async function openModel(engine: Engine): Promise<WebExport> {
  const opened = await openExport(exportUrl, { ort: ort as unknown as OrtModule, executionProviders: [engine], onStatus: status });
  if (engine === 'webgpu' && !(await (ort.env.webgpu as { device?: unknown }).device)) {
    await opened.dispose();
    throw new SessionStartError('ONNX Runtime created the sessions but started no WebGPU device');
  }
  return opened;
}

async function start(): Promise<void> {
  wireInputs();
  fillPresets();
  const problem = wasmProblem();
  if (problem) {
    status('This browser cannot run the model.');
    showError(problem);
    return;
  }
  const { request, error } = parseEngine(params.get('engine'));
  if (error) notice(error);
  const choice = chooseEngine(request, await probeWebGpu());
  if (choice.refused) notice(`${choice.note}; using WebAssembly.`);
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  let engine: Engine = choice.engine;
  let engineNote = choice.note;
  const showEngine = () => {
    $('engine').textContent = `Engine: ${engineNote}. ONNX Runtime Web ${ort.env.versions?.web ?? ''}, ${ort.env.wasm.numThreads} CPU thread(s); export: ${exportUrl}; world: ${worldUrl}`;
    document.body.dataset.engine = engine;
  };
  showEngine();
  try {
    try {
      model = await openModel(engine);
    } catch (err) {
      // A bad export folder fails the same on any engine; only a session that WebGPU cannot start is retried.
      if (engine !== 'webgpu' || !(err instanceof SessionStartError)) throw err;
      // Not silent: the page says WebGPU failed and why, then tries WebAssembly.
      notice(`WebGPU could not run the model, using WebAssembly instead: ${(err as Error).message}`);
      engine = 'wasm';
      engineNote = 'WebAssembly (WebGPU failed, see the message above)';
      showEngine();
      model = await openModel(engine);
    }
    status(`model ready: ${model.manifest.sourceRun ?? exportUrl} (LLM ${model.manifest.llm.nLayer} layers, prefix ${model.manifest.mapper.prefixLength}, Santa ${model.manifest.santa?.method ?? 'off'})`);
  } catch (err) {
    status('Could not load the exported model.');
    showError(err);
    return;
  }
  ($('record') as HTMLButtonElement).disabled = false;
  const select = $('clip') as HTMLSelectElement;
  try {
    clips = await loadWorldClips(worldUrl);
    select.innerHTML = '';
    clips.forEach((c, i) => {
      const option = new Option(`${c.id}${c.caption ? ` - ${c.caption}` : ''}`, String(i));
      option.dataset.audio = c.audio;
      select.add(option);
    });
    select.disabled = clips.length === 0;
    if (clips.length > 0) await selectWorldClip(0);
  } catch (err) {
    select.innerHTML = '';
    select.add(new Option('(no world folder: drop a file or record)', ''));
    $('source').textContent = `No world clips: ${(err as Error).message}`;
  }
  document.body.dataset.ready = 'true';
}

void start();
