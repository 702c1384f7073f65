/** The world clips the page offers: read over HTTP from a world folder (written by `mats-data world` / the trainer). */
import { captionInstruction, classificationInstruction, mmauPrompt, type CaptionItem, type MmauItem } from '@mats/datasets/browser';
import { fileUrl, type FetchFn } from './export-folder.js';

export interface WorldClip {
  id: string;
  /** Path of the WAV file inside the world folder. */
  audio: string;
  /** URL of the WAV file. */
  url: string;
  /** A reference caption, when the world has one for this clip. */
  caption: string | null;
  /** The MMAU-style item about this clip, if any. */
  mmau: MmauItem | null;
}

/** Preset questions (paper Table S8 instructions; MMAU prompt of section 4.2.2). */
export function presetPrompts(clip: WorldClip | null): { name: string; prompt: string }[] {
  const out = [
    { name: 'captioning', prompt: captionInstruction('sound') },
    { name: 'classification', prompt: classificationInstruction() },
  ];
  if (clip?.mmau) out.push({ name: 'multiple choice (MMAU)', prompt: mmauPrompt(clip.mmau.question, clip.mmau.choices) });
  return out;
}

/** Clips with an MMAU item first (in the world's order), then the captioned ones. */
export async function loadWorldClips(folder: string, fetchFn: FetchFn = (u) => fetch(u)): Promise<WorldClip[]> {
  const get = async <T>(file: string): Promise<T> => {
    const url = fileUrl(folder, file);
    const res = await fetchFn(url);
    if (!res.ok) throw new Error(`${url}: not found (HTTP ${res.status}); is ${folder} a world folder?`);
    return (await res.json()) as T;
  };
  const mmau = await get<MmauItem[]>('eval/mmau.json');
  const captions = await get<CaptionItem[]>('eval/captions.json').catch(() => [] as CaptionItem[]);
  const byAudio = new Map<string, WorldClip>();
  for (const item of mmau) {
    if (!byAudio.has(item.audio_id)) byAudio.set(item.audio_id, { id: item.id, audio: item.audio_id, url: fileUrl(folder, item.audio_id), caption: null, mmau: item });
  }
  for (const item of captions) {
    const known = byAudio.get(item.audio);
    if (known) known.caption ??= item.captions[0] ?? null;
    else byAudio.set(item.audio, { id: item.id, audio: item.audio, url: fileUrl(folder, item.audio), caption: item.captions[0] ?? null, mmau: null });
  }
  return [...byAudio.values()];
}
