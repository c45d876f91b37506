import { afterEach, describe, expect, it } from "vitest";
import type { GraphSimulator } from "../../../src/dev/simulator/index.js";
import {
  COLLECTION,
  device,
  GraphCaller,
  ManualClock,
  startSimulator,
  TENANT_A,
  TENANT_B,
  OBSERVED_LIST_LAG_MS,
  walk,
  type DeviceJson,
  type GraphErrorJson,
  type ListPageJson,
} from "./simulatorHarness.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function setup(settleDelayMs = 2_000) {
  const clock = new ManualClock();
  sim = await startSimulator({ now: clock.now, settleDelayMs });
  return { clock, sim, a: await GraphCaller.as(sim, TENANT_A), b: await GraphCaller.as(sim, TENANT_B) };
}

describe("create", () => {
  it("answers 201 with the whole object, import not yet looked at, importId/productKey the service's and no hash", async () => {
    const { a, sim } = await setup();
    const body = device({ productKey: "PK-1", assignedUserPrincipalName: "user@contoso.com" });
    const res = await a.create(body);

    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const json = (await res.json()) as DeviceJson;
    expect(json).toEqual({
      "@odata.context": `${sim.url}/v1.0/$metadata#deviceManagement/importedWindowsAutopilotDeviceIdentities/$entity`,
      "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
      id: expect.stringMatching(UUID),
      groupTag: "Lab",
      serialNumber: body.serialNumber,
      // As a real 201 (MSEndpointMgr/Intune issue #71); the docs' echo is behaviour: "documented".
      productKey: json.id,
      importId: json.id,
      hardwareIdentifier: "",
      assignedUserPrincipalName: "user@contoso.com",
      state: {
        "@odata.type": "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
        deviceImportStatus: "unknown",
        deviceRegistrationId: "",
        deviceErrorCode: 0,
        deviceErrorName: "",
      },
    });
    expect(sim.creates).toEqual([
      {
        tenantId: TENANT_A,
        appId: expect.any(String),
        id: json.id,
        serialNumber: body.serialNumber,
        importId: body.importId,
        at: expect.any(Number),
      },
    ]);
  });

  it("serves the beta endpoint with a beta context", async () => {
    const { a, sim } = await setup();
    const res = await a.request(
      "POST",
      "/beta/deviceManagement/importedWindowsAutopilotDeviceIdentities",
      device({ orderIdentifier: "legacy" }),
    );
    expect(res.status).toBe(201);
    expect(((await res.json()) as Record<string, unknown>)["@odata.context"]).toBe(
      `${sim.url}/beta/$metadata#deviceManagement/importedWindowsAutopilotDeviceIdentities/$entity`,
    );
  });

  it.each([
    ["a JSON array", [device()]],
    ["a hash that is not base64", device({ hardwareIdentifier: "not base64!" })],
    ["a hash that is not a string", device({ hardwareIdentifier: 42 })],
    ["an unknown property", device({ color: "blue" })],
    ["a non-string serial", device({ serialNumber: 123 })],
    ["orderIdentifier on v1.0", device({ orderIdentifier: "x" })],
  ])("refuses %s with 400 BadRequest and creates nothing", async (_, body) => {
    const { a, sim } = await setup();
    const res = await a.create(body as Record<string, unknown>);
    expect(res.status).toBe(400);
    expect(((await res.json()) as GraphErrorJson).error.code).toBe("BadRequest");
    expect(sim.creates).toHaveLength(0);
    expect(sim.records(TENANT_A)).toHaveLength(0);
  });

  it("refuses an empty body or one that is not JSON (400), and one not sent as JSON (415)", async () => {
    const { a, sim } = await setup();
    const post = (body: string | undefined, contentType?: string) =>
      fetch(`${sim.url}${COLLECTION}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${a.token}`, ...(contentType ? { "Content-Type": contentType } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
    expect((await post(undefined, "application/json")).status).toBe(400);
    expect((await post("{not json", "application/json")).status).toBe(400);
    // fetch labels a string body text/plain unless told otherwise.
    expect((await post(JSON.stringify(device()))).status).toBe(415);
    expect((await post(JSON.stringify(device()), "application/json; charset=utf-8")).status).toBe(201);
  });
});

describe("settling", () => {
  it("does not settle until the settle delay has passed, then completes with a registration id", async () => {
    const { a, clock } = await setup(2_000);
    const created = await a.createOk(device());

    clock.advance(1_999);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("pending");
    clock.advance(1);
    const settled = await a.getOk(created.id);
    expect(settled.state).toMatchObject({ deviceImportStatus: "complete", deviceErrorCode: 0, deviceErrorName: "" });
    expect(settled.state.deviceRegistrationId).toMatch(UUID);
  });

  it("with settleDelayMs 0 answers the create unknown and settles on the next request", async () => {
    const { a } = await setup(0);
    const created = await a.createOk(device());
    expect(created.state.deviceImportStatus).toBe("unknown");
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("complete");
  });

  it("scales the settle delay with timeScale", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, settleDelayMs: 2_000, timeScale: 0.01 });
    const a = await GraphCaller.as(sim, TENANT_A);
    const created = await a.createOk(device());
    clock.advance(6);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("unknown");
    clock.advance(13);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("pending");
    clock.advance(1);
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("complete");
  });

  it("fails a re-import of a device already registered in the tenant with 806", async () => {
    const { a, clock } = await setup();
    const d = device();
    await a.createOk(d);
    clock.advance(2_000);
    const again = await a.createOk({ ...d, serialNumber: ` ${String(d.serialNumber).toLowerCase()} ` });
    clock.advance(2_000);
    expect((await a.getOk(again.id)).state).toMatchObject({
      deviceImportStatus: "error",
      deviceErrorCode: 806,
      deviceErrorName: "ZtdDeviceAlreadyAssigned",
    });
  });

  it("fails an import of a device registered in another tenant with 808", async () => {
    const { a, b, clock } = await setup();
    const d = device();
    const first = await a.createOk(d);
    clock.advance(2_000);
    const second = await b.createOk(d);
    clock.advance(2_000);
    expect((await a.getOk(first.id)).state.deviceImportStatus).toBe("complete");
    expect((await b.getOk(second.id)).state).toMatchObject({ deviceErrorCode: 808, deviceErrorName: "ZtdDeviceAssignedToOtherTenant" });
  });

  it("settles imports already due before an ops registration changes the registry", async () => {
    const { a, clock, sim } = await setup();
    const d = device();
    const created = await a.createOk(d);
    clock.advance(2_000); // due now, though nobody has read it yet
    sim.registerDevice(TENANT_A, { serialNumber: String(d.serialNumber) });
    sim.rejectHash(String(d.hardwareIdentifier));
    expect((await a.getOk(created.id)).state.deviceImportStatus).toBe("complete");
  });

  it("honours pre-existing registrations by serial or by hash", async () => {
    const { a, b, clock, sim } = await setup();
    const bySerial = device();
    const byHash = device();
    sim.registerDevice(TENANT_A, { serialNumber: String(bySerial.serialNumber) });
    sim.registerDevice(TENANT_A, { hardwareIdentifier: String(byHash.hardwareIdentifier) });
    const ids = [await a.createOk(bySerial), await b.createOk(byHash)].map((r) => r.id);
    clock.advance(2_000);
    expect((await a.getOk(ids[0]!)).state.deviceErrorCode).toBe(806);
    expect((await b.getOk(ids[1]!)).state.deviceErrorCode).toBe(808);
  });

  it("settles across tenants in creation order, whoever reads first", async () => {
    const { a, b, clock } = await setup();
    const d = device();
    const inA = await a.createOk(d);
    clock.advance(10);
    const inB = await b.createOk(d);
    clock.advance(5_000);
    // B reads first, but A's import was created first, so A gets the device.
    expect((await b.getOk(inB.id)).state.deviceErrorCode).toBe(808);
    expect((await a.getOk(inA.id)).state.deviceImportStatus).toBe("complete");
  });

  it("settles an import of a rejected hash to 802, or to the code given", async () => {
    const { a, clock, sim } = await setup();
    const bad = device();
    const other = device();
    sim.rejectHash(String(bad.hardwareIdentifier));
    sim.rejectHash(String(other.hardwareIdentifier), 812);
    const ids = [(await a.createOk(bad)).id, (await a.createOk(other)).id];
    clock.advance(2_000);
    expect((await a.getOk(ids[0]!)).state).toMatchObject({
      deviceImportStatus: "error",
      deviceErrorCode: 802,
      deviceErrorName: "InvalidZtdHardwareHash",
    });
    expect((await a.getOk(ids[1]!)).state).toMatchObject({ deviceErrorCode: 812, deviceErrorName: "ZtdDeviceNotFound" });
    expect(() => sim.rejectHash(String(other.hardwareIdentifier), 999)).toThrow(RangeError);
  });

  it("settles a device without a serial number to 803 and one without a hash to 802", async () => {
    const { a, clock } = await setup();
    const noSerial = await a.createOk(device({ serialNumber: "" }));
    const noHash = await a.createOk(device({ hardwareIdentifier: null }));
    clock.advance(2_000);
    expect((await a.getOk(noSerial.id)).state).toMatchObject({
      deviceErrorCode: 803,
      deviceErrorName: "MissingZtdSerialNumberAndProductKey",
    });
    expect((await a.getOk(noHash.id)).state).toMatchObject({ deviceErrorCode: 802 });
  });

  it("processes one of two pending imports of the same hash and reports the other ZtdDeviceDuplicated", async () => {
    const { a, clock } = await setup();
    const d = device();
    const first = await a.createOk(d);
    const second = await a.createOk(d);
    clock.advance(2_000);
    expect((await a.getOk(second.id)).state).toMatchObject({
      deviceImportStatus: "error",
      deviceErrorCode: 0,
      deviceErrorName: "ZtdDeviceDuplicated",
    });
    expect((await a.getOk(first.id)).state.deviceImportStatus).toBe("complete");
  });

  it("records() shows the settled records of one tenant only", async () => {
    const { a, b, clock, sim } = await setup();
    const inA = await a.createOk(device());
    await b.createOk(device());
    clock.advance(2_000);
    const records = sim.records(TENANT_A);
    expect(records.map((r) => r.id)).toEqual([inA.id]);
    expect(records[0]!.state.deviceImportStatus).toBe("complete");
    records[0]!.state.deviceImportStatus = "error"; // a copy: must not change the simulator
    expect(sim.records(TENANT_A)[0]!.state.deviceImportStatus).toBe("complete");
  });
});

