// The dashboard's decisions, free of the DOM and of fetch, so they are unit-tested
// (test/dashboard/view.test.ts) and the page script only wires them to the screen.

/**
 * Device states in the order a device moves through them (an import's, and a deregistration's:
 * deregistering, deregistered, not_found); unknown future states go last.
 */
export const STATE_ORDER = ["queued", "submitting", "retrying", "submitted", "deregistering", "imported", "deregistered", "not_found", "failed", "canceled"];
const FINAL_STATES = ["imported", "deregistered", "not_found", "failed", "canceled"];

export const DEFAULT_REFRESH_MS = 5_000;
const MAX_REFRESH_MS = 5 * 60_000;

const STATUS_LABELS = {
  running: "Running",
  succeeded: "Succeeded",
  partially_succeeded: "Partly succeeded",
  failed: "Failed",
  canceled: "Canceled",
};

/** @param {string} status */
export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

/**
 * Devices that reached a final state out of the batch's devices.
 * @param {{ deviceCount: number, counts: Record<string, number> }} batch
 */
export function progressOf(batch) {
  const total = Math.max(0, batch.deviceCount || 0);
  const final = FINAL_STATES.reduce((sum, state) => sum + (batch.counts?.[state] ?? 0), 0);
  // Floor, so a batch shows 100 % only when every device is final.
  const percent = total === 0 ? 100 : Math.min(100, Math.floor((final / total) * 100));
  return { final, total, percent };
}

/**
 * For a batch followed until profileAssigned: how many imported devices are ready to ship (a
 * deployment profile assigned), still waiting, or got none in time; undefined for other batches.
 * @param {{ followUntil?: string, profiles?: { waiting: number, assigned: number, notAssigned: number } }} batch
 */
export function readinessOf(batch) {
  if (batch.followUntil !== "profileAssigned" || !batch.profiles) return undefined;
  const { waiting = 0, assigned = 0, notAssigned = 0 } = batch.profiles;
  const parts = [`${assigned} ready`];
  if (waiting > 0) parts.push(`${waiting} waiting for a profile`);
  if (notAssigned > 0) parts.push(`${notAssigned} without a profile`);
  return { ready: assigned, waiting, notAssigned, text: parts.join(" · ") };
}

/**
 * Every state with its count, known states first, in the order devices move through them.
 * @param {Record<string, number>} counts
 * @param {{ nonZeroOnly?: boolean }} [options]
 */
export function countsInOrder(counts, options = {}) {
  const states = [...STATE_ORDER.filter((s) => s in counts), ...Object.keys(counts).filter((s) => !STATE_ORDER.includes(s)).sort()];
  return states.map((state) => ({ state, count: counts[state] ?? 0 })).filter((c) => !options.nonZeroOnly || c.count > 0);
}

/**
 * When to refresh next: every DEFAULT_REFRESH_MS, but never sooner than the API asked with
 * Retry-After (seconds or an HTTP date), and never longer than five minutes.
 * @param {(string | null | undefined)[]} retryAfterValues
 * @param {number} now epoch milliseconds
 */
export function nextRefreshMs(retryAfterValues, now = Date.now()) {
  let delay = DEFAULT_REFRESH_MS;
  for (const value of retryAfterValues) {
    const asked = retryAfterMs(value, now);
    if (asked !== undefined) delay = Math.max(delay, asked);
  }
  return Math.min(delay, MAX_REFRESH_MS);
}

