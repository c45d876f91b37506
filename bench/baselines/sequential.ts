import type { CsvDevice } from "../../test/support/devices.js";
import { baselineClient, sleep } from "../graphCaller.js";

/**
 * As the WindowsAutopilotIntune PowerShell module imports: one POST at a time, the Graph SDK's
 * three retries on 429 (waiting Retry-After), then the whole imported collection listed every
 * 15 s (scaled) until nothing is still importing.
 */
export async function runSequential(graphUrl: string, tenantId: string, devices: CsvDevice[], listEveryMs: number, deadline: number) {
  const graph = baselineClient(graphUrl, tenantId);
  let imported = 0;
  let failed = 0;
  for (const device of devices) {
    if (Date.now() > deadline) return { imported, failed, finished: false };
    let tries = 0;
    for (;;) {
      const result = await graph.createImportedDevice(tenantId, device);
      if (result.kind === "ok") break;
      if (result.kind === "http-error" && result.status === 429 && tries < 3) {
        tries++;
        await sleep(result.retryAfterMs ?? 1_000);
        continue;
      }
      failed++;
      break;
    }
  }
  for (;;) {
    if (Date.now() > deadline) return { imported, failed, finished: false };
    await sleep(listEveryMs);
    let pending = 0;
    let done = 0;
    let errors = 0;
    let nextLink: string | undefined;
    // Real lists have been seen to repeat their last nextLink for ever (microsoft-graph-docs
    // #8186, and the simulator does so by default): without this stop the baseline never ends.
    const followed = new Set<string>();
    do {
      if (nextLink) followed.add(nextLink);
      const page = await graph.listImportedDevices(tenantId, nextLink);
      if (page.kind !== "ok") break;
      for (const r of page.body.value) {
        const status = r.state?.deviceImportStatus;
        if (status === "complete") done++;
        else if (status === "error") errors++;
        else pending++;
      }
      nextLink = page.body["@odata.nextLink"];
    } while (nextLink && !followed.has(nextLink));
    if (pending === 0) {
      imported = done;
      return { imported, failed: failed + errors, finished: true };
    }
  }
}
