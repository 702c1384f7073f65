import { defineConfig } from 'vitest/config';

// Node tests: not the page's vite.config.ts (whose node: stubs and onnxruntime-web alias are for the bundle).
export default defineConfig({
  test: {
    // Real (small) models and a real browser on a busy CI machine.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // The browser test and the Node tests each start ONNX Runtime sessions: one file at a time.
    fileParallelism: false,
  },
});
