import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  readClothoCaptions, readAudioCaps, readMusicCaps, captionRecords, readEsc50, readUrbanSound8k, readFsd50k,
  readFsd50kVocabulary, classificationRecords, readClothoAqa, aqaRecords, streamOpenAqa, openAqaRecord, readMmau,
  streamJsonArray, newStats, parsePythonStringList,
} from './index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'datasets');
const MMAU = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'shared', 'data', 'mmau-test-mini.json');

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('captioning datasets', () => {
  it('Clotho v2 captions CSV: file_name + caption_1..5 (quoted commas kept)', async () => {
    const p = join(FIX, 'clotho', 'clotho_captions_evaluation.csv');
    const sets = await readClothoCaptions(p, { audioDir: '/data/clotho/evaluation' });
    expect(sets.length).toBe(2);
    expect(sets[0].id).toBe('rain_on_roof.wav');
    expect(sets[0].audio).toBe('/data/clotho/evaluation/rain_on_roof.wav');
    expect(sets[0].captions).toEqual([
      'Rain falls steadily on a metal roof.', 'Heavy rain is pouring onto a tin roof.', 'Water drips, splashes and patters on a roof.',
      'A steady downpour hits the roof of a shed.', 'Rain drums on a hard surface outside.',
    ]);
    const recs = captionRecords(sets, 'clotho', 'sound');
    expect(recs.length).toBe(10);
    expect(recs[2]).toEqual({
      id: 'clotho/rain_on_roof.wav/2', text: 'Water drips, splashes and patters on a roof.', instruction: 'Generate audio caption.',
      answer: 'Water drips, splashes and patters on a roof.', task: 'cap', audioType: 'sound', source: 'clotho', audio: '/data/clotho/evaluation/rain_on_roof.wav',
    });
  });
  it('AudioCaps CSV: rows grouped per clip', async () => {
    const sets = await readAudioCaps(join(FIX, 'audiocaps', 'test.csv'), { audioDir: '/a' });
    expect(sets.map((s) => [s.id, s.captions.length, s.audio])).toEqual([
      ['--0w1YA1Hm4_30', 5, '/a/--0w1YA1Hm4_30.wav'],
      ['-0BIyqJj9ZU_30', 2, '/a/-0BIyqJj9ZU_30.wav'],
    ]);
    expect(sets[0].captions[1]).toBe('Men speak and laugh, then a car drives by');
  });
  it('MusicCaps CSV: aspect list (Python literal), AudioSet labels, multi-line caption, booleans', async () => {
    const items = await readMusicCaps(join(FIX, 'musiccaps', 'musiccaps-public.csv'), { audioDir: '/m' });
    expect(items.length).toBe(2);
    expect(items[0]).toMatchObject({
      id: '-0Gj8-vB1q4', audio: '/m/-0Gj8-vB1q4.wav', startS: 30, endS: 40, isBalancedSubset: false, isAudiosetEval: true,
      aspects: ['low quality', 'sustained strings melody', 'soft female vocal', "80's pop"],
    });
    expect(items[0].audiosetLabels.length).toBe(9);
    expect(items[0].captions[0].startsWith('The low quality recording features a ballad song')).toBe(true);
    expect(items[1].captions[0]).toBe('This song features an electric guitar as the main instrument.\nThe guitar plays a descending run in the beginning.');
    expect(captionRecords(items, 'musiccaps', 'music')[0].instruction).toBe('Generate music caption.');
    expect(() => parsePythonStringList("['a', 'b", 'x')).toThrow("x: expected a list like ['a', 'b']");
  });
});

