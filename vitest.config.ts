import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Workers and child processes run the compiled build (Node 20 cannot start a .ts
    // worker): compile it once before any test file runs.
    globalSetup: ['test/helpers/build.ts'],
    // The private msgpackr encoder loads when a log opens; tests that encode without one need it first.
    setupFiles: ['test/helpers/load-encoder.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run test files two at a time so the crash tests are not starved.
    maxWorkers: 2,
  },
});
