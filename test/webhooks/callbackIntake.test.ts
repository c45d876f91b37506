import { describe, expect, it } from "vitest";
import { CSV_HEADER, device, ok, postCsv, postJson, problemOf } from "../intake/helpers.js";
import { makeHash } from "../support/devices.js";

const HOOK = "https://hooks.example.com/autopilot?token=abc";

describe("callbackUrl at intake", () => {
  it("is a batch field of the JSON body", () => {
    expect(ok(postJson({ callbackUrl: ` ${HOOK} `, devices: [device(1)] })).request.callbackUrl).toBe(HOOK);
    expect(ok(postJson({ devices: [device(1)] })).request.callbackUrl).toBeUndefined();
    expect(ok(postJson({ callbackUrl: "", devices: [device(1)] })).request.callbackUrl).toBeUndefined();
  });

  it("comes from the query string for CSV and for Graph's import-action body", () => {
    const csv = `${CSV_HEADER}\nSN-1,,${makeHash(1)}\n`;
    expect(ok(postCsv(csv, `callbackUrl=${encodeURIComponent(HOOK)}`)).request.callbackUrl).toBe(HOOK);
    expect(
      ok(postJson({ importedWindowsAutopilotDeviceIdentities: [device(1)] }, `callbackurl=${encodeURIComponent(HOOK)}`)).request
        .callbackUrl,
    ).toBe(HOOK);
  });

  it.each([
    ["not a url", "absolute https URL"],
    ["ftp://hooks.example.com/x", "https"],
    ["https://a:b@hooks.example.com/x", "credentials"],
    [`https://hooks.example.com/${"x".repeat(2048)}`, "at most 2048"],
  ])("refuses %s by name, before anything is recorded", (callbackUrl, message) => {
    const problem = problemOf(postJson({ callbackUrl, devices: [device(1)] }));
    expect(problem.status).toBe(400);
    expect(problem.errors).toEqual([{ field: "callbackUrl", message: expect.stringContaining(message) }]);
  });

  it("says when a bad one came from the query string", () => {
    const problem = problemOf(postCsv(`${CSV_HEADER}\nSN-1,,${makeHash(1)}\n`, "callbackUrl=nonsense"));
    expect(problem.errors).toEqual([{ field: "callbackUrl", message: expect.stringContaining("(in the query string)") }]);
  });

  it("refuses a body callbackUrl that disagrees with the query string's", () => {
    const problem = problemOf(postJson({ callbackUrl: HOOK, devices: [device(1)] }, "callbackUrl=https%3A%2F%2Fother.example.com%2F"));
    expect(problem.errors?.map((e) => e.field)).toEqual(["callbackUrl"]);
  });
});
