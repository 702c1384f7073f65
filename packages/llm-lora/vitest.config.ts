import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Training and generation tests run real (small) models on the wasm backend of a busy CI box.
    testTimeout: 60_000,
  },
});
