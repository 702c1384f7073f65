/**
 * Instruction templates of the paper (Table S8) and the MMAU prompt (section 4.2.2).
 * The paper writes the MMAU prompt as `{question} + Select one option: {options} Respond with exactly
 * one of the options above.` without saying how the options are joined; we join them with ", ".
 */
import type { AudioType } from './records.js';

/** CLS: "Classify events in the audio clip." (the answer is the labels joined with ", "). */
export function classificationInstruction(): string {
  return 'Classify events in the audio clip.';
}

/** CAP: "Generate audio caption." for sound, "Generate music caption." for music (speech uses the audio one). */
export function captionInstruction(audioType: AudioType): string {
  return audioType === 'music' ? 'Generate music caption.' : 'Generate audio caption.';
}

/** The classification answer: labels joined with ", ". */
export function classificationAnswer(labels: readonly string[]): string {
  return labels.join(', ');
}

export interface MmauPromptOptions {
  /** How the choices are joined (default ", "). */
  separator?: string;
}

/** `{question} Select one option: {options} Respond with exactly one of the options above.` */
export function mmauPrompt(question: string, choices: readonly string[], options: MmauPromptOptions = {}): string {
  if (choices.length === 0) throw new Error(`mmauPrompt: no choices given for question "${question}"`);
  return `${question.trim()} Select one option: ${choices.join(options.separator ?? ', ')} Respond with exactly one of the options above.`;
}