describe("get and delete", () => {
  it("gets 404 for an unknown id and for another tenant's record", async () => {
    const { a, b } = await setup();
    const created = await a.createOk(device());
    const missing = await a.request("GET", `${COLLECTION}/00000000-0000-0000-0000-000000000000`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as GraphErrorJson).error.code).toBe("ResourceNotFound");
    expect((await b.request("GET", `${COLLECTION}/${created.id}`)).status).toBe(404);
    expect((await a.request("GET", `${COLLECTION}('${created.id}')`)).status).toBe(200);
  });

  it("deletes with 204, then 404; the device stays registered", async () => {
    const { a, clock, sim } = await setup();
    const d = device();
    const created = await a.createOk(d);
    clock.advance(2_000);
    const del = await a.request("DELETE", `${COLLECTION}/${created.id}`);
    expect(del.status).toBe(204);
    expect(await del.text()).toBe("");
    expect((await a.request("DELETE", `${COLLECTION}/${created.id}`)).status).toBe(404);
    expect((await a.request("GET", `${COLLECTION}/${created.id}`)).status).toBe(404);
    expect(sim.records(TENANT_A)).toHaveLength(0);

    const again = await a.createOk(d);
    clock.advance(2_000);
    expect((await a.getOk(again.id)).state.deviceErrorCode).toBe(806);
  });

  it("never settles a record deleted while pending, so it registers nothing", async () => {
    const { a, clock } = await setup();
    const d = device();
    const created = await a.createOk(d);
    expect((await a.request("DELETE", `${COLLECTION}/${created.id}`)).status).toBe(204);
    clock.advance(2_000);
    const again = await a.createOk(d);
    clock.advance(2_000);
    expect((await a.getOk(again.id)).state.deviceImportStatus).toBe("complete");
  });
});

