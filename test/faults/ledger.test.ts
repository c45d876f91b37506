import { describe, expect, it } from "vitest";
import type { CreateEntry } from "../../src/dev/simulator/index.js";
import { account, type DeviceRow } from "./support/ledger.js";
import { formatTable } from "./support/resultsTable.js";

/** The accounting every fault scenario relies on must itself catch what it claims to. */
const B = "b1";
const create = (rowKey: string, batchId = B): CreateEntry => ({
  tenantId: "t",
  appId: "a",
  id: `${batchId}-${rowKey}`,
  serialNumber: rowKey,
  importId: `${batchId}/${rowKey}`,
  at: 0,
});
const rows = (...list: DeviceRow[]) => new Map([[B, list]]);

describe("fault ledger", () => {
  it("counts a clean batch as all final, nothing lost or duplicated", () => {
    const ledger = account(
      [{ batchId: B, deviceCount: 2 }],
      rows({ rowKey: "device-000000", state: "imported" }, { rowKey: "device-000001", state: "failed" }),
      [create("device-000000")],
    );
    expect(ledger).toMatchObject({ accepted: 2, final: 2, lost: 0, duplicated: 0, phantom: 0 });
  });

  it("catches a second create of one device (same importId)", () => {
    const ledger = account([{ batchId: B, deviceCount: 1 }], rows({ rowKey: "device-000000", state: "imported" }), [
      create("device-000000"),
      create("device-000000"),
    ]);
    expect(ledger.duplicated).toBe(1);
    expect(ledger.duplicatedKeys).toEqual(["b1/device-000000 ×2"]);
  });

  it("counts as lost a device not final, one without a row, and one imported that Graph never created", () => {
    const ledger = account(
      [{ batchId: B, deviceCount: 3 }],
      rows({ rowKey: "device-000000", state: "retrying" }, { rowKey: "device-000002", state: "imported" }),
      [],
    );
    expect(ledger).toMatchObject({ accepted: 3, final: 1, lost: 3 });
  });

  it("counts creates for a batch that was never accepted as phantom", () => {
    expect(account([], new Map(), [create("device-000000", "refused")]).phantom).toBe(1);
  });

  it("prints a Markdown table with totals", () => {
    const table = formatTable([{ scenario: "x", accepted: 3, final: 3, lost: 0, duplicated: 0, seconds: 1.5 }]);
    expect(table.split("\n")).toHaveLength(4);
    expect(table).toContain("| **total** |                3 |     3 |    0 |          0 |         |");
  });
});
