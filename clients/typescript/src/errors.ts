import type { Problem } from "./types.js";

/** The API refused a request: its RFC 9457 problem, with the stable `type` to branch on. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title);
  }
}

/** The answer was not a problem document (a proxy's error page, say): keep what can be said. */
export function problemOf(status: number, body: unknown): Problem {
  if (body && typeof body === "object" && typeof (body as Problem).type === "string" && typeof (body as Problem).title === "string")
    return body as Problem;
  return { type: "about:blank", title: `HTTP ${status}`, status };
}
