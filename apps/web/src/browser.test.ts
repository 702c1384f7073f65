/**
 * The built page in a real Chromium (Debian's `chromium`, driven by playwright-core): it loads an
 * export, answers three world clips, and its token ids must equal the Node ONNX path's. Then the
 * microphone (Chromium's fake capture device playing a WAV made from a world clip), WebGPU
 * (SwiftShader's software adapter, which `--enable-unsafe-webgpu` exposes), the engine messages and
 * bad input, each in the page. A screenshot goes to apps/web/test-artifacts/ (git-ignored).
 *
 * Skipped, with the reason printed, when Chromium is not installed (CI installs it: .ci/run); the
 * WebGPU test is skipped, with the reason, when this Chromium gives no WebGPU adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { decodeAudioFile, decodeWav, downmixMean, encodeWav, resample, type MmauItem } from '@mats/datasets';
import { Graph } from '@mats/model';
import { makeExport, makeWorld, nodeAnswers, nodeAnswersForClips, testPrompts } from './test-fixture.js';

const CHROMIUM = process.env.MATS_CHROMIUM ?? '/usr/bin/chromium';
const APP = resolve(import.meta.dirname, '..');
const DIST = join(APP, 'dist');
const ARTIFACTS = join(APP, 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser test skipped: no Chromium at ${CHROMIUM} (install Debian's "chromium" package, or set MATS_CHROMIUM)`);

/** The flags of issue 15 (headless, no GPU process work, no network noise); each test context adds its own. */
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The rate of Chromium's fake capture device here; the source WAV is written at it so the capture can be an exact copy. */
const MIC_RATE = 44100;

function launch(args: string[]): Promise<BrowserContext> {
  return import('playwright-core').then(({ chromium }) =>
    chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'mats-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [...BASE_ARGS, ...args],
      viewport: { width: 1280, height: 900 },
    }),
  );
}

/**
 * The best normalised cross-correlation of `window` with the looping `source`, over every lag:
 * 1 when the window is an exact (scaled) copy of a stretch of the source.
 */
function bestLoopCorrelation(window: Float32Array, source: Float32Array): { r: number; lag: number } {
  const energy = (a: Float32Array, from = 0, n = a.length) => {
    let e = 0;
    for (let i = 0; i < n; i++) e += a[(from + i) % a.length] ** 2;
    return e;
  };
  const nw = Math.sqrt(energy(window));
  let best = { r: -Infinity, lag: -1 };
  let es = energy(source, 0, window.length);
  for (let lag = 0; lag < source.length; lag++) {
    let dot = 0;
    for (let i = 0; i < window.length; i++) dot += window[i] * source[(lag + i) % source.length];
    const r = dot / (nw * Math.sqrt(es) || 1);
    if (r > best.r) best = { r, lag };
    // Slide the source energy by one sample.
    es += source[(lag + window.length) % source.length] ** 2 - source[lag] ** 2;
  }
  return best;
}