describe("list", () => {
  it("walks every listed record exactly once through @odata.nextLink", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, pageSize: 10 });
    const a = await GraphCaller.as(sim, TENANT_A);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await a.createOk(device())).id);
    clock.advance(OBSERVED_LIST_LAG_MS);

    const first = (await (await a.request("GET", COLLECTION)).json()) as ListPageJson;
    expect(first["@odata.context"]).toBe(`${sim.url}/v1.0/$metadata#deviceManagement/importedWindowsAutopilotDeviceIdentities`);
    expect(first["@odata.nextLink"]!.startsWith(`${sim.url}${COLLECTION}?$skiptoken=`)).toBe(true);

    const byDefault = await walk(a, COLLECTION);
    expect(byDefault.pages).toBe(3);
    expect(byDefault.seen).toEqual(ids);

    const byTop = await walk(a, `${COLLECTION}?$Top=7`);
    expect(byTop.pages).toBe(4);
    expect(byTop.seen).toEqual(ids);
  });

  it("sees each surviving record once when records are deleted and created mid-walk", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now });
    const a = await GraphCaller.as(sim, TENANT_A);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await a.createOk(device())).id);
    clock.advance(OBSERVED_LIST_LAG_MS);
    const added: string[] = [];

    const { seen } = await walk(a, `${COLLECTION}?$top=5`, async (page) => {
      if (page !== 1) return;
      await a.request("DELETE", `${COLLECTION}/${ids[0]}`); // already served
      await a.request("DELETE", `${COLLECTION}/${ids[7]}`); // not yet served
      added.push((await a.createOk(device())).id);
      clock.advance(OBSERVED_LIST_LAG_MS);
    });
    const expected = [...ids.filter((_, i) => i !== 7), ...added];
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("returns an empty page for a tenant with nothing imported", async () => {
    const { a } = await setup();
    const body = (await (await a.request("GET", COLLECTION)).json()) as Record<string, unknown>;
    expect(body.value).toEqual([]);
    expect(body["@odata.nextLink"]).toBeUndefined();
  });

  it("refuses a bad $top, a forged $skiptoken and query options it does not implement", async () => {
    const { a } = await setup();
    for (const query of ["$top=0", "$TOP=1000", "$skiptoken=forged", "$filter=serialNumber%20eq%20'x'", "$select=id"]) {
      const res = await a.request("GET", `${COLLECTION}?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as GraphErrorJson).error.code).toBe("BadRequest");
    }
  });
});

describe("import action", () => {
  it("creates every device and answers 200 with them", async () => {
    const { a, sim } = await setup();
    const devices = [device(), device(), device()];
    const res = await a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: devices });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: DeviceJson[] };
    expect(body.value.map((d) => d.serialNumber)).toEqual(devices.map((d) => d.serialNumber));
    expect(body.value.every((d) => d.state.deviceImportStatus === "unknown")).toBe(true);
    expect(sim.creates.map((c) => c.id)).toEqual(body.value.map((d) => d.id));
  });

  it("refuses the whole action when one device is invalid", async () => {
    const { a, sim } = await setup();
    const res = await a.request("POST", `${COLLECTION}/import`, {
      importedWindowsAutopilotDeviceIdentities: [device(), device({ hardwareIdentifier: "%%%" })],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as GraphErrorJson).error.message).toContain("[1]");
    expect(sim.creates).toHaveLength(0);
  });

  it("answers 204 without a body when asked to (importActionAnswer: empty), and the records are there by serial number", async () => {
    const clock = new ManualClock();
    sim = await startSimulator({ now: clock.now, importActionAnswer: "empty" });
    const a = await GraphCaller.as(sim, TENANT_A);
    const devices = [device(), device()];
    const res = await a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: devices });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(sim.records(TENANT_A).map((r) => r.serialNumber)).toEqual(devices.map((d) => d.serialNumber));
  });

  it("refuses a body over Graph's 4 MB limit with 413, creating nothing", async () => {
    const { a, sim } = await setup();
    // About 4.4 MB: 1,100 devices with a 4 KB hash each, more than any chunk this pipeline sends.
    const big = Buffer.alloc(3_000, 7).toString("base64");
    const devices = Array.from({ length: 1_100 }, () => device({ hardwareIdentifier: big }));
    const res = await a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: devices });
    expect(res.status).toBe(413);
    expect(sim.creates).toHaveLength(0);
  });
});

describe("protocol", () => {
  it("echoes client-request-id and sends a request-id on every response, in the error body too", async () => {
    const { a } = await setup();
    const res = await a.request("GET", `${COLLECTION}/nope`, undefined, { "client-request-id": "my-correlation-id" });
    expect(res.headers.get("client-request-id")).toBe("my-correlation-id");
    const requestId = res.headers.get("request-id");
    expect(requestId).toMatch(UUID);
    const body = (await res.json()) as GraphErrorJson;
    expect(body.error.innerError).toEqual({
      date: expect.stringMatching(/Z$/),
      "request-id": requestId,
      "client-request-id": "my-correlation-id",
    });

    const plain = await a.request("GET", COLLECTION);
    expect(plain.headers.get("request-id")).toMatch(UUID);
    expect(plain.headers.get("client-request-id")).toBeTruthy();
  });

  it("answers unknown segments 400, unknown versions 404, wrong methods 405", async () => {
    const { a } = await setup();
    expect((await a.request("GET", "/v1.0/deviceManagement/somethingElse")).status).toBe(400);
    expect((await a.request("GET", "/v2.0/deviceManagement/importedWindowsAutopilotDeviceIdentities")).status).toBe(404);
    const patch = await a.request("PATCH", `${COLLECTION}/x`, {});
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")).toBe("GET, DELETE");
  });

  it("logs every request with its caller and status", async () => {
    const { a, sim } = await setup();
    await a.request("GET", `${COLLECTION}?$top=5`);
    expect(sim.requestLog).toEqual([
      { method: "GET", path: `${COLLECTION}?$top=5`, status: 200, tenantId: TENANT_A, appId: expect.any(String), at: expect.any(Number) },
    ]);
  });
});
