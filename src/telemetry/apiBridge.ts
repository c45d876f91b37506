import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The Azure Monitor distro registers the OpenTelemetry SDK through its own copy of
 * @opentelemetry/api (1.9.x, which its SDK packages require: `>=1.9.0 <1.10.0`), and the API
 * records that version on the shared global. An API copy newer in minor version (this app
 * declares 1.10.0, and the Functions instrumentation resolves the same copy) treats an older
 * registration as incompatible and silently falls back to no-ops: no metrics, no spans, no
 * trace context for invocations. Older copies do accept a newer registration, so marking the
 * registration with the newest version lets every copy in the process use the one SDK.
 *
 * The real fix is one @opentelemetry/api version in the dependency tree (pin 1.9.x); until then
 * this keeps telemetry from being switched on yet empty.
 */
export const GLOBAL_API_KEY = Symbol.for("opentelemetry.js.api.1");

export function bridgeApiRegistration(ownVersion: string, holder: Record<symbol, unknown> = globalThis as unknown as Record<symbol, unknown>): boolean {
  const registered = holder[GLOBAL_API_KEY] as ({ version?: unknown } & Record<string, unknown>) | undefined;
  if (!registered || typeof registered.version !== "string") return false;
  if (compareMinor(registered.version, ownVersion) >= 0) return false;
  // The registration's `version` is read-only, so the registration is replaced by a copy; the
  // providers in it are the same objects.
  holder[GLOBAL_API_KEY] = { ...registered, version: ownVersion };
  return true;
}

/** The version of the @opentelemetry/api copy this app's modules import. */
export function ownApiVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@opentelemetry/api");
  let dir = dirname(entry);
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "@opentelemetry/api" && pkg.version) return pkg.version;
    } catch {
      // not this directory
    }
  }
  throw new Error("cannot find the version of @opentelemetry/api");
}

/** Negative when a's major.minor is below b's (same major assumed: the global key carries it). */
function compareMinor(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}
