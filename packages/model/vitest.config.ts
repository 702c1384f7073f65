import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real (small) models on the wasm backend of a busy CI machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
