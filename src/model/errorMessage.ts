/**
 * What a caught value says, for a log field or a message: an Error's message, anything else as
 * a string (a `throw "text"` or a rejected non-Error). `catch` binds `unknown`; this is the one
 * place that narrows it, instead of `(error as Error).message` (undefined, or a TypeError, for
 * what is not an Error).
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
