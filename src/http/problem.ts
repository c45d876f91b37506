/**
 * RFC 9457 problem details. Every error this service answers is one of these, with a
 * stable `type` per kind of error so callers can branch on it without parsing prose.
 */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const PROBLEM_BASE = "https://autopilot-import.dev/problems/";

/** One entry per kind of error; the value is the problem's `type` URI. */
export const ProblemType = {
  validation: `${PROBLEM_BASE}validation-failed`,
  malformedBody: `${PROBLEM_BASE}malformed-body`,
  tooManyDevices: `${PROBLEM_BASE}too-many-devices`,
  noDevices: `${PROBLEM_BASE}no-devices`,
  bodyTooLarge: `${PROBLEM_BASE}body-too-large`,
  unsupportedMediaType: `${PROBLEM_BASE}unsupported-media-type`,
  notFound: `${PROBLEM_BASE}not-found`,
  methodNotAllowed: `${PROBLEM_BASE}method-not-allowed`,
  invalidQuery: `${PROBLEM_BASE}invalid-query`,
  storageUnavailable: `${PROBLEM_BASE}storage-unavailable`,
  internal: `${PROBLEM_BASE}internal-error`,
  batchStillRunning: `${PROBLEM_BASE}batch-still-running`,
  batchCanceled: `${PROBLEM_BASE}batch-canceled`,
  batchAlreadyFinished: `${PROBLEM_BASE}batch-already-finished`,
  nothingToRetry: `${PROBLEM_BASE}nothing-to-retry`,
  unauthorized: `${PROBLEM_BASE}unauthorized`,
  tenantNotAllowed: `${PROBLEM_BASE}tenant-not-allowed`,
  rateLimited: `${PROBLEM_BASE}rate-limited`,
  invalidIdempotencyKey: `${PROBLEM_BASE}invalid-idempotency-key`,
  idempotencyKeyReused: `${PROBLEM_BASE}idempotency-key-reused`,
  idempotencyKeyInFlight: `${PROBLEM_BASE}idempotency-key-in-flight`,
} as const;

export type ProblemTypeUri = (typeof ProblemType)[keyof typeof ProblemType];

/** Where one validation problem sits: the device's 0-based index in the batch, its CSV line if it came from CSV, and the field. */
export interface FieldProblem {
  device?: number;
  line?: number;
  field: string;
  message: string;
  /** A stable code for the kind of problem, where the rule gives one (the hash rules do). */
  code?: string;
}

export interface ProblemDetails {
  type: ProblemTypeUri;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Present on validation problems: every problem found, not just the first. */
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

export function problem(
  type: ProblemTypeUri,
  status: number,
  title: string,
  detail?: string,
  extensions: Record<string, unknown> = {},
): ProblemDetails {
  return { type, title, status, ...(detail === undefined ? {} : { detail }), ...extensions };
}
