// Runs one TypeScript entry in a fresh Node process through Vite's module runner (the same
// transform vitest uses), so a fault test can start, and SIGKILL, a real development host
// without a build step. Usage: node runTs.mjs <entry.ts> [args...]
//
// TEST_CLOCK_SKEW_MS shifts this process's wall clock (Date, Date.now; timers and
// performance.now keep real time), as an instance whose clock is set wrong: clockSkew.test.ts.
const skewMs = Number(process.env.TEST_CLOCK_SKEW_MS ?? 0);
if (skewMs) {
  const RealDate = Date;
  globalThis.Date = class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skewMs);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skewMs;
    }
  };
}
const [entry] = process.argv.slice(2);
if (!entry) throw new Error("usage: node runTs.mjs <entry.ts> [args...]");
const { runnerImport } = await import("vite");
await runnerImport(entry);
