import { describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/worker/classifyGraphResult.js";

describe("classifyFailure", () => {
  it.each([408, 429, 500, 502, 503, 504])("treats HTTP %i as transient", (status) => {
    expect(classifyFailure({ kind: "http-error", status }).kind).toBe("transient");
  });

  it.each([400, 401, 404, 409, 422])("treats HTTP %i as permanent, keeping Graph's code and message", (status) => {
    const failure = classifyFailure({ kind: "http-error", status, code: "BadRequest", message: "nope" });
    expect(failure).toEqual({ kind: "permanent", errorCode: "BadRequest", errorMessage: "nope" });
  });

  it("carries Retry-After through", () => {
    expect(classifyFailure({ kind: "http-error", status: 429, retryAfterMs: 7_000, code: "TooManyRequests" })).toMatchObject({
      kind: "transient",
      retryAfterMs: 7_000,
      errorCode: "TooManyRequests",
    });
  });

  it("treats dropped connections and timeouts as transient", () => {
    expect(classifyFailure({ kind: "network-error", message: "socket hang up" })).toMatchObject({
      kind: "transient",
      errorCode: "NetworkError",
    });
  });

  it.each(["Forbidden", "Authorization_RequestDenied"])(
    "takes Intune's 403 (%s) for the tenant refusing the app, saying what it needs and where to consent",
    (code) => {
      const failure = classifyFailure(
        { kind: "http-error", status: 403, code, message: "Application is not authorized to perform this operation." },
        "contoso.onmicrosoft.com",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=app",
      );
      expect(failure).toMatchObject({ kind: "tenant", errorCode: code });
      expect(failure.errorMessage).toContain("DeviceManagementServiceConfig.ReadWrite.All");
      expect(failure.errorMessage).toContain("adminconsent?client_id=app");
    },
  );

  it("takes a tenant without consent for the tenant's problem, with the consent link", () => {
    const failure = classifyFailure(
      {
        kind: "tenant-access",
        problem: "consent-required",
        message: "AADSTS65001: not consented",
        adminConsentUrl: "https://login.microsoftonline.com/t/adminconsent?client_id=a",
      },
      "t",
    );
    expect(failure).toMatchObject({ kind: "tenant", errorCode: "TenantConsentRequired" });
    expect(failure.errorMessage).toContain("https://login.microsoftonline.com/t/adminconsent?client_id=a");
  });

  it("takes an unknown tenant for the tenant's problem", () => {
    expect(
      classifyFailure({ kind: "tenant-access", problem: "tenant-not-found", message: "AADSTS90002: Tenant 'x' not found." }, "x"),
    ).toMatchObject({ kind: "tenant", errorCode: "TenantNotFound" });
  });

  it("names the status when Graph sent no error body", () => {
    expect(classifyFailure({ kind: "http-error", status: 403 })).toMatchObject({ errorCode: "HTTP403" });
  });
});
