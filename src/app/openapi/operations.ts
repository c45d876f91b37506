import { z } from "zod";
import { batchIdSchema } from "../../status/batchId.js";
import { batchListQuerySchema } from "../../batches/listBatches.js";
import { RETRYABLE_ERROR_CODES } from "../../batches/retryableFailures.js";
import { ProblemType } from "../../http/problem.js";
import { graphImportActionSchema, importRequestSchema } from "../../intake/deviceSchema.js";
import { DEVICE_CSV_COLUMNS } from "../../status/deviceCsv.js";
import { deviceListQuerySchema } from "../../status/statusHandlers.js";
import {
  acceptedBatchSchema,
  batchPageSchema,
  batchViewSchema,
  cancelResultSchema,
  devicePageSchema,
  dryRunResultSchema,
  retryResultSchema,
} from "../../status/viewSchemas.js";
import { DEREGISTRATION_MAX_DEVICES, deregistrationRequestSchema } from "../../deregistration/deregistrationRequest.js";
import { deregistrationDeviceQuerySchema } from "../../deregistration/deregistrationStatus.js";
import {
  deregistrationDevicePageSchema,
  deregistrationPageSchema,
  deregistrationViewSchema,
} from "../../deregistration/deregistrationViews.js";
import type { JsonSchema, OperationSpec } from "./operationSpec.js";

const retryAfter = { description: "Seconds until asking again is useful.", schema: { type: "integer", minimum: 0 } };
const location = { description: "The batch's status URL.", schema: { type: "string" } };
const idParam = { id: batchIdSchema };
const notFoundResponse = {
  description: "No batch of the caller's has this id (another partner's batch answers the same).",
  problems: [ProblemType.notFound],
} as const;
const invalidQueryResponse = {
  description: "A query parameter is invalid; `errors` names each.",
  problems: [ProblemType.invalidQuery],
} as const;

/** tenantId, orderIdentifier, groupTag, callbackUrl, followUntil, onExisting and hashCheck: in the JSON body, or in the query string for CSV and Graph's shape. */
function batchFieldsFromBody(): Record<string, JsonSchema> {
  const body = z.toJSONSchema(importRequestSchema, { io: "input" }) as { properties: Record<string, JsonSchema> };
  const { tenantId, orderIdentifier, groupTag, callbackUrl, followUntil, onExisting, hashCheck } = body.properties;
  return {
    tenantId: tenantId!,
    orderIdentifier: orderIdentifier!,
    groupTag: groupTag!,
    callbackUrl: callbackUrl!,
    followUntil: followUntil!,
    onExisting: onExisting!,
    hashCheck: hashCheck!,
  };
}

const dryRunParameter: JsonSchema = {
  type: "boolean",
  description:
    "true: run every check (hashes included) and answer 200 with each device's serial number, manufacturer, model and warnings, or the same 400 as a submission; " +
    "nothing is recorded or queued and an Idempotency-Key is neither claimed nor replayed. Counts against the partner's rate limit like any POST.",
};

const csvBody: JsonSchema = {
  type: "string",
  description:
    "The hardware-hash CSV Get-WindowsAutopilotInfo writes: header `Device Serial Number,Windows Product ID,Hardware Hash`, " +
    "optional `Group Tag` and `Assigned User`; UTF-8 (with or without BOM) or UTF-16 with BOM, `,` `;` or tab separated. " +
    "Batch fields come from the query string.",
};

/**
 * Every HTTP function's contract, by function name (src/app/functionDefinitions.ts). The OpenAPI
 * document is built from these and the definitions' routes, methods and access; a function
 * without an entry here shows in the document as undocumented, and the contract test fails.
 */
