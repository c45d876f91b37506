import type { ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { DeviceFields } from "../storage/importEntities.js";

/** How a running import ended, as far as one look at Graph tells. */
export type Settlement =
  | { kind: "imported"; deviceRegistrationId?: string }
  | { kind: "import-error"; code?: number; name?: string }
  | { kind: "gone" }
  | { kind: "timed-out"; message: string };

/**
 * Decides, for a device Graph accepted, whether its import has ended: Graph's record says
 * complete or error; the record is gone (a GET answered 404, or a full listing lacks it); or
 * it has been running longer than the settle timeout. Undefined: still running, look again.
 */
export function decideSettlement(
  device: Pick<DeviceFields, "submittedAt">,
  record: ImportedDeviceIdentity | undefined,
  gone: boolean,
  now: number,
  settleTimeoutMs: number,
): Settlement | undefined {
  const state = record?.state;
  if (gone) return { kind: "gone" };
  if (state?.deviceImportStatus === "complete") {
    return { kind: "imported", ...(state.deviceRegistrationId ? { deviceRegistrationId: state.deviceRegistrationId } : {}) };
  }
  if (state?.deviceImportStatus === "error") {
    return {
      kind: "import-error",
      ...(state.deviceErrorCode !== undefined ? { code: state.deviceErrorCode } : {}),
      ...(state.deviceErrorName ? { name: state.deviceErrorName } : {}),
    };
  }
  const submittedAt = device.submittedAt ? Date.parse(device.submittedAt) : now;
  if (now - submittedAt >= settleTimeoutMs) {
    return {
      kind: "timed-out",
      message: `import timed out: Intune had not finished the import ${Math.round(settleTimeoutMs / 60_000)} minutes after it was submitted`,
    };
  }
  return undefined;
}
