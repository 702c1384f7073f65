/**
 * One converter per data set of the paper's Table S5 (and MMAU) whose public layout is documented.
 * Each `layout` string says what it expects under `--root`; audio folders can be moved with `--audio-dir`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  humanLabel, readAudioCaps, readClothoAqa, readClothoCaptions, readEsc50, readFsd50k, readMmau, readMusicCaps, readUrbanSound8k, streamOpenAqa,
} from '../loaders/datasets.js';
import { readCsvRows, field, numberField } from '../loaders/csv.js';
import { mmauPrompt } from '../templates.js';
import type { AudioType } from '../records.js';
import type { Converter, ConverterContext, ConvertItem, LabelItem } from './types.js';

const loaderOptions = (ctx: ConverterContext) => ({ skipBad: ctx.skipBad, onSkip: (m: string) => ctx.bad(m) });

function requireFile(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`${path}: file not found (${what})`);
  return path;
}

function requireDir(path: string, what: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`${path}: folder not found (${what})`);
  return path;
}

/** Audio files under `dir` (recursively), sorted, as paths relative to `dir`. */
function listAudio(dir: string, ext = /\.(wav|flac|mp3|ogg|au)$/i): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else if (ext.test(name)) out.push(r);
    }
  };
  walk('');
  return out;
}

/** Parses `--split` for fold-based sets: "all" or a comma-separated list of fold numbers ("1,2,3,4"). */
function folds(split: string, max: number): number[] | undefined {
  if (split === 'all') return undefined;
  const list = split.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > max)) throw new Error(`--split: expected "all" or folds 1..${max} separated by commas (e.g. 1,2,3,4), got "${split}"`);
  return list;
}

function checkSplit(c: { name: string; splits: string[] }, split: string): void {
  if (!c.splits.includes(split)) throw new Error(`${c.name}: --split must be one of ${c.splits.join('|')}, got "${split}"`);
}

/** Lines of a tab-separated text file, with their 1-based line numbers; blank lines dropped. */
function tsvLines(path: string): { cells: string[]; line: number }[] {
  return readFileSync(requireFile(path, 'tab-separated metadata'), 'utf8')
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .map((l, i) => ({ cells: l.split('\t').map((c) => c.trim()), line: i + 1 }))
    .filter((l) => l.cells.some((c) => c !== ''));
}

// ---------------- captioning ----------------

const clotho: Converter = {
  name: 'clotho', title: 'Clotho v2', task: 'cap', audioType: 'sound',
  layout: '<root>/clotho_captions_<split>.csv (file_name, caption_1..caption_5); audio <root>/<split>/<file_name>',
  splits: ['development', 'validation', 'evaluation'], defaultSplit: 'development', descriptions: 'none',
  async *items(ctx) {
    checkSplit(clotho, ctx.split);
    const csv = requireFile(join(ctx.root, `clotho_captions_${ctx.split}.csv`), 'Clotho captions CSV');
    for (const s of await readClothoCaptions(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir(ctx.split) })) yield { kind: 'caption', id: s.id, audio: s.audio, captions: s.captions, audioType: 'sound' };
  },
};

const audiocaps: Converter = {
  name: 'audiocaps', title: 'AudioCaps', task: 'cap', audioType: 'sound',
  layout: '<root>/<split>.csv (audiocap_id, youtube_id, start_time, caption); audio <root>/audio/<split>/<youtube_id>_<start_time>.wav (AudioCaps ships no audio: name your downloads so)',
  splits: ['train', 'val', 'test'], defaultSplit: 'train', descriptions: 'none',
  async *items(ctx) {
    checkSplit(audiocaps, ctx.split);
    const csv = requireFile(join(ctx.root, `${ctx.split}.csv`), 'AudioCaps CSV');
    for (const s of await readAudioCaps(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir(`audio/${ctx.split}`) })) yield { kind: 'caption', id: s.id, audio: s.audio, captions: s.captions, audioType: 'sound' };
  },
};

