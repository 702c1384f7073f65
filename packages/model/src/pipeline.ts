/**
 * Task pipelines in the spirit of transformers.js: `const ask = await pipeline('audio-question-answering',
 * 'runs/world'); const { answer } = await ask('clip.wav', 'What is making the sound?')`.
 * Captioning and classification use the paper's Table S8 instructions; classification with a label
 * list ranks the labels by CLAP text matching of the answer (paper Table S7).
 */
import { matchPredictionsToLabels } from '@mats/bench';
import { captionInstruction, classificationInstruction } from '@mats/datasets';
import { type AnswerOptions, type AudioInput, type LoadOptions, type LoadedMatsModel, MatsModel } from './model.js';

export const PIPELINE_TASKS = ['audio-question-answering', 'audio-captioning', 'audio-classification'] as const;
export type PipelineTask = (typeof PIPELINE_TASKS)[number];

export interface QuestionAnswer {
  answer: string;
}
export interface Caption {
  caption: string;
}
export interface Classification {
  /** The generated answer (labels joined with ", " when the model learned the world's format). */
  answer: string;
  /** With a label list: every label and its cosine similarity to the answer, best first. */
  labels?: { label: string; score: number }[];
}

interface PipelineBase {
  readonly model: LoadedMatsModel;
  dispose(): Promise<void>;
}
export interface QuestionAnsweringPipeline extends PipelineBase {
  (audio: AudioInput, question: string, options?: AnswerOptions): Promise<QuestionAnswer>;
}
export interface CaptioningPipeline extends PipelineBase {
  (audio: AudioInput, options?: AnswerOptions & { music?: boolean }): Promise<Caption>;
}
export interface ClassificationPipeline extends PipelineBase {
  (audio: AudioInput, options?: AnswerOptions & { labels?: string[] }): Promise<Classification>;
}

/** Runs one item and turns its error into an exception. */
async function one(model: LoadedMatsModel, audio: AudioInput, instruction: string, options: AnswerOptions = {}): Promise<string> {
  const [result] = await model.ask([{ audio, instruction }], options);
  if (result.error !== null) throw new Error(result.error);
  return result.answer;
}

export function pipeline(task: 'audio-question-answering', model: string | LoadedMatsModel, options?: LoadOptions): Promise<QuestionAnsweringPipeline>;
export function pipeline(task: 'audio-captioning', model: string | LoadedMatsModel, options?: LoadOptions): Promise<CaptioningPipeline>;
export function pipeline(task: 'audio-classification', model: string | LoadedMatsModel, options?: LoadOptions): Promise<ClassificationPipeline>;
/** Opens a run or export folder (or wraps a loaded model) as a callable for one task. */
export async function pipeline(task: PipelineTask, source: string | LoadedMatsModel, options: LoadOptions = {}): Promise<QuestionAnsweringPipeline | CaptioningPipeline | ClassificationPipeline> {
  if (!PIPELINE_TASKS.includes(task)) throw new Error(`pipeline: unknown task ${JSON.stringify(task)}, expected one of ${PIPELINE_TASKS.join(', ')}`);
  const model = typeof source === 'string' ? await MatsModel.load(source, options) : source;
  const owned = typeof source === 'string';
  const base = { model, dispose: async () => (owned ? model.dispose() : undefined) };
  if (task === 'audio-question-answering') {
    const run = async (audio: AudioInput, question: string, o?: AnswerOptions) => {
      if (typeof question !== 'string' || question.trim() === '') throw new Error('audio-question-answering: the question is empty');
      return { answer: await one(model, audio, question, o) };
    };
    return Object.assign(run, base);
  }
  if (task === 'audio-captioning') {
    const run = async (audio: AudioInput, o: AnswerOptions & { music?: boolean } = {}) => ({ caption: await one(model, audio, captionInstruction(o.music ? 'music' : 'sound'), o) });
    return Object.assign(run, base);
  }
  const run = async (audio: AudioInput, o: AnswerOptions & { labels?: string[] } = {}): Promise<Classification> => {
    const answer = await one(model, audio, classificationInstruction(), o);
    if (!o.labels) return { answer };
    if (!Array.isArray(o.labels) || o.labels.length === 0 || o.labels.some((l) => typeof l !== 'string' || l === '')) throw new Error('audio-classification: labels must be a non-empty list of non-empty strings');
    const match = await matchPredictionsToLabels([answer], o.labels, model.clap, { multiLabelSeparator: ',' });
    const labels = o.labels.map((label, c) => ({ label, score: match.scores[0][c] })).sort((a, b) => b.score - a.score);
    return { answer, labels };
  };
  return Object.assign(run, base);
}
