import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProblemType } from "../../src/http/problem.js";
import { DEVICE_CSV_COLUMNS } from "../../src/status/deviceCsv.js";
import { makeHash, makeDevices, type CsvDevice } from "../support/devices.js";
import { addTestPartner, type TestPartner } from "../support/partners.js";
import { allDevices, startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";

/**
 * GET /api/imports, retry, cancel and the CSV answer, against Azurite, the Graph simulator and
 * the development host. Transient failures run out after two attempts, so a retryable failure
 * is quick to make.
 */
let pipeline: Pipeline;
let other: TestPartner;

beforeAll(async () => {
  // Intune's throttle raised to the budget the pipeline paces for, so a 1,000-device batch takes seconds.
  pipeline = await startPipeline({
    // Chunks of 2 (default 100): a 120-device batch is 60 import actions, more than the host
    // takes at once, so a cancel finds most of it still queued.
    env: { RETRY_MAX_ATTEMPTS: "2", IMPORT_CHUNK_SIZE: "2" },
    simulator: { throttle: { windowMs: 2_000, perAppPerTenant: 1_000, perTenant: 2_000 } },
  });
  other = await addTestPartner(pipeline.services, { tenants: [TENANT_A, TENANT_B] });
});
afterAll(async () => pipeline?.stop());

async function submit(devices: readonly CsvDevice[], tenantId = TENANT_A, headers = pipeline.headers): Promise<string> {
  const response = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ tenantId, devices }),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const post = (path: string, headers = pipeline.headers) => fetch(`${pipeline.api}${path}`, { method: "POST", headers });
const get = (path: string, headers: Record<string, string> = pipeline.headers) => fetch(`${pipeline.api}${path}`, { headers });
const problemType = async (response: Response) => ((await response.json()) as { type: string }).type;

describe("GET /api/imports", () => {
  it("lists only the caller's batches, newest first, filtered by status and time, paged by nextLink", async () => {
    const owner = await addTestPartner(pipeline.services, { tenants: [TENANT_A] });
    const devices = makeDevices(4, "LIST");
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: devices[1]!.serialNumber });
    const ids: string[] = [];
    for (const device of devices.slice(0, 3)) ids.push(await submit([device], TENANT_A, owner.headers));
    await submit([devices[3]!], TENANT_A, other.headers);
    for (const id of ids) await waitForBatch({ api: pipeline.api, headers: owner.headers }, id);

    // Paging: two, then one, then no nextLink; newest first.
    const first = (await (await get("/imports?pageSize=2", owner.headers)).json()) as { value: { id: string }[]; nextLink?: string };
    expect(first.value.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextLink).toMatch(/^\/api\/imports\?pageSize=2&continuationToken=[A-Za-z0-9_-]+$/);
    const second = (await (await fetch(new URL(first.nextLink!, pipeline.api), { headers: owner.headers })).json()) as {
      value: { id: string }[];
      nextLink?: string;
    };
    expect(second.value.map((b) => b.id)).toEqual([ids[0]]);
    expect(second.nextLink).toBeUndefined();

    // Each item is the batch's own status view.
    const view = await (await get(`/imports/${ids[1]}`, owner.headers)).json();
    expect(first.value[1]).toEqual(view);

    // Status: the one whose device Intune already knew failed; the others succeeded.
    const failed = (await (await get("/imports?status=failed", owner.headers)).json()) as { value: { id: string; status: string }[] };
    expect(failed.value.map((b) => b.id)).toEqual([ids[1]]);
    const succeeded = (await (await get("/imports?status=succeeded", owner.headers)).json()) as { value: { id: string }[] };
    expect(succeeded.value.map((b) => b.id)).toEqual([ids[2], ids[0]]);

    // Time: strictly after the first batch's creation, strictly before the third's.
    const created = await Promise.all(
      ids.map(async (id) => ((await (await get(`/imports/${id}`, owner.headers)).json()) as { createdAt: string }).createdAt),
    );
    const between = (await (await get(`/imports?createdAfter=${created[0]}&createdBefore=${created[2]}`, owner.headers)).json()) as {
      value: { id: string }[];
    };
    expect(between.value.map((b) => b.id)).toEqual([ids[1]]);

    // Bad queries are problems, not empty lists.
    for (const query of ["status=done", "pageSize=0", "createdAfter=yesterday", "continuationToken=Zm9v"]) {
      const response = await get(`/imports?${query}`, owner.headers);
      expect(response.status, query).toBe(400);
      expect(await problemType(response)).toBe(ProblemType.invalidQuery);
    }
    // Another partner sees none of these.
    const theirs = (await (await get("/imports?pageSize=100", other.headers)).json()) as { value: { id: string }[] };
    expect(theirs.value.map((b) => b.id)).not.toEqual(expect.arrayContaining([ids[0]]));
    expect(theirs.value.some((b) => ids.includes(b.id))).toBe(false);
  });
});

