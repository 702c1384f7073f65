import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The op gradient checks and the RNG statistics run on a busy CI box: no tight per-test timeout.
    testTimeout: 60_000,
  },
});
