/**
 * Vite config of the MATS web page. `npx nx run web:serve` serves it with the export folder from
 * MATS_WEB_EXPORT at /export/ and the world folder from MATS_WEB_WORLD at /world/ (defaults: the
 * repository's runs/web-export and world). `npx nx run web:build` writes the static page to dist/.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, normalize, resolve } from 'node:path';
import type { Connect } from 'vite';
import { defineConfig, type Plugin } from 'vite';

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS: Record<string, string> = {
  '/export/': resolve(process.env.MATS_WEB_EXPORT ?? join(ROOT, 'runs/web-export')),
  '/world/': resolve(process.env.MATS_WEB_WORLD ?? join(ROOT, 'world')),
};

/** Serves the export and world folders next to the page (dev server and `vite preview`). */
function serveFolders(): Plugin {
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    const prefix = Object.keys(FOLDERS).find((p) => path.startsWith(p));
    if (!prefix) return next();
    const file = normalize(join(FOLDERS[prefix], path.slice(prefix.length)));
    if (!file.startsWith(FOLDERS[prefix]) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end(`not found: ${path} (serving ${FOLDERS[prefix]})`);
      return;
    }
    res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : file.endsWith('.wav') ? 'audio/wav' : 'application/octet-stream');
    createReadStream(file).pipe(res);
  };
  return {
    name: 'mats-serve-folders',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}

/**
 * Node built-ins in the browser bundle. @mats/core, @mats/llm-lora and @mats/model import node:fs /
 * node:path for their file readers, which the page never calls (it fetches bytes and uses the
 * bytes-based functions). Each built-in becomes a module whose every export throws "not available in
 * the browser" when called, so a mistaken call fails loudly instead of doing something else.
 */
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
function nodeBuiltinsStub(): Plugin {
  return {
    name: 'mats-node-builtins-stub',
    enforce: 'pre',
    resolveId(source) {
      return NODE_BUILTINS.has(source) ? `\0node-stub:${source}` : null;
    },
    load(id) {
      if (!id.startsWith('\0node-stub:')) return null;
      const name = id.slice('\0node-stub:'.length);
      // Module-level path constants (e.g. TINY_WORLD_LM_DIR) call fileURLToPath at import time: it works.
      const working = name === 'url' || name === 'node:url' ? '{ fileURLToPath: (u) => new URL(String(u), location.href).pathname }' : '{}';
      return {
        code: `const working = ${working};
const fail = (key) => { throw new Error(${JSON.stringify(name)} + (key ? '.' + String(key) : '') + ' is not available in the browser'); };
const stub = (key) => new Proxy(function () {}, { apply: () => fail(key), construct: () => fail(key), get: (t, k) => (k === 'prototype' ? t.prototype : k === '__esModule' ? false : stub(key + '.' + String(k))) });
export default new Proxy(function () {}, { apply: () => fail(''), construct: () => fail(''), get: (t, k) => (k in working ? working[k] : k === 'prototype' ? t.prototype : k === '__esModule' ? false : stub(String(k))) });`,
        syntheticNamedExports: true,
      };
    },
  };
}
/** audio-decode imports decoders for many formats lazily; the ones not installed become a clear error. */
function optionalDecoders(): Plugin {
  return {
    name: 'mats-optional-audio-decoders',
    async resolveId(source, importer, options) {
      if (!/^@audio\/decode-/.test(source)) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved ?? `\0missing-decoder:${source}`;
    },
    load(id) {
      if (!id.startsWith('\0missing-decoder:')) return null;
      const name = id.slice('\0missing-decoder:'.length);
      return `export default function missing() { throw new Error(${JSON.stringify(`${name} is not installed`)}); }`;
    },
  };
}
export default defineConfig({
  // Relative asset URLs: the built folder works from any path of a static server.
  base: './',
  plugins: [nodeBuiltinsStub(), optionalDecoders(), serveFolders()],
  // @mats/model and @mats/clap are written against onnxruntime-node; the web package has the same API.
  // csv-parse's own browser build (with its Buffer polyfill) for @mats/datasets' loaders.
  resolve: {
    alias: [
      { find: /^onnxruntime-node$/, replacement: 'onnxruntime-web' },
      { find: /^csv-parse$/, replacement: join(ROOT, 'node_modules/csv-parse/dist/esm/index.js') },
      { find: /^csv-parse\/sync$/, replacement: join(ROOT, 'node_modules/csv-parse/dist/esm/sync.js') },
    ],
  },
  // Package CLIs check `process.argv[1]` at import to see whether they are the main module: never in a page.
  define: { 'process.argv': '[]' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  server: { fs: { allow: [ROOT] } },
});
