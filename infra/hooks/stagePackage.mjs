#!/usr/bin/env node
// azd `prepackage` hook (azure.yaml): stages the Function App package in .deploy/, which azure.yaml
// names as the service's `dist`. azd has just run `npm run build`; this copies every project file
// that .funcignore does not leave out (dist/, host.json, package.json, the dashboard's static
// files…), then installs production dependencies only, from the lock file, beside them. The
// project's own node_modules keeps its development dependencies, because azd's package step runs
// `npm run build` (tsc) once more after this hook.
//
//   node infra/hooks/stagePackage.mjs [--out <dir>] [--no-install]

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Directories never walked: reinstalled (node_modules), or not part of the project. */
const SKIPPED_DIRECTORIES = new Set(["node_modules", ".git", ".deploy", ".azure"]);

/**
 * Whether `.funcignore` rules leave a project path out. The gitignore subset the file uses: `*`,
 * `**`, a leading `/` (anchored at the project root), a trailing `/` (a directory and everything
 * under it), `!` (take a path back in), `#` comments. Later rules win, as in gitignore.
 * @param {string} rules the .funcignore text
 * @param {string} path a project-relative path with `/` separators
 * @returns {boolean}
 */
export function funcIgnored(rules, path) {
  let ignored = false;
  for (const raw of rules.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    let pattern = negated ? line.slice(1) : line;
    const directoryOnly = pattern.endsWith("/");
    if (directoryOnly) pattern = pattern.slice(0, -1);
    // gitignore: a slash at the start or in the middle anchors the pattern at the root.
    const anchored = pattern.includes("/");
    pattern = pattern.replace(/^\//, "");
    const body = pattern
      .split(/(\*\*\/?|\*)/)
      .map((part) => {
        if (part === "**/") return "(?:.*/)?";
        if (part === "**") return ".*";
        if (part === "*") return "[^/]*";
        return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("");
    // A match on a directory covers everything under it.
    const regex = new RegExp(`^${anchored ? "" : "(?:.*/)?"}${body}${directoryOnly ? "/" : "(?:/|$)"}`);
    if (regex.test(path)) ignored = !negated;
  }
  return ignored;
}

/**
 * The project files the package carries: every file under `root` that `.funcignore` keeps, outside
 * node_modules (installed afresh) and tool directories. Sorted, `/`-separated, relative to root.
 * @param {string} root
 * @param {string} rules
 * @returns {string[]}
 */
export function packageFiles(root, rules) {
  /** @type {string[]} */
  const files = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const path = relative(root, full).split(sep).join("/");
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRECTORIES.has(entry.name) && !funcIgnored(rules, `${path}/`)) walk(full);
      } else if (entry.isFile() && !funcIgnored(rules, path)) {
        files.push(path);
      }
    }
  };
  walk(root);
  return files.sort();
}

function main() {
  const args = process.argv.slice(2);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const outIndex = args.indexOf("--out");
  const out = resolve(root, outIndex >= 0 ? (args[outIndex + 1] ?? "") : ".deploy");
  const rules = readFileSync(join(root, ".funcignore"), "utf8");
  if (!existsSync(join(root, JSON.parse(readFileSync(join(root, "package.json"), "utf8")).main))) {
    throw new Error("package.json main does not exist: run `npm run build` first");
  }
  rmSync(out, { recursive: true, force: true });
  const files = packageFiles(root, rules);
  for (const file of files) {
    mkdirSync(dirname(join(out, file)), { recursive: true });
    cpSync(join(root, file), join(out, file));
  }
  // With an ignore file present, azd applies no default exclusions of its own to the package.
  writeFileSync(join(out, ".funcignore"), "*.map\n");
  if (!args.includes("--no-install")) {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    execFileSync(npm, ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: out, stdio: "inherit", shell: process.platform === "win32" });
  }
  console.log(
    `staged ${files.length} files in ${relative(root, out) || "."}${args.includes("--no-install") ? "" : " with production node_modules"}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
