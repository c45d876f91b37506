import { SimulatorCredential } from "../src/graph/devCredential.js";
import { GraphClient } from "../src/graph/graphClient.js";

/** What the baselines call Graph with: the same client and credential kind the pipeline uses, no pipeline. */
export function baselineClient(graphUrl: string, tenantId: string): GraphClient {
  return new GraphClient({
    baseUrl: graphUrl,
    apiVersion: "v1.0",
    credential: new SimulatorCredential({ tenantId, appId: "00000000-0000-0000-0000-00000000a11e" }),
    timeoutMs: 30_000,
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
