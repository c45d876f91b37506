import { z } from "zod";
import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import type { ImportStore } from "../storage/importStore.js";
import type { BatchKind } from "../storage/importEntities.js";
import { deviceStateSchema, profileStateSchema, type DevicePage as DevicePageBody } from "./viewSchemas.js";
import { batchLinks, toBatchView, toDeviceView } from "./statusViews.js";
import { toNotificationView } from "../webhooks/notificationRecord.js";
import { readDevicePage } from "./readDevicePage.js";
import type { NotificationStore } from "../webhooks/notificationStore.js";

export const DEFAULT_DEVICE_PAGE_SIZE = 100;
/** Table storage returns at most 1,000 entities a page. */
export const MAX_DEVICE_PAGE_SIZE = 1000;

export interface StatusDeps {
  store: ImportStore;
  retryAfterSeconds: number;
  /** The batch's webhook event, shown as `notification` when the batch has a callbackUrl. */
  webhookEvents?: Pick<NotificationStore, "readEvent">;
}

const batchIdSchema = z.uuid();

/**
 * Another partner's batch is answered exactly like a batch that does not exist (404, not 403),
 * so batch ids reveal nothing across partners; so is one being erased, from the moment its
 * erasure begins.
 */
export function ownedBy(
  batch: { partnerId?: string; erasingAt?: string; kind?: BatchKind } | undefined,
  caller: Caller,
  kind: BatchKind = "import",
): boolean {
  // An import route never answers for a deregistration batch, nor the other way round.
  return batch !== undefined && !batch.erasingAt && batch.partnerId === caller.partnerId && (batch.kind ?? "import") === kind;
}

export async function getBatchStatus(deps: StatusDeps, id: string, caller: Caller): Promise<AppResponse> {
  if (!batchIdSchema.safeParse(id).success) return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  const summary = await deps.store.readSummary(id);
  if (!summary || !ownedBy(summary.batch, caller)) return notFound(`No import batch has the id '${id}'.`);
  const view = toBatchView(summary);
  const event = summary.batch.callbackUrl ? await deps.webhookEvents?.readEvent(id) : undefined;
  const notification = toNotificationView(summary.batch.callbackUrl, event);
  return json(
    200,
    { ...view, ...(notification ? { notification } : {}) },
    view.status === "running" ? { "retry-after": String(deps.retryAfterSeconds) } : {},
  );
}

export const deviceListQuerySchema = z.object({
  status: deviceStateSchema.optional(),
  profileStatus: profileStateSchema
    .optional()
    .describe("Only imported devices of a batch followed to its profiles with this profile status (e.g. notAssigned: the ones not ready)."),
  pageSize: z.coerce.number().int().min(1).max(MAX_DEVICE_PAGE_SIZE).default(DEFAULT_DEVICE_PAGE_SIZE),
  continuationToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "not a token this service issued")
    .max(2048)
    .optional(),
});

export async function listBatchDevices(deps: StatusDeps, id: string, query: URLSearchParams, caller: Caller): Promise<AppResponse> {
  const parsed = deviceListQuerySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) {
    return problemResponse(
      problem(ProblemType.invalidQuery, 400, "Invalid query", "The query string has invalid parameters.", {
        errors: parsed.error.issues.map((issue) => ({ field: String(issue.path[0]), message: issue.message })),
      }),
    );
  }
  const batch = batchIdSchema.safeParse(id).success ? await deps.store.readBatch(id) : undefined;
  if (!batch || !ownedBy(batch, caller)) {
    return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  }
  const { status, profileStatus, pageSize, continuationToken } = parsed.data;
  let tableToken: string | undefined;
  if (continuationToken) {
    tableToken = Buffer.from(continuationToken, "base64url").toString("utf8");
  }
  let page;
  try {
    page = await readDevicePage(deps.store, batch, {
      pageSize,
      ...(status ? { state: status } : {}),
      ...(profileStatus ? { profileState: profileStatus } : {}),
      ...(tableToken ? { continuationToken: tableToken } : {}),
    });
  } catch (error) {
    if (continuationToken && (error as { statusCode?: number }).statusCode === undefined) {
      return problemResponse(
        problem(ProblemType.invalidQuery, 400, "Invalid query", "continuationToken is not a token this service issued."),
      );
    }
    throw error;
  }
  const next = new URLSearchParams({
    ...(status ? { status } : {}),
    ...(profileStatus ? { profileStatus } : {}),
    pageSize: String(pageSize),
  });
  if (page.continuationToken) next.set("continuationToken", Buffer.from(page.continuationToken, "utf8").toString("base64url"));
  const body: DevicePageBody = {
    value: page.devices.map(toDeviceView),
    ...(page.continuationToken ? { nextLink: `${batchLinks(id).devices}?${next}` } : {}),
  };
  // The same URL answers CSV too (exportDevicesCsv.ts), by the Accept header.
  return json(200, body, { vary: "accept" });
}
