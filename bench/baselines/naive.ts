import type { CsvDevice } from "../../test/support/devices.js";
import { baselineClient } from "../graphCaller.js";

/** A concurrent worker that ignores the budget: 64 at once, every 429 or 5xx retried immediately. */
export async function runNaive(graphUrl: string, tenantId: string, devices: CsvDevice[], deadline: number) {
  const graph = baselineClient(graphUrl, tenantId);
  const queue = [...devices];
  let imported = 0;
  let failed = 0;
  const worker = async () => {
    for (let device = queue.shift(); device; device = queue.shift()) {
      let id: string | undefined;
      for (let tries = 0; tries < 50 && !id && Date.now() < deadline; tries++) {
        const result = await graph.createImportedDevice(tenantId, device);
        if (result.kind === "ok") id = result.body.id;
        else if (result.kind === "http-error" && result.status < 500 && result.status !== 429) break;
      }
      if (!id) {
        failed++;
        continue;
      }
      for (; Date.now() < deadline;) {
        const result = await graph.getImportedDevice(tenantId, id);
        const status = result.kind === "ok" ? result.body.state?.deviceImportStatus : undefined;
        if (status === "complete") {
          imported++;
          break;
        }
        if (status === "error") {
          failed++;
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return { imported, failed, finished: imported + failed === devices.length };
}