/** @param {string | null | undefined} value @param {number} now */
export function retryAfterMs(value, now = Date.now()) {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What to tell the viewer when a call did not answer 200: by HTTP status, or "network"
 * when the API could not be reached at all.
 * @param {number | "network"} outcome
 * @param {string} [detail] the problem's detail, when the API sent one
 */
export function explainFailure(outcome, detail) {
  if (outcome === "network") {
    return { kind: "unreachable", message: "The API cannot be reached. The dashboard keeps trying; the figures shown may be out of date." };
  }
  if (outcome === 401) {
    return { kind: "unauthorized", message: "The API did not accept this API key (401). Enter a valid key to continue." };
  }
  if (outcome === 403) return { kind: "forbidden", message: "This API key may not read these imports (403)." };
  if (outcome === 404) return { kind: "not-found", message: detail ?? "Not found (404)." };
  if (outcome === 429) return { kind: "busy", message: "The API asked the dashboard to slow down (429); it will refresh later." };
  if (outcome >= 500) {
    return { kind: "server", message: `The API is having trouble (${outcome}). The dashboard keeps trying; the figures shown may be out of date.` };
  }
  return { kind: "other", message: detail ? `${detail} (${outcome})` : `The API answered ${outcome}.` };
}

/**
 * Whether the dashboard offers to erase a batch: a finished one only (the API refuses to erase a
 * running batch, whose devices are still on their way to Intune).
 * @param {{ status?: string } | undefined} batch
 */
export function canErase(batch) {
  return Boolean(batch?.status) && batch.status !== "running";
}

/**
 * How long the service keeps the batch, for its details.
 * @param {{ status?: string, expiresAt?: string }} batch
 */
export function retentionOf(batch) {
  if (batch.expiresAt) return { until: batch.expiresAt };
  return { text: batch.status === "running" ? "While it runs, then for the retention period" : "For the retention period" };
}

/**
 * What to tell the viewer after asking to erase a batch: by the DELETE's status, or "network".
 * @param {number | "network"} outcome
 * @param {string} [detail] the problem's detail, when the API sent one
 */
export function eraseOutcome(outcome, detail) {
  if (outcome === 204) return { kind: "done", message: "The batch was erased: nothing of it is kept here any more. Its devices stay in Intune." };
  if (outcome === 404) return { kind: "not-found", message: "This batch is no longer here: it was erased already." };
  if (outcome === 409) return { kind: "other", message: detail ?? "The batch is still running; cancel it, then erase it once it has finished." };
  if (outcome === "network") return { kind: "unreachable", message: "The API cannot be reached; the batch was not erased. Try again." };
  return explainFailure(outcome, detail);
}

/**
 * The batch's completion webhook in one line, from the status's `notification`.
 * @param {{ callbackHost: string, state?: string, attempts?: { status?: number, error?: string }[], nextAttemptAt?: string, reason?: string } | undefined} notification
 */
export function describeNotification(notification) {
  if (!notification) return undefined;
  const host = notification.callbackHost;
  const attempts = notification.attempts ?? [];
  const tries = `${attempts.length} attempt${attempts.length === 1 ? "" : "s"}`;
  const last = attempts.at(-1);
  const lastOutcome = last ? (last.status !== undefined ? `HTTP ${last.status}` : (last.error ?? "no answer")) : undefined;
  switch (notification.state) {
    case "delivered":
      return `Delivered to ${host} (${tries})`;
    case "failed":
      return `Not delivered to ${host} after ${tries}${notification.reason ? `: ${notification.reason}` : ""}`;
    case "pending":
      return attempts.length === 0
        ? `Sending to ${host}`
        : `Retrying ${host} (${tries}, last: ${lastOutcome})${notification.nextAttemptAt ? `, next at ${new Date(notification.nextAttemptAt).toLocaleString()}` : ""}`;
    default:
      return `${host}, when the batch is final`;
  }
}

/**
 * A nextLink the key may be sent to: a path on this origin, never another host.
 * @param {unknown} link
 */
export function safeNextLink(link) {
  return typeof link === "string" && link.startsWith("/") && !link.startsWith("//") && !link.includes("\\") ? link : undefined;
}

/**
 * "3 min ago" for a timestamp, as of now.
 * @param {string | undefined} iso
 * @param {number} now
 */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "";
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/**
 * Page links of a paged list, remembered so the viewer can go back: the API only links forward.
 */
export class Pager {
  /** @param {string} first */
  constructor(first) {
    /** @type {string[]} */
    this.links = [first];
  }
  get current() {
    return this.links[this.links.length - 1];
  }
  get pageNumber() {
    return this.links.length;
  }
  get hasPrevious() {
    return this.links.length > 1;
  }
  /** @param {string} link */
  forward(link) {
    this.links.push(link);
  }
  back() {
    if (this.links.length > 1) this.links.pop();
  }
}

/**
 * A batch's devices by manufacturer and model, most numerous first: "Contoso Surface Laptop 7 × 479 · Fabrikam FB-14 × 1".
 * @param {Array<{ manufacturer?: string, model?: string, count: number, otherModels?: number }> | undefined} models
 */
export function describeModels(models) {
  if (!Array.isArray(models) || models.length === 0) return "—";
  return models
    .map((group) => {
      const name = group.otherModels ? `${group.otherModels} other models` : [group.manufacturer, group.model].filter(Boolean).join(" ") || "not read";
      return `${name} × ${group.count}`;
    })
    .join(" · ");
}

/** "Contoso Surface Laptop 7", or "—" when the hash was not read. */
export function deviceModel(device) {
  return [device?.manufacturer, device?.model].filter(Boolean).join(" ") || "—";
}

/**
 * The devices of a deregistration batch a person has to look at: those not deregistered (failed,
 * or not found in the tenant), each with what to do.
 * @param {{ serialNumber: string, state: string, error?: { code: string, message?: string } }[]} devices
 */
export function deregistrationProblems(devices) {
  return devices
    .filter((d) => d.state === "failed" || d.state === "not_found")
    .map((d) => ({
      serialNumber: d.serialNumber,
      state: d.state === "not_found" ? "not found" : "failed",
      code: d.error?.code ?? "—",
      message: d.error?.message ?? (d.state === "not_found" ? "The tenant has no Autopilot device with this serial number." : "—"),
    }));
}
