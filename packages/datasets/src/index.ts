/** @mats/datasets: see README.md. The public API is assembled here. */
export const PACKAGE_NAME = '@mats/datasets';
export * from './audio/index.js';
export { type AudioTIARecord, type Task, type AudioType, TASKS, AUDIO_TYPES, validateRecord } from './records.js';
export { classificationInstruction, captionInstruction, classificationAnswer, mmauPrompt, type MmauPromptOptions } from './templates.js';
export { readJsonl, readJsonlLines, readRecords, writeJsonl, JsonlWriter, type JsonlLine, type ReadJsonlOptions } from './jsonl.js';
export { shuffleBuffer, mixSources, type MixSource, type MixOptions } from './mixing.js';
export * from './soundworld/index.js';
export { inspectFile, formatInspection, type Inspection } from './inspect.js';
export * from './loaders/index.js';
export * from './convert/index.js';
export {
  JsonlCursor, RecordStream, scanRecords, reservoirSample,
  type CursorPosition, type CursorOptions, type LocatedRecord, type ScanOptions, type StreamSource, type RecordStreamOptions, type StreamedRecord, type RecordStreamState, type SourceStreamState,
} from './stream.js';
