import { mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Embeddings, createEmbeddings, hashString } from '@mats/core';
import { resolveConfig, streamPartFile } from '@mats/app-shared';
import { StreamingTrainingData } from './stream-data.js';
import { isHeldOut, loadTrainingData, validationThreshold } from './data.js';

/** A stand-in text encoder: 4 numbers from the hash of the text, so a row shows which text it is. */
async function embed(texts: string[]): Promise<Embeddings> {
  const e = createEmbeddings(texts.length, 4);
  texts.forEach((t, r) => e.data.set([hashString(t) % 1000, t.length, hashString(`b${t}`) % 1000, 1], r * 4));
  return e;
}

function setup(partSize = 4) {
  const dir = mkdtempSync(join(tmpdir(), 'stream-data-'));
  const file = (name: string, n: number) => {
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${name}/${i}`, text: `${name} text number ${i}`, instruction: 'Generate audio caption.', answer: `answer ${i}`, task: 'cap', audioType: 'sound', source: name, audio: `clips/${name}-${i}.wav` }));
    writeFileSync(join(dir, `${name}.jsonl`), `${lines.join('\n')}\n`);
    return join(dir, `${name}.jsonl`);
  };
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    seed: 5,
    data: { train: [{ path: file('a', 30), weight: 2, audioDir: null }, { path: file('b', 13), weight: 1, audioDir: null }], validationFraction: 0.2, validationMax: 6 },
    cache: { dir: join(dir, 'cache'), partSize },
  }));
  return { dir, config: resolveConfig({ configFile: config }) };
}

async function opened(config: ReturnType<typeof setup>['config'], maxCachedParts = 2) {
  const data = await StreamingTrainingData.open(config, { modelKey: 'stand-in', shuffleBuffer: 5, maxCachedParts });
  await data.embed('text', embed);
  return data;
}

describe('StreamingTrainingData', () => {
  it('counts the sources and holds out the same records as loadTrainingData', async () => {
    const { config } = setup();
    const data = await opened(config);
    const all = await loadTrainingData(config, false);
    expect(data.sources.map((s) => [s.records, s.train, s.validation])).toEqual([
      [30, all.train[0].length, 30 - all.train[0].length],
      [13, all.train[1].length, 13 - all.train[1].length],
    ]);
    expect(all.validation.length).toBeGreaterThan(0);
    // The validation stream: held-out records only, at most validationMax, with their own embeddings.
    const val = [];
    for await (const b of data.validationBatches(4)) val.push(b);
    const records = val.flatMap((b) => b.records);
    expect(records.map((r) => r.id)).toEqual(all.validation.slice(0, 6).map((r) => r.id));
    const expected = await embed(records.map((r) => r.text));
    expect(Array.from(val.flatMap((b) => Array.from(b.inputs.data)))).toEqual(Array.from(expected.data));
    expect(records[0].audio).toMatch(/clips\/a-\d+\.wav$/);
  });

  it('batches are training records with their embeddings; resuming from the state (via JSON) gives the same batches', async () => {
    const { config } = setup();
    const whole = await opened(config);
    await whole.start({ text: embed });
    const expected: { ids: string[]; data: number[] }[] = [];
    for (let i = 0; i < 12; i++) {
      const b = await whole.nextBatch(8);
      expected.push({ ids: b.records.map((r) => r.id), data: Array.from(b.inputs.data) });
    }
    const threshold = validationThreshold(config.data.validationFraction);
    const flat = expected.flatMap((e) => e.ids);
    expect(flat.every((id) => !isHeldOut({ text: `${id.split('/')[0]} text number ${id.split('/')[1]}`, audio: `clips/${id.replace('/', '-')}.wav` }, threshold))).toBe(true);
    // 96 draws at weights 2:1 over 43 records: both sources are drawn, and a goes into its next epochs.
    expect(flat.filter((id) => id.startsWith('a/')).length).toBeGreaterThan(50);
    expect(whole.getState().sources[0].epoch).toBeGreaterThan(0);
    const b0 = await embed([`${flat[0].split('/')[0]} text number ${flat[0].split('/')[1]}`]);
    expect(expected[0].data.slice(0, 4)).toEqual(Array.from(b0.data));
    expect(whole.cacheStats().partsHeld).toBeLessThanOrEqual(4); // 2 parts of each of 2 sources
    // Rows are read as records enter the shuffle buffers, in file order: each part is loaded once per epoch read.
    const epochs = whole.getState().sources.map((x) => x.epoch + 1);
    const parts = whole.sources.map((x) => Math.ceil(x.records / 4));
    expect(whole.cacheStats().loads).toBeLessThanOrEqual(epochs[0] * parts[0] + epochs[1] * parts[1]);
    expect(whole.cacheStats().loads).toBeGreaterThanOrEqual(parts[0] + parts[1]);
    await whole.close();

    for (const stop of [1, 5, 11]) {
      const first = await opened(config);
      await first.start({ text: embed });
      for (let i = 0; i < stop; i++) await first.nextBatch(8);
      const state = JSON.parse(JSON.stringify(first.getState()));
      await first.close();
      const resumed = await opened(config);
      await resumed.start({ text: embed }, state);
      for (let i = stop; i < 12; i++) {
        const b = await resumed.nextBatch(8);
        expect({ ids: b.records.map((r) => r.id), data: Array.from(b.inputs.data) }, `batch ${i} after stopping at ${stop}`).toEqual(expected[i]);
      }
      await resumed.close();
    }
  });

  it('a cache part truncated mid-run is re-embedded, and the batches do not change', async () => {
    const { config } = setup();
    const ref = await opened(config, 1);
    await ref.start({ text: embed });
    const expected = [];
    for (let i = 0; i < 6; i++) expected.push(Array.from((await ref.nextBatch(8)).inputs.data));
    await ref.close();
    const data = await opened(config, 1);
    await data.start({ text: embed });
    const spec = data.sources[0].caches.text!;
    for (let i = 0; i < 3; i++) expect(Array.from((await data.nextBatch(8)).inputs.data)).toEqual(expected[i]);
    for (let p = 0; p < 8; p++) truncateSync(streamPartFile(spec, p), statSync(streamPartFile(spec, p)).size - 8);
    for (let i = 3; i < 6; i++) expect(Array.from((await data.nextBatch(8)).inputs.data)).toEqual(expected[i]);
    expect(data.cacheStats().repaired).toBeGreaterThan(0);
    await data.close();
    // Without an encoder to re-embed with, it is an error that names the part file.
    truncateSync(streamPartFile(spec, 0), 100);
    const strict = await StreamingTrainingData.open(config, { modelKey: 'stand-in', shuffleBuffer: 5, maxCachedParts: 1 });
    await strict.start();
    const draws = (async () => { for (let i = 0; i < 20; i++) await strict.nextBatch(8); })();
    await expect(draws).rejects.toThrow(`${streamPartFile(spec, 0)}: embedding cache part 0 cannot be used (truncated`);
    await strict.close();
  });

  it("Santa's memory is a seeded reservoir sample of distinct training texts", async () => {
    const { config } = setup();
    const data = await opened(config);
    const m = await data.sampleMemory(10);
    expect(m.texts).toHaveLength(10);
    expect(new Set(m.texts).size).toBe(10);
    expect(Array.from(m.embeddings.data)).toEqual(Array.from((await embed(m.texts)).data));
    expect((await data.sampleMemory(10)).texts).toEqual(m.texts);
    expect((await data.sampleMemory(10, 'another seed')).texts).not.toEqual(m.texts);
    const all = await loadTrainingData(config, false);
    const trainTexts = new Set(all.train.flat().map((r) => r.text));
    expect(m.texts.every((t) => trainTexts.has(t))).toBe(true);
    expect((await data.sampleMemory(1000)).texts.length).toBe(trainTexts.size);
  });

  it('MATS-Audio: batches carry the clip embeddings (cache keyed by the resolved clip path)', async () => {
    const { dir, config } = setup();
    const data = await StreamingTrainingData.open(config, { modelKey: 'stand-in', variant: 'audio', shuffleBuffer: 5 });
    const clipEmbed = async (paths: string[]) => embed(paths.map((p) => `clip ${p}`));
    await data.embed('audio', clipEmbed);
    await data.start({ audio: clipEmbed });
    const b = await data.nextBatch(6);
    expect(b.records.every((r) => r.audio!.startsWith(join(dir, 'clips')))).toBe(true);
    expect(Array.from(b.inputs.data)).toEqual(Array.from((await clipEmbed(b.records.map((r) => r.audio!))).data));
    await data.close();
    const noAudio = join(dir, 'no-audio.jsonl');
    writeFileSync(noAudio, JSON.stringify({ id: 'n/0', text: 't', instruction: 'i', answer: 'a', task: 'cap', audioType: 'sound', source: 'n' }) + '\n');
    await expect(StreamingTrainingData.open({ ...config, data: { ...config.data, train: [{ path: noAudio, weight: 1, audioDir: null }] } }, { modelKey: 'k', variant: 'audio' })).rejects.toThrow(`${noAudio}: record "n/0" has no "audio" field`);
  });

  it('clear errors: missing source, weights that do not sum to anything positive, no cache', async () => {
    const { config } = setup();
    await expect(StreamingTrainingData.open({ ...config, data: { ...config.data, train: [{ ...config.data.train[0], path: '/nonexistent/x.jsonl' }] } }, { modelKey: 'k' })).rejects.toThrow('data.train[0].path: /nonexistent/x.jsonl does not exist');
    await expect(StreamingTrainingData.open({ ...config, data: { ...config.data, train: config.data.train.map((s) => ({ ...s, weight: 0 })) } }, { modelKey: 'k' })).rejects.toThrow('data.train: the weights (0, 0) must sum to more than 0');
    const data = await StreamingTrainingData.open(config, { modelKey: 'never embedded' });
    await data.start();
    await expect(data.nextBatch(2)).rejects.toThrow(/embedding cache part \d+ cannot be used \(missing\); run the embedding stage again/);
    await data.close();
  });
});