export const operations: Readonly<Record<string, OperationSpec>> = {
  createImport: {
    tag: "Imports",
    summary: "Submit a batch of devices",
    description:
      "Validates the whole batch (all or nothing; each hardware hash is read and checked unless hashCheck=off), records it, queues one message per device " +
      "in the tenant's Intune write budget, and answers 202 at once. JSON (this service's shape or Graph's import-action body) or the Autopilot CSV. " +
      "With dryRun=true, only checks and answers 200.",
    queryProperties: { ...batchFieldsFromBody(), dryRun: dryRunParameter },
    headers: {
      "Idempotency-Key": {
        description:
          "Makes the request safe to repeat (IETF httpapi draft): the same key with the same body answers the original batch and queues nothing again; " +
          "with a different body 422; while the first is still being processed 409. Kept at least 24 h, per partner.",
        schema: { type: "string", minLength: 1, maxLength: 255 },
      },
    },
    requestBody: {
      description: "The batch.",
      required: true,
      json: [importRequestSchema, graphImportActionSchema],
      other: { "text/csv": csvBody, "application/csv": csvBody },
    },
    responses: {
      200: { description: "dryRun=true: the batch passed every check; nothing was recorded.", json: dryRunResultSchema },
      202: {
        description: "Accepted: poll the Location.",
        json: acceptedBatchSchema,
        headers: { Location: location, "Retry-After": retryAfter },
      },
      400: {
        description: "Invalid batch: every problem, with device index, CSV line, field and, for hash problems, a code.",
        problems: [
          ProblemType.validation,
          ProblemType.malformedBody,
          ProblemType.noDevices,
          ProblemType.invalidIdempotencyKey,
          ProblemType.invalidQuery,
        ],
      },
      403: { description: "The partner may not import into this tenant.", problems: [ProblemType.tenantNotAllowed] },
      409: { description: "A request with this Idempotency-Key is still being processed.", problems: [ProblemType.idempotencyKeyInFlight] },
      413: { description: "Too many devices, or the body is too large.", problems: [ProblemType.tooManyDevices, ProblemType.bodyTooLarge] },
      415: { description: "Neither JSON nor CSV.", problems: [ProblemType.unsupportedMediaType] },
      422: { description: "This Idempotency-Key was used with a different request.", problems: [ProblemType.idempotencyKeyReused] },
      429: {
        description: "The partner's intake rate is exceeded.",
        problems: [ProblemType.rateLimited],
        headers: { "Retry-After": retryAfter },
      },
      503: {
        description: "Storage unavailable; nothing was accepted.",
        problems: [ProblemType.storageUnavailable],
        headers: { "Retry-After": retryAfter },
      },
    },
  },
  listImports: {
    tag: "Imports",
    summary: "List the caller's batches",
    description:
      "Newest first, filtered by status and creation time, paged by `nextLink`. Each item is the view GET /api/imports/{id} answers. " +
      "A batch that has just finished can show under `running` filters until its next poll round; a page may hold fewer than pageSize items.",
    query: batchListQuerySchema,
    responses: {
      200: { description: "A page of batches.", json: batchPageSchema },
      400: invalidQueryResponse,
    },
  },
  getImport: {
    tag: "Imports",
    summary: "A batch's status",
    description: "Counts per device state; the same cost for 10 devices or 10,000.",
    pathParams: idParam,
    responses: {
      200: {
        description: "The batch.",
        json: batchViewSchema,
        headers: { "Retry-After": { ...retryAfter, description: "While the batch runs." } },
      },
      404: notFoundResponse,
    },
  },
  listImportDevices: {
    tag: "Imports",
    summary: "A batch's devices and their outcomes",
    description:
      "JSON pages (`nextLink`), or with `Accept: text/csv` the whole batch (or one state) as a spreadsheet, streamed a page of the table at a time. " +
      "Never a hardware hash, product key or user principal name.",
    pathParams: idParam,
    query: deviceListQuerySchema,
    responses: {
      200: {
        description: "A page of devices, or the CSV.",
        json: devicePageSchema,
        csv:
          `Columns ${DEVICE_CSV_COLUMNS.join(", ")}; UTF-8 with BOM, CRLF, RFC 4180 quoting. ` +
          "A cell starting with =, +, -, @, tab or CR is prefixed with ' so a spreadsheet never runs it. pageSize and continuationToken are ignored.",
      },
      400: invalidQueryResponse,
      404: notFoundResponse,
    },
  },
  retryImport: {
    tag: "Imports",
    summary: "Retry a finished batch's retryable failures",
    description:
      `Sends the failed devices whose failure a retry can cure (${RETRYABLE_ERROR_CODES.join(", ")}) through Graph again, as new attempts, ` +
      "in the tenant's write budget, and follows them to their end. Intune's import errors (806, 808, 802, …) and Graph's 4xx refusals are not retried.",
    pathParams: idParam,
    responses: {
      202: {
        description: "The devices are queued again; the batch runs.",
        json: retryResultSchema,
        headers: { Location: location, "Retry-After": retryAfter },
      },
      404: notFoundResponse,
      409: {
        description: "The batch is still running, was canceled, or has no retryable failure.",
        problems: [ProblemType.batchStillRunning, ProblemType.batchCanceled, ProblemType.nothingToRetry],
      },
    },
  },
  cancelImport: {
    tag: "Imports",
    summary: "Cancel a running batch",
    description:
      "Devices that have not reached Graph (queued, retrying) end as `canceled`; one being created finishes that attempt, and imports Graph accepted " +
      "are followed to their end. The batch's status becomes `canceled` once nothing runs. Canceling twice is harmless.",
    pathParams: idParam,
    responses: {
      200: { description: "What was canceled.", json: cancelResultSchema },
      404: notFoundResponse,
      409: { description: "The batch has already finished.", problems: [ProblemType.batchAlreadyFinished] },
    },
  },
  eraseImport: {
    tag: "Imports",
    summary: "Erase a finished batch",
    description:
      "Erases the batch and every row of it in every table (devices with their hashes, product keys and users, counters, its webhook event and any " +
      "delivery still pending, the Idempotency-Key records that answered for it, its place in the list). From the 204 on, the batch is not found " +
      "(GET, the list, a second DELETE: 404), and a request repeated with its Idempotency-Key makes a new batch. Devices already imported stay in " +
      "Intune: this erases what this service keeps, not the devices. A finished batch is erased anyway `BATCH_RETENTION_DAYS` after it finished " +
      "(`expiresAt`).",
    pathParams: idParam,
    responses: {
      204: { description: "Erased: nothing of the batch is readable any more; what a crash interrupted is finished within minutes." },
      404: notFoundResponse,
      409: {
        description: "The batch is still running: cancel it first, then erase it once it has finished.",
        problems: [ProblemType.batchStillRunning],
      },
    },
  },
  createDeregistration: {
    tag: "Deregistrations",
    summary: "Deregister returned, resold or swapped devices",
    description:
      `Up to ${DEREGISTRATION_MAX_DEVICES} devices by serial number (JSON, or a CSV with a \`Device Serial Number\` column: the Autopilot CSV a batch was imported with ` +
      "works, its other columns are ignored). Validated all or nothing, recorded, and one message per device queued in the tenant's Intune write budget " +
      "(a delete is a write); answers 202 at once. Each device's Autopilot device is found by exact serial number and deleted; a device still enrolled " +
      "in Intune is refused by Intune and fails with why. The partner's access to the tenant is checked again before each delete.",
    queryProperties: {
      tenantId: { type: "string", description: "For a CSV body: the tenant (JSON bodies carry it in the body)." },
      callbackUrl: { type: "string", format: "uri", description: "For a CSV body: where the `deregistration.completed` event goes." },
    },
    headers: {
      "Idempotency-Key": {
        description:
          "Makes the request safe to repeat, as for POST /api/imports; keys of this route are kept apart from the imports' keys.",
        schema: { type: "string", minLength: 1, maxLength: 255 },
      },
    },
    requestBody: {
      description: "The devices to deregister.",
      required: true,
      json: [deregistrationRequestSchema],
      other: {
        "text/csv": {
          type: "string",
          description:
            "A CSV with a `Device Serial Number` column (or Serial Number, Serial, serialNumber); other columns are ignored. Batch fields come from the query string.",
        },
      },
    },
    responses: {
      202: {
        description: "Accepted: poll the Location.",
        json: acceptedBatchSchema,
        headers: { Location: location, "Retry-After": retryAfter },
      },
      400: {
        description: "Invalid batch: every problem, with device index, CSV line and field.",
        problems: [ProblemType.validation, ProblemType.malformedBody, ProblemType.noDevices, ProblemType.invalidIdempotencyKey],
      },
      403: { description: "The partner may not act on this tenant: nothing was recorded.", problems: [ProblemType.tenantNotAllowed] },
      409: { description: "A request with this Idempotency-Key is still being processed.", problems: [ProblemType.idempotencyKeyInFlight] },
      413: {
        description: `More than ${DEREGISTRATION_MAX_DEVICES} devices, or the body is too large.`,
        problems: [ProblemType.tooManyDevices, ProblemType.bodyTooLarge],
      },
      415: { description: "Neither JSON nor CSV.", problems: [ProblemType.unsupportedMediaType] },
      422: { description: "This Idempotency-Key was used with a different request.", problems: [ProblemType.idempotencyKeyReused] },
      429: {
        description: "The partner's intake rate is exceeded.",
        problems: [ProblemType.rateLimited],
        headers: { "Retry-After": retryAfter },
      },
      503: {
        description: "Storage unavailable; nothing was accepted.",
        problems: [ProblemType.storageUnavailable],
        headers: { "Retry-After": retryAfter },
      },
    },
  },
  listDeregistrations: {
    tag: "Deregistrations",
    summary: "List the caller's deregistration batches",
    description: "Newest first, filtered by status and creation time, paged by `nextLink`, as GET /api/imports.",
    query: batchListQuerySchema,
    responses: {
      200: { description: "A page of deregistration batches.", json: deregistrationPageSchema },
      400: invalidQueryResponse,
    },
  },
  getDeregistration: {
    tag: "Deregistrations",
    summary: "A deregistration batch's status",
    description:
      "Counts per device state: deregistered, not_found (the tenant had no Autopilot device with that serial number) and failed are final.",
    pathParams: idParam,
    responses: {
      200: {
        description: "The batch.",
        json: deregistrationViewSchema,
        headers: { "Retry-After": { ...retryAfter, description: "While the batch runs." } },
      },
      404: {
        description: "No deregistration batch of the caller's has this id (an import batch's id, or another partner's, answers the same).",
        problems: [ProblemType.notFound],
      },
    },
  },
  listDeregistrationDevices: {
    tag: "Deregistrations",
    summary: "A deregistration batch's devices and their outcomes",
    pathParams: idParam,
    query: deregistrationDeviceQuerySchema,
    responses: {
      200: { description: "A page of devices.", json: deregistrationDevicePageSchema },
      400: invalidQueryResponse,
      404: { description: "No deregistration batch of the caller's has this id.", problems: [ProblemType.notFound] },
    },
  },
  openApiDocument: {
    tag: "Reference",
    summary: "This OpenAPI 3.1 document",
    responses: { 200: { description: "The document.", other: { "application/json": { type: "object", description: "OpenAPI 3.1" } } } },
  },
  apiReference: {
    tag: "Reference",
    summary: "The API reference, as a page",
    responses: { 200: { description: "HTML rendered from this document.", other: { "text/html": { type: "string" } } } },
  },
  dashboard: {
    tag: "Dashboard",
    summary: "The ops dashboard page",
    description: "Reads only this API, with the viewer's API key.",
    responses: { 200: { description: "The page.", other: { "text/html": { type: "string" } } } },
  },
  dashboardAsset: {
    tag: "Dashboard",
    summary: "The dashboard's scripts, styles and icon",
    pathParams: { asset: z.string().describe("A file of the dashboard, e.g. dashboard.js.") },
    responses: {
      200: {
        description: "The file.",
        other: { "text/javascript": { type: "string" }, "text/css": { type: "string" }, "image/svg+xml": { type: "string" } },
      },
      404: { description: "No such file.", problems: [ProblemType.notFound] },
    },
  },
};
