import { describe, expect, it } from "vitest";
import { callbackHost, callbackUrlProblem, parseAllowedHosts } from "../../src/model/callbackUrl.js";

describe("callbackUrlProblem without allowed hosts", () => {
  it.each([
    ["https://hooks.example.com/autopilot?token=abc", undefined],
    ["https://hooks.example.com:8443/x", undefined],
    ["https://8.8.8.8/x", undefined],
    ["http://hooks.example.com/x", "must be an https URL"],
    ["ftp://hooks.example.com/x", "must be an https URL"],
    ["https://user:pass@hooks.example.com/x", "must not hold credentials"],
    ["https://user@hooks.example.com/x", "must not hold credentials"],
    ["https://hooks.example.com/x#frag", "must not have a #fragment"],
    ["not a url", "must be an absolute https URL"],
    ["/relative/path", "must be an absolute https URL"],
    ["https://localhost/x", "localhost"],
    ["https://api.localhost/x", "localhost"],
    ["https://127.0.0.1/x", "loopback"],
    ["https://127.1/x", "loopback"],
    ["https://0x7f000001/x", "loopback"],
    ["https://2130706433/x", "loopback"],
    ["https://10.0.0.5/x", "private"],
    ["https://192.168.0.10/x", "private"],
    ["https://169.254.169.254/latest/meta-data", "metadata"],
    ["https://100.64.1.1/x", "cgnat"],
    ["https://[::1]/x", "loopback"],
    ["https://[::ffff:127.0.0.1]/x", "loopback"],
    ["https://[::ffff:a00:1]/x", "private"],
    ["https://[fd00::1]/x", "unique-local"],
    ["https://[fe80::1]/x", "link-local"],
    ["https://0.0.0.0/x", "unspecified"],
    [`https://hooks.example.com/${"a".repeat(2100)}`, "at most 2048"],
  ])("%s", (url, expected) => {
    const problem = callbackUrlProblem(url, []);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(expected);
  });
});

describe("WEBHOOK_ALLOWED_HOSTS", () => {
  const allowed = parseAllowedHosts("127.0.0.1:4567, Receiver.Local ,[::1]");

  it("lets an allowed host through, http included, and only on its port", () => {
    expect(callbackUrlProblem("http://127.0.0.1:4567/hook", allowed)).toBeUndefined();
    expect(callbackUrlProblem("http://127.0.0.1:4568/hook", allowed)).toContain("https");
    expect(callbackUrlProblem("https://127.0.0.1:4568/hook", allowed)).toContain("loopback");
    expect(callbackUrlProblem("http://receiver.local/hook", allowed)).toBeUndefined();
    expect(callbackUrlProblem("http://receiver.local:9999/hook", allowed)).toBeUndefined();
    expect(callbackUrlProblem("http://[::1]:80/hook", allowed)).toBeUndefined();
  });

  it("keeps every other rule for allowed hosts", () => {
    expect(callbackUrlProblem("http://u:p@127.0.0.1:4567/hook", allowed)).toContain("credentials");
  });

  it("refuses entries that are not host[:port]", () => {
    expect(() => parseAllowedHosts("example.com/path")).toThrow();
    expect(parseAllowedHosts("")).toEqual([]);
    expect(parseAllowedHosts(undefined)).toEqual([]);
  });
});

describe("callbackHost", () => {
  it("shows the host and port only, never the path or query", () => {
    expect(callbackHost("https://hooks.example.com:8443/x/y?token=secret")).toBe("hooks.example.com:8443");
    expect(callbackHost("https://hooks.example.com/x?token=secret")).toBe("hooks.example.com");
  });
});
