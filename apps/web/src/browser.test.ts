/**
 * The built page in a real Chromium (Debian's `chromium`, driven by playwright-core): it loads an
 * export, answers three world clips, and its token ids must equal the Node ONNX path's. Bad input is
 * checked in the page too. A screenshot goes to apps/web/test-artifacts/ (git-ignored).
 *
 * Skipped, with the reason printed, when Chromium is not installed (CI installs it: .ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { MmauItem } from '@mats/datasets';
import { makeExport, makeWorld, nodeAnswers, testPrompts } from './test-fixture.js';

const CHROMIUM = process.env.MATS_CHROMIUM ?? '/usr/bin/chromium';
const APP = resolve(import.meta.dirname, '..');
const DIST = join(APP, 'dist');
const ARTIFACTS = join(APP, 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser test skipped: no Chromium at ${CHROMIUM} (install Debian's "chromium" package, or set MATS_CHROMIUM)`);

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
    ({ server, url: origin } = await serve({ '/': DIST, '/export/': exportDir, '/world/': worldDir, '/bad/': dir }));
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'mats-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
  });

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(query = ''): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${origin}${query}`);
    return page;
  }

  it('answers three world clips with exactly the Node ONNX path tokens, streaming into the page', async () => {
    const items = testPrompts(JSON.parse(readFileSync(join(worldDir, 'eval/mmau.json'), 'utf8')) as MmauItem[]);
    const expected = await nodeAnswers(exportDir, worldDir, items);
    const page = await open();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    const errorBox = await page.locator('#error').textContent();
    expect(await page.locator('#error').isHidden(), `page error: ${errorBox}`).toBe(true);
    const options = await page.locator('#clip option').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    for (const [i, item] of items.entries()) {
      const value = await page.locator(`#clip option[data-audio="${item.audio}"]`).getAttribute('value');
      expect(value, `clip ${item.audio} in the page's list`).not.toBeNull();
      await page.selectOption('#clip', value!);
      await page.waitForFunction((id) => (document.getElementById('source')!.textContent ?? '').startsWith(`world clip ${id}`), item.audio.replace(/^audio\/|\.wav$/g, ''));
      await page.fill('#question', item.prompt);
      await page.click('#go');
      await page.waitForSelector('#answer[data-done="true"]', { timeout: 120_000 });
      expect(await page.locator('#error').isHidden(), `page error: ${await page.locator('#error').textContent()}`).toBe(true);
      const ids = (await page.locator('#answer').getAttribute('data-ids')) ?? '';
      expect(ids === '' ? [] : ids.split(' ').map(Number), `clip ${item.audio}, prompt "${item.prompt}"`).toEqual(expected[i].ids);
      expect(((await page.locator('#answer').textContent()) ?? '').trim()).toBe(expected[i].text || '(empty answer)');
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
    const { cpSync } = await import('node:fs');
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
});