const musiccaps: Converter = {
  name: 'musiccaps', title: 'MusicCaps', task: 'cap', audioType: 'music',
  layout: '<root>/musiccaps-public.csv; audio <root>/audio/<ytid>.wav. --split all | train (not is_audioset_eval) | eval (is_audioset_eval)',
  splits: ['all', 'train', 'eval'], defaultSplit: 'all', descriptions: 'none',
  async *items(ctx) {
    checkSplit(musiccaps, ctx.split);
    const csv = requireFile(join(ctx.root, 'musiccaps-public.csv'), 'MusicCaps CSV');
    for (const m of await readMusicCaps(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir('audio') })) {
      if (ctx.split !== 'all' && m.isAudiosetEval !== (ctx.split === 'eval')) continue;
      yield { kind: 'caption', id: m.id, audio: m.audio, captions: m.captions, audioType: 'music' };
    }
  },
};

interface WavCapsEntry { id?: unknown; caption?: unknown; audio?: unknown }
const WAVCAPS_SOURCES = ['FreeSound', 'BBC_Sound_Effects', 'SoundBible', 'AudioSet_SL'];

const wavcaps: Converter = {
  name: 'wavcaps', title: 'WavCaps', task: 'cap', audioType: 'sound',
  layout: '<root>/json_files/<Source>/*.json ({"data": [{"id", "caption", ...}]}, Source = FreeSound, BBC_Sound_Effects, SoundBible, AudioSet_SL); audio <root>/audio/<Source>/<id>.flac. --split all | one Source',
  splits: ['all', ...WAVCAPS_SOURCES], defaultSplit: 'all', descriptions: 'none',
  async *items(ctx) {
    checkSplit(wavcaps, ctx.split);
    const jsonDir = requireDir(join(ctx.root, 'json_files'), 'WavCaps json_files');
    const sources = ctx.split === 'all' ? readdirSync(jsonDir).sort().filter((d) => statSync(join(jsonDir, d)).isDirectory()) : [ctx.split];
    for (const source of sources) {
      const dir = requireDir(join(jsonDir, source), `WavCaps source ${source}`);
      for (const file of readdirSync(dir).sort().filter((f) => f.endsWith('.json'))) {
        const path = join(dir, file);
        let data: unknown;
        try {
          data = JSON.parse(readFileSync(path, 'utf8'));
        } catch (err) {
          throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
        }
        const list = (data as { data?: unknown })?.data;
        if (!Array.isArray(list)) throw new Error(`${path}: expected an object with a "data" array`);
        for (const [i, e] of (list as WavCapsEntry[]).entries()) {
          const id = typeof e?.id === 'number' ? String(e.id) : e?.id;
          if (typeof id !== 'string' || typeof e.caption !== 'string' || e.caption.trim() === '') {
            ctx.bad(`${path}: data[${i}]: fields "id" and "caption" must be non-empty strings, got id ${JSON.stringify(e?.id)}, caption ${JSON.stringify(e?.caption)}`);
            continue;
          }
          const stem = id.replace(/\.(wav|flac|mp3)$/i, '');
          yield { kind: 'caption', id: `${source}/${stem}`, audio: join(ctx.audioDir('audio'), source, `${stem}.flac`), captions: [e.caption.trim()], audioType: 'sound' };
        }
      }
    }
  },
};

interface MacsFile { filename?: unknown; annotations?: { sentence?: unknown }[] }

const macs: Converter = {
  name: 'macs', title: 'MACS (Multi-Annotator Captioned Soundscapes)', task: 'cap', audioType: 'sound',
  layout: '<root>/MACS.yaml (files: [{filename, annotations: [{annotator_id, sentence, tags}]}]); audio <root>/audio/<filename> (the TAU Urban Acoustic Scenes 2019 development clips)',
  splits: ['all'], defaultSplit: 'all', descriptions: 'none',
  async *items(ctx) {
    checkSplit(macs, ctx.split);
    const path = requireFile(join(ctx.root, 'MACS.yaml'), 'MACS annotations');
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`${path}: not valid YAML (${(err as Error).message})`);
    }
    const files = (doc as { files?: unknown })?.files;
    if (!Array.isArray(files)) throw new Error(`${path}: expected a top-level "files" list`);
    for (const [i, f] of (files as MacsFile[]).entries()) {
      const captions = Array.isArray(f?.annotations) ? f.annotations.map((a) => a?.sentence).filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((s) => s.trim()) : [];
      if (typeof f?.filename !== 'string' || captions.length === 0) {
        ctx.bad(`${path}: files[${i}]: needs a "filename" and at least one annotation with a "sentence", got filename ${JSON.stringify(f?.filename)}`);
        continue;
      }
      yield { kind: 'caption', id: f.filename, audio: join(ctx.audioDir('audio'), f.filename), captions, audioType: 'sound' };
    }
  },
};

