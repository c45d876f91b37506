import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { isBatchId } from "./batchId.js";
import type { StoredDevicePage, ImportStore } from "../storage/importStore.js";
import { CSV_CONTENT_TYPE, csvHeader, csvRow } from "./deviceCsv.js";
import { readDevicePage } from "./readDevicePage.js";
import { deviceListQuerySchema, MAX_DEVICE_PAGE_SIZE, ownedBy } from "./statusHandlers.js";

/**
 * GET /api/imports/{id}/devices with `Accept: text/csv`: every device of the batch (or of one
 * state, with `status`) as a spreadsheet, read from the table a page of 1,000 at a time and sent
 * as each page arrives, so a 10,000-device batch never sits in memory whole. The first page is
 * read before answering, so a storage failure is still a proper 500 problem.
 */
export async function exportDevicesCsv(
  deps: { store: ImportStore },
  id: string,
  query: URLSearchParams,
  caller: Caller,
): Promise<AppResponse> {
  const parsed = deviceListQuerySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) {
    return problemResponse(
      problem(ProblemType.invalidQuery, 400, "Invalid query", "The query string has invalid parameters.", {
        errors: parsed.error.issues.map((issue) => ({ field: String(issue.path[0]), message: issue.message })),
      }),
    );
  }
  const batch = isBatchId(id) ? await deps.store.readBatch(id) : undefined;
  if (!batch || !ownedBy(batch, caller)) return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  const state = parsed.data.status;
  const read = (continuationToken?: string) =>
    readDevicePage(deps.store, batch, {
      pageSize: MAX_DEVICE_PAGE_SIZE,
      ...(state ? { state } : {}),
      ...(continuationToken ? { continuationToken } : {}),
    });
  const first = await read();
  return {
    status: 200,
    headers: {
      "content-type": CSV_CONTENT_TYPE,
      "content-disposition": `attachment; filename="import-${id}${state ? `-${state}` : ""}.csv"`,
      vary: "accept",
    },
    stream: csvPages(first, read),
  };
}

async function* csvPages(first: StoredDevicePage, read: (continuationToken?: string) => Promise<StoredDevicePage>): AsyncGenerator<string> {
  yield csvHeader();
  let page = first;
  for (;;) {
    if (page.devices.length) yield page.devices.map(csvRow).join("");
    if (!page.continuationToken) return;
    page = await read(page.continuationToken);
  }
}
