import { describe, expect, it } from "vitest";
import { decideSettlement } from "../../src/worker/settlement.js";

const submittedAt = "2026-11-28T10:00:00.000Z";
const t0 = Date.parse(submittedAt);
const hour = 3_600_000;

describe("decideSettlement", () => {
  it("is imported when Graph says complete", () => {
    expect(
      decideSettlement({ submittedAt }, { id: "g", state: { deviceImportStatus: "complete", deviceRegistrationId: "r" } }, false, t0, hour),
    ).toEqual({
      kind: "imported",
      deviceRegistrationId: "r",
    });
  });

  it("is an import error, with Graph's code and name, when Graph says error", () => {
    expect(
      decideSettlement(
        { submittedAt },
        { id: "g", state: { deviceImportStatus: "error", deviceErrorCode: 806, deviceErrorName: "ZtdDeviceAlreadyAssigned" } },
        false,
        t0,
        hour,
      ),
    ).toEqual({ kind: "import-error", code: 806, name: "ZtdDeviceAlreadyAssigned" });
  });

  it("keeps waiting while the import runs, until the settle timeout", () => {
    const running = { id: "g", state: { deviceImportStatus: "unknown" as const } };
    expect(decideSettlement({ submittedAt }, running, false, t0 + hour - 1, hour)).toBeUndefined();
    expect(decideSettlement({ submittedAt }, running, false, t0 + hour, hour)).toMatchObject({
      kind: "timed-out",
      message: expect.stringMatching(/60 minutes/),
    });
    // not seen at all in a partial look: still waiting
    expect(decideSettlement({ submittedAt }, undefined, false, t0, hour)).toBeUndefined();
  });

  it("is gone when Graph no longer has the record, even if a stale copy says running", () => {
    expect(decideSettlement({ submittedAt }, undefined, true, t0, hour)).toEqual({ kind: "gone" });
  });
});
