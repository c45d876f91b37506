import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";

const storage = { AzureWebJobsStorage: "UseDevelopmentStorage=true" };

describe("partner API settings", () => {
  it("default to API keys only, 60 intake requests a minute with a burst of 10, and 24 h Idempotency-Key records", () => {
    expect(loadConfig(storage).partnerApi).toEqual({ intakeRate: { perMinute: 60, burst: 10 }, idempotencyTtlMs: 86_400_000 });
  });

  it("accept Entra ID tokens with an audience and a list of issuers", () => {
    const config = loadConfig({
      ...storage,
      ENTRA_AUDIENCE: "api://autopilot-import",
      ENTRA_ISSUERS: "https://login.microsoftonline.com/t1/v2.0, https://sts.windows.net/t1/",
    });
    expect(config.partnerApi.entra).toEqual({
      audience: "api://autopilot-import",
      issuers: ["https://login.microsoftonline.com/t1/v2.0", "https://sts.windows.net/t1/"],
      jwksUrl: "https://login.microsoftonline.com/common/discovery/v2.0/keys",
    });
  });

  it.each([
    [{ ENTRA_AUDIENCE: "api://x" }, /ENTRA_ISSUERS/],
    [{ ENTRA_AUDIENCE: "api://x", ENTRA_ISSUERS: "not a url" }, /ENTRA_ISSUERS/],
    [{ IDEMPOTENCY_TTL_HOURS: "1" }, /IDEMPOTENCY_TTL_HOURS/],
    [{ INTAKE_RATE_BURST: "0" }, /INTAKE_RATE_BURST/],
    [{ INTAKE_RATE_PER_MINUTE: "-1" }, /INTAKE_RATE_PER_MINUTE/],
  ])("refuse %j naming the setting", (env, name) => {
    expect(() => loadConfig({ ...storage, ...env })).toThrow(name);
  });
});
