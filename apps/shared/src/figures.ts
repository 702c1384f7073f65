import { type Embeddings, Rng, concatEmbeddings, embeddingsFromRows, l2Normalize } from '@mats/core';
import { type ClapEncoder, embedAudioFiles, embedEach } from '@mats/clap';
import { type ModalityGap, type SantaMemory, injectNoise, modalityGap, transfer } from '@mats/santa';
import type { MatsConfig } from './config.js';
import { pca } from './pca.js';
import { type LossPoint, type ScatterPoint, embeddingPanelsSpec, lossCurveSpec, writePng } from './plots.js';

/** The loss curve of a run from its metrics.jsonl records. */
export async function writeLossCurve(path: string, metrics: Record<string, unknown>[], title: string): Promise<void> {
  const points: LossPoint[] = [];
  for (const m of metrics) {
    if (typeof m.step !== 'number') continue;
    if (typeof m.loss === 'number') points.push({ step: m.step, loss: m.loss, split: 'train' });
    if (typeof m.validationLoss === 'number') points.push({ step: m.step, loss: m.validationLoss, split: 'validation' });
  }
  await writePng(path, lossCurveSpec(points, title));
}

export interface SkippedClip {
  audio: string;
  reason: string;
}

export interface Figure3Stats {
  /** pairs drawn (those whose clip could be read) */
  pairs: number;
  /** clips that could not be read, with why; their pairs are left out of the picture */
  skippedClips: SkippedClip[];
  panels: { panel: string; gap: ModalityGap; explainedVariance: number[] }[];
}

/**
 * Paper Figure 3 for this run: paired text (blue) and audio (red) CLAP embeddings, (a) as CLAP makes
 * them, (b) with Gaussian noise on the text side, (c) with the audio replaced by the memory-only mix,
 * (d) with the audio moved by Santa. Each panel is projected on its own two principal axes (the paper
 * uses t-SNE); the modality-gap statistics of each panel are returned. A clip that cannot be read
 * (missing, not audio, empty) leaves its pair out and is listed in `skippedClips`; with fewer than
 * two readable pairs no picture is written (`pairs` says how many were drawn).
 */
export async function writeFigure3(
  path: string,
  clap: ClapEncoder,
  memory: SantaMemory,
  pairs: { text: string; audio: string }[],
  config: MatsConfig,
): Promise<Figure3Stats> {
  const audioRows: Float32Array[] = [];
  const batch = config.clap.batchSize;
  const skippedClips: SkippedClip[] = [];
  const drawn: { text: string; audio: string }[] = [];
  for (let i = 0; i < pairs.length; i += batch) {
    // Files are read through the CLAP's file route (only as far as each crop needs); when a batch
    // fails, its clips are embedded one by one (embedEach) and the unreadable ones skipped.
    const part = pairs.slice(i, i + batch);
    (await embedEach(clap, part, (ps) => embedAudioFiles(clap, ps.map((p) => p.audio)))).forEach((row, k) => {
      if (row instanceof Float32Array) {
        audioRows.push(row);
        drawn.push(part[k]);
      } else {
        skippedClips.push({ audio: part[k].audio, reason: (row as Error).message.split('\n')[0] });
      }
    });
  }
  if (drawn.length < 2) return { pairs: 0, skippedClips, panels: [] };
  pairs = drawn;
  const audio = l2Normalize(embeddingsFromRows(audioRows));
  const text = l2Normalize(await clap.embedText(pairs.map((p) => p.text)));
  const variance = config.train.noiseVariance > 0 ? config.train.noiseVariance : 0.015;
  const santaOptions = { topL: config.santa.topL, tau: config.santa.tau, lambda: config.santa.lambda, normalizeAudio: config.santa.normalizeAudio, padClusters: config.santa.padClusters };
  const panels: { panel: string; text: Embeddings; audio: Embeddings }[] = [
    { panel: 'a) CLAP', text, audio },
    { panel: `b) noise on text (var ${variance})`, text: injectNoise(text, { variance, rng: new Rng(`${config.seed}/figure3-noise`) }), audio },
    { panel: 'c) memory-only', text, audio: transfer('memory-only', audio, memory, santaOptions) },
    { panel: 'd) Santa', text, audio: transfer('santa', audio, memory, santaOptions) },
  ];
  const points: ScatterPoint[] = [];
  const stats: Figure3Stats = { pairs: pairs.length, skippedClips, panels: [] };
  const titles: string[] = [];
  for (const p of panels) {
    const gap = modalityGap(p.audio, p.text);
    const title = `${p.panel}: pair cos ${gap.meanPairedCosine.toFixed(2)}, gap ${gap.centroidDistance.toFixed(2)}`;
    titles.push(title);
    const both = concatEmbeddings([p.text, p.audio]);
    const { coords, explained } = pca(both, 2, 100, config.seed);
    for (let i = 0; i < both.rows; i++) points.push({ panel: title, x: coords[2 * i], y: coords[2 * i + 1], modality: i < p.text.rows ? 'text' : 'audio' });
    stats.panels.push({ panel: p.panel, gap, explainedVariance: explained });
  }
  await writePng(path, embeddingPanelsSpec(points, titles, `Paired text (blue) and audio (red) CLAP embeddings, ${pairs.length} training clips (PCA per panel)`));
  return stats;
}

/**
 * Runs one picture writer so that it never fails a finished run: returns null when it worked, else
 * the error message (the caller logs it and lists it in the run summary).
 */
export async function tryPicture(name: string, write: () => Promise<unknown>): Promise<string | null> {
  try {
    await write();
    return null;
  } catch (err) {
    return `${name}: ${(err as Error).message.split('\n')[0]}`;
  }
}
