/**
 * A batch's devices counted by manufacturer and model, as read from their hashes, so a partner
 * sees that an order of 480 holds 479 laptops of one model and one of another. Counted once at
 * intake and kept in the batch header, so reading a batch stays one query.
 */
import { MAX_MODEL_GROUPS } from "../model/limits.js";
import type { ModelCount } from "../status/viewSchemas.js";

export function countByModel(devices: readonly { manufacturer?: string; model?: string }[]): ModelCount[] {
  const groups = new Map<string, ModelCount>();
  for (const { manufacturer, model } of devices) {
    const key = JSON.stringify([manufacturer ?? null, model ?? null]);
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { ...(manufacturer === undefined ? {} : { manufacturer }), ...(model === undefined ? {} : { model }), count: 1 });
  }
  const sorted = [...groups.values()].sort(
    (a, b) =>
      b.count - a.count || (a.manufacturer ?? "").localeCompare(b.manufacturer ?? "") || (a.model ?? "").localeCompare(b.model ?? ""),
  );
  if (sorted.length <= MAX_MODEL_GROUPS) return sorted;
  const rest = sorted.slice(MAX_MODEL_GROUPS - 1);
  return [...sorted.slice(0, MAX_MODEL_GROUPS - 1), { count: rest.reduce((sum, g) => sum + g.count, 0), otherModels: rest.length }];
}
