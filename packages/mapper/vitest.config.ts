import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The training and gradient tests run real models on the wasm backend of a busy CI box (a 2.4 s test took 7 s under load).
    testTimeout: 60_000,
  },
});
