import { describe, expect, it } from "vitest";
import { bySettleOrder, decideSimulatedSettlement, pendingTogether, type SettlementFacts } from "../../../src/dev/simulator/settling.js";

const clean: SettlementFacts = {
  hashReadable: true,
  hasSerialNumber: true,
  duplicatesPendingImport: false,
  registeredInSameTenant: false,
  registeredInOtherTenant: false,
};

describe("decideSimulatedSettlement", () => {
  it("completes a new, readable device", () => {
    expect(decideSimulatedSettlement(clean)).toEqual({ status: "complete" });
  });

  it.each([
    [{ registeredInSameTenant: true }, 806, "ZtdDeviceAlreadyAssigned"],
    [{ registeredInOtherTenant: true }, 808, "ZtdDeviceAssignedToOtherTenant"],
    [{ hasSerialNumber: false }, 803, "MissingZtdSerialNumberAndProductKey"],
    [{ hashReadable: false }, 802, "InvalidZtdHardwareHash"],
    [{ rejectedCode: 802 }, 802, "InvalidZtdHardwareHash"],
    [{ rejectedCode: 813 }, 813, "ZtdDeviceIsNotUnique"],
    [{ duplicatesPendingImport: true }, 0, "ZtdDeviceDuplicated"],
  ] as const)("%j → %i %s", (facts, code, name) => {
    expect(decideSimulatedSettlement({ ...clean, ...facts })).toEqual({ status: "error", code, name });
  });

  it("applies the documented precedence", () => {
    const everything: SettlementFacts = {
      hashReadable: true,
      rejectedCode: 802,
      hasSerialNumber: false,
      duplicatesPendingImport: true,
      registeredInSameTenant: true,
      registeredInOtherTenant: true,
    };
    expect(decideSimulatedSettlement(everything)).toMatchObject({ code: 802 });
    const { rejectedCode: _, ...unrejected } = everything;
    expect(decideSimulatedSettlement(unrejected)).toMatchObject({ code: 803 });
    expect(decideSimulatedSettlement({ ...unrejected, hasSerialNumber: true })).toMatchObject({ name: "ZtdDeviceDuplicated" });
    expect(decideSimulatedSettlement({ ...unrejected, hasSerialNumber: true, duplicatesPendingImport: false })).toMatchObject({
      code: 806,
    });
  });
});

describe("settle order", () => {
  it("orders by creation time, then by creation sequence", () => {
    const items = [
      { createdAt: 20, seq: 1 },
      { createdAt: 10, seq: 3 },
      { createdAt: 10, seq: 2 },
    ];
    expect([...items].sort(bySettleOrder)).toEqual([
      { createdAt: 10, seq: 2 },
      { createdAt: 10, seq: 3 },
      { createdAt: 20, seq: 1 },
    ]);
  });

  it("calls two imports pending together when the later was created before the earlier settled", () => {
    const earlier = { createdAt: 0, seq: 1, settleAt: 2_000 };
    expect(pendingTogether(earlier, { createdAt: 1_999, seq: 2 })).toBe(true);
    expect(pendingTogether(earlier, { createdAt: 2_000, seq: 2 })).toBe(false);
    expect(pendingTogether({ ...earlier, seq: 3 }, { createdAt: 0, seq: 2 })).toBe(false); // not earlier
  });
});
