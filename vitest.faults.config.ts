import { defineConfig } from "vitest/config";

/**
 * `npm run test:faults`: the fault suite (test/faults), one file at a time so scenarios do not
 * compete for the machine's cores and time out, with one table of every scenario at the end.
 */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    globalSetup: ["test/faults/globalSetup.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