/** The bytes behind a URL of the page (a blob: URL included), fetched inside the page. */
async function pageBytes(page: Page, url: string): Promise<Uint8Array> {
  const base64 = await page.evaluate(async (u) => {
    const bytes = new Uint8Array(await (await fetch(u)).arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }, url);
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

/** Selects a world clip and asks `prompt`; the page's token ids and text. */
async function askWorldClip(page: Page, audio: string, prompt: string): Promise<{ ids: number[]; text: string }> {
  const value = await page.locator(`#clip option[data-audio="${audio}"]`).getAttribute('value');
  expect(value, `clip ${audio} in the page's list`).not.toBeNull();
  await page.selectOption('#clip', value!);
  await page.waitForFunction((id) => (document.getElementById('source')!.textContent ?? '').startsWith(`world clip ${id}`), audio.replace(/^audio\/|\.wav$/g, ''));
  return askCurrent(page, prompt);
}

/** Asks `prompt` about the clip the page holds; waits (generously) for the answer to finish. */
async function askCurrent(page: Page, prompt: string): Promise<{ ids: number[]; text: string }> {
  await page.fill('#question', prompt);
  await expect.poll(() => page.locator('#go').isEnabled(), { timeout: 60_000 }).toBe(true);
  await page.click('#go');
  await page.waitForSelector('#answer[data-done="true"]', { timeout: 600_000 });
  expect(await page.locator('#error').isHidden(), `page error: ${await page.locator('#error').textContent()}`).toBe(true);
  const ids = (await page.locator('#answer').getAttribute('data-ids')) ?? '';
  return { ids: ids === '' ? [] : ids.split(' ').map(Number), text: ((await page.locator('#answer').textContent()) ?? '').trim() };
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.wav': 'audio/wav' };

/** A static server: / -> the built page, /export/ and /world/ -> the fixture folders. */
function serve(mounts: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const prefix = Object.keys(mounts)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p))!;
    const root = mounts[prefix];
    let file = normalize(join(root, path.slice(prefix.length)));
    if (file.endsWith('/') || (existsSync(file) && statSync(file).isDirectory())) file = join(file, 'index.html');
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

describe.skipIf(!haveChromium)('the page in Chromium', () => {
  let dir: string;
  let exportDir: string;
  let worldDir: string;
  let origin: string;
  let server: Server;
  let context: BrowserContext;
  /** A second Chromium with --enable-unsafe-webgpu, and the adapter it gives (null: none). */
  let gpuContext: BrowserContext;
  let adapter: string | null = null;
  /** The adapter the first Chromium gives (expected: none, there is no --enable-unsafe-webgpu). */
  let mainAdapter: string | null = null;
  let micWav: string;
  let items: { audio: string; prompt: string }[];
  let expected: Promise<{ ids: number[]; text: string }[]> | null = null;
  /** The Node ONNX path's answers to the three questions (computed once, for two tests). */
  const nodeExpected = () => (expected ??= nodeAnswers(exportDir, worldDir, items));
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'index.html'))) {
      // `nx run web:test` builds first; a bare `vitest run` builds here.
      const { build } = await import('vite');
      await build({ root: APP, configFile: join(APP, 'vite.config.ts'), logLevel: 'warn' });
    }
    dir = mkdtempSync(join(tmpdir(), 'mats-web-browser-'));
    exportDir = join(dir, 'export');
    console.log(`browser test export: ${await makeExport(exportDir)}`);
    worldDir = await makeWorld(join(dir, 'world'));
    items = testPrompts(JSON.parse(readFileSync(join(worldDir, 'eval/mmau.json'), 'utf8')) as MmauItem[]);
    ({ server, url: origin } = await serve({ '/': DIST, '/export/': exportDir, '/world/': worldDir, '/bad/': dir }));
    // The microphone's sound: the first test clip at the capture rate, 16-bit PCM (what the fake device plays, in a loop).
    const source = await decodeAudioFile(join(worldDir, items[0].audio));
    micWav = join(dir, 'microphone.wav');
    writeFileSync(micWav, encodeWav({ sampleRate: MIC_RATE, channels: [resample(downmixMean(source), source.sampleRate, MIC_RATE)] }));
    // A fake capture device fed by the WAV; no fake permission UI: the tests grant or withhold the permission.
    context = await launch(['--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${micWav}`]);
    gpuContext = await launch(['--enable-unsafe-webgpu']);
    mainAdapter = await webGpuAdapter(context);
    if (mainAdapter) console.warn(`this Chromium offers a WebGPU adapter (${mainAdapter}) without --enable-unsafe-webgpu: the no-adapter checks are skipped`);
    adapter = await webGpuAdapter(gpuContext);
    if (!adapter) console.warn('WebGPU tests skipped: this Chromium gives no WebGPU adapter even with --enable-unsafe-webgpu (no SwiftShader / Vulkan in this build?)');
  });

  afterAll(async () => {
    await gpuContext?.close();
    await context?.close();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The WebGPU adapter a context's pages get ("vendor architecture"), or null. */
  async function webGpuAdapter(ctx: BrowserContext): Promise<string | null> {
    const page = await ctx.newPage();
    await page.goto(`${origin}?engine=wasm`);
    const found = await page.evaluate(async () => {
      const a = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } }).gpu?.requestAdapter();
      return a ? `${a.info?.vendor ?? '?'} ${a.info?.architecture ?? '?'}` : null;
    });
    await page.close();
    return found;
  }

  async function open(query = ''): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${origin}${query}`);
    return page;
  }

  it('answers three world clips with exactly the Node ONNX path tokens, streaming into the page', async () => {
    const want = await nodeExpected();
    // The default page (auto); pinned to WebAssembly should this Chromium ever give an adapter here.
    const page = await open(mainAdapter ? '?engine=wasm' : '');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    const errorBox = await page.locator('#error').textContent();
    expect(await page.locator('#error').isHidden(), `page error: ${errorBox}`).toBe(true);
    // No WebGPU adapter in this Chromium (no --enable-unsafe-webgpu): auto says so and uses WebAssembly.
    expect(await page.locator('body').getAttribute('data-engine'), `engine: ${await page.locator('#engine').textContent()}`).toBe('wasm');
    if (!mainAdapter) expect(await page.locator('#engine').textContent()).toMatch(/^Engine: WebAssembly: WebGPU not used, navigator\.gpu offers no adapter/);
    expect(await page.locator('#notice').isHidden()).toBe(true);
    const options = await page.locator('#clip option').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    for (const [i, item] of items.entries()) {
      const got = await askWorldClip(page, item.audio, item.prompt);
      expect(got.ids, `clip ${item.audio}, prompt "${item.prompt}"`).toEqual(want[i].ids);
      expect(got.text).toBe(want[i].text || '(empty answer)');
      expect(await page.locator('#santa').textContent()).toMatch(/nearest cluster \d+ \(\d+ members\)/);
    }
    expect(options.length).toBeGreaterThanOrEqual(3);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'answer.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('an undecodable dropped file: a message in the page, and the page keeps working', async () => {
    const page = await open();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.setInputFiles('#file', { name: 'notes.mp3', mimeType: 'audio/mpeg', buffer: Buffer.from('these are not audio bytes') });
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/notes\.mp3: not a recognised audio file \(expected WAV, FLAC, MP3 or OGG/);
    // A world clip still loads and the answer button comes back.
    await page.selectOption('#clip', '1');
    await page.waitForFunction(() => (document.getElementById('source')!.textContent ?? '').startsWith('world clip'));
    // The button is disabled while the clip loads, then comes back.
    await expect.poll(() => page.locator('#go').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.close();
  });

  it('an export folder with a missing file: the page says which file', async () => {
    rmSync(join(dir, 'partial'), { recursive: true, force: true });
    cpSync(exportDir, join(dir, 'partial'), { recursive: true });
    rmSync(join(dir, 'partial', 'decoder.onnx'));
    const page = await open('?export=bad/partial/');
    await expect.poll(() => page.locator('#error').textContent(), { timeout: 120_000 }).toMatch(/bad\/partial\/decoder\.onnx: the decoder is missing from the export folder \(HTTP 404/);
    expect(await page.locator('#status').textContent()).toBe('Could not load the exported model.');
    await page.close();
  });

  it('a browser without WebAssembly SIMD: the page says so instead of failing inside ONNX Runtime', async () => {
    const page = await context.newPage();
    // Emulate an engine that rejects SIMD modules (as WebAssembly.validate does there).
    await page.addInitScript(() => {
      const validate = WebAssembly.validate.bind(WebAssembly);
      WebAssembly.validate = (bytes: BufferSource) => {
        const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes as ArrayBuffer);
        for (let i = 0; i + 1 < u8.length; i++) if (u8[i] === 0xfd) return false;
        return validate(bytes);
      };
    });
    await page.goto(origin);
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/lacks WebAssembly SIMD/);
    expect(await page.locator('#go').isDisabled()).toBe(true);
    await page.close();
  });

  it('a manifest whose dimensions do not match a graph: the page names the file, the input and both values', async () => {
    rmSync(join(dir, 'mismatch'), { recursive: true, force: true });
    cpSync(exportDir, join(dir, 'mismatch'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'mismatch', 'config.json'), 'utf8'));
    const frames = manifest.clap.frames as number;
    manifest.clap.frames = frames + 1;
    writeFileSync(join(dir, 'mismatch', 'config.json'), JSON.stringify(manifest));
    const page = await open('?export=bad/mismatch/');
    await expect
      .poll(() => page.locator('#error').textContent(), { timeout: 120_000 })
      .toContain(`bad/mismatch/clap-audio.onnx: input "log_mel" has dimension 1 = ${frames} but the manifest (clap.frames / clap.mel.nMels) says ${frames + 1}`);
    expect(await page.locator('#status').textContent()).toBe('Could not load the exported model.');
    await page.close();
  });

  it('a graph of the export with an unsupported opset (a user replaced it): the page names the file and the range', async () => {
    rmSync(join(dir, 'opset'), { recursive: true, force: true });
    cpSync(exportDir, join(dir, 'opset'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'opset', 'config.json'), 'utf8'));
    const g = new Graph('user');
    g.output(g.op('Relu', [g.input('clap_embedding', 'float32', ['batch', manifest.mapper.clapDim])]), 'prefix', 'float32', ['batch', manifest.mapper.prefixLength, manifest.mapper.outDim]);
    writeFileSync(join(dir, 'opset', manifest.files.mapper), g.toBytes({ opset: 21 }));
    const page = await open('?export=bad/opset/');
    await expect
      .poll(() => page.locator('#error').textContent(), { timeout: 120_000 })
      .toMatch(new RegExp(`bad/opset/${manifest.files.mapper}: opset 21 of ai\\.onnx is not supported \\(expected \\d+\\.\\.\\d+`));
    expect(await page.locator('#status').textContent()).toBe('Could not load the exported model.');
    await page.close();
  });

  it('engine=webgpu in a browser without a WebGPU adapter: a lasting notice, then WebAssembly', async (ctx) => {
    if (mainAdapter) ctx.skip();
    const page = await open('?engine=webgpu');
    await expect.poll(() => page.locator('#notice').textContent()).toMatch(/^WebAssembly: WebGPU was asked for \(engine=webgpu\) but navigator\.gpu offers no adapter .*; using WebAssembly\.$/);
    expect(await page.locator('body').getAttribute('data-engine')).toBe('wasm');
    // It stays when the first clip loads (which clears the error box).
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    expect(await page.locator('#notice').isVisible()).toBe(true);
    await page.close();
    const typo = await open('?engine=gpu');
    await expect.poll(() => typo.locator('#notice').textContent()).toBe('Unknown engine="gpu" in the URL (expected auto, webgpu, wasm); using auto.');
    await typo.close();
  });

  it('the microphone without permission: the page says it is not allowed, and stays usable', async () => {
    await context.clearPermissions();
    const page = await open();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.click('#record');
    await expect.poll(() => page.locator('#error').textContent(), { timeout: 60_000 }).toMatch(/^Could not record from the microphone: the page is not allowed to use the microphone \(permission denied\)/);
    expect(await page.locator('#record').textContent()).toBe('Record from the microphone');
    await expect.poll(() => page.locator('#go').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.close();
  });

  it('records one CLAP clip from the microphone: the capture is the source sound, and the answer is the Node path answer for it', async () => {
    await context.grantPermissions(['microphone'], { origin });
    const page = await open();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.click('#record');
    // It stops by itself after one CLAP clip (2 s for the world CLAP).
    await page.waitForFunction(() => (document.getElementById('source')!.textContent ?? '').startsWith('recording:'), undefined, { timeout: 120_000 });
    expect(await page.locator('#error').isHidden(), `page error: ${await page.locator('#error').textContent()}`).toBe(true);
    const got = await askCurrent(page, items[0].prompt);

    // What the page captured: the WAV behind its "save the recording" link (float32, the very samples it answered about).
    const recorded = decodeWav(await pageBytes(page, (await page.locator('#save-recording').getAttribute('href'))!), 'recording.wav');
    const manifest = JSON.parse(readFileSync(join(exportDir, 'config.json'), 'utf8'));
    const clapRate = manifest.clap.sampleRate as number;
    const clapSamples = Math.round(manifest.clap.clipSeconds * clapRate);
    expect(recorded.channels).toHaveLength(1);
    expect(recorded.channels[0].length, 'one CLAP clip at the capture rate').toBe(Math.floor((clapSamples * recorded.sampleRate) / clapRate));
    expect(await page.locator('#source').textContent()).toContain(`recording: ${(recorded.channels[0].length / recorded.sampleRate).toFixed(2)} s, ${recorded.sampleRate} Hz, 1 channel(s)`);

    // (1) The capture is the source sound: a stretch of it correlates with the looping source WAV.
    // Chromium's fake device plays the file at its rate; at another capture rate the source is
    // resampled first (then the copy is not bit-exact and the bound leaves room for that).
    const file = decodeWav(new Uint8Array(readFileSync(micWav)), micWav);
    const source = recorded.sampleRate === file.sampleRate ? file.channels[0] : resample(file.channels[0], file.sampleRate, recorded.sampleRate);
    const samples = recorded.channels[0];
    // One processor buffer (the page records in 4096-frame buffers: each is contiguous even if the
    // busy machine made the capture skip between two), the loudest after the first.
    const win = 4096;
    let start = win;
    for (let s = win, best = -1; s + win <= samples.length; s += win) {
      let e = 0;
      for (let i = s; i < s + win; i++) e += samples[i] ** 2;
      if (e > best) [best, start] = [e, s];
    }
    const { r, lag } = bestLoopCorrelation(samples.subarray(start, start + win), source);
    console.log(`microphone: ${samples.length} samples at ${recorded.sampleRate} Hz; best correlation with the source WAV ${r.toFixed(6)} at lag ${lag}`);
    expect(r).toBeGreaterThan(recorded.sampleRate === file.sampleRate ? 0.999 : 0.95);

    // (2) The page's answer for the captured samples is the Node ONNX path's answer for the same samples.
    const [want] = await nodeAnswersForClips(exportDir, [{ clip: recorded, prompt: items[0].prompt }]);
    expect(got.ids).toEqual(want.ids);
    expect(got.text).toBe(want.text || '(empty answer)');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'answer-microphone.png'), fullPage: true });
    // The recording is not a world clip: none is selected, so the one shown before loads again when chosen.
    expect(await page.locator('#clip').inputValue()).toBe('');
    await page.selectOption('#clip', '0');
    await page.waitForFunction(() => (document.getElementById('source')!.textContent ?? '').startsWith('world clip'), undefined, { timeout: 120_000 });
    expect(await page.locator('#save-recording').isHidden()).toBe(true);
    await page.close();
  });

  // WebGPU in the page: ONNX Runtime Web's WebGPU execution provider on the adapter this Chromium
  // gives with --enable-unsafe-webgpu (SwiftShader, a software Vulkan: Dawn's full WebGPU, on the
  // CPU). The flag is only in this second context: the tests above run without WebGPU.

  it('auto (the default) does not take a software adapter: WebAssembly, and the page says why', async (ctx) => {
    if (!adapter) ctx.skip();
    const page = await gpuContext.newPage();
    await page.goto(origin);
    await expect.poll(() => page.locator('#engine').textContent()).toMatch(/^Engine: WebAssembly: the only WebGPU adapter is a software one \(.*a software fallback adapter\); engine=webgpu uses it anyway\./);
    expect(await page.locator('body').getAttribute('data-engine')).toBe('wasm');
    await page.close();
  });

  it('engine=webgpu where WebGPU cannot start (requestDevice fails): a lasting notice, then the WebAssembly answer', async (ctx) => {
    if (!adapter) ctx.skip();
    const want = await nodeExpected();
    const page = await gpuContext.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { GPUAdapter?: { prototype: { requestDevice: () => Promise<unknown> } } };
      if (w.GPUAdapter) w.GPUAdapter.prototype.requestDevice = () => Promise.reject(new Error('emulated: no device for this test'));
    });
    await page.goto(`${origin}?engine=webgpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    expect(await page.locator('#notice').textContent()).toMatch(/^WebGPU could not run the model, using WebAssembly instead: .*emulated: no device for this test/);
    expect(await page.locator('body').getAttribute('data-engine')).toBe('wasm');
    expect(await page.locator('#engine').textContent()).toMatch(/^Engine: WebAssembly \(WebGPU failed, see the message above\)/);
    const got = await askCurrent(page, items[0].prompt);
    expect(got.ids).toEqual(want[0].ids);
    await page.close();
  });

  it('engine=webgpu answers the three world clips with the WebAssembly / Node tokens, and the GPU does the work', async (ctx) => {
    if (!adapter) ctx.skip();
    const want = await nodeExpected();
    const page = await gpuContext.newPage();
    const gpuPageErrors: string[] = [];
    page.on('pageerror', (e) => gpuPageErrors.push(e.message));
    // Counts the compute shader dispatches the page makes (test instrumentation, outside the page's code).
    await page.addInitScript(() => {
      const w = window as unknown as { __dispatches: number; GPUComputePassEncoder?: { prototype: { dispatchWorkgroups: (...a: unknown[]) => unknown } } };
      w.__dispatches = 0;
      const proto = w.GPUComputePassEncoder?.prototype;
      if (!proto) return;
      const dispatch = proto.dispatchWorkgroups;
      proto.dispatchWorkgroups = function (this: unknown, ...args: unknown[]) {
        w.__dispatches++;
        return dispatch.apply(this, args);
      };
    });
    await page.goto(`${origin}?engine=webgpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 600_000 });
    expect(await page.locator('#notice').isHidden(), `notice: ${await page.locator('#notice').textContent()}`).toBe(true);
    expect(await page.locator('#error').isHidden(), `page error: ${await page.locator('#error').textContent()}`).toBe(true);
    expect(await page.locator('body').getAttribute('data-engine')).toBe('webgpu');
    expect(await page.locator('#engine').textContent()).toMatch(/^Engine: WebGPU \(/);
    const dispatches = () => page.evaluate(() => (window as unknown as { __dispatches: number }).__dispatches);
    for (const [i, item] of items.entries()) {
      const before = await dispatches();
      const got = await askWorldClip(page, item.audio, item.prompt);
      const during = (await dispatches()) - before;
      console.log(`webgpu (${adapter}): clip ${item.audio}: ${got.ids.length} tokens, ${during} GPU kernel dispatches`);
      // Greedy argmax over float32 logits: the WebGPU kernels round differently from the CPU ones
      // (order of sums), so a near tie could in principle flip a token; on these clips they agree.
      expect(got.ids, `clip ${item.audio}, prompt "${item.prompt}"`).toEqual(want[i].ids);
      expect(got.text).toBe(want[i].text || '(empty answer)');
      // The CLAP encoder, the mapper and each generated token each run kernels on the GPU.
      expect(during, 'GPU kernel dispatches while answering').toBeGreaterThan(got.ids.length);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'answer-webgpu.png'), fullPage: true });
    expect(gpuPageErrors).toEqual([]);
    await page.close();
  }, 1_800_000);
});