const sdd: Converter = {
  name: 'sdd', title: 'Song Describer Dataset', task: 'cap', audioType: 'music',
  layout: '<root>/song_describer.csv (caption_id, track_id, caption, is_valid_subset, ..., path); audio <root>/audio/<path>. --split all | valid (is_valid_subset)',
  splits: ['all', 'valid'], defaultSplit: 'all', descriptions: 'none',
  async *items(ctx) {
    checkSplit(sdd, ctx.split);
    const csv = requireFile(join(ctx.root, 'song_describer.csv'), 'Song Describer CSV');
    const byTrack = new Map<string, { audio: string; captions: string[] }>();
    for await (const r of readCsvRows(csv, { ...loaderOptions(ctx), required: ['caption_id', 'track_id', 'caption', 'is_valid_subset', 'path'] })) {
      try {
        if (ctx.split === 'valid' && !/^(true|1)$/i.test(r.values.is_valid_subset.trim())) continue;
        const track = field(csv, r, 'track_id');
        const entry = byTrack.get(track) ?? { audio: join(ctx.audioDir('audio'), field(csv, r, 'path')), captions: [] };
        entry.captions.push(field(csv, r, 'caption').trim());
        byTrack.set(track, entry);
      } catch (err) {
        ctx.bad((err as Error).message);
      }
    }
    for (const [track, e] of byTrack) yield { kind: 'caption', id: track, audio: e.audio, captions: e.captions, audioType: 'music' };
  },
};

// ---------------- classification ----------------

const labelItem = (id: string, audio: string, labels: string[], audioType: AudioType): LabelItem => ({ kind: 'labels', id, audio, labels, audioType });

const esc50: Converter = {
  name: 'esc50', title: 'ESC-50', task: 'cls', audioType: 'sound',
  layout: '<root>/meta/esc50.csv (filename, fold, target, category, ...); audio <root>/audio/<filename>. --split all | folds, e.g. 1,2,3,4',
  splits: ['all', '<folds>'], defaultSplit: 'all', descriptions: 'label',
  async *items(ctx) {
    const csv = requireFile(join(ctx.root, 'meta', 'esc50.csv'), 'ESC-50 metadata');
    for (const c of await readEsc50(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir('audio'), folds: folds(ctx.split, 5) })) yield labelItem(c.id, c.audio, c.labels, 'sound');
  },
};

const urbansound8k: Converter = {
  name: 'urbansound8k', title: 'UrbanSound8K', task: 'cls', audioType: 'sound',
  layout: '<root>/metadata/UrbanSound8K.csv; audio <root>/audio/fold<fold>/<slice_file_name>. --split all | folds, e.g. 1,2,...,9',
  splits: ['all', '<folds>'], defaultSplit: 'all', descriptions: 'label',
  async *items(ctx) {
    const csv = requireFile(join(ctx.root, 'metadata', 'UrbanSound8K.csv'), 'UrbanSound8K metadata');
    for (const c of await readUrbanSound8k(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir('audio'), folds: folds(ctx.split, 10) })) yield labelItem(c.id, c.audio, c.labels, 'sound');
  },
};

const fsd50k: Converter = {
  name: 'fsd50k', title: 'FSD50K', task: 'cls', audioType: 'sound',
  layout: '<root>/FSD50K.ground_truth/{dev,eval}.csv; audio <root>/FSD50K.dev_audio/<fname>.wav, <root>/FSD50K.eval_audio/<fname>.wav. --split dev | train | val | eval',
  splits: ['dev', 'train', 'val', 'eval'], defaultSplit: 'dev', descriptions: 'label',
  async *items(ctx) {
    checkSplit(fsd50k, ctx.split);
    const isEval = ctx.split === 'eval';
    const csv = requireFile(join(ctx.root, 'FSD50K.ground_truth', isEval ? 'eval.csv' : 'dev.csv'), 'FSD50K ground truth');
    const split = ctx.split === 'train' || ctx.split === 'val' ? ctx.split : undefined;
    for (const c of await readFsd50k(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir(isEval ? 'FSD50K.eval_audio' : 'FSD50K.dev_audio'), split })) yield labelItem(c.id, c.audio, c.labels, 'sound');
  },
};

