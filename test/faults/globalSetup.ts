import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestProject } from "vitest/node";
import { formatTable, readRows } from "./support/resultsTable.js";

/** Collects every scenario's line (test files run in their own workers) and prints one table at the end. */
export default function setup(project: TestProject): () => void {
  const file = join(mkdtempSync(join(tmpdir(), "faults-")), "results.jsonl");
  project.provide("faultResultsFile", file);
  return () => {
    const rows = readRows(file).sort((a, b) => a.scenario.localeCompare(b.scenario, "en", { numeric: true }));
    console.log(`\nFault suite (${process.env.FAULTS === "full" ? "full" : "short"}):\n${formatTable(rows)}\n`);
    rmSync(dirname(file), { recursive: true, force: true });
  };
}
