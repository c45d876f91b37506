export {
  AutopilotImportClient,
  createAutopilotImportClient,
  DEFAULT_BASE_URL,
  type BatchFields,
  type ClientOptions,
  type CreateOptions,
  type Submitted,
} from "./client.js";
export { ApiError } from "./errors.js";
export { retryAfterMs, retryingFetch, type RetryOptions } from "./retry.js";
export type { components, operations, paths } from "./generated/schema.js";
export type * from "./types.js";
