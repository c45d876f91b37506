import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { inject } from "vitest";
import type { Ledger } from "./ledger.js";

export interface ScenarioRow {
  scenario: string;
  accepted: number;
  final: number;
  lost: number;
  duplicated: number;
  seconds: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    faultResultsFile?: string;
  }
}

const local: ScenarioRow[] = [];

/** Adds a scenario's line to the run's table (vitest.faults.config.ts prints it at the end). */
export function recordScenario(
  scenario: string,
  ledger: Pick<Ledger, "accepted" | "final" | "lost" | "duplicated">,
  startedAt: number,
): void {
  const row: ScenarioRow = {
    scenario,
    accepted: ledger.accepted,
    final: ledger.final,
    lost: ledger.lost,
    duplicated: ledger.duplicated,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
  };
  const file = inject("faultResultsFile");
  if (file) appendFileSync(file, JSON.stringify(row) + "\n");
  else local.push(row);
}

/** Under a config without the global setup, each file prints its own lines instead (call from afterAll). */
export function printLocalRows(): void {
  if (local.length > 0) console.log(formatTable(local));
}

export function readRows(file: string): ScenarioRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ScenarioRow);
}

/** A Markdown table, so a run's output can be pasted into the README as it is. */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const head = ["scenario", "devices accepted", "final", "lost", "duplicated", "seconds"];
  const lines = rows.map((r) => [r.scenario, r.accepted, r.final, r.lost, r.duplicated, r.seconds].map(String));
  const total = rows.reduce((t, r) => ({ a: t.a + r.accepted, f: t.f + r.final, l: t.l + r.lost, d: t.d + r.duplicated }), {
    a: 0,
    f: 0,
    l: 0,
    d: 0,
  });
  lines.push(["**total**", String(total.a), String(total.f), String(total.l), String(total.d), ""]);
  const width = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(" | ")} |`;
  return [row(head), `|${width.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`, ...lines.map(row)].join(
    "\n",
  );
}
