import { afterEach, describe, expect, it } from "vitest";
import type { GraphSimulator } from "../../../src/dev/simulator/index.js";
import { COLLECTION, device, GraphCaller, ManualClock, startSimulator, TENANT_A, type GraphErrorJson } from "./simulatorHarness.js";

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function setup(options: Parameters<typeof startSimulator>[0] = {}) {
  const clock = new ManualClock();
  sim = await startSimulator({ now: clock.now, ...options });
  return { sim, clock, a: await GraphCaller.as(sim, TENANT_A) };
}

describe("fault injection", () => {
  it("answers a Graph-shaped error with Retry-After for the given number of matching requests", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ match: { method: "post" }, times: 2, kind: "status", status: 503, retryAfterSeconds: 7 });

    const first = await a.create(device());
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("7");
    expect(((await first.json()) as GraphErrorJson).error.code).toBe("ServiceUnavailable");
    expect((await a.request("GET", COLLECTION)).status).toBe(200); // does not match
    expect((await a.create(device())).status).toBe(503);
    expect((await a.create(device())).status).toBe(201); // used up
    expect(sim.creates).toHaveLength(1);
  });

  it("lets the first matching requests through, then acts on every one for a while: a storm", async () => {
    const { sim, clock, a } = await setup();
    sim.injectFaults({ match: { method: "post" }, after: 2, forMs: 10_000, kind: "status", status: 429, retryAfterSeconds: 10 });
    expect((await a.create(device())).status).toBe(201);
    expect((await a.request("GET", COLLECTION)).status).toBe(200); // does not match, does not count
    expect((await a.create(device())).status).toBe(201);
    expect((await a.create(device())).status).toBe(429); // the storm begins
    clock.advance(9_000);
    expect((await a.create(device())).status).toBe(429);
    clock.advance(1_001);
    expect((await a.create(device())).status).toBe(201); // over, and retired
    expect(sim.creates).toHaveLength(3);
  });

  it("matches by serial number and path, and uses a given error code", async () => {
    const { sim, a } = await setup();
    const target = device();
    sim.injectFaults({
      match: { serialNumber: String(target.serialNumber), pathIncludes: "importedWindowsAutopilot" },
      kind: "status",
      status: 500,
      errorCode: "generalException",
    });
    expect((await a.create(device())).status).toBe(201);
    const hit = await a.create(target);
    expect(hit.status).toBe(500);
    expect(((await hit.json()) as GraphErrorJson).error.code).toBe("generalException");
    const inImport = await a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: [device(), target] });
    expect(inImport.status).toBe(500);
    sim.clearFaults();
    expect((await a.create(target)).status).toBe(201);
  });

  it("drops the socket without a response, and the request never reaches the service", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "drop", times: 1 });
    await expect(a.create(device())).rejects.toThrow();
    expect(sim.creates).toHaveLength(0);
    expect(sim.requestLog[0]).toMatchObject({ method: "POST", status: 0 });
    expect((await a.create(device())).status).toBe(201);
  });

  it("succeedThenFail records the create, then answers 504", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ match: { method: "POST" }, times: 1, kind: "succeedThenFail" });
    const d = device();
    const res = await a.create(d);
    expect(res.status).toBe(504);
    expect(((await res.json()) as GraphErrorJson).error.code).toBe("GatewayTimeout");
    expect(sim.creates).toMatchObject([{ tenantId: TENANT_A, serialNumber: d.serialNumber }]);
    expect(sim.records(TENANT_A).map((r) => r.serialNumber)).toEqual([d.serialNumber]);
  });

  it("succeedThenFail with status 0 records the create, then drops the socket", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "succeedThenFail", status: 0, times: 1 });
    await expect(a.create(device())).rejects.toThrow();
    expect(sim.creates).toHaveLength(1);
    expect(sim.records(TENANT_A)).toHaveLength(1);
  });

  it("succeedThenFail is not used up by a request the service refuses", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "succeedThenFail", status: 502, times: 1 });
    expect((await a.create(device({ hardwareIdentifier: "@@" }))).status).toBe(400);
    expect((await a.create(device())).status).toBe(502);
    expect((await a.create(device())).status).toBe(201);
    expect(sim.creates).toHaveLength(2);
  });

  it("delays matching requests by ms × timeScale, and latency is added to every response", async () => {
    const { sim, a } = await setup({ timeScale: 0.5, latencyMs: 40 });
    let started = performance.now();
    expect((await a.request("GET", COLLECTION)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);

    sim.injectFaults({ kind: "delay", ms: 200, times: 1 });
    started = performance.now();
    expect((await a.create(device())).status).toBe(201);
    expect(performance.now() - started).toBeGreaterThanOrEqual(119);
  });

  it("refuses malformed rules", async () => {
    const { sim } = await setup();
    expect(() => sim.injectFaults({ kind: "status", status: 42 })).toThrow(RangeError);
    expect(() => sim.injectFaults({ kind: "drop", times: 0 })).toThrow(RangeError);
    expect(() => sim.injectFaults({ kind: "delay", ms: -1 })).toThrow(RangeError);
  });
});
