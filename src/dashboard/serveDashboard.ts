import { notFound } from "../http/responses.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import { DASHBOARD_ASSETS, DASHBOARD_PAGE, readDashboardFile } from "./dashboardAssets.js";

/**
 * The page runs only its own files and talks only to this origin: no inline script or style
 * (the scripts build the DOM and set styles through the CSSOM), no frames, no form posts.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function dashboardHeaders(contentType: string): Record<string, string> {
  return {
    "content-type": contentType,
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // Small files; revalidate so a deployment shows at once.
    "cache-control": "no-cache",
  };
}

/** Where the page's files are served: the page's own path, whatever route prefix the host uses. */
function assetBase(request: AppRequest): string {
  const path = request.url.pathname.replace(/\/+$/, "");
  return /^\/[A-Za-z0-9_\-/]*$/.test(path) ? path : "/api/dashboard";
}

export async function serveDashboardPage(request: AppRequest): Promise<AppResponse> {
  const html = await readDashboardFile(DASHBOARD_PAGE);
  return { status: 200, headers: dashboardHeaders("text/html; charset=utf-8"), body: html.replaceAll("{{base}}", assetBase(request)) };
}

export async function serveDashboardAsset(name: string): Promise<AppResponse> {
  const contentType = Object.hasOwn(DASHBOARD_ASSETS, name) ? DASHBOARD_ASSETS[name] : undefined;
  if (!contentType) return notFound(`The dashboard has no file '${name.slice(0, 64)}'.`);
  return { status: 200, headers: dashboardHeaders(contentType), body: await readDashboardFile(name) };
}
