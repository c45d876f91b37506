import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { startGraphSimulator } from "../../../src/dev/simulator/index.js";
import { COLLECTION, device, GraphCaller, TENANT_A } from "./simulatorHarness.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("simulator lifecycle", () => {
  it("listens on 127.0.0.1 on the given port and stops even with keep-alive connections open", async () => {
    const port = await freePort();
    const sim = await startGraphSimulator({ port });
    expect(sim.url).toBe(`http://127.0.0.1:${port}`);
    const a = await GraphCaller.as(sim, TENANT_A);
    expect((await a.request("GET", COLLECTION)).status).toBe(200); // leaves a pooled socket
    await sim.stop();
    await expect(fetch(`${sim.url}${COLLECTION}`)).rejects.toThrow();
    await sim.stop(); // idempotent
  });

  it("rejects options that make no sense", async () => {
    await expect(startGraphSimulator({ pageSize: 0 })).rejects.toThrow(RangeError);
    await expect(startGraphSimulator({ timeScale: -1 })).rejects.toThrow(RangeError);
    await expect(startGraphSimulator({ throttle: { windowMs: 0, perAppPerTenant: 1, perTenant: 1 } })).rejects.toThrow(RangeError);
  });

  it("loses and duplicates nothing under concurrent creates", async () => {
    const sim = await startGraphSimulator({ settleDelayMs: 0, throttle: { windowMs: 20_000, perAppPerTenant: 1_000, perTenant: 1_000 } });
    try {
      const a = await GraphCaller.as(sim, TENANT_A);
      const devices = Array.from({ length: 150 }, () => device());
      const responses = await Promise.all(devices.map((d) => a.create(d)));
      expect(responses.map((r) => r.status)).toEqual(Array(150).fill(201));
      const ids = await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id));
      expect(new Set(ids).size).toBe(150);
      expect(sim.creates.map((c) => c.id).sort()).toEqual([...ids].sort());
      const records = sim.records(TENANT_A);
      expect(records.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(records.every((r) => r.state.deviceImportStatus === "complete")).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});
