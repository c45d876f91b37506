import { afterEach, describe, expect, it } from "vitest";
import type { GraphSimulator } from "../../../src/dev/simulator/index.js";
import {
  APP_1,
  APP_2,
  COLLECTION,
  device,
  GraphCaller,
  ManualClock,
  startSimulator,
  TENANT_A,
  TENANT_B,
  type GraphErrorJson,
} from "./simulatorHarness.js";

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function statuses(count: number, send: () => Promise<Response>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await send()).status);
  return out;
}

describe("write throttling (Intune: 100 per app per tenant, 200 per tenant, per 20 s)", () => {
  it("refuses the 101st write of an app with 429 and Retry-After, lets a second app in until the tenant's 200", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now });
    const app1 = await GraphCaller.as(sim, TENANT_A, APP_1);
    const app2 = await GraphCaller.as(sim, TENANT_A, APP_2);
    const otherTenant = await GraphCaller.as(sim, TENANT_B, APP_1);

    expect(await statuses(100, () => app1.create(device()))).toEqual(Array(100).fill(201));
    const refused = await app1.create(device());
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("20");
    expect(((await refused.json()) as GraphErrorJson).error.code).toBe("TooManyRequests");

    // The tenant has seen 101 writes (throttled ones count), so app 2 gets 99 more.
    const app2Statuses = await statuses(100, () => app2.create(device()));
    expect(app2Statuses.slice(0, 99)).toEqual(Array(99).fill(201));
    expect(app2Statuses[99]).toBe(429);

    // Reads have their own budget, and other tenants are unaffected.
    expect((await app1.request("GET", COLLECTION)).status).toBe(200);
    expect((await otherTenant.create(device())).status).toBe(201);

    expect(sim.creates.filter((c) => c.tenantId === TENANT_A)).toHaveLength(199);

    // Waiting the advertised Retry-After is enough.
    clock.advance(20_000);
    expect((await app1.create(device())).status).toBe(201);
  });

  it("charges an import action as one write, however many devices it carries (Intune counts requests)", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, throttle: { windowMs: 1_000, perAppPerTenant: 2, perTenant: 10 } });
    const a = await GraphCaller.as(sim, TENANT_A);
    const importOf = (n: number) =>
      a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: Array.from({ length: n }, () => device()) });

    expect((await importOf(50)).status).toBe(200);
    expect((await importOf(50)).status).toBe(200);
    const refused = await importOf(1);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(sim.creates).toHaveLength(100);
  });

  it("can still charge each device as one write (importActionCost: perDevice), for comparison", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({
      now: clock.now,
      importActionCost: "perDevice",
      throttle: { windowMs: 1_000, perAppPerTenant: 5, perTenant: 10 },
    });
    const a = await GraphCaller.as(sim, TENANT_A);
    const importOf = (n: number) =>
      a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: Array.from({ length: n }, () => device()) });

    expect((await importOf(3)).status).toBe(200);
    expect((await importOf(3)).status).toBe(429);
    expect((await importOf(6)).status).toBe(400); // more than a window could ever admit
    expect(sim.creates).toHaveLength(3);
  });

  it("throttles reads on their own budget", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, readThrottle: { windowMs: 5_000, perAppPerTenant: 3, perTenant: 100 } });
    const a = await GraphCaller.as(sim, TENANT_A);
    expect(await statuses(4, () => a.request("GET", COLLECTION))).toEqual([200, 200, 200, 429]);
    expect((await a.create(device())).status).toBe(201);
    clock.advance(5_000);
    expect((await a.request("GET", COLLECTION)).status).toBe(200);
  });
});