const vggsound: Converter = {
  name: 'vggsound', title: 'VGGSound', task: 'cls', audioType: 'sound',
  layout: '<root>/vggsound.csv (no header: youtube_id, start_seconds, label, split); audio <root>/audio/<youtube_id>_<start_seconds, 6 digits>.wav. --split all | train | test',
  splits: ['all', 'train', 'test'], defaultSplit: 'train', descriptions: 'label',
  async *items(ctx) {
    checkSplit(vggsound, ctx.split);
    const csv = requireFile(join(ctx.root, 'vggsound.csv'), 'VGGSound CSV');
    for await (const r of readCsvRows(csv, { ...loaderOptions(ctx), columns: ['youtube_id', 'start_seconds', 'label', 'split'] })) {
      try {
        const split = field(csv, r, 'split').trim();
        if (ctx.split !== 'all' && split !== ctx.split) continue;
        const ytid = field(csv, r, 'youtube_id');
        const start = numberField(csv, r, 'start_seconds');
        const id = `${ytid}_${String(Math.round(start)).padStart(6, '0')}`;
        yield labelItem(id, join(ctx.audioDir('audio'), `${id}.wav`), [field(csv, r, 'label').trim()], 'sound');
      } catch (err) {
        ctx.bad((err as Error).message);
      }
    }
  },
};

const AUDIOSET_SPLITS = { balanced: 'balanced_train_segments.csv', unbalanced: 'unbalanced_train_segments.csv', eval: 'eval_segments.csv' } as const;

const audioset: Converter = {
  name: 'audioset', title: 'AudioSet', task: 'cls', audioType: 'sound',
  layout: '<root>/class_labels_indices.csv (index, mid, display_name) and <root>/{balanced_train,unbalanced_train,eval}_segments.csv ("# YTID, start_seconds, end_seconds, positive_labels"); audio <root>/audio/<split>/<YTID>_<start_seconds>.wav. --split balanced | unbalanced | eval',
  splits: Object.keys(AUDIOSET_SPLITS), defaultSplit: 'balanced', descriptions: 'label',
  async *items(ctx) {
    checkSplit(audioset, ctx.split);
    const labelsCsv = requireFile(join(ctx.root, 'class_labels_indices.csv'), 'AudioSet class labels');
    const names = new Map<string, string>();
    for await (const r of readCsvRows(labelsCsv, { required: ['index', 'mid', 'display_name'] })) names.set(field(labelsCsv, r, 'mid'), field(labelsCsv, r, 'display_name').trim());
    const csv = requireFile(join(ctx.root, AUDIOSET_SPLITS[ctx.split as keyof typeof AUDIOSET_SPLITS]), 'AudioSet segments CSV');
    for (const { cells, line } of readFileSync(csv, 'utf8').split(/\r?\n/).map((l, i) => ({ cells: l, line: i + 1 }))) {
      if (cells.trim() === '' || cells.startsWith('#')) continue;
      const m = /^([^,]+),\s*([\d.]+),\s*([\d.]+),\s*"([^"]*)"\s*$/.exec(cells);
      if (!m) {
        ctx.bad(`${csv}: line ${line}: expected YTID, start_seconds, end_seconds, "labels", got ${cells.slice(0, 60)}`);
        continue;
      }
      const mids = m[4].split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = mids.find((mid) => !names.has(mid));
      if (unknown || mids.length === 0) {
        ctx.bad(`${csv}: line ${line}: label ${unknown ? `"${unknown}" is not in class_labels_indices.csv` : 'list is empty'}`);
        continue;
      }
      const id = `${m[1]}_${Number(m[2])}`;
      yield labelItem(id, join(ctx.audioDir(`audio/${ctx.split}`), `${id}.wav`), mids.map((mid) => names.get(mid)!), 'sound');
    }
  },
};

