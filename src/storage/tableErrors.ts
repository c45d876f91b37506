import { RestError } from "@azure/data-tables";

/** What a Table storage error means to a store: the few answers the stores branch on. */
function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : (error as { statusCode?: number })?.statusCode;
}

/** 412: the entity's ETag moved since it was read. */
export function isPreconditionFailed(error: unknown): boolean {
  return statusOf(error) === 412;
}

export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** 409: an insert met an entity that already exists. */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

/** A point read that answers undefined for an entity that does not exist. */
export async function ifFound<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