describe('classification datasets', () => {
  it('ESC-50 meta/esc50.csv with folds and readable labels', async () => {
    const p = join(FIX, 'ESC-50-master', 'meta', 'esc50.csv');
    const all = await readEsc50(p);
    expect(all.map((c) => [c.id, c.labels[0], c.fold])).toEqual([
      ['1-100032-A-0.wav', 'dog', 1], ['1-100038-A-14.wav', 'chirping birds', 1], ['2-102414-C-17.wav', 'pouring water', 2], ['5-9032-A-0.wav', 'dog', 5],
    ]);
    expect(all[0].audio).toBe(join(FIX, 'ESC-50-master', 'audio', '1-100032-A-0.wav'));
    expect((await readEsc50(p, { folds: [5] })).map((c) => c.id)).toEqual(['5-9032-A-0.wav']);
    const recs = classificationRecords(all, 'esc50', 'sound');
    expect(recs[1]).toMatchObject({ text: 'chirping birds', instruction: 'Classify events in the audio clip.', answer: 'chirping birds', task: 'cls' });
  });
  it('UrbanSound8K metadata CSV: audio under fold<N>/', async () => {
    const clips = await readUrbanSound8k(join(FIX, 'UrbanSound8K', 'metadata', 'UrbanSound8K.csv'));
    expect(clips.map((c) => [c.labels[0], c.fold])).toEqual([['dog bark', 5], ['children playing', 5], ['engine idling', 10]]);
    expect(clips[2].audio).toBe(join(FIX, 'UrbanSound8K', 'audio', 'fold10', '102857-5-0-0.wav'));
  });
  it('FSD50K ground truth: multi-label dev (with split) and eval, vocabulary without header', async () => {
    const dev = await readFsd50k(join(FIX, 'FSD50K.ground_truth', 'dev.csv'));
    expect(dev[0]).toEqual({
      id: '64760', audio: join(FIX, 'FSD50K.dev_audio', '64760.wav'), split: 'train',
      labels: ['Electric guitar', 'Guitar', 'Plucked string instrument', 'Musical instrument', 'Music'],
    });
    expect(dev[1].labels).toEqual(['Drawer open or close', 'Domestic sounds and home sounds']);
    expect((await readFsd50k(join(FIX, 'FSD50K.ground_truth', 'dev.csv'), { split: 'val' })).map((c) => c.id)).toEqual(['16399']);
    const ev = await readFsd50k(join(FIX, 'FSD50K.ground_truth', 'eval.csv'));
    expect(ev.map((c) => c.labels)).toEqual([['Gunshot and gunfire', 'Explosion'], ['Chirp and tweet']]);
    expect(ev[0].audio).toBe(join(FIX, 'FSD50K.eval_audio', '37199.wav'));
    expect(classificationRecords(ev, 'fsd50k', 'sound')[0].answer).toBe('Gunshot and gunfire, Explosion');
    expect(await readFsd50kVocabulary(join(FIX, 'FSD50K.ground_truth', 'vocabulary.csv'))).toEqual([
      { index: 0, label: 'Accelerating and revving and vroom', mid: '/m/07q2z82' },
      { index: 1, label: 'Accordion', mid: '/m/0mkg' },
      { index: 2, label: 'Acoustic guitar', mid: '/m/042v_gx' },
    ]);
  });
});

