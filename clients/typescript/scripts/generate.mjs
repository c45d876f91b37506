#!/usr/bin/env node
/**
 * Regenerates the client's OpenAPI snapshot and types from the app's document (from the root's
 * `npm run build` output). With --check it generates into a temporary directory and fails when
 * anything differs from what is committed, so CI catches a contract change without a new client.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { renderClientFiles } from "./render.mjs";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(packageDir, "../../dist/src/app/openapi/publishedDocument.js");
const { publishedOpenApiDocument } = await import(pathToFileURL(built).href).catch((error) => {
  console.error(`cannot load ${built} (${error.message}); run npm run build at the repository root first`);
  process.exit(2);
});
const files = await renderClientFiles(publishedOpenApiDocument());
const check = process.argv.includes("--check");
const target = check ? mkdtempSync(join(tmpdir(), "autopilot-import-client-")) : packageDir;

const stale = [];
for (const [path, text] of Object.entries(files)) {
  mkdirSync(dirname(join(target, path)), { recursive: true });
  writeFileSync(join(target, path), text);
  if (!check) continue;
  let committed = "";
  try {
    committed = readFileSync(join(packageDir, path), "utf8");
  } catch {
    // not written yet: stale
  }
  if (committed !== text) stale.push(path);
}
if (check) rmSync(target, { recursive: true, force: true });
if (stale.length) {
  console.error(
    `clients/typescript is out of date with the OpenAPI document: ${stale.join(", ")} differ. Run npm run client:generate and commit the result.`,
  );
  process.exit(1);
}
console.log(check ? "clients/typescript matches the OpenAPI document" : `generated ${Object.keys(files).join(", ")}`);
