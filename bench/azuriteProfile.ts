/**
 * `node dist/bench/azuriteProfile.js <file.cpuprofile> [fromSeconds] [toSeconds]`: where Azurite's
 * CPU went, by kind of storage call, from a V8 CPU profile of the Azurite process. To take one,
 * run a bench or the probe with AZURITE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/azprof" (read by
 * src/dev/host/azurite.ts when it starts Azurite). Prints the busy seconds of the profile (to pick a
 * window: the batch's run, not the followers after it), then CPU seconds by kind in the window.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The first matching frame on a sample's stack names its kind (Azurite 3.x file and function names). */
const KINDS: [RegExp, string][] = [
  [/handleBatchMerge/, "table transaction: merge"],
  [/handleBatchUpdate/, "table transaction: replace"],
  [/handleBatchInsert/, "table transaction: insert"],
  [/TableBatch/, "table transaction: parsing, answer"],
  [/TableHandler\.js.*queryEntities\b/, "table query"],
  [/TableHandler\.js.*queryEntityWithPartitionAndRowKey/, "table point read"],
  [/TableHandler\.js/, "table, other calls"],
  [/MessagesHandler\.js.*enqueue/, "queue send"],
  [/MessagesHandler\.js.*dequeue/, "queue receive"],
  [/MessageIdHandler\.js/, "queue delete, update"],
  [/[/\\]queue[/\\]/, "queue: http, auth, xml"],
  [/[/\\]table[/\\]/, "table: http, auth, json"],
  [/express|_http|node:net/, "http server"],
];

const [file, from = "0", to = "1e9"] = process.argv.slice(2);
if (!file) throw new Error("usage: azuriteProfile <file.cpuprofile> [fromSeconds] [toSeconds]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const frame = (node: ProfileNode) => `${node.callFrame.url} ${node.callFrame.functionName}`;

function kindOf(sample: number): string {
  const leaf = byId.get(sample)!;
  if (leaf.callFrame.functionName === "(idle)") return "idle";
  if (leaf.callFrame.functionName === "(garbage collector)") return "garbage collection";
  const stack: string[] = [];
  for (let id: number | undefined = sample; id !== undefined; id = parent.get(id)) stack.push(frame(byId.get(id)!));
  for (const [pattern, kind] of KINDS) if (stack.some((f) => pattern.test(f))) return kind;
  return "other";
}

const busy = new Map<number, number>();
const kinds = new Map<string, number>();
let at = profile.startTime;
for (const [k, sample] of profile.samples.entries()) {
  const delta = profile.timeDeltas[k] ?? 0;
  at += delta;
  const second = (at - profile.startTime) / 1e6;
  const kind = kindOf(sample);
  if (kind !== "idle") busy.set(Math.floor(second), (busy.get(Math.floor(second)) ?? 0) + delta / 1e6);
  if (second < Number(from) || second > Number(to)) continue;
  kinds.set(kind, (kinds.get(kind) ?? 0) + delta / 1e6);
}
console.log(
  `busy seconds: ${[...busy]
    .sort((a, b) => a[0] - b[0])
    .map(([s, v]) => `${s}:${v.toFixed(2)}`)
    .join(" ")}`,
);
console.log(`CPU by kind, ${from} s to ${to} s of the profile:`);
for (const [kind, seconds] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${seconds.toFixed(2).padStart(6)} s  ${kind}`);
