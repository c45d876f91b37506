import { z } from "zod";
import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { isIndexRowKey, type BatchIndex, type BatchIndexEntity } from "../storage/batchIndex.js";
import type { ImportStore } from "../storage/importStore.js";
import { batchStatusSchema } from "../status/viewSchemas.js";
import type { BatchStatus } from "../model/batchStatus.js";
import { ownedBy } from "../status/statusHandlers.js";
import { toBatchView } from "../status/statusViews.js";
import { forEachLimited } from "../storage/importStore.js";

export const DEFAULT_BATCH_PAGE_SIZE = 20;
/** Each batch on a page costs one 17-row read of its counters, so pages stay small. */
export const MAX_BATCH_PAGE_SIZE = 100;

const instant = (what: string) => z.iso.datetime({ offset: true }).describe(`${what} (ISO 8601, e.g. 2026-11-29T00:00:00Z).`);

export const batchListQuerySchema = z.object({
  status: batchStatusSchema.optional(),
  createdAfter: instant("Only batches created after this instant").optional(),
  createdBefore: instant("Only batches created before this instant").optional(),
  pageSize: z.coerce.number().int().min(1).max(MAX_BATCH_PAGE_SIZE).default(DEFAULT_BATCH_PAGE_SIZE).describe("Batches per page."),
  continuationToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "not a token this service issued")
    .max(512)
    .optional()
    .describe("Opaque: from the previous page's nextLink."),
});

export interface ListBatchesDeps {
  store: ImportStore;
  index: BatchIndex;
}

/**
 * GET /api/imports: the caller's batches, newest first, from the `importsbypartner` index (one
 * row per batch, never a device row), each shown with the same view GET /api/imports/{id}
 * answers. A page reads at most pageSize + 1 index rows and pageSize batch summaries.
 *
 * The index's status is recorded when a batch's poll rounds end, so it can lag the live status
 * by one round; each listed batch is checked against its live status, a batch whose live status
 * no longer matches the filter is left off the page (which may then be shorter than pageSize),
 * and a stale index row is corrected on the way.
 */
export async function listBatches(deps: ListBatchesDeps, query: URLSearchParams, caller: Caller): Promise<AppResponse> {
  return listBatchesOf(
    {
      index: deps.index,
      path: "/api/imports",
      async read(batchId) {
        const summary = await deps.store.readSummary(batchId);
        // No header: the intake died before the batch was accepted, or it is erased. Another
        // partner's, one being erased, or another kind of batch: never shown.
        if (!summary || !ownedBy(summary.batch, caller)) return undefined;
        return { view: toBatchView(summary), recordStatus: (status) => deps.store.recordStatus(summary.batch, status) };
      },
    },
    query,
    caller,
  );
}

/** One kind of batch, as its list shows it. */
export interface BatchLister<V extends { status: BatchStatus }> {
  index: Pick<BatchIndex, "list">;
  /** The list's own path, for nextLink. */
  path: string;
  /** The caller's batch as the list shows it, and how to correct its list row; undefined when it is not to be shown. */
  read(batchId: string): Promise<{ view: V; recordStatus(status: BatchStatus): Promise<void> } | undefined>;
}

/** The list of any kind of batch (GET /api/imports, GET /api/deregistrations): the index, newest first, each batch's live view. */
export async function listBatchesOf<V extends { status: BatchStatus }>(
  deps: BatchLister<V>,
  query: URLSearchParams,
  caller: Caller,
): Promise<AppResponse> {
  const parsed = batchListQuerySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) return invalidQuery(parsed.error.issues.map((issue) => ({ field: String(issue.path[0]), message: issue.message })));
  const { status, createdAfter, createdBefore, pageSize, continuationToken } = parsed.data;
  const after = continuationToken === undefined ? undefined : decodeToken(continuationToken);
  if (after === null) return invalidQuery([{ field: "continuationToken", message: "not a token this service issued" }]);

  const rows = await deps.index.list(caller.partnerId, {
    ...(status ? { status } : {}),
    ...(createdAfter ? { createdAfter: Date.parse(createdAfter) } : {}),
    ...(createdBefore ? { createdBefore: Date.parse(createdBefore) } : {}),
    ...(after ? { after } : {}),
    take: pageSize + 1,
  });
  const page = rows.slice(0, pageSize);
  const views = new Map<string, V>();
  await forEachLimited(page, 16, async (row) => {
    const found = await deps.read(row.batchId);
    if (!found) return;
    const { view } = found;
    if (view.status !== row.status && view.status !== "running") await found.recordStatus(view.status);
    if (status === undefined || view.status === status) views.set(row.rowKey, view);
  });

  const body: { value: V[]; nextLink?: string } = { value: page.flatMap((row) => views.get(row.rowKey) ?? []) };
  if (rows.length > pageSize) body.nextLink = nextLink(parsed.data, page.at(-1)!, deps.path);
  return json(200, body);
}

function nextLink(query: z.output<typeof batchListQuerySchema>, last: BatchIndexEntity, path: string): string {
  const next = new URLSearchParams();
  if (query.status) next.set("status", query.status);
  if (query.createdAfter) next.set("createdAfter", query.createdAfter);
  if (query.createdBefore) next.set("createdBefore", query.createdBefore);
  next.set("pageSize", String(query.pageSize));
  next.set("continuationToken", Buffer.from(last.rowKey, "utf8").toString("base64url"));
  return `${path}?${next}`;
}

/** The token is the last index RowKey of the previous page; the partition is always the caller's own. */
function decodeToken(token: string): string | null {
  const rowKey = Buffer.from(token, "base64url").toString("utf8");
  return isIndexRowKey(rowKey) ? rowKey : null;
}

function invalidQuery(errors: { field: string; message: string }[]): AppResponse {
  return problemResponse(problem(ProblemType.invalidQuery, 400, "Invalid query", "The query string has invalid parameters.", { errors }));
}
