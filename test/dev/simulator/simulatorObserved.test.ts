import { describe, expect, it } from "vitest";
import {
  COLLECTION,
  device,
  GraphCaller,
  OBSERVED_LIST_LAG_MS,
  TENANT_A,
  walk,
  type DeviceJson,
  type ListPageJson,
  useSimulatorPerTest,
} from "./simulatorHarness.js";

// One test per behaviour real Intune has been seen to have and the docs do not show (facts
// sheet, observed section). Each would fail against a simulator that answered as the docs do.

const setup = useSimulatorPerTest({ settleDelayMs: 3_000 });

async function listIds(a: GraphCaller, query = ""): Promise<string[]> {
  const page = (await (await a.request("GET", `${COLLECTION}${query}`)).json()) as ListPageJson;
  return page.value.map((d) => d.id);
}

describe("observed: answers carry the service's importId and productKey and no hash (MSEndpointMgr/Intune #71)", () => {
  it("in the 201, the import action's 200, GET and list pages, while the service keeps what the client sent", async () => {
    const { a, clock, sim } = await setup();
    const sent = device({ importId: "client-import-1", productKey: "PK-CLIENT" });
    expect(sent.hardwareIdentifier).not.toBe("");
    const created = await a.createOk(sent);
    const expectServiceValues = (d: DeviceJson) => {
      expect(d.importId).toBe(d.id);
      expect(d.productKey).toBe(d.id);
      expect(d.hardwareIdentifier).toBe("");
      expect(d.serialNumber).toMatch(/^SN-/); // the serial is echoed: with the id, it identifies the record
    };
    expectServiceValues(created);

    const action = await a.request("POST", `${COLLECTION}/import`, {
      importedWindowsAutopilotDeviceIdentities: [device({ importId: "client-import-2" })],
    });
    expect(action.status).toBe(200);
    const imported = ((await action.json()) as { value: DeviceJson[] }).value;
    imported.forEach(expectServiceValues);

    expectServiceValues(await a.getOk(created.id));
    clock.advance(OBSERVED_LIST_LAG_MS);
    const listed = ((await (await a.request("GET", COLLECTION)).json()) as ListPageJson).value;
    expect(listed.map((d) => d.id)).toEqual([created.id, imported[0]!.id]);
    listed.forEach(expectServiceValues);

    expect(sim.creates.map((c) => c.importId)).toEqual(["client-import-1", "client-import-2"]);
    expect(sim.records(TENANT_A)[0]).toMatchObject({
      importId: "client-import-1",
      productKey: "PK-CLIENT",
      hardwareIdentifier: sent.hardwareIdentifier,
    });
  });

  it("still settles on the hash the client sent, though no answer shows it", async () => {
    const { a, clock, sim } = await setup();
    const d = device();
    sim.registerDevice(TENANT_A, { hardwareIdentifier: String(d.hardwareIdentifier) });
    const created = await a.createOk({ ...d, serialNumber: "A-SERIAL-NOT-REGISTERED" });
    clock.advance(3_000);
    expect((await a.getOk(created.id)).state).toMatchObject({ deviceImportStatus: "error", deviceErrorCode: 806 });
  });
});

describe("observed: an import passes through pending (importedWindowsAutopilotDeviceIdentityState enum; tools poll both)", () => {
  it("reads unknown, then pending from a third of the settle delay, then its outcome, in every view", async () => {
    const { a, clock, sim } = await setup({ settleDelayMs: 3_000 });
    const created = await a.createOk(device());
    expect(created.state.deviceImportStatus).toBe("unknown");

    clock.advance(999);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("unknown");
    clock.advance(1);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("pending");
    expect(sim.records(TENANT_A)[0]!.state.deviceImportStatus).toBe("pending");
    clock.advance(1_999);
    expect((await a.getOk(created.id)).state).toMatchObject({
      deviceImportStatus: "pending",
      deviceErrorCode: 0,
      deviceRegistrationId: "",
    });
    clock.advance(1);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("complete");
  });

  it("is pending in list pages too", async () => {
    const { a, clock } = await setup({ settleDelayMs: 6_000 });
    const created = await a.createOk(device());
    clock.advance(OBSERVED_LIST_LAG_MS); // listed from 3000, pending from 2000, settled at 6000
    const page = (await (await a.request("GET", COLLECTION)).json()) as ListPageJson;
    expect(page.value.map((d) => [d.id, d.state.deviceImportStatus])).toEqual([[created.id, "pending"]]);
  });
});

