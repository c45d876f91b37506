// Runs one TypeScript entry in a fresh Node process through Vite's module runner (the same
// transform vitest uses), so a fault test can start, and SIGKILL, a real development host
// without a build step. Usage: node runTs.mjs <entry.ts> [args...]
const [entry] = process.argv.slice(2);
if (!entry) throw new Error("usage: node runTs.mjs <entry.ts> [args...]");
const { runnerImport } = await import("vite");
await runnerImport(entry);
