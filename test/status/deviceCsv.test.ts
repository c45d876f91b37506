import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvCell, csvHeader, csvRow, DEVICE_CSV_COLUMNS, prefersCsv } from "../../src/status/deviceCsv.js";

describe("device CSV", () => {
  it("neutralises cells a spreadsheet would run as formulas", () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-2")).toBe("'-2");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell("PF3ABC-07")).toBe("PF3ABC-07");
    expect(csvCell(undefined)).toBe("");
    expect(csvCell(3)).toBe("3");
  });

  it("round-trips any text through csv-parse, formula prefix aside", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" }), { minLength: 1, maxLength: 5 }), (cells) => {
        const line = cells.map(csvCell).join(",") + "\r\n";
        const [parsed] = parse(line, { relax_column_count: false }) as string[][];
        expect(parsed).toEqual(cells.map((c) => (/^[=+\-@\t\r]/.test(c) ? `'${c}` : c)));
      }),
    );
  });

  it("writes only public columns, never the hash, product key or UPN", () => {
    const row = csvRow({
      index: 0,
      serialNumber: "SN1",
      manufacturer: "Contoso",
      model: "Surface Laptop 7",
      warnings: '["no-tpm"]',
      hardwareIdentifier: "SECRET-HASH",
      productKey: "SECRET-KEY",
      assignedUserPrincipalName: "someone@contoso.com",
      state: "failed",
      attempts: 2,
      errorCode: "806",
      errorMessage: 'already here, "really"',
      updatedAt: "2026-11-29T00:00:00.000Z",
    });
    expect(row).not.toMatch(/SECRET|someone/);
    const [header, values] = parse(csvHeader() + row, { bom: true }) as string[][];
    expect(header).toEqual([...DEVICE_CSV_COLUMNS]);
    expect(values).toEqual([
      "0",
      "SN1",
      "Contoso",
      "Surface Laptop 7",
      "no-tpm",
      "failed",
      "2",
      "",
      "",
      "806",
      "",
      'already here, "really"',
      "",
      "",
      "2026-11-29T00:00:00.000Z",
    ]);
  });

  it("answers CSV only when the Accept header prefers it to JSON", () => {
    expect(prefersCsv("text/csv")).toBe(true);
    expect(prefersCsv("text/csv, application/json;q=0.5")).toBe(true);
    expect(prefersCsv("application/json, text/csv;q=0.9")).toBe(false);
    expect(prefersCsv("text/*")).toBe(true);
    expect(prefersCsv("*/*")).toBe(false);
    expect(prefersCsv(null)).toBe(false);
    expect(prefersCsv("text/csv;q=0")).toBe(false);
  });
});