function sceneConverter(name: string, title: string, layout: string, meta: (ctx: ConverterContext) => { file: string; header: boolean }): Converter {
  const c: Converter = {
    name, title, task: 'cls', audioType: 'sound', layout,
    splits: ['all', '<foldN_train|foldN_evaluate>'], defaultSplit: 'all', descriptions: 'label',
    async *items(ctx) {
      if (ctx.split !== 'all' && !/^fold\d+_(train|evaluate|test)$/.test(ctx.split)) throw new Error(`${name}: --split must be "all" or an evaluation_setup list such as fold1_train, got "${ctx.split}"`);
      const { file, header } = meta(ctx);
      for (const { cells, line } of tsvLines(file).slice(header ? 1 : 0)) {
        const [audio, label] = cells;
        if (!audio || !label) {
          ctx.bad(`${file}: line ${line}: expected <audio file>\\t<scene label>, got ${cells.join('\\t').slice(0, 60)}`);
          continue;
        }
        const rel = audio.replace(/^audio\//, '');
        yield labelItem(rel, join(ctx.audioDir('audio'), rel), [humanLabel(label)], 'sound');
      }
    },
  };
  return c;
}

const tut2017 = sceneConverter(
  'tut2017', 'TUT Acoustic Scenes 2017',
  '<root>/meta.txt (tab-separated, no header: audio/<file>.wav, scene label, recording id); audio <root>/audio/; --split foldN_train / foldN_evaluate reads <root>/evaluation_setup/<split>.txt',
  (ctx) => ({ file: ctx.split === 'all' ? join(ctx.root, 'meta.txt') : join(ctx.root, 'evaluation_setup', `${ctx.split}.txt`), header: false }),
);

const dcase = sceneConverter(
  'dcase', 'DCASE acoustic scenes (TAU Urban Acoustic Scenes 2019/2020 development)',
  '<root>/meta.csv (tab-separated with header: filename, scene_label, identifier, source_label); audio <root>/audio/; --split foldN_train / foldN_evaluate reads <root>/evaluation_setup/<split>.csv',
  (ctx) => ({ file: ctx.split === 'all' ? join(ctx.root, 'meta.csv') : join(ctx.root, 'evaluation_setup', `${ctx.split}.csv`), header: true }),
);

/** Classification sets whose labels are the names of the folders the clips are in. */
function folderConverter(name: string, title: string, audioType: AudioType, base: string, layout: string): Converter {
  return {
    name, title, task: 'cls', audioType, layout, splits: ['all'], defaultSplit: 'all', descriptions: 'label',
    async *items(ctx) {
      checkSplit({ name, splits: ['all'] }, ctx.split);
      const dir = requireDir(ctx.audioDir(base), `${title} audio folders`);
      for (const rel of listAudio(dir)) {
        const parts = rel.split('/');
        if (parts.length < 2) {
          ctx.bad(`${join(dir, rel)}: a clip outside the class folders (expected <class>/<file>)`);
          continue;
        }
        yield labelItem(rel, join(dir, rel), [humanLabel(parts[parts.length - 2]).toLowerCase()], audioType);
      }
    },
  };
}

const gtzan = folderConverter('gtzan', 'GTZAN', 'music', 'genres', '<root>/genres/<genre>/<genre>.000NN.wav (the genre folders; with --audio-dir for Kaggle\'s genres_original)');
const bjo = folderConverter('bjo', 'Beijing Opera Percussion Instruments', 'music', '', '<root>/<instrument>/*.wav (bangu, naobo, daluo, xiaoluo folders)');

/** Classification sets whose label is coded in the clip's file name. */
function fileNameConverter(name: string, title: string, audioType: AudioType, base: string, layout: string, labelOf: (file: string) => string | undefined): Converter {
  return {
    name, title, task: 'cls', audioType, layout, splits: ['all'], defaultSplit: 'all', descriptions: 'label',
    async *items(ctx) {
      checkSplit({ name, splits: ['all'] }, ctx.split);
      const dir = requireDir(ctx.audioDir(base), `${title} audio`);
      for (const rel of listAudio(dir)) {
        const label = labelOf(basename(rel).replace(/\.[^.]+$/, ''));
        if (!label) {
          ctx.bad(`${join(dir, rel)}: file name does not follow the ${title} naming scheme (${layout})`);
          continue;
        }
        yield labelItem(rel, join(dir, rel), [label], audioType);
      }
    },
  };
}

const VOCALSOUND = { laughter: 'laughter', sigh: 'sigh', cough: 'cough', throatclearing: 'throat clearing', sneeze: 'sneeze', sniff: 'sniff' } as Record<string, string>;
const vocalsound = fileNameConverter('vocalsound', 'VocalSound', 'sound', 'audio_16k', '<root>/audio_16k/<speaker>_<n>_<label>.wav (label: laughter, sigh, cough, throatclearing, sneeze, sniff)', (f) => VOCALSOUND[f.split('_').pop() ?? '']);

const CREMAD = { ANG: 'anger', DIS: 'disgust', FEA: 'fear', HAP: 'happy', NEU: 'neutral', SAD: 'sad' } as Record<string, string>;
const cremad = fileNameConverter('cremad', 'CREMA-D', 'speech', 'AudioWAV', '<root>/AudioWAV/<actor>_<sentence>_<EMOTION>_<level>.wav (EMOTION: ANG, DIS, FEA, HAP, NEU, SAD)', (f) => CREMAD[f.split('_')[2] ?? '']);

const RAVDESS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
const ravdess = fileNameConverter('ravdess', 'RAVDESS', 'speech', '', '<root>/Actor_NN/<modality>-<channel>-<emotion 01..08>-<intensity>-<statement>-<repetition>-<actor>.wav', (f) => {
  const parts = f.split('-');
  return parts.length === 7 ? RAVDESS[Number(parts[2]) - 1] : undefined;
});

const SESA = { casual: 'casual', gunshot: 'gunshot', explosion: 'explosion', alarm: 'siren' } as Record<string, string>;
const sesa = fileNameConverter('sesa', 'SESA (Sound Events for Surveillance Applications)', 'sound', '', '<root>/{train,test}/<class>_<n>.wav (class: casual, gunshot, explosion, alarm = siren)', (f) => SESA[f.replace(/_?\d+$/, '')]);

// ---------------- question answering ----------------

const clothoaqa: Converter = {
  name: 'clothoaqa', title: 'Clotho-AQA', task: 'aqa', audioType: 'sound',
  layout: '<root>/clotho_aqa_<split>.csv (file_name, QuestionText, answer, confidence; 3 annotators per question); audio <root>/audio_files/. Text: --descriptions keyed by file name (e.g. the Clotho captions of the clip)',
  splits: ['train', 'val', 'test'], defaultSplit: 'train', descriptions: 'clip',
  async *items(ctx) {
    checkSplit(clothoaqa, ctx.split);
    const csv = requireFile(join(ctx.root, `clotho_aqa_${ctx.split}.csv`), 'Clotho-AQA CSV');
    for (const q of await readClothoAqa(csv, { ...loaderOptions(ctx), audioDir: ctx.audioDir('audio_files') })) {
      yield { kind: 'question', id: q.id, audio: q.audio, clipKey: basename(q.audio), instruction: q.question, question: q.question, answer: q.answer, task: 'aqa', audioType: 'sound' };
    }
  },
};

const openaqa: Converter = {
  name: 'openaqa', title: 'OpenAQA (LTU)', task: 'aqa', audioType: 'sound',
  layout: '<root>/openaqa_5.6M.json (one array of {instruction, input, audio_id, dataset, task, output}; streamed), or --split NAME for <root>/NAME.json; audio_id kept as given (relative ids under <root>). Text: --descriptions keyed by audio_id',
  splits: ['openaqa_5.6M', '<NAME>'], defaultSplit: 'openaqa_5.6M', descriptions: 'clip',
  async *items(ctx) {
    if (!/^[\w.-]+$/.test(ctx.split)) throw new Error(`openaqa: --split names a JSON file in --root, got "${ctx.split}"`);
    const file = requireFile(join(ctx.root, `${ctx.split}.json`), 'OpenAQA JSON');
    let index = 0;
    for await (const item of streamOpenAqa(file, loaderOptions(ctx))) {
      const t = (item.task ?? '').toLowerCase();
      const task = t.startsWith('cla') ? 'cls' : t.startsWith('caption') ? 'cap' : 'aqa';
      const instruction = item.input ? `${item.instruction} ${item.input}` : item.instruction;
      yield {
        kind: 'question', id: String(index++), audio: item.audio_id.startsWith('/') ? item.audio_id : join(ctx.root, item.audio_id), clipKey: item.audio_id,
        instruction, question: instruction, answer: item.output, task, audioType: 'sound', source: item.dataset ? `openaqa/${item.dataset}` : undefined,
      };
    }
  },
};

interface MusicQaEntry { audio_name?: unknown; conversation?: { from?: unknown; value?: unknown }[] }

const musicqa: Converter = {
  name: 'musicqa', title: 'MusicQA (MU-LLaMA)', task: 'aqa', audioType: 'music',
  layout: '<root>/<Split>MusicQA.json (array of {audio_name, conversation: [{from: "human", value}, {from: "gpt", value}, ...]}); audio <root>/audios/<audio_name>. --split Pretrain | Finetune | Eval. Text: --descriptions keyed by audio_name',
  splits: ['Pretrain', 'Finetune', 'Eval'], defaultSplit: 'Finetune', descriptions: 'clip',
  async *items(ctx) {
    checkSplit(musicqa, ctx.split);
    const file = requireFile(join(ctx.root, `${ctx.split}MusicQA.json`), 'MusicQA JSON');
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array`);
    for (const [i, e] of (data as MusicQaEntry[]).entries()) {
      const conv = Array.isArray(e?.conversation) ? e.conversation : [];
      if (typeof e?.audio_name !== 'string' || conv.length < 2) {
        ctx.bad(`${file}: item ${i}: needs "audio_name" and a "conversation" of at least two turns`);
        continue;
      }
      for (let t = 0; t + 1 < conv.length; t += 2) {
        const q = conv[t];
        const a = conv[t + 1];
        if (q?.from !== 'human' || a?.from !== 'gpt' || typeof q.value !== 'string' || typeof a.value !== 'string') {
          ctx.bad(`${file}: item ${i}: turn ${t}: expected a "human" question followed by a "gpt" answer`);
          continue;
        }
        yield { kind: 'question', id: `${i}/${t / 2}`, audio: join(ctx.audioDir('audios'), e.audio_name), clipKey: e.audio_name, instruction: q.value.trim(), question: q.value.trim(), answer: a.value.trim(), task: 'aqa', audioType: 'music' };
      }
    }
  },
};

const mmau: Converter = {
  name: 'mmau', title: 'MMAU', task: 'mcq', audioType: 'sound',
  layout: '<root>/mmau-<split>.json (items with id, audio_id, question, choices, answer, task, ...); audio_id relative to <root>. --split test-mini | test. Text: --descriptions keyed by audio_id',
  splits: ['test-mini', 'test'], defaultSplit: 'test-mini', descriptions: 'clip',
  async *items(ctx) {
    checkSplit(mmau, ctx.split);
    const file = requireFile(join(ctx.root, `mmau-${ctx.split}.json`), 'MMAU JSON');
    for (const q of readMmau(file, { requireAnswer: true })) {
      const audioType: AudioType = q.task === 'music' || q.task === 'speech' ? q.task : 'sound';
      yield { kind: 'question', id: q.id, audio: join(ctx.root, q.audio_id), clipKey: q.audio_id, instruction: mmauPrompt(q.question, q.choices), question: q.question, answer: q.answer, task: 'mcq', audioType };
    }
  },
};

/** Every converter, by name. */
export const CONVERTERS: Record<string, Converter> = Object.fromEntries(
  [clotho, audiocaps, musiccaps, wavcaps, macs, sdd, esc50, urbansound8k, fsd50k, vggsound, audioset, tut2017, dcase, gtzan, bjo, vocalsound, cremad, ravdess, sesa, clothoaqa, openaqa, musicqa, mmau].map((c) => [c.name, c]),
);

export type { ConvertItem };