describe("observed: lists lag creates (whether a fresh record is listed is undocumented; facts sheet)", () => {
  it("lists a record only listLagMs after its create, though GET by id finds it at once", async () => {
    const { a, clock } = await setup();
    const created = await a.createOk(device());
    expect((await a.getOk(created.id)).id).toBe(created.id);
    expect(await listIds(a)).toEqual([]);
    clock.advance(OBSERVED_LIST_LAG_MS - 1);
    expect(await listIds(a)).toEqual([]);
    clock.advance(1);
    expect(await listIds(a)).toEqual([created.id]);
  });

  it("scales the lag with timeScale, and a given listLagMs wins", async () => {
    const scaled = await setup({ timeScale: 0.5 });
    const one = await scaled.a.createOk(device());
    scaled.clock.advance(OBSERVED_LIST_LAG_MS / 2 - 1);
    expect(await listIds(scaled.a)).toEqual([]);
    scaled.clock.advance(1);
    expect(await listIds(scaled.a)).toEqual([one.id]);
    await scaled.sim.stop();

    const given = await setup({ listLagMs: 10 });
    const two = await given.a.createOk(device());
    given.clock.advance(10);
    expect(await listIds(given.a)).toEqual([two.id]);
  });

  it("never serves a record twice to a walk, and a walk started before a record was listed may miss it", async () => {
    const { a, clock } = await setup({ pageSize: 2 });
    const early: string[] = [];
    for (let i = 0; i < 4; i++) early.push((await a.createOk(device())).id);
    clock.advance(OBSERVED_LIST_LAG_MS);
    const late: string[] = [];

    const { seen } = await walk(a, COLLECTION, async (page) => {
      if (page !== 1) return;
      late.push((await a.createOk(device())).id); // created mid-walk, listed only after the walk's end
    });
    expect(seen).toEqual(early);
    expect(new Set(seen).size).toBe(seen.length);

    clock.advance(OBSERVED_LIST_LAG_MS);
    expect((await walk(a, COLLECTION)).seen).toEqual([...early, ...late]);
  });
});

describe("observed: the last page repeats its @odata.nextLink (microsoft-graph-docs #8186)", () => {
  it("gives the last page of a several-page listing the link that fetched it, for ever", async () => {
    const { a, clock } = await setup({ pageSize: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.createOk(device())).id);
    clock.advance(OBSERVED_LIST_LAG_MS);

    const first = (await (await a.request("GET", COLLECTION)).json()) as ListPageJson;
    const link = first["@odata.nextLink"]!;
    const last = (await (await a.request("GET", link)).json()) as ListPageJson;
    expect(last.value.map((d) => d.id)).toEqual([ids[2]]);
    expect(last["@odata.nextLink"]).toBe(link);
    const again = (await (await a.request("GET", last["@odata.nextLink"]!)).json()) as ListPageJson;
    expect(again).toEqual(last);
  });

  it("gives a single-page listing no link", async () => {
    const { a, clock } = await setup({ pageSize: 2 });
    await a.createOk(device());
    clock.advance(OBSERVED_LIST_LAG_MS);
    const only = (await (await a.request("GET", COLLECTION)).json()) as ListPageJson;
    expect(only.value).toHaveLength(1);
    expect(only["@odata.nextLink"]).toBeUndefined();
  });
});
