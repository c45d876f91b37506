import { afterEach, describe, expect, it } from "vitest";
import { BEHAVIOUR_DEFAULTS, startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../../../src/dev/simulator/index.js";
import { resolveOptions } from "../../../src/dev/simulator/options.js";
import {
  COLLECTION,
  device,
  GraphCaller,
  ManualClock,
  startSimulator,
  TENANT_A,
  type GraphErrorJson,
  type ListPageJson,
} from "./simulatorHarness.js";

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function setup(options: SimulatorOptions) {
  const clock = new ManualClock();
  sim = await startSimulator({ now: clock.now, settleDelayMs: 3_000, ...options });
  return { clock, sim, a: await GraphCaller.as(sim, TENANT_A) };
}

describe('behaviour: "documented"', () => {
  it("echoes the client's values, goes unknown → outcome, lists at once and ends a walk without a link", async () => {
    const { a, clock, sim } = await setup({ behaviour: "documented", pageSize: 1 });
    const sent = device({ importId: "client-import", productKey: "PK-1" });
    const created = await a.createOk(sent);
    expect(created).toMatchObject({ importId: "client-import", productKey: "PK-1", hardwareIdentifier: sent.hardwareIdentifier });
    expect((await a.getOk(created.id)).importId).toBe("client-import");

    // No lag: listed at once.
    const second = await a.createOk(device());
    const first = (await (await a.request("GET", COLLECTION)).json()) as ListPageJson;
    expect(first.value.map((d) => [d.id, d.importId])).toEqual([[created.id, "client-import"]]);
    const last = (await (await a.request("GET", first["@odata.nextLink"]!)).json()) as ListPageJson;
    expect(last.value.map((d) => d.id)).toEqual([second.id]);
    expect(last["@odata.nextLink"]).toBeUndefined();

    clock.advance(2_999); // past the observed pending point
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("unknown");
    clock.advance(1);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("complete");
    expect(sim.creates.map((c) => c.importId)).toEqual(["client-import", second.importId]);
  });

  it("keeps Graph's plain messages, Entra's 403 code for faults and Retry-After on every 429", async () => {
    const { a, sim } = await setup({ behaviour: "documented", throttle: { windowMs: 20_000, perAppPerTenant: 1, perTenant: 10 } });
    const missing = (await (await a.request("GET", `${COLLECTION}/nope`)).json()) as GraphErrorJson;
    expect(missing.error.message).toBe("No importedWindowsAutopilotDeviceIdentity with id 'nope' exists in this tenant.");
    sim.injectFaults({ kind: "status", status: 403, times: 1 });
    expect(((await (await a.request("GET", COLLECTION)).json()) as GraphErrorJson).error).toMatchObject({
      code: "Authorization_RequestDenied",
      message: "Injected fault.",
    });

    await a.create(device());
    for (let i = 0; i < 6; i++) {
      const refused = await a.create(device());
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("20");
    }
  });

  it("lets a finer option given explicitly win over the behaviour, either way", async () => {
    const documentedButNoEcho = await setup({ behaviour: "documented", echoClientValues: false });
    const one = await documentedButNoEcho.a.createOk(device());
    expect(one.importId).toBe(one.id);
    await sim!.stop();

    const observedButEcho = await setup({ echoClientValues: true, listLagMs: 0, repeatLastNextLink: false });
    const sent = device();
    const two = await observedButEcho.a.createOk(sent);
    expect(two.importId).toBe(sent.importId);
    expect(((await (await observedButEcho.a.request("GET", COLLECTION)).json()) as ListPageJson).value).toHaveLength(1);
    observedButEcho.clock.advance(1_000);
    expect((await observedButEcho.a.getOk(two.id)).state.deviceImportStatus).toBe("pending"); // still observed
  });
});

describe("behaviour options", () => {
  it("default to observed", () => {
    const resolved = resolveOptions();
    expect(resolved.behaviour).toBe("observed");
    expect({
      echoClientValues: resolved.echoClientValues,
      passThroughPending: resolved.passThroughPending,
      listLagMs: resolved.listLagMs,
      intuneForbidden: resolved.intuneForbidden,
      wrapIntuneMessages: resolved.wrapIntuneMessages,
      retryAfterOmittedEvery: resolved.retryAfterOmittedEvery,
      repeatLastNextLink: resolved.repeatLastNextLink,
    }).toEqual(BEHAVIOUR_DEFAULTS.observed);
    expect(BEHAVIOUR_DEFAULTS.observed).toEqual({
      echoClientValues: false,
      passThroughPending: true,
      listLagMs: 3_000,
      intuneForbidden: true,
      wrapIntuneMessages: true,
      retryAfterOmittedEvery: 3,
      repeatLastNextLink: true,
    });
  });

  it.each<[string, unknown, ErrorConstructor]>([
    ["behaviour", "docs", RangeError],
    ["listLagMs", -1, RangeError],
    ["listLagMs", Number.NaN, RangeError],
    ["retryAfterOmittedEvery", -1, RangeError],
    ["retryAfterOmittedEvery", 1.5, RangeError],
    ["echoClientValues", "false", TypeError],
    ["passThroughPending", 1, TypeError],
    ["wrapIntuneMessages", "yes", TypeError],
    ["intuneForbidden", 0, TypeError],
    ["repeatLastNextLink", "true", TypeError],
  ])("refuses %s = %j at start", async (name, value, error) => {
    await expect(startGraphSimulator({ [name]: value } as SimulatorOptions)).rejects.toThrow(error);
  });
});
