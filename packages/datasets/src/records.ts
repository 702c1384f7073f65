/** The AudioTIA training record: (text, instruction, answer) plus what task and audio type it belongs to. */

export type Task = 'cls' | 'cap' | 'aqa' | 'mcq';
export type AudioType = 'sound' | 'music' | 'speech';
export const TASKS: readonly Task[] = ['cls', 'cap', 'aqa', 'mcq'];
export const AUDIO_TYPES: readonly AudioType[] = ['sound', 'music', 'speech'];

export interface AudioTIARecord {
  /** The description of the audio that the CLAP text encoder embeds during training. */
  text: string;
  /** The instruction given to the LLM (Table S8 template, the AQA question, or the MMAU prompt). */
  instruction: string;
  /** The target the LLM learns to produce. */
  answer: string;
  task: Task;
  audioType: AudioType;
  /** Which dataset the record came from ("clotho", "world", ...). */
  source: string;
  id: string;
  /** Optional path of the clip (relative to the dataset root), for variants that embed real audio. */
  audio?: string;
}

/**
 * Checks that `value` is a well-formed AudioTIARecord; the error names `where` (file:line) and the field.
 */
export function validateRecord(value: unknown, where: string): AudioTIARecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: expected an AudioTIA record object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const r = value as Record<string, unknown>;
  for (const field of ['text', 'instruction', 'answer', 'source', 'id'] as const) {
    if (typeof r[field] !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${describe(r[field])}`);
  }
  if ((r.text as string).trim() === '') throw new Error(`${where}: field "text" is empty (the description CLAP embeds needs at least one word)`);
  if (!TASKS.includes(r.task as Task)) throw new Error(`${where}: field "task" must be one of ${TASKS.join('|')}, got ${describe(r.task)}`);
  if (!AUDIO_TYPES.includes(r.audioType as AudioType)) {
    throw new Error(`${where}: field "audioType" must be one of ${AUDIO_TYPES.join('|')}, got ${describe(r.audioType)}`);
  }
  if (r.audio !== undefined && typeof r.audio !== 'string') throw new Error(`${where}: field "audio" must be a string when present, got ${describe(r.audio)}`);
  return r as unknown as AudioTIARecord;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing (missing)' : JSON.stringify(v);
}
