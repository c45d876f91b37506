import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * What azd deploys is what infra/hooks/stagePackage.mjs stages. The test builds this checkout into
 * a scratch copy, stages it as the hook does (without the production install) and reads the
 * result: the app's entry and everything it imports are there, and nothing development-only
 * (the Graph simulator, the development host, tests, benchmarks, TypeScript) is.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const LEFT_OUT_DIRECTORIES = new Set(["node_modules", "dist", ".git", ".deploy", ".azure", ".azurite", "coverage"]);

let scratch: string;
let staged: string[];
let stagedDir: string;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "staged-package-"));
  cpSync(root, scratch, { recursive: true, filter: (source) => !LEFT_OUT_DIRECTORIES.has(source.split(sep).pop() ?? "") });
  // The compiler needs the type packages; the stager never walks into a linked node_modules.
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"), "dir");
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(scratch, "tsconfig.json")], {
    cwd: scratch,
    stdio: "pipe",
  });
  stagedDir = join(scratch, ".deploy");
  execFileSync(process.execPath, [join(scratch, "infra/hooks/stagePackage.mjs"), "--out", stagedDir, "--no-install"], {
    cwd: scratch,
    stdio: "pipe",
  });
  staged = listFiles(stagedDir);
}, 180_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the staged Function App package", () => {
  it("holds the entry the Functions host runs", () => {
    expect(staged).toEqual(expect.arrayContaining(["dist/functions/index.js", "host.json", "package.json", "package-lock.json"]));
  });

  it("ships no simulator, development host, test, benchmark or TypeScript source", () => {
    const development = staged.filter(
      (path) => /(^|\/)(src\/dev|test|bench)\//.test(path) || /simulator/i.test(path) || /\.(ts|map)$/.test(path),
    );
    expect(development).toEqual([]);
  });

  it("carries every module the entry reaches through relative imports", () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(stagedDir, file), "utf8");
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = relative(stagedDir, resolve(dirname(join(stagedDir, file)), match[1]!))
          .split(sep)
          .join("/");
        if (!existsSync(join(stagedDir, target))) missing.push(`${file} → ${target}`);
        else if (target.endsWith(".js")) visit(target);
      }
    };
    visit("dist/functions/index.js");
    expect(missing).toEqual([]);
    // The walk reached the app, not just the entry: services and a worker step ship.
    expect([...seen].some((path) => path.startsWith("dist/src/worker/"))).toBe(true);
  });
});
