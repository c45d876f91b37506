import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * The dashboard's files: plain HTML, CSS and browser JavaScript in src/dashboard/public, served
 * as they are (no bundler). tsc copies no such files, so when this module runs from dist/ it
 * reads them from the source tree beside it, which the deployment package carries.
 */
export const DASHBOARD_PAGE = "index.html";

/** Every file the page may load, with its media type; any other name is 404. */
export const DASHBOARD_ASSETS: Readonly<Record<string, string>> = {
  "dashboard.js": "text/javascript; charset=utf-8",
  "view.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
  // Without one the browser asks for /favicon.ico, which no function serves.
  "icon.svg": "image/svg+xml",
};

const PUBLIC_DIRS = [new URL("./public/", import.meta.url), new URL("../../../src/dashboard/public/", import.meta.url)];

let publicDir: URL | undefined;
const cache = new Map<string, Promise<string>>();

function findPublicDir(): URL {
  publicDir ??= PUBLIC_DIRS.find((dir) => existsSync(fileURLToPath(new URL(DASHBOARD_PAGE, dir))));
  if (!publicDir) throw new Error(`dashboard files not found in ${PUBLIC_DIRS.map((d) => fileURLToPath(d)).join(" or ")}`);
  return publicDir;
}

/** Reads one of the dashboard's files (a name from the lists above, never a caller's path), once per process. */
export function readDashboardFile(name: string): Promise<string> {
  if (name !== DASHBOARD_PAGE && !Object.hasOwn(DASHBOARD_ASSETS, name)) throw new Error(`not a dashboard file: ${name}`);
  let text = cache.get(name);
  if (!text) {
    text = readFile(new URL(name, findPublicDir()), "utf8");
    cache.set(name, text);
    text.catch(() => cache.delete(name));
  }
  return text;
}
