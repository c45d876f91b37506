import type { CallTrace } from "../graph/graphClient.js";

/** The ids of the Graph call behind an outcome, as a device row and a log line carry them. */
export interface TraceFields {
  graphRequestId?: string;
  graphClientRequestId?: string;
}

/** Both fields always, so a new outcome never keeps the ids of an older call. */
export function traceFields(trace: CallTrace | undefined): TraceFields {
  return { graphRequestId: trace?.requestId, graphClientRequestId: trace?.clientRequestId };
}
