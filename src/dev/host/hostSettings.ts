import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { QueueMessageEncoding } from "../../storage/queueText.js";
import { errorMessage } from "../../model/errorMessage.js";

/** host.json's queue settings: the Functions host obeys them in Azure, the development host here. */
export interface QueueHostSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: QueueMessageEncoding;
}

export interface HostSettings {
  routePrefix: string;
  functionTimeoutMs: number;
  queues: QueueHostSettings;
}

/** "hh:mm:ss" (optionally "d.hh:mm:ss"), as host.json writes durations. */
export function parseTimeSpan(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value);
  if (!match) throw new Error(`'${value}' is not a host.json time span (hh:mm:ss)`);
  const [, days = "0", h, m, s, fraction = "0"] = match;
  return ((Number(days) * 24 + Number(h)) * 3600 + Number(m) * 60 + Number(s)) * 1000 + Math.round(Number(`0.${fraction}`) * 1000);
}

const timeSpan = z.string().transform((value, ctx) => {
  try {
    return parseTimeSpan(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: errorMessage(error) });
    return z.NEVER;
  }
});

// Defaults are the Functions host's own.
const hostJsonSchema = z.object({
  functionTimeout: timeSpan.default(300_000),
  extensions: z
    .object({
      http: z.object({ routePrefix: z.string().default("api") }).prefault({}),
      queues: z
        .object({
          batchSize: z.number().int().min(1).max(32).default(16),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxPollingInterval: timeSpan.default(60_000),
          visibilityTimeout: timeSpan.default(0),
          maxDequeueCount: z.number().int().min(1).default(5),
          messageEncoding: z.enum(["base64", "none"]).default("base64"),
        })
        .prefault({}),
    })
    .prefault({}),
});

export function parseHostJson(text: string): HostSettings {
  const parsed = hostJsonSchema.parse(JSON.parse(text));
  const q = parsed.extensions.queues;
  return {
    routePrefix: parsed.extensions.http.routePrefix,
    functionTimeoutMs: parsed.functionTimeout,
    queues: {
      batchSize: q.batchSize,
      newBatchThreshold: q.newBatchThreshold ?? Math.floor(q.batchSize / 2),
      maxPollingIntervalMs: q.maxPollingInterval,
      visibilityTimeoutMs: q.visibilityTimeout,
      maxDequeueCount: q.maxDequeueCount,
      messageEncoding: q.messageEncoding,
    },
  };
}

/** The project's host.json, found by walking up from this file (it sits at the project root, above src/ and dist/). */
export function findHostJson(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "host.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error("host.json not found above " + from);
  }
}

export function loadHostSettings(path: string = findHostJson()): HostSettings {
  return parseHostJson(readFileSync(path, "utf8"));
}
