import { afterEach, describe, expect, it } from "vitest";
import type { GraphSimulator } from "../../../src/dev/simulator/index.js";
import { GraphCaller, ManualClock, startSimulator, TENANT_A, TENANT_B, type GraphErrorJson } from "./simulatorHarness.js";

// Beta only (msgraph-metadata's v1.0 CSDL has no windowsAutopilotSettings).
const SYNC = "/beta/deviceManagement/windowsAutopilotSettings/sync";

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe("windowsAutopilotSettings/sync", () => {
  it("answers 204, then 409 while running, then 429 until 10 minutes have passed", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, settleDelayMs: 2_000 });
    const a = await GraphCaller.as(sim, TENANT_A);
    const b = await GraphCaller.as(sim, TENANT_B);

    const first = await a.request("POST", SYNC);
    expect(first.status).toBe(204);
    expect(await first.text()).toBe("");

    clock.advance(1_999);
    const running = await a.request("POST", SYNC);
    expect(running.status).toBe(409);
    expect(((await running.json()) as GraphErrorJson).error.code).toBe("Conflict");
    expect((await b.request("POST", SYNC)).status).toBe(204); // per tenant

    clock.advance(1);
    const tooSoon = await a.request("POST", SYNC);
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.headers.get("retry-after")).toBe(String(10 * 60 - 2));

    clock.advance(10 * 60 * 1000 - 2_001);
    expect((await a.request("POST", SYNC)).status).toBe(429);
    clock.advance(1);
    expect((await a.request("POST", "/beta/deviceManagement/windowsAutopilotSettings/microsoft.graph.sync")).status).toBe(204);
  });

  it.each(["observed", "documented"] as const)("is refused on v1.0 with 400 for the segment, with behaviour %s", async (behaviour) => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, behaviour });
    const a = await GraphCaller.as(sim, TENANT_A);
    const res = await a.request("POST", "/v1.0/deviceManagement/windowsAutopilotSettings/sync");
    expect(res.status).toBe(400);
    const body = (await res.json()) as GraphErrorJson;
    expect(body.error).toMatchObject({ code: "BadRequest", message: "Resource not found for the segment 'windowsAutopilotSettings'." });
    // A refused v1.0 call starts no sync: beta is free to start one.
    expect((await a.request("POST", SYNC)).status).toBe(204);
  });

  it("scales the running time and the cooldown with timeScale", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, settleDelayMs: 2_000, timeScale: 0.001 });
    const a = await GraphCaller.as(sim, TENANT_A);
    expect((await a.request("POST", SYNC)).status).toBe(204);
    expect((await a.request("POST", SYNC)).status).toBe(409);
    clock.advance(2);
    const tooSoon = await a.request("POST", SYNC);
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.headers.get("retry-after")).toBe("1");
    clock.advance(598);
    expect((await a.request("POST", SYNC)).status).toBe(204);
  });
});
