import { afterEach } from "vitest";
import { SimulatorCredential } from "../../../src/graph/devCredential.js";
import { BEHAVIOUR_DEFAULTS, startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../../../src/dev/simulator/index.js";
import { syntheticHash } from "../../../src/dev/simulator/syntheticHash.js";

/** A clock the test moves by hand, so time-dependent behaviour needs no sleeping. */
export class ManualClock {
  constructor(public t = Date.UTC(2025, 0, 1)) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const TENANT_A = "11111111-1111-1111-1111-111111111111";
export const TENANT_B = "22222222-2222-2222-2222-222222222222";
export const APP_1 = "aaaaaaaa-0000-0000-0000-000000000001";
export const APP_2 = "aaaaaaaa-0000-0000-0000-000000000002";

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const COLLECTION = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities";

export async function tokenFor(tenantId: string, appId: string, signingKey?: string): Promise<string> {
  const credential = new SimulatorCredential({ tenantId, appId, ...(signingKey ? { signingKey } : {}) });
  return (await credential.getToken(GRAPH_SCOPE)).token;
}

/** A minimal Graph client for one (tenant, app), speaking plain fetch to the simulator. */
export class GraphCaller {
  private constructor(
    readonly sim: GraphSimulator,
    readonly token: string,
  ) {}

  static async as(sim: GraphSimulator, tenantId: string, appId = APP_1): Promise<GraphCaller> {
    return new GraphCaller(sim, await tokenFor(tenantId, appId));
  }

  request(method: string, pathOrUrl: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${this.sim.url}${pathOrUrl}`;
    return fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  create(device: Record<string, unknown>): Promise<Response> {
    return this.request("POST", COLLECTION, device);
  }

  async createOk(device: Record<string, unknown>): Promise<DeviceJson> {
    const res = await this.create(device);
    if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${await res.text()}`);
    return (await res.json()) as DeviceJson;
  }

  async getOk(id: string): Promise<DeviceJson> {
    const res = await this.request("GET", `${COLLECTION}/${id}`);
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`);
    return (await res.json()) as DeviceJson;
  }
}

export interface DeviceJson {
  id: string;
  serialNumber: string | null;
  hardwareIdentifier: string | null;
  importId: string | null;
  productKey: string | null;
  state: { deviceImportStatus: string; deviceRegistrationId: string; deviceErrorCode: number; deviceErrorName: string };
  [key: string]: unknown;
}

export interface ListPageJson {
  "@odata.context": string;
  value: DeviceJson[];
  "@odata.nextLink"?: string;
}

/**
 * Follows @odata.nextLink as a careful client does: until there is none, or until a link
 * repeats the one that fetched the page (the observed simulator's last page does, as Intune's
 * sibling collection was seen to: microsoft-graph-docs issue #8186). `between` runs after each page.
 */
export async function walk(
  caller: GraphCaller,
  firstUrl: string,
  between?: (page: number) => Promise<void>,
): Promise<{ seen: string[]; pages: number; repeatedLink: string | undefined }> {
  const seen: string[] = [];
  let next: string | undefined = firstUrl;
  let pages = 0;
  for (;;) {
    const res = await caller.request("GET", next);
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as ListPageJson;
    seen.push(...body.value.map((d) => d.id));
    pages++;
    await between?.(pages);
    const link = body["@odata.nextLink"];
    if (link === undefined) return { seen, pages, repeatedLink: undefined };
    if (link === next) return { seen, pages, repeatedLink: link };
    if (pages > 1_000) throw new Error("walk did not end");
    next = link;
  }
}

/** The JSON document Intune serialises into `error.message` (observed behaviour). */
export interface IntuneMessageJson {
  _version: number;
  Message: string;
  CustomApiErrorPhrase: string;
  RetryAfter: unknown;
  ErrorSourceService: string;
  HttpHeaders: string;
}

export function intuneMessageOf(error: GraphErrorJson): IntuneMessageJson {
  return JSON.parse(error.error.message) as IntuneMessageJson;
}

export interface GraphErrorJson {
  error: { code: string; message: string; innerError: { date: string; "request-id": string; "client-request-id": string } };
}

let deviceCounter = 0;

/** A distinct device each call: serial and a synthetic hash naming it. */
export function device(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  deviceCounter++;
  const serial = `SN-${process.pid}-${deviceCounter}`;
  return {
    "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
    serialNumber: serial,
    hardwareIdentifier: syntheticHash({ serialNumber: serial, seed: deviceCounter }),
    groupTag: "Lab",
    importId: `import-${deviceCounter}`,
    ...overrides,
  };
}

/** The observed list lag at timeScale 1: advance a ManualClock by this before expecting a record in a list. */
export const OBSERVED_LIST_LAG_MS = BEHAVIOUR_DEFAULTS.observed.listLagMs;

/** Starts a simulator for the test file and stops it after; options may depend on a fresh clock. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<GraphSimulator> {
  return startGraphSimulator({ settleDelayMs: 2_000, ...options });
}

/**
 * For a test file: `setup(options)` starts a simulator on a fresh manual clock (over `defaults`)
 * with a caller in TENANT_A; every simulator a test started is stopped after it.
 */
export function useSimulatorPerTest(defaults: SimulatorOptions = {}) {
  const running: GraphSimulator[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sim) => sim.stop()));
  });
  return async function setup(options: SimulatorOptions = {}) {
    const clock = new ManualClock();
    const sim = await startSimulator({ now: clock.now, ...defaults, ...options });
    running.push(sim);
    return { clock, sim, a: await GraphCaller.as(sim, TENANT_A) };
  };
}
