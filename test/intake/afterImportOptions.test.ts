import { describe, expect, it } from "vitest";
import { makeCsv, makeDevices } from "../support/devices.js";
import { device, ok, parse, postJson, problemOf } from "./helpers.js";

describe("followUntil and onExisting", () => {
  it("are batch fields of the JSON body, absent by default", () => {
    expect(ok(postJson({ devices: [device(1)] })).request).not.toHaveProperty("followUntil");
    const request = ok(postJson({ followUntil: "profileAssigned", onExisting: "update", devices: [device(1)] })).request;
    expect(request).toMatchObject({ followUntil: "profileAssigned", onExisting: "update" });
  });

  it("come from the query string for a CSV", () => {
    const csv = makeCsv(makeDevices(1, "Q"));
    const outcome = ok(parse("text/csv", csv, "followuntil=profileAssigned&onExisting=update"));
    expect(outcome.request).toMatchObject({ followUntil: "profileAssigned", onExisting: "update" });
  });

  it("refuse other values by name", () => {
    const problem = problemOf(postJson({ followUntil: "enrolled", onExisting: "replace", devices: [device(1)] }));
    expect(problem.status).toBe(400);
    const errors = (problem as unknown as { errors: { field: string; message: string }[] }).errors;
    expect(errors.map((e) => e.field).sort()).toEqual(["followUntil", "onExisting"]);
    expect(errors.find((e) => e.field === "followUntil")!.message).toContain("imported, profileAssigned");
  });
});
