import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // CI runs every project's suite at once on a 2-core machine, often beside other work: a test that
    // takes 2 s alone can take 30 s there. Generous limits; timing belongs in the benchmarks.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
  },
});