describe('question answering datasets', () => {
  it('ClothoAQA: three annotator rows per question, majority answer, yes/no flag', async () => {
    const qs = await readClothoAqa(join(FIX, 'clotho_aqa', 'clotho_aqa_test.csv'));
    expect(qs.map((q) => [q.question, q.answers, q.answer, q.binary])).toEqual([
      ['Are there birds chirping?', ['yes', 'yes', 'no'], 'yes', true],
      ['What is making the loud noise?', ['a dog', 'dog', 'dog'], 'dog', false],
    ]);
    expect(qs[0].audio).toBe(join(FIX, 'clotho_aqa', 'audio_files', 'birds_in_park.wav'));
    const recs = aqaRecords(qs, 'clothoaqa', 'sound', () => 'birds sing while a dog barks');
    expect(recs[1]).toMatchObject({ instruction: 'What is making the loud noise?', answer: 'dog', task: 'aqa', text: 'birds sing while a dog barks' });
    expect(() => aqaRecords(qs, 'clothoaqa', 'sound', () => undefined)).toThrow('clothoaqa: no description text for');
    const stats = newStats();
    expect(aqaRecords(qs, 'clothoaqa', 'sound', (q) => (q.binary ? undefined : 'x'), { skipBad: true, stats }).length).toBe(1);
    expect(stats.skipped).toBe(1);
  });
  it('OpenAQA JSON streamed element by element (strings with brackets, braces and escapes)', async () => {
    const items = await collect(streamOpenAqa(join(FIX, 'openaqa', 'openaqa_toy.json')));
    expect(items.length).toBe(4);
    expect(items[0].output).toBe('The sound of crying suggests a sad situation, with "sobbing" and [muffled] voices.');
    expect(items[2].output).toBe('A dog barks, {twice}, near a road.');
    expect(items[3].dataset).toBeUndefined();
    expect(items.map((it, i) => openAqaRecord(it, 'a caption', i).task)).toEqual(['aqa', 'cls', 'cap', 'aqa']);
    expect(openAqaRecord(items[1], 'a caption', 1).source).toBe('openaqa/as_strong_train');
  });
  it('streamJsonArray handles scalars, nesting and chunk boundaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonarr-'));
    const p = join(dir, 'a.json');
    const big = 'x'.repeat(3 << 20); // longer than one 1 MiB read chunk
    writeFileSync(p, `[1, "a,]", {"b": [1, {"c": "}"}]}, null, "${big}", [[]]]`);
    const values = (await collect(streamJsonArray(p))).map((e) => e.value);
    expect(values.slice(0, 4)).toEqual([1, 'a,]', { b: [1, { c: '}' }] }, null]);
    expect((values[4] as string).length).toBe(3 << 20);
    expect(values[5]).toEqual([[]]);
  });
  it('MMAU: all 1000 items of the real test-mini file', (ctx) => {
    if (!existsSync(MMAU)) {
      ctx.skip(); // ../shared/data/mmau-test-mini.json is not present in this checkout
      return;
    }
    const items = readMmau(MMAU);
    expect(items.length).toBe(1000);
    const byTask = new Map<string, number>();
    for (const it of items) byTask.set(it.task, (byTask.get(it.task) ?? 0) + 1);
    expect(Object.fromEntries(byTask)).toEqual({ sound: 333, music: 334, speech: 333 });
    expect(items[0]).toMatchObject({ id: '3fe64f3d-282c-4bc8-a753-68f8f6c35652', answer: 'Man', choices: ['Man', 'Woman', 'Child', 'Robot'], 'sub-category': 'Acoustic Source Inference' });
  });
});

describe('bad input names the file, row and problem', () => {
  it('a CSV row with a missing column', async () => {
    const p = join(FIX, 'bad', 'clotho_missing_column.csv');
    await expect(readClothoCaptions(p)).rejects.toThrow(`${p}: row 2 (line 3): 4 columns, expected 6 (missing column(s) caption_4, caption_5)`);
    const stats = newStats();
    const sets = await readClothoCaptions(p, { skipBad: true, stats });
    expect(sets.map((s) => s.id)).toEqual(['ok.wav', 'ok2.wav']);
    expect(stats.skipped).toBe(1);
    expect(stats.problems[0]).toContain('row 2 (line 3)');
  });
  it('a CSV without a required column in the header', async () => {
    const p = join(FIX, 'audiocaps', 'test.csv');
    await expect(readEsc50(p)).rejects.toThrow(`${p}: header is missing column(s) filename, fold, target, category, esc10, src_file, take`);
  });
  it('a missing file', async () => {
    await expect(readEsc50('/nonexistent/meta/esc50.csv')).rejects.toThrow('/nonexistent/meta/esc50.csv: file not found');
  });
  it('a truncated JSON array', async () => {
    const p = join(FIX, 'bad', 'openaqa_truncated.json');
    await expect(collect(streamOpenAqa(p))).rejects.toThrow(`${p}: truncated JSON: the array is not closed (element 0 starting at line 2 is incomplete)`);
  });
  it('an MMAU item whose answer is not a choice', () => {
    const p = join(mkdtempSync(join(tmpdir(), 'mmau-')), 'm.json');
    writeFileSync(p, JSON.stringify([{ id: 'q1', audio_id: 'a.wav', question: 'q?', choices: ['a', 'b'], answer: 'c', task: 'sound' }]));
    expect(() => readMmau(p)).toThrow(`${p}: item 0 (q1): answer "c" is not one of the choices`);
  });
});
