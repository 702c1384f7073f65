import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { decodeAudioFile, type MmauItem } from '@mats/datasets';
import type { OrtModule } from '@mats/model';
import { answerClip } from './answer.js';
import { SessionStartError, openExport, type FetchFn, type WebExport } from './export-folder.js';
import { makeExport, makeWorld, nodeAnswers, testPrompts } from './test-fixture.js';

const ort = ortNode as unknown as OrtModule;
const BASE = 'http://fixture.test/';

/** fetch over a folder: http://fixture.test/<path> -> <root>/<path>, 404 when absent. */
function folderFetch(root: string): FetchFn {
  return async (url: string) => {
    const path = join(root, decodeURIComponent(new URL(url).pathname));
    if (!existsSync(path)) return new Response('not found', { status: 404 });
    return new Response(readFileSync(path));
  };
}

describe('openExport + answerClip on onnxruntime-node (the page code, outside the browser)', () => {
  let dir: string;
  let exportDir: string;
  let worldDir: string;
  let model: WebExport;
  let items: { audio: string; prompt: string }[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mats-web-'));
    exportDir = join(dir, 'export');
    await makeExport(exportDir);
    worldDir = await makeWorld(join(dir, 'world'));
    items = testPrompts(JSON.parse(readFileSync(join(worldDir, 'eval/mmau.json'), 'utf8')) as MmauItem[]);
    model = await openExport(`${BASE}export/`, { ort, fetchFn: folderFetch(dir), threads: 1 });
  });

  afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same tokens and text as the Node ONNX path (loadExported + askExported) on three world clips', async () => {
    const expected = await nodeAnswers(exportDir, worldDir, items);
    const streamed: string[] = [];
    for (const [i, item] of items.entries()) {
      const clip = await decodeAudioFile(join(worldDir, item.audio));
      const got = await answerClip(model, clip, item.prompt, { onText: (t) => streamed.push(t) });
      expect(got.ids).toEqual(expected[i].ids);
      expect(got.text).toBe(expected[i].text);
      expect(got.santa).not.toBeNull();
      expect(got.santa!.members.reduce((s, m) => s + m.weight, 0)).toBeCloseTo(1, 6);
    }
    // Something was generated and streamed (the comparison is not between empty answers).
    expect(expected.some((e) => e.ids.length > 0)).toBe(true);
    expect(streamed.length).toBeGreaterThan(items.length);
  });

  it('a file named by the manifest but missing: the error names the URL', async () => {
    const broken = join(dir, 'broken');
    cpSync(exportDir, broken, { recursive: true });
    rmSync(join(broken, 'mapper.onnx'));
    await expect(openExport(`${BASE}broken/`, { ort, fetchFn: folderFetch(dir) })).rejects.toThrow(/broken\/mapper\.onnx: the mapper is missing from the export folder \(HTTP 404/);
  });

  it('a manifest whose dimensions do not match a graph: the error names the file, the input and both values', async () => {
    const bad = join(dir, 'mismatch');
    cpSync(exportDir, bad, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(bad, 'config.json'), 'utf8'));
    const frames = manifest.clap.frames;
    manifest.clap.frames = frames + 1;
    writeFileSync(join(bad, 'config.json'), JSON.stringify(manifest));
    await expect(openExport(`${BASE}mismatch/`, { ort, fetchFn: folderFetch(dir) })).rejects.toThrow(
      `mismatch/clap-audio.onnx: input "log_mel" has dimension 1 = ${frames} but the manifest (clap.frames / clap.mel.nMels) says ${frames + 1}`,
    );
  });

  it('an execution provider that cannot start: a SessionStartError (the page then tries WebAssembly); a bad folder is not one', async () => {
    const failed = await openExport(`${BASE}export/`, { ort, fetchFn: folderFetch(dir), executionProviders: ['no-such-provider'] }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SessionStartError);
    expect((failed as Error).message).toMatch(/export\/decoder\.onnx: ONNX Runtime could not load the model: .*no-such-provider/);
    const missing = await openExport(`${BASE}nothing-here/`, { ort, fetchFn: folderFetch(dir) }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Error);
    expect(missing).not.toBeInstanceOf(SessionStartError);
  });

  it('no manifest: says which URL was tried', async () => {
    await expect(openExport(`${BASE}nothing-here/`, { ort, fetchFn: folderFetch(dir) })).rejects.toThrow(/nothing-here\/config\.json: the manifest is missing/);
  });
});