describe("POST /api/imports/{id}/retry", () => {
  it("sends a retryable failure through Graph again until it imports, and leaves Intune's refusals alone", async () => {
    const devices = makeDevices(3, "RETRY");
    const [flaky, known] = [devices[0]!, devices[1]!];
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: known.serialNumber });
    // Two server errors for the import action that carries the first two (a chunk of 2):
    // RETRY_MAX_ATTEMPTS is 2, so the chunk, retried whole, fails RetriesExhausted, both devices.
    pipeline.simulator.injectFaults({ kind: "status", status: 500, times: 2, match: { method: "POST", serialNumber: flaky.serialNumber } });
    const id = await submit(devices);
    const first = await waitForBatch(pipeline, id);
    expect(first).toMatchObject({ status: "partially_succeeded", counts: { imported: 1, failed: 2 } });
    const before = await allDevices(pipeline, id);
    expect(before.map((d) => d.error?.code)).toEqual(["RetriesExhausted", "RetriesExhausted", undefined]);

    const retried = await post(`/imports/${id}/retry`);
    expect(retried.status).toBe(202);
    const body = (await retried.json()) as { retriedDevices: number; batch: { status: string; counts: Record<string, number> } };
    expect(body.retriedDevices).toBe(2);
    expect(body.batch.status).toBe("running");
    // The retried devices are on their way (retrying, submitting or submitted).
    expect(body.batch.counts).toMatchObject({ failed: 0, imported: 1, canceled: 0 });
    // While it runs, another retry is refused.
    const again = await post(`/imports/${id}/retry`);
    if (again.status === 409) expect([ProblemType.batchStillRunning, ProblemType.nothingToRetry]).toContain(await problemType(again));
    else throw new Error(`second retry answered ${again.status}`);

    const final = await waitForBatch(pipeline, id);
    expect(final.counts).toEqual({ queued: 0, retrying: 0, submitted: 0, imported: 2, failed: 1, canceled: 0 });
    const after = new Map((await allDevices(pipeline, id)).map((d) => [d.serialNumber, d]));
    // Its chunk's 500s may have created it (a lost answer: a 500 in front of Graph, so none did),
    // so the retry looks for its record before creating it, concluding only once the list could
    // show one: an attempt more.
    expect(after.get(flaky.serialNumber)).toMatchObject({ state: "imported" });
    expect(after.get(flaky.serialNumber)!.attempts).toBeGreaterThanOrEqual(3);
    expect(after.get(known.serialNumber)).toMatchObject({ state: "failed", error: { code: "806" } });
    // Exactly one record of ours in Graph for the retried device.
    expect(pipeline.simulator.creates.filter((c) => c.serialNumber === flaky.serialNumber)).toHaveLength(1);
    // And it shows as running again in the list until done, then as its new status.
    const listed = (await (await get("/imports?status=partially_succeeded&pageSize=100")).json()) as { value: { id: string }[] };
    expect(listed.value.map((b) => b.id)).toContain(id);

    const nothing = await post(`/imports/${id}/retry`);
    expect(nothing.status).toBe(409);
    expect(await problemType(nothing)).toBe(ProblemType.nothingToRetry);
  });
});

