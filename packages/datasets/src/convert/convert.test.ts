import { describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertDataset, formatSummary, converterNames, type ConvertOptions } from './index.js';
import type { AudioTIARecord } from '../records.js';
import { validateRecord } from '../records.js';
import { main } from '../cli.js';

// Fixtures: node packages/datasets/tools/make-convert-fixtures.mjs
const FIX = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/convert');
const tmp = () => mkdtempSync(join(tmpdir(), 'convert-'));

async function run(dataset: string, extra: Partial<ConvertOptions> = {}) {
  const out = join(tmp(), 'out', `${dataset}.jsonl`);
  const summary = await convertDataset({ dataset, root: join(FIX, dataset), out, ...extra });
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const records = text.split('\n').filter(Boolean).map((l, i) => validateRecord(JSON.parse(l), `${out}:${i + 1}`));
  return { summary, records, out };
}

/** The audio path of a record, resolved as the trainer does (relative to the JSONL's folder). */
const audioOf = (out: string, r: AudioTIARecord) => resolve(dirname(out), r.audio!);

describe('mats-data convert: captioning sets', () => {
  it('clotho: one cap record per caption, instruction of Table S8, audio next to the split', async () => {
    const { summary, records, out } = await run('clotho');
    expect(summary.records).toBe(10);
    expect(summary.byTask).toEqual({ cap: 10 });
    expect(summary.textFrom).toBe('captions');
    const { audio, ...rest } = records[0];
    expect(rest).toEqual({
      id: 'clotho/rain on roof.wav/0', text: 'Rain falls on a tin roof.', instruction: 'Generate audio caption.', answer: 'Rain falls on a tin roof.',
      task: 'cap', audioType: 'sound', source: 'clotho',
    });
    expect(audio).not.toMatch(/^\//);
    expect(audioOf(out, records[0])).toBe(join(FIX, 'clotho/development/rain on roof.wav'));
    expect(records[6].text).toBe('Many birds sing, loudly.');
    expect(existsSync(audioOf(out, records[9]))).toBe(true);
  });

  it('audiocaps groups rows per clip; val has 2 captions of one clip', async () => {
    const train = await run('audiocaps');
    expect(train.summary.records).toBe(3);
    expect(train.records.map((r) => r.id)).toEqual(['audiocaps/r1nicOVtvkQ_130/0', 'audiocaps/UDGBjjwyaqE_20/0', 'audiocaps/7fmOlUlwoNg_20/0']);
    expect(audioOf(train.out, train.records[2])).toBe(join(FIX, 'audiocaps/audio/train/7fmOlUlwoNg_20.wav'));
    const val = await run('audiocaps', { split: 'val' });
    expect(val.records.map((r) => r.answer)).toEqual(['Rustling occurs then a toilet flushes', 'Someone flushes a toilet']);
  });

  it('musiccaps: music caption instruction; --split train drops the AudioSet-eval rows', async () => {
    const all = await run('musiccaps');
    expect(all.summary.records).toBe(3);
    expect(all.records.every((r) => r.instruction === 'Generate music caption.' && r.audioType === 'music')).toBe(true);
    const train = await run('musiccaps', { split: 'train' });
    expect(train.records.map((r) => r.id)).toEqual(['musiccaps/-0SdAVK79lg/0', 'musiccaps/-0vPFx-wRRI/0']);
    expect(train.records[0].text).toBe("This song features an electric guitar, played in 80's pop style.");
  });

  it('wavcaps: every source folder; a caption-less entry is an error, or skipped and counted with --skip-bad', async () => {
    await expect(run('wavcaps')).rejects.toThrow(/sb_final\.json: data\[1\]: fields "id" and "caption" must be non-empty strings.*--skip-bad/);
    const { summary, records, out } = await run('wavcaps', { skipBad: true });
    expect(summary.records).toBe(5);
    expect(summary.bad).toBe(1);
    expect(records.map((r) => r.id)).toEqual(['wavcaps/AudioSet_SL/Yb0RFKhbpFJA/0', 'wavcaps/AudioSet_SL/YJZloTOdIY_c/0', 'wavcaps/FreeSound/180913/0', 'wavcaps/FreeSound/7740/0', 'wavcaps/SoundBible/1111/0']);
    expect(audioOf(out, records[0])).toBe(join(FIX, 'wavcaps/audio/AudioSet_SL/Yb0RFKhbpFJA.flac'));
    const one = await run('wavcaps', { split: 'FreeSound' });
    expect(one.summary.records).toBe(2);
  });

  it('macs: one record per annotator sentence', async () => {
    const { summary, records } = await run('macs');
    expect(summary.records).toBe(5);
    expect(records[2]).toMatchObject({ id: 'macs/airport-barcelona-0-0-a.wav/2', text: 'an announcement echoes over footsteps', task: 'cap' });
  });

  it('sdd: captions grouped per track; --split valid', async () => {
    const all = await run('sdd');
    expect(all.records.map((r) => r.id)).toEqual(['sdd/1000/0', 'sdd/1000/1', 'sdd/2001/0']);
    expect(all.records[1].text).toBe('Gentle, slow piano music.');
    expect(all.records[0].instruction).toBe('Generate music caption.');
    expect((await run('sdd', { split: 'valid' })).summary.records).toBe(2);
  });
});

describe('mats-data convert: classification sets', () => {
  it('esc50 without descriptions: label text, and the summary says so', async () => {
    const { summary, records, out } = await run('esc50');
    expect(summary.records).toBe(4);
    expect(summary.textFrom).toBe('labels');
    expect(summary.warnings[0]).toMatch(/no --descriptions file: the text of each record is its label names/);
    expect(formatSummary(summary)).toContain('warning: no --descriptions file');
    expect(records[1]).toMatchObject({ id: 'esc50/1-100038-A-14.wav', text: 'chirping birds', instruction: 'Classify events in the audio clip.', answer: 'chirping birds', task: 'cls', audioType: 'sound', source: 'esc50' });
    // Audio is <root>/audio/<file>, written relative to the output folder.
    expect(audioOf(out, records[0])).toBe(join(FIX, 'esc50/audio/1-100032-A-0.wav'));
    expect(existsSync(audioOf(out, records[3]))).toBe(true);
  });

  it('esc50 with descriptions: one description per clip, stable, from the label; --split picks folds', async () => {
    const { summary, records } = await run('esc50', { descriptions: join(FIX, 'esc50/descriptions.json') });
    expect(summary.textFrom).toBe('descriptions');
    expect(summary.warnings).toEqual([]);
    expect(['a dog barks several times', 'a small dog yaps']).toContain(records[0].text);
    expect(records[1].text).toBe('birds chirp in the trees');
    expect(records[2].text).toBe('rain falls steadily');
    expect(records[2].answer).toBe('rain');
    const again = await run('esc50', { descriptions: join(FIX, 'esc50/descriptions.json') });
    expect(again.records.map((r) => r.text)).toEqual(records.map((r) => r.text));
    const folds = await run('esc50', { split: '1,5' });
    expect(folds.records.map((r) => r.id)).toEqual(['esc50/1-100032-A-0.wav', 'esc50/1-100038-A-14.wav', 'esc50/5-9032-A-0.wav']);
    await expect(run('esc50', { split: '7' })).rejects.toThrow('--split: expected "all" or folds 1..5');
  });

  it('a label missing from the descriptions file skips the clip with the reason', async () => {
    const d = join(tmp(), 'd.json');
    writeFileSync(d, JSON.stringify({ dog: 'a dog barks' }));
    const { summary, records } = await run('esc50', { descriptions: d });
    expect(records.map((r) => r.id)).toEqual(['esc50/1-100032-A-0.wav', 'esc50/5-9032-A-0.wav']);
    expect(summary.skipped).toEqual({ [`no description for label "chirping birds" in ${d}`]: 1, [`no description for label "rain" in ${d}`]: 1 });
  });

  it('urbansound8k, fsd50k (multi-label, splits), vggsound, audioset', async () => {
    const us = await run('urbansound8k');
    expect(us.records.map((r) => r.answer)).toEqual(['dog bark', 'children playing', 'gun shot']);
    expect(audioOf(us.out, us.records[2])).toBe(join(FIX, 'urbansound8k/audio/fold1/102305-6-0-0.wav'));
    const fsd = await run('fsd50k');
    expect(fsd.summary.records).toBe(3);
    expect(fsd.records[1].answer).toBe('Bass guitar, Guitar');
    expect((await run('fsd50k', { split: 'val' })).records.map((r) => r.id)).toEqual(['fsd50k/16967']);
    const fsdEval = await run('fsd50k', { split: 'eval' });
    expect(audioOf(fsdEval.out, fsdEval.records[0])).toBe(join(FIX, 'fsd50k/FSD50K.eval_audio/37199.wav'));
    const vgg = await run('vggsound');
    expect(vgg.records.map((r) => [r.id, r.answer])).toEqual([['vggsound/--0PQM4-hqg_000030', 'waterfall burbling'], ['vggsound/--56QUhyDQM_000185', 'playing tennis, outdoors']]);
    expect((await run('vggsound', { split: 'test' })).records[0].id).toBe('vggsound/---g-f_I2yQ_000001');
    await expect(run('audioset')).rejects.toThrow(/balanced_train_segments\.csv: line 6: label "\/m\/xxxxx" is not in class_labels_indices\.csv/);
    const as = await run('audioset', { skipBad: true });
    expect(as.records.map((r) => r.answer)).toEqual(['Speech, Male speech, man speaking', 'Dog']);
    expect(audioOf(as.out, as.records[1])).toBe(join(FIX, 'audioset/audio/balanced/--ZhevVpy1s_50.wav'));
    expect(as.summary.bad).toBe(1);
  });

  it('tut2017 and dcase scene lists (all, and an evaluation_setup fold)', async () => {
    const tut = await run('tut2017');
    expect(tut.records.map((r) => r.answer)).toEqual(['residential area', 'residential area', 'cafe/restaurant']);
    expect(audioOf(tut.out, tut.records[0])).toBe(join(FIX, 'tut2017/audio/a001_0_10.wav'));
    expect((await run('tut2017', { split: 'fold1_train' })).records.map((r) => r.id)).toEqual(['tut2017/a001_0_10.wav', 'tut2017/b020_90_100.wav']);
    const dc = await run('dcase');
    expect(dc.records.map((r) => r.answer)).toEqual(['airport', 'metro station', 'park']);
  });

  it('label from folders (gtzan, bjo) and from file names (vocalsound, cremad, ravdess, sesa)', async () => {
    const gtzan = await run('gtzan');
    expect(gtzan.records.map((r) => [r.id, r.answer, r.audioType])).toEqual([['gtzan/blues/blues.00000.wav', 'blues', 'music'], ['gtzan/blues/blues.00001.wav', 'blues', 'music'], ['gtzan/jazz/jazz.00000.wav', 'jazz', 'music']]);
    expect(existsSync(audioOf(gtzan.out, gtzan.records[2]))).toBe(true);
    expect((await run('bjo')).records.map((r) => r.answer)).toEqual(['bangu', 'naobo']);
    await expect(run('vocalsound')).rejects.toThrow(/readme_notes\.wav: file name does not follow the VocalSound naming scheme/);
    const vs = await run('vocalsound', { skipBad: true });
    expect(vs.records.map((r) => r.answer)).toEqual(['cough', 'laughter', 'throat clearing']);
    expect((await run('cremad')).records.map((r) => [r.answer, r.audioType])).toEqual([['anger', 'speech'], ['happy', 'speech']]);
    expect((await run('ravdess')).records.map((r) => r.answer)).toEqual(['angry', 'neutral']);
    expect((await run('sesa')).records.map((r) => r.answer)).toEqual(['casual', 'siren', 'gunshot']);
  });
});

describe('mats-data convert: question sets', () => {
  it('clothoaqa needs descriptions; majority answer; clips without a description are skipped with the reason', async () => {
    await expect(run('clothoaqa')).rejects.toThrow(/clothoaqa: Clotho-AQA has no description of its clips.*pass --descriptions FILE/);
    const d = join(FIX, 'clothoaqa/descriptions.json');
    const { summary, records } = await run('clothoaqa', { descriptions: d });
    expect(records.map((r) => [r.instruction, r.answer, r.task])).toEqual([['Is it raining?', 'yes', 'aqa'], ['What is falling?', 'rain', 'aqa']]);
    expect(['Rain falls on a tin roof.', 'Heavy rain hits a roof.']).toContain(records[0].text);
    expect(summary.skipped).toEqual({ [`no description of the clip in ${d}`]: 1 });
  });

  it('clotho --write-descriptions feeds clothoaqa', async () => {
    const dir = tmp();
    const desc = join(dir, 'clotho-captions.json');
    await convertDataset({ dataset: 'clotho', root: join(FIX, 'clotho'), out: join(dir, 'c.jsonl'), writeDescriptions: desc });
    expect(JSON.parse(readFileSync(desc, 'utf8'))['rain on roof.wav']).toHaveLength(5);
    const { records } = await run('clothoaqa', { descriptions: desc });
    expect(records).toHaveLength(2);
  });

  it('openaqa: task from the item, source from its dataset, absolute audio ids kept', async () => {
    const { summary, records, out } = await run('openaqa', { descriptions: join(FIX, 'openaqa/descriptions.json') });
    expect(records.map((r) => r.task)).toEqual(['cls', 'aqa', 'cap']);
    expect(summary.bySource).toEqual({ 'openaqa/as_strong_train': 2, 'openaqa/vggsound_train': 1 });
    expect(records[0]).toMatchObject({ text: 'a dog barks at a door', instruction: 'What is the sound event?', answer: 'Dog barking', audio: '/data/sls/audioset/a.flac' });
    expect(audioOf(out, records[2])).toBe(join(FIX, 'openaqa/vggsound/b.flac'));
  });

  it('musicqa: one record per question-answer turn (JSONL descriptions)', async () => {
    const { records } = await run('musicqa', { descriptions: join(FIX, 'musicqa/descriptions.jsonl') });
    expect(records.map((r) => [r.instruction, r.answer, r.text])).toEqual([
      ['What instrument leads the song?', 'The piano leads the song.', 'a slow piano ballad'],
      ['Is it fast?', 'No, it is slow.', 'a slow piano ballad'],
      ['What is the mood?', 'It is cheerful.', 'a cheerful ukulele tune'],
    ]);
    expect(records.every((r) => r.audioType === 'music' && r.task === 'aqa')).toBe(true);
  });

  it('mmau: mcq records with the MMAU prompt', async () => {
    const { records } = await run('mmau', { descriptions: join(FIX, 'mmau/descriptions.json') });
    expect(records[1]).toMatchObject({
      id: 'mmau/q2', text: 'a violin plays a melody', task: 'mcq', audioType: 'music', answer: 'violin',
      instruction: 'Which instrument plays? Select one option: piano, violin Respond with exactly one of the options above.',
    });
  });
});

describe('mats-data convert: options and the CLI', () => {
  it('--limit, --require-audio, --format eval', async () => {
    expect((await run('clotho', { limit: 3 })).records).toHaveLength(3);
    const missing = await run('audiocaps', { requireAudio: true });
    expect(missing.summary.records).toBe(0);
    expect(missing.summary.skipped).toEqual({ 'audio file not found (--require-audio)': 3 });
    expect(missing.summary.warnings.at(-1)).toMatch(/no records written/);
    const dir = tmp();
    const out = join(dir, 'eval', 'esc50.json');
    const s = await convertDataset({ dataset: 'esc50', root: join(FIX, 'esc50'), out, format: 'eval', split: '5' });
    const items = JSON.parse(readFileSync(out, 'utf8'));
    expect(s.records).toBe(1);
    expect(items).toEqual([{ id: '5-9032-A-0.wav', audio: items[0].audio, labels: ['dog'] }]);
    expect(resolve(dirname(out), items[0].audio)).toBe(join(FIX, 'esc50/audio/5-9032-A-0.wav'));
  });

  it('every converter has a fixture that converts', () => {
    expect(converterNames()).toHaveLength(23);
    for (const name of converterNames()) expect(existsSync(join(FIX, name)), name).toBe(true);
  });

  it('the CLI prints the summary; errors name the problem', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const out = join(tmp(), 'x.jsonl');
      expect(await main(['convert', 'esc50', '--root', join(FIX, 'esc50'), '--out', out, '--descriptions', join(FIX, 'esc50/descriptions.json')])).toBe(0);
      expect(String(log.mock.calls[0][0])).toMatch(/^esc50 \(all\): 4 records -> .*\n {2}by task: cls 4\n {2}by source: esc50 4\n {2}text from: descriptions/);
      log.mockClear();
      expect(await main(['convert', '--help'])).toBe(0);
      expect(String(log.mock.calls[0][0])).toContain('wavcaps');
      expect(await main(['convert', 'vocalsound', '--root', join(FIX, 'vocalsound'), '--out', out, '--skip-bad'])).toBe(0);
    } finally {
      log.mockRestore();
    }
    await expect(main(['convert', 'nope', '--root', FIX, '--out', '/tmp/x.jsonl'])).rejects.toThrow('unknown dataset "nope"');
    await expect(main(['convert', 'esc50', '--root', '/nonexistent/esc', '--out', '/tmp/x.jsonl'])).rejects.toThrow('--root /nonexistent/esc: folder not found');
    await expect(main(['convert', 'clotho', '--root', join(FIX, 'esc50'), '--out', '/tmp/x.jsonl'])).rejects.toThrow(/clotho_captions_development\.csv: file not found/);
  });
});
