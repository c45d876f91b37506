import { describe, expect, it } from "vitest";
import { serveDashboardAsset, serveDashboardPage } from "../../src/dashboard/serveDashboard.js";
import type { AppRequest } from "../../src/http/types.js";

function get(path: string): AppRequest {
  return {
    method: "GET",
    url: new URL(path, "http://localhost:7071"),
    headers: { get: () => null },
    params: {},
    readBody: async () => Buffer.alloc(0),
  };
}

describe("the dashboard page", () => {
  it("is HTML that loads its script and style from its own path, with no inline script", async () => {
    const response = await serveDashboardPage(get("/api/dashboard/"));
    expect(response.status).toBe(200);
    expect(response.headers?.["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.body).toContain('<script type="module" src="/api/dashboard/dashboard.js"></script>');
    expect(response.body).toContain('href="/api/dashboard/dashboard.css"');
    expect(response.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(response.body).not.toMatch(/\sstyle=|\son\w+=/);
  });

  it("forbids inline script, foreign origins and framing, and sniffing", async () => {
    const { headers } = await serveDashboardPage(get("/api/dashboard"));
    const csp = headers?.["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(headers?.["x-content-type-options"]).toBe("nosniff");
  });
});

describe("the dashboard's files", () => {
  it("serves its script, module, style and icon with their media types and the same headers", async () => {
    for (const [name, type] of [
      ["dashboard.js", "text/javascript; charset=utf-8"],
      ["view.js", "text/javascript; charset=utf-8"],
      ["dashboard.css", "text/css; charset=utf-8"],
      ["icon.svg", "image/svg+xml"],
    ] as const) {
      const response = await serveDashboardAsset(name);
      expect(response.status, name).toBe(200);
      expect(response.headers?.["content-type"], name).toBe(type);
      expect(response.headers?.["x-content-type-options"], name).toBe("nosniff");
      expect(response.body?.length, name).toBeGreaterThan(100);
    }
  });

  it("serves nothing else: no other name, no path outside its folder", async () => {
    for (const name of ["index.html", "../dashboardAssets.ts", "..%2Fpackage.json", "package.json", "constructor", "toString"]) {
      const response = await serveDashboardAsset(name);
      expect(response.status, name).toBe(404);
      expect(response.headers?.["content-type"], name).toBe("application/problem+json");
    }
  });
});
