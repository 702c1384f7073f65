import { builtinModules } from 'node:module';
import { defineConfig, type Plugin } from 'vite';

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
      if (name === 'url' || name === 'node:url') {
        // Module-level path constants (e.g. TINY_WORLD_LM_DIR) call fileURLToPath at import time.
        return 'export const fileURLToPath = (u) => new URL(String(u), location.href).pathname; export default { fileURLToPath };';
      }
      return {
        code: `const fail = (key) => { throw new Error(${JSON.stringify(name)} + (key ? '.' + String(key) : '') + ' is not available in the browser'); };
const stub = (key) => new Proxy(function () {}, { apply: () => fail(key), construct: () => fail(key), get: (t, k) => (k === 'prototype' ? t.prototype : k === '__esModule' ? false : stub(key + '.' + String(k))) });
export default new Proxy(function () {}, { apply: () => fail(''), construct: () => fail(''), get: (t, k) => (k === 'prototype' ? t.prototype : k === '__esModule' ? false : stub(String(k))) });`,
        syntheticNamedExports: true,
      };
    },
  };
}
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
  plugins: [nodeBuiltinsStub(), optionalDecoders()],
  resolve: { alias: { 'onnxruntime-node': 'onnxruntime-web' } },
  build: { target: 'es2022' },
});
