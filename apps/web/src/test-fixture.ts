/**
 * Test fixtures (Node only, never bundled): an export folder and a world folder, and the Node ONNX
 * path's answers for comparison.
 *
 * The export is of the repository's trained world run when one is there (runs/world, or the run
 * folder in MATS_WEB_TEST_RUN, with its world in MATS_WEB_TEST_WORLD), else of a small random MATS built here from the committed tiny CLAP
 * and tiny world LM (random mapper and LoRA, a Santa memory over a few captions): its answers are
 * nonsense, but the browser must still give exactly the Node path's tokens.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { decodeAudioFile, generateWorld, writeWorld, mmauPrompt, captionInstruction, classificationInstruction, type AudioClip, type MmauItem } from '@mats/datasets';
import { TINY_WORLD_LM_DIR, applyLora, generateBatch, loadCausalLM, mergeLora } from '@mats/llm-lora';
import { createMapper } from '@mats/mapper';
import { buildMemory, saveMemory, transfer, type TransferMethod } from '@mats/santa';
import { askExported, exportModel, exportRun, loadExported, type ExportedModel } from '@mats/model';
import { santaOptions } from './answer.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

function finishedRun(dir: string): boolean {
  return ['config.json', 'mapper.safetensors', 'adapter_model.safetensors', 'santa.safetensors'].every((f) => existsSync(join(dir, f)));
}

/** Writes an export into `out`; returns where it came from. */
export async function makeExport(out: string): Promise<string> {
  const run = process.env.MATS_WEB_TEST_RUN ?? join(REPO_ROOT, 'runs/world');
  if (finishedRun(run)) {
    await exportRun(run, out);
    return `trained run ${run}`;
  }
  await tf.setBackend('cpu');
  const rng = new Rng(11);
  const llm = loadCausalLM(TINY_WORLD_LM_DIR);
  const lora = applyLora(llm, { r: 4, alpha: 8 }, rng);
  for (const l of lora.layers.values()) l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.05, 'float32', 5));
  mergeLora(llm, lora);
  const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
  const mapper = createMapper({ clapDim: clap.dim, width: 64, llmDim: llm.config.nEmbd, prefixLength: 6, clipLength: 5, layers: 2, heads: 8 }, rng);
  const texts = await clap.embedText(['a dog barks', 'a bell rings twice', 'a siren wails', 'a low hum', 'a high beep then a click', 'birds chirp', 'a drum hit', 'a chord is played']);
  mkdirSync(out, { recursive: true });
  saveMemory(join(out, 'santa-source.safetensors'), buildMemory(texts, { k: 3, variance: 0.01, seed: 1 }));
  await exportModel(
    { llm, tokenizerDir: TINY_WORLD_LM_DIR, mapper, clap: { kind: 'tiny', dir: TINY_CLAP_WORLD_DIR }, santaFile: join(out, 'santa-source.safetensors'), generation: { maxNewTokens: 16 } },
    out,
  );
  llm.dispose();
  mapper.dispose();
  await clap.dispose();
  return 'random MATS (no trained run found)';
}

/** A world folder: MATS_WEB_TEST_WORLD or the repository's world/ when present, else a small one generated into `out`. */
export async function makeWorld(out: string): Promise<string> {
  const repoWorld = process.env.MATS_WEB_TEST_WORLD ?? join(REPO_ROOT, 'world');
  if (existsSync(join(repoWorld, 'manifest.json'))) return repoWorld;
  await writeWorld(generateWorld({ seed: 0, size: 'small', counts: { pretrain: 4, train: 4, eval: 6 } }), out);
  return out;
}

/** The three questions the tests ask: captioning, classification, MMAU-style (last: the screenshot shows it). */
export function testPrompts(items: MmauItem[]): { audio: string; prompt: string }[] {
  const first = items.slice(0, 3);
  if (first.length < 3) throw new Error(`the world has ${items.length} MMAU items, the test needs 3`);
  return [
    { audio: first[0].audio_id, prompt: captionInstruction('sound') },
    { audio: first[1].audio_id, prompt: classificationInstruction() },
    { audio: first[2].audio_id, prompt: mmauPrompt(first[2].question, first[2].choices) },
  ];
}

/**
 * The Node ONNX path: @mats/model's loadExported on onnxruntime-node and askExported (tiny CLAP,
 * Santa from the manifest, mapper, generateBatch), one item at a time as the page asks them.
 * Also the token ids, from the same pieces (askExported returns text).
 */
export async function nodeAnswers(exportDir: string, worldDir: string, items: { audio: string; prompt: string }[]): Promise<{ ids: number[]; text: string }[]> {
  const clips = await Promise.all(items.map(async (item) => ({ clip: await decodeAudioFile(join(worldDir, item.audio)), prompt: item.prompt })));
  return nodeAnswersForClips(exportDir, clips);
}

/** nodeAnswers for decoded clips (e.g. the page's microphone recording). */
export async function nodeAnswersForClips(exportDir: string, items: { clip: AudioClip; prompt: string }[]): Promise<{ ids: number[]; text: string }[]> {
  const model: ExportedModel = await loadExported(exportDir, { threads: 1 });
  try {
    const out: { ids: number[]; text: string }[] = [];
    for (const { clip, prompt } of items) {
      // Clips of at most one CLAP clip (world clips, the page's recordings) are tiled, not cropped at
      // a random offset, so the encoder's crop stream is not involved and the two runs below agree.
      const resampled = Math.ceil((clip.channels[0].length * model.clap!.config.sampleRate) / clip.sampleRate);
      if (resampled > model.clap!.clipSamples) throw new Error(`test fixture: a clip of ${resampled} samples at ${model.clap!.config.sampleRate} Hz is longer than one CLAP clip (${model.clap!.clipSamples}): it would be cropped at random`);
      const [text] = await askExported(model, [{ audio: clip, instruction: prompt }]);
      // The ids: the same steps by hand (askExported gives text only).
      let z = await model.clap!.embedAudio([clip]);
      if (model.memory && model.manifest.santa && model.manifest.santa.method !== 'noise-only') {
        z = transfer(model.manifest.santa.method as TransferMethod, z, model.memory, santaOptions(model.manifest));
      }
      const prefix = await model.mapper.forward(z);
      const g = model.manifest.generation;
      const [r] = await generateBatch(model.llm.decoder(), prefix.data, [model.tokenizer.encode(prompt)], {
        maxNewTokens: g.maxNewTokens,
        numBeams: g.numBeams,
        noRepeatNgramSize: g.noRepeatNgramSize,
        repetitionPenalty: g.repetitionPenalty,
        eosId: model.manifest.llm.eosTokenId,
      });
      const byHand = r.ids.length > 0 ? model.tokenizer.decode(r.ids).trim() : '';
      if (byHand !== text) throw new Error(`test fixture: askExported answered ${JSON.stringify(text)} but the same steps by hand give ${JSON.stringify(byHand)}`);
      out.push({ ids: r.ids, text });
    }
    return out;
  } finally {
    await model.dispose();
  }
}
