import { randomUUID } from "node:crypto";
import createClient, { type Client } from "openapi-fetch";
import { ApiError, problemOf } from "./errors.js";
import type { paths } from "./generated/schema.js";
import { items, type Page } from "./paging.js";
import { retryingFetch, type RetryOptions } from "./retry.js";
import type {
  AcceptedBatch,
  Batch,
  BatchStatus,
  CancelResult,
  Deregistration,
  DeregistrationDeviceOutcome,
  DeregistrationRequest,
  DeregistrationState,
  Device,
  DevicePage,
  DeviceState,
  DryRunResult,
  GraphImportRequest,
  ImportRequest,
  RetryResult,
} from "./types.js";

export const DEFAULT_BASE_URL = "http://localhost:7071";

export interface ClientOptions {
  /** The API's origin (the paths carry /api), e.g. https://<app>.azurewebsites.net. */
  baseUrl?: string;
  /** A partner API key, sent as x-api-key. */
  apiKey?: string;
  retry?: RetryOptions;
  fetch?: typeof fetch;
}

/** Batch fields in the query string: how a CSV or Graph-shaped body names its tenant, tag and order. */
export interface BatchFields {
  tenantId?: string;
  groupTag?: string;
  orderIdentifier?: string;
  callbackUrl?: string;
  /** "off": accept hashes this service cannot read; Intune judges them. */
  hashCheck?: "on" | "off";
}

export interface CreateOptions extends BatchFields {
  /** Makes the create safe to repeat; one is generated when none is given. */
  idempotencyKey?: string;
}

export interface Submitted {
  batch: AcceptedBatch;
  /** The server answered with the batch an earlier request with this key created. */
  replayed: boolean;
  idempotencyKey: string;
  /** Seconds until a first poll is useful. */
  retryAfterSeconds?: number;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

function unwrap<T>({ data, error, response }: Answer<T>): T {
  if (error !== undefined || data === undefined) throw new ApiError(response.status, problemOf(response.status, error));
  return data;
}

function retryAfterSeconds(response: Response): number | undefined {
  const value = Number(response.headers.get("retry-after"));
  return response.headers.has("retry-after") && Number.isFinite(value) ? value : undefined;
}

/** The query of a nextLink (`/api/…?pageSize=…&continuationToken=…`), to ask the same operation for the next page. */
function queryOf(nextLink: string): Record<string, string> {
  return Object.fromEntries(new URL(nextLink, "http://next.link").searchParams);
}

/**
 * The autopilot-import API, typed from its OpenAPI document. `api` is the generated
 * openapi-fetch client for anything not wrapped here; every call goes through the retrying fetch.
 */
export class AutopilotImportClient {
  readonly api: Client<paths>;

  constructor(options: ClientOptions = {}) {
    this.api = createClient<paths>({
      baseUrl: (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, ""),
      headers: options.apiKey ? { "x-api-key": options.apiKey } : {},
      fetch: retryingFetch(options.fetch ?? globalThis.fetch, options.retry),
    });
  }

  /** Submits a batch as JSON, in this service's shape or Graph's import-action shape. */
  async createImport(body: ImportRequest | GraphImportRequest, options: CreateOptions = {}): Promise<Submitted> {
    const { idempotencyKey = randomUUID(), ...query } = options;
    const answer = await this.api.POST("/api/imports", { body, params: { query, header: { "Idempotency-Key": idempotencyKey } } });
    // dryRun is never sent here, so a success is the 202.
    return this.submitted(answer as Answer<AcceptedBatch>, idempotencyKey);
  }

  /** A dry run: every intake check, the devices' models and warnings; nothing is recorded or sent. */
  async checkImport(body: ImportRequest | GraphImportRequest, options: BatchFields = {}): Promise<DryRunResult> {
    const answer = await this.api.POST("/api/imports", { body, params: { query: { ...options, dryRun: true } } });
    return unwrap(answer as Answer<DryRunResult>);
  }

  /** Submits the Autopilot hardware-hash CSV as it is; batch fields go in the query string. */
  createImportFromCsv(csv: string | Uint8Array, options: CreateOptions = {}): Promise<Submitted> {
    return this.createImportFromBytes(csv, "text/csv", options);
  }

  /** Submits a file's own bytes, so the API judges exactly what the file holds (and names its line and column when it is malformed). */
  async createImportFromBytes(
    body: string | Uint8Array,
    contentType: "text/csv" | "application/json",
    options: CreateOptions = {},
  ): Promise<Submitted> {
    const { idempotencyKey = randomUUID(), ...query } = options;
    const answer = await this.api.POST("/api/imports", {
      body: body as never,
      bodySerializer: (raw: unknown) => raw as BodyInit,
      headers: { "content-type": contentType },
      params: { query, header: { "Idempotency-Key": idempotencyKey } },
    });
    return this.submitted(answer as Answer<AcceptedBatch>, idempotencyKey);
  }

  private submitted(answer: Answer<AcceptedBatch>, idempotencyKey: string): Submitted {
    const batch = unwrap(answer);
    const after = retryAfterSeconds(answer.response);
    return {
      batch,
      replayed: answer.response.headers.get("idempotent-replayed") === "true",
      idempotencyKey,
      ...(after === undefined ? {} : { retryAfterSeconds: after }),
    };
  }

  async getImport(id: string): Promise<{ batch: Batch; retryAfterSeconds?: number }> {
    const answer = await this.api.GET("/api/imports/{id}", { params: { path: { id } } });
    const after = retryAfterSeconds(answer.response);
    return { batch: unwrap(answer), ...(after === undefined ? {} : { retryAfterSeconds: after }) };
  }

