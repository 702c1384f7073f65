import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Training and generation tests run real (small) models on the wasm backend of a busy CI box.
    // (300 s: the whole suite runs beside the other projects on a 2-core machine)
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
