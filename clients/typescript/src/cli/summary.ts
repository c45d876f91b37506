import type { Batch, Device } from "../types.js";
import { line, type CliStream } from "./io.js";

const SERIALS_SHOWN = 5;

/** The batch's end, and its failures grouped by reason: what an admin fixes, once per reason. */
export function printSummary(out: CliStream, batch: Batch, failed: readonly Device[]): void {
  const c = batch.counts;
  line(
    out,
    `Batch ${batch.id} ${batch.status}: ${c.imported} imported, ${c.failed} failed${c.canceled ? `, ${c.canceled} canceled` : ""} of ${batch.deviceCount}.`,
  );
  const reasons = new Map<string, Device[]>();
  for (const device of failed) {
    const reason = device.error ? [device.error.code, device.error.name].filter(Boolean).join(" ") : "unknown";
    reasons.set(reason, [...(reasons.get(reason) ?? []), device]);
  }
  if (reasons.size) line(out, "Failures by reason:");
  for (const [reason, devices] of [...reasons].sort((a, b) => b[1].length - a[1].length)) {
    const serials = devices
      .slice(0, SERIALS_SHOWN)
      .map((d) => d.serialNumber)
      .join(", ");
    const more = devices.length > SERIALS_SHOWN ? ` and ${devices.length - SERIALS_SHOWN} more` : "";
    line(out, `  ${reason} (${devices.length}): ${serials}${more}`);
    if (devices[0]?.error?.message) line(out, `    ${devices[0].error.message}`);
  }
}