  /** The caller's batches, newest first, every page. */
  batches(query: { status?: BatchStatus; createdAfter?: string; createdBefore?: string; pageSize?: number } = {}): AsyncGenerator<Batch> {
    const page = async (q: typeof query & { continuationToken?: string }): Promise<Page<Batch>> =>
      unwrap(await this.api.GET("/api/imports", { params: { query: q } }));
    return items(
      () => page(query),
      (next) => page(queryOf(next)),
    );
  }

  /** A batch's devices and their outcomes, every page (optionally one state). */
  devices(id: string, query: { status?: DeviceState; pageSize?: number } = {}): AsyncGenerator<Device> {
    // The document's text/csv answer comes only with Accept: text/csv, which this call never sends.
    const page = async (q: typeof query & { continuationToken?: string }): Promise<Page<Device>> =>
      unwrap(await this.api.GET("/api/imports/{id}/devices", { params: { path: { id }, query: q } })) as DevicePage;
    return items(
      () => page({ pageSize: 1000, ...query }),
      (next) => page(queryOf(next) as typeof query),
    );
  }

  async retryImport(id: string): Promise<RetryResult> {
    return unwrap(await this.api.POST("/api/imports/{id}/retry", { params: { path: { id } } }));
  }

  async cancelImport(id: string): Promise<CancelResult> {
    return unwrap(await this.api.POST("/api/imports/{id}/cancel", { params: { path: { id } } }));
  }

  /**
   * Erases a finished batch from the service, every record of it (the devices stay in Intune).
   * Throws ApiError 409 while it runs (cancel it, wait for it, then erase) and 404 once it is
   * erased (or was never the caller's).
   */
  async eraseImport(id: string): Promise<void> {
    const { error, response } = await this.api.DELETE("/api/imports/{id}", { params: { path: { id } } });
    if (error !== undefined || response.status !== 204) throw new ApiError(response.status, problemOf(response.status, error));
  }

  /**
   * Submits returned, resold or swapped devices (by serial number) to be deregistered from the
   * tenant's Windows Autopilot devices: a JSON body, or a CSV's bytes (the Autopilot CSV works).
   */
  async createDeregistration(body: DeregistrationRequest, options: { idempotencyKey?: string } = {}): Promise<Submitted> {
    const { idempotencyKey = randomUUID() } = options;
    const answer = await this.api.POST("/api/deregistrations", { body, params: { header: { "Idempotency-Key": idempotencyKey } } });
    return this.submitted(answer as Answer<AcceptedBatch>, idempotencyKey);
  }

  async createDeregistrationFromCsv(
    csv: string | Uint8Array,
    options: { tenantId?: string; callbackUrl?: string; idempotencyKey?: string } = {},
  ): Promise<Submitted> {
    const { idempotencyKey = randomUUID(), ...query } = options;
    const answer = await this.api.POST("/api/deregistrations", {
      body: csv as never,
      bodySerializer: (raw: unknown) => raw as BodyInit,
      headers: { "content-type": "text/csv" },
      params: { query, header: { "Idempotency-Key": idempotencyKey } },
    });
    return this.submitted(answer as Answer<AcceptedBatch>, idempotencyKey);
  }

  async getDeregistration(id: string): Promise<{ batch: Deregistration; retryAfterSeconds?: number }> {
    const answer = await this.api.GET("/api/deregistrations/{id}", { params: { path: { id } } });
    const after = retryAfterSeconds(answer.response);
    return { batch: unwrap(answer), ...(after === undefined ? {} : { retryAfterSeconds: after }) };
  }

  /** The caller's deregistration batches, newest first, every page. */
  deregistrations(
    query: { status?: BatchStatus; createdAfter?: string; createdBefore?: string; pageSize?: number } = {},
  ): AsyncGenerator<Deregistration> {
    const page = async (q: typeof query & { continuationToken?: string }): Promise<Page<Deregistration>> =>
      unwrap(await this.api.GET("/api/deregistrations", { params: { query: q } }));
    return items(
      () => page(query),
      (next) => page(queryOf(next)),
    );
  }

  /** A deregistration batch's devices and their outcomes, every page (optionally one state). */
  deregistrationDevices(
    id: string,
    query: { status?: DeregistrationState; pageSize?: number } = {},
  ): AsyncGenerator<DeregistrationDeviceOutcome> {
    const page = async (q: typeof query & { continuationToken?: string }): Promise<Page<DeregistrationDeviceOutcome>> =>
      unwrap(await this.api.GET("/api/deregistrations/{id}/devices", { params: { path: { id }, query: q } }));
    return items(
      () => page({ pageSize: 1000, ...query }),
      (next) => page(queryOf(next) as typeof query),
    );
  }

  /**
   * Polls a batch until it is no longer running, as often as its Retry-After says (never more
   * often than `minPollMs`), telling `onUpdate` each view; answers the final one.
   */
  async waitForImport(id: string, options: { onUpdate?: (batch: Batch) => void; minPollMs?: number } = {}): Promise<Batch> {
    const minPollMs = options.minPollMs ?? 1_000;
    for (;;) {
      const { batch, retryAfterSeconds } = await this.getImport(id);
      options.onUpdate?.(batch);
      if (batch.status !== "running") return batch;
      await new Promise((resolve) => setTimeout(resolve, Math.max(minPollMs, (retryAfterSeconds ?? 2) * 1000)));
    }
  }
}

export function createAutopilotImportClient(options: ClientOptions = {}): AutopilotImportClient {
  return new AutopilotImportClient(options);
}
