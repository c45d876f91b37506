import { z } from "zod";
import type { Caller } from "../auth/caller.js";
import { listBatchesOf } from "../batches/listBatches.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { ownedBy, DEFAULT_DEVICE_PAGE_SIZE, MAX_DEVICE_PAGE_SIZE } from "../status/statusHandlers.js";
import type { DeregistrationStore } from "./deregistrationStore.js";
import type { ImportStore } from "../storage/importStore.js";
import { toNotificationView } from "../webhooks/notificationRecord.js";
import type { NotificationStore } from "../webhooks/notificationStore.js";
import {
  DEREGISTRATION_EVENT_TYPE,
  deregistrationLinks,
  deregistrationStateSchema,
  toDeregistrationDeviceView,
  toDeregistrationView,
  type DeregistrationView,
} from "./deregistrationViews.js";

export interface DeregistrationStatusDeps {
  deregistrations: DeregistrationStore;
  /** For correcting a list row's status and expiry (the header lives in the imports table). */
  store: Pick<ImportStore, "recordStatus">;
  retryAfterSeconds: number;
  webhookEvents?: Pick<NotificationStore, "readEvent">;
}

const batchIdSchema = z.uuid();
const missing = (id: string) => notFound(`No deregistration batch has the id '${id.slice(0, 64)}'.`);

/** The batch's view, or undefined when it is not the caller's to see (another partner's, an import batch, one being erased). */
async function readOwned(deps: DeregistrationStatusDeps, id: string, caller: Caller) {
  if (!batchIdSchema.safeParse(id).success) return undefined;
  const summary = await deps.deregistrations.readSummary(id);
  return summary && ownedBy(summary.batch, caller, "deregistration") ? summary : undefined;
}

/** GET /api/deregistrations/{id}: counts per device state and, with a callbackUrl, the completion webhook. */
export async function getDeregistration(deps: DeregistrationStatusDeps, id: string, caller: Caller): Promise<AppResponse> {
  const summary = await readOwned(deps, id, caller);
  if (!summary) return missing(id);
  const view: DeregistrationView = toDeregistrationView(summary);
  const event = summary.batch.callbackUrl ? await deps.webhookEvents?.readEvent(id) : undefined;
  const notification = toNotificationView(summary.batch.callbackUrl, event);
  const shown = notification
    ? (({ eventType, ...rest }) => ({ ...rest, ...(eventType ? { eventType: DEREGISTRATION_EVENT_TYPE } : {}) }))(notification)
    : undefined;
  const body: DeregistrationView = { ...view, ...(shown ? { notification: shown } : {}) };
  return json(200, body, view.status === "running" ? { "retry-after": String(deps.retryAfterSeconds) } : {});
}

export const deregistrationDeviceQuerySchema = z.object({
  status: deregistrationStateSchema.optional(),
  pageSize: z.coerce.number().int().min(1).max(MAX_DEVICE_PAGE_SIZE).default(DEFAULT_DEVICE_PAGE_SIZE),
  continuationToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "not a token this service issued")
    .max(2048)
    .optional(),
});

/** GET /api/deregistrations/{id}/devices: each device's outcome, paged. */
export async function listDeregistrationDevices(
  deps: DeregistrationStatusDeps,
  id: string,
  query: URLSearchParams,
  caller: Caller,
): Promise<AppResponse> {
  const parsed = deregistrationDeviceQuerySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) {
    return problemResponse(
      problem(ProblemType.invalidQuery, 400, "Invalid query", "The query string has invalid parameters.", {
        errors: parsed.error.issues.map((issue) => ({ field: String(issue.path[0]), message: issue.message })),
      }),
    );
  }
  if (!batchIdSchema.safeParse(id).success || !ownedBy(await deps.deregistrations.readBatch(id), caller, "deregistration"))
    return missing(id);
  const { status, pageSize, continuationToken } = parsed.data;
  let page;
  try {
    page = await deps.deregistrations.listDevices(id, {
      pageSize,
      ...(status ? { state: status } : {}),
      ...(continuationToken ? { continuationToken: Buffer.from(continuationToken, "base64url").toString("utf8") } : {}),
    });
  } catch (error) {
    if (continuationToken && (error as { statusCode?: number }).statusCode === undefined) {
      return problemResponse(
        problem(ProblemType.invalidQuery, 400, "Invalid query", "continuationToken is not a token this service issued."),
      );
    }
    throw error;
  }
  const next = new URLSearchParams({ ...(status ? { status } : {}), pageSize: String(pageSize) });
  if (page.continuationToken) next.set("continuationToken", Buffer.from(page.continuationToken, "utf8").toString("base64url"));
  return json(200, {
    value: page.devices.map(toDeregistrationDeviceView),
    ...(page.continuationToken ? { nextLink: `${deregistrationLinks(id).devices}?${next}` } : {}),
  });
}

/** GET /api/deregistrations: the caller's deregistration batches, newest first, as the import list does it. */
export async function listDeregistrations(deps: DeregistrationStatusDeps, query: URLSearchParams, caller: Caller): Promise<AppResponse> {
  return listBatchesOf(
    {
      index: deps.deregistrations.index,
      path: "/api/deregistrations",
      async read(batchId) {
        const summary = await readOwned(deps, batchId, caller);
        if (!summary) return undefined;
        return {
          view: toDeregistrationView(summary),
          recordStatus: async (status) => {
            await deps.deregistrations.index.setStatus(
              { partnerId: summary.batch.partnerId, batchId, createdAt: summary.batch.createdAt },
              status,
              summary.batch.expiresAt || undefined,
            );
          },
        };
      },
    },
    query,
    caller,
  );
}
