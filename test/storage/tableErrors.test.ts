import { RestError } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { ifFound, isConflict, isNotFound, isPreconditionFailed } from "../../src/storage/tableErrors.js";

describe("table errors", () => {
  it("reads the status from the SDK's RestError and from a plain error that carries one", () => {
    const sdk = (status: number) => new RestError("x", { statusCode: status });
    expect([isPreconditionFailed(sdk(412)), isNotFound(sdk(404)), isConflict(sdk(409))]).toEqual([true, true, true]);
    expect([isPreconditionFailed({ statusCode: 412 }), isNotFound({ statusCode: 404 }), isConflict({ statusCode: 409 })]).toEqual([
      true,
      true,
      true,
    ]);
    expect([isPreconditionFailed(sdk(409)), isNotFound(sdk(412)), isConflict(new Error("no status")), isNotFound(undefined)]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it("answers undefined for a missing entity and passes every other failure on", async () => {
    expect(await ifFound(async () => Promise.reject(new RestError("gone", { statusCode: 404 })))).toBeUndefined();
    expect(await ifFound(async () => "row")).toBe("row");
    await expect(ifFound(async () => Promise.reject(new RestError("busy", { statusCode: 503 })))).rejects.toThrow("busy");
  });
});
