import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import { requestSync, SYNC_BUSY_RETRY_MS, SYNC_MIN_INTERVAL_MS, syncTenant, type SyncDeps } from "../../src/worker/syncTenant.js";

/** The Autopilot sync after imports, against Azurite and the simulator's sync rules (409 while running, 429 within 10 minutes). */
let azurite: RunningAzurite;
let simulator: GraphSimulator;
let services: Services;
let clock = Date.now();
const sent: { message: DeviceMessage; delayMs: number }[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  // A sync "runs" for settleDelayMs; the simulator's clock is the test's.
  simulator = await startGraphSimulator({ settleDelayMs: 30_000, now: () => clock });
  services = await createServices(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, GRAPH_BASE_URL: simulator.url, GRAPH_CREDENTIAL: "simulator" }),
    silentLogger,
  );
});
afterAll(async () => {
  await simulator?.stop();
  await azurite?.stop();
});
beforeEach(() => {
  sent.length = 0;
});

let tenants = 0;
function deps(): SyncDeps {
  return {
    table: services.storage.pacing,
    pacing: services.pacing,
    graph: services.graph,
    queue: { send: async (message, delayMs = 0) => void sent.push({ message, delayMs }) },
    debounceMs: 60_000,
    log: silentLogger,
    now: () => clock,
  };
}
const newTenant = () => `dddddddd-0000-4000-8000-${String(++tenants).padStart(12, "0")}`;

describe("Autopilot sync after imports", () => {
  it("debounces: batches settling together share one sync, sent after the debounce", async () => {
    const tenant = newTenant();
    await requestSync(deps(), tenant);
    await requestSync(deps(), tenant);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ message: { kind: "syncTenant", batchId: tenant }, delayMs: 60_000 });
    clock += 60_000;
    expect(await syncTenant(deps(), sent[0]!.message)).toBe("synced");
    expect(
      simulator.requestLog.filter((r) => r.path.includes("windowsAutopilotSettings/sync") && r.tenantId === tenant).map((r) => r.status),
    ).toEqual([204]);
    // a copy of the same message does nothing
    expect(await syncTenant(deps(), sent[0]!.message)).toBe("stale");
  });

  it("takes a write slot in the tenant's schedule: behind the creates already scheduled, never beside them", async () => {
    const tenant = newTenant();
    await requestSync(deps(), tenant);
    clock += 60_000;
    // A batch's creates hold the tenant's next 100 slots (about 20 s at Intune's budget).
    const creates = await services.pacing.reserve(tenant, 100, clock);
    const lastCreateAt = creates.firstSlotAt + 99 * creates.intervalMs;
    expect(await syncTenant(deps(), sent.shift()!.message)).toBe("deferred");
    const deferred = sent.shift()!;
    expect(deferred.message.slotAt).toBeGreaterThan(lastCreateAt);
    expect(simulator.requestLog.filter((r) => r.tenantId === tenant)).toHaveLength(0);
    clock = deferred.message.slotAt!;
    expect(await syncTenant(deps(), deferred.message)).toBe("synced");
  });

  it("never asks within 10 minutes of the last sync, and waits out a running one (409)", async () => {
    const tenant = newTenant();
    await requestSync(deps(), tenant);
    clock += 60_000;
    expect(await syncTenant(deps(), sent.shift()!.message)).toBe("synced");
    const syncedAt = clock;

    await requestSync(deps(), tenant);
    const next = sent.shift()!;
    expect(next.delayMs).toBe(syncedAt + SYNC_MIN_INTERVAL_MS - clock);

    // Run it early, while the previous sync still runs: 409, so look again a minute later.
    clock += 10_000;
    expect(await syncTenant(deps(), next.message)).toBe("rescheduled");
    const busy = sent.shift()!;
    expect(busy.delayMs).toBe(SYNC_BUSY_RETRY_MS);
    expect(busy.message.attempt).toBe(next.message.attempt + 1);
    // The old message is now stale.
    expect(await syncTenant(deps(), next.message)).toBe("stale");

    // Later, still within 10 minutes: the simulator answers 429, and the next try waits out the 10 minutes.
    clock += SYNC_BUSY_RETRY_MS;
    expect(await syncTenant(deps(), busy.message)).toBe("rescheduled");
    const throttled = sent.shift()!;
    expect(clock + throttled.delayMs).toBeGreaterThanOrEqual(syncedAt + SYNC_MIN_INTERVAL_MS);
    clock += throttled.delayMs;
    expect(await syncTenant(deps(), throttled.message)).toBe("synced");
    const statuses = simulator.requestLog
      .filter((r) => r.path.includes("windowsAutopilotSettings/sync") && r.tenantId === tenant)
      .map((r) => r.status);
    expect(statuses).toEqual([204, 409, 429, 204]);
  });
});
