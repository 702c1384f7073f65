export { readCsvRows, readCsv, newStats, type CsvRow, type ReadCsvOptions, type LoadStats } from './csv.js';
export { streamJsonArray, type JsonArrayElement } from './json-stream.js';
export {
  readClothoCaptions, readAudioCaps, readMusicCaps, captionRecords,
  readEsc50, readUrbanSound8k, readFsd50k, readFsd50kVocabulary, classificationRecords,
  readClothoAqa, aqaRecords, streamOpenAqa, openAqaRecord, readMmau,
  humanLabel, parsePythonStringList,
  type LoaderOptions, type CaptionSet, type LabeledClip, type AqaQuestion, type MusicCapsItem, type OpenAqaItem, type MmauQuestion,
} from './datasets.js';