describe("POST /api/imports/{id}/cancel", () => {
  it("cancels the devices not yet sent to Graph, lets the ones in flight finish, and keeps the counts exact", async () => {
    // Every create is held for a second, so most of the batch is still queued when the cancel comes.
    pipeline.simulator.injectFaults({
      kind: "delay",
      ms: 1_000,
      match: { method: "POST", pathIncludes: "importedWindowsAutopilotDeviceIdentities" },
    });
    try {
      const devices = makeDevices(120, "CANCEL");
      const id = await submit(devices, TENANT_B);
      const deadline = Date.now() + 20_000;
      while (pipeline.simulator.creates.filter((c) => c.serialNumber.startsWith("CANCEL")).length === 0) {
        if (Date.now() > deadline) throw new Error("no create reached the simulator");
        await new Promise((r) => setTimeout(r, 50));
      }
      const response = await post(`/imports/${id}/cancel`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { canceledDevices: number; batch: { canceledAt?: string; counts: Record<string, number> } };
      expect(body.canceledDevices).toBeGreaterThan(0);
      expect(body.batch.canceledAt).toBeTruthy();

      const final = await waitForBatch(pipeline, id);
      expect(final.status).toBe("canceled");
      const outcomes = await allDevices(pipeline, id);
      const tally = (state: string) => outcomes.filter((d) => d.state === state).length;
      expect(tally("imported") + tally("canceled")).toBe(120);
      expect(final.counts).toEqual({
        queued: 0,
        retrying: 0,
        submitted: 0,
        imported: tally("imported"),
        failed: 0,
        canceled: tally("canceled"),
      });
      expect(tally("canceled")).toBeGreaterThanOrEqual(body.canceledDevices);
      // No canceled device ever reached Graph, and every imported one did exactly once.
      const created = pipeline.simulator.creates.filter((c) => c.serialNumber.startsWith("CANCEL")).map((c) => c.serialNumber);
      expect(new Set(created).size).toBe(created.length);
      expect(created.sort()).toEqual(
        outcomes
          .filter((d) => d.state === "imported")
          .map((d) => d.serialNumber)
          .sort(),
      );

      // The poll chain's last round records the final status in the partner's index.
      const indexed = Date.now() + 20_000;
      while (
        !(await pipeline.services.batchIndex.list(pipeline.partner.partnerId, { status: "canceled", take: 100 })).some(
          (row) => row.batchId === id,
        )
      ) {
        if (Date.now() > indexed) throw new Error("the index never recorded the batch as canceled");
        await new Promise((r) => setTimeout(r, 100));
      }
      const listed = (await (await get("/imports?status=canceled")).json()) as { value: { id: string }[] };
      expect(listed.value.map((b) => b.id)).toContain(id);

      const again = await post(`/imports/${id}/cancel`);
      expect(again.status).toBe(409);
      expect(await problemType(again)).toBe(ProblemType.batchAlreadyFinished);
      const retry = await post(`/imports/${id}/retry`);
      expect(retry.status).toBe(409);
      expect(await problemType(retry)).toBe(ProblemType.batchCanceled);
    } finally {
      pipeline.simulator.clearFaults();
    }
  });
});

describe("another partner's batch", () => {
  it("is 404 on every batch route, and is left untouched", async () => {
    const id = await submit(makeDevices(1, "OWNED"));
    await waitForBatch(pipeline, id);
    const attempts = [
      get(`/imports/${id}`, other.headers),
      get(`/imports/${id}/devices`, other.headers),
      get(`/imports/${id}/devices`, { ...other.headers, accept: "text/csv" }),
      post(`/imports/${id}/retry`, other.headers),
      post(`/imports/${id}/cancel`, other.headers),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(404);
      expect(await problemType(response)).toBe(ProblemType.notFound);
    }
    expect((await waitForBatch(pipeline, id)).status).toBe("succeeded");
  });
});

describe("GET /api/imports/{id}/devices as text/csv", () => {
  it("answers a finished batch's outcomes as a spreadsheet that matches the JSON, and filters by state", async () => {
    const devices = makeDevices(3, "CSVS");
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: devices[2]!.serialNumber });
    const id = await submit(devices);
    await waitForBatch(pipeline, id);
    const response = await get(`/imports/${id}/devices`, { ...pipeline.headers, accept: "text/csv" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toContain(`import-${id}.csv`);
    const rows = parse(await response.text(), { bom: true, columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...DEVICE_CSV_COLUMNS]);
    const json = await allDevices(pipeline, id);
    const asCsv = (v: unknown) => (v === undefined ? "" : String(v));
    expect(rows).toEqual(
      json.map((d) => ({
        index: String(d.index),
        serialNumber: d.serialNumber,
        manufacturer: asCsv(d.manufacturer),
        model: asCsv(d.model),
        warnings: ((d.warnings as { code: string }[] | undefined) ?? []).map((w) => w.code).join(";"),
        state: d.state,
        attempts: String(d.attempts),
        graphId: asCsv(d.graphId),
        importStatus: asCsv(d.importStatus),
        errorCode: asCsv(d.error?.code),
        errorName: asCsv(d.error?.name),
        errorMessage: asCsv(d.error?.message),
        graphRequestId: asCsv((d.graphRequest as { requestId?: string } | undefined)?.requestId),
        graphClientRequestId: asCsv((d.graphRequest as { clientRequestId?: string } | undefined)?.clientRequestId),
        updatedAt: asCsv(d.updatedAt),
      })),
    );
    const failedOnly = await get(`/imports/${id}/devices?status=failed`, { ...pipeline.headers, accept: "text/csv" });
    expect((parse(await failedOnly.text(), { bom: true, columns: true }) as Record<string, string>[]).map((r) => r.serialNumber)).toEqual([
      devices[2]!.serialNumber,
    ]);
    // JSON stays the default, and wins a tie.
    expect((await get(`/imports/${id}/devices`, { ...pipeline.headers, accept: "*/*" })).headers.get("content-type")).toContain(
      "application/json",
    );
  });

  it("streams a batch bigger than one table page whole, formula cells neutralised, no secrets (then cancels it)", async () => {
    const devices: CsvDevice[] = [
      ...makeDevices(1_050, "CSVL"),
      { serialNumber: "=HYPERLINK(1)", hardwareIdentifier: makeHash(991_001, 3_000, "=HYPERLINK(1)"), productKey: "XXXXX-SECRET" },
      {
        serialNumber: '@cmd, "quoted"',
        hardwareIdentifier: makeHash(991_002, 3_000, '@cmd, "quoted"'),
        assignedUserPrincipalName: "secret.user@contoso.com",
      },
    ];
    const id = await submit(devices, TENANT_B);
    // Whatever state the devices are in, every one is a row, in order.
    const response = await get(`/imports/${id}/devices`, { ...pipeline.headers, accept: "text/csv" });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toMatch(/SECRET|secret\.user/);
    for (const d of devices.slice(0, 5)) expect(text).not.toContain(d.hardwareIdentifier);
    const rows = parse(text, { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((r) => Number(r.index))).toEqual(devices.map((_, i) => i));
    expect(rows.slice(0, -2).map((r) => r.serialNumber)).toEqual(devices.slice(0, -2).map((d) => d.serialNumber));
    expect(rows.at(-2)!.serialNumber).toBe("'=HYPERLINK(1)");
    expect(rows.at(-1)!.serialNumber).toBe('\'@cmd, "quoted"');

    // Cancel it: whatever got through and whatever did not, the counts add up.
    const canceled = await post(`/imports/${id}/cancel`);
    if (canceled.status === 200) {
      const final = await waitForBatch(pipeline, id, 120_000);
      const c = final.counts;
      expect(c.imported! + c.failed! + c.canceled!).toBe(devices.length);
    } else expect(canceled.status).toBe(409);
  }, 180_000);
});
