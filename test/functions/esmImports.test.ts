import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * vitest's module interop hides what Node's own ESM loader does with CommonJS packages: it sees
 * only the exports cjs-module-lexer can detect. @azure/functions is a webpack bundle, and a named
 * import Node cannot detect (HttpResponse was one) makes dist/functions/index.js fail to load
 * under the Functions host although every test passes. Each value named in an
 * `import { … } from "@azure/functions"` must therefore be one Node detects.
 */
describe("functions/index.ts under Node's ESM loader", () => {
  it("imports from @azure/functions only names Node can see", () => {
    const source = readFileSync(new URL("../../functions/index.ts", import.meta.url), "utf8");
    const named = [...source.matchAll(/import\s+(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*"@azure\/functions"/g)]
      .flatMap((m) => m[1]!.split(","))
      .map((part) => part.trim())
      .filter((part) => part && !part.startsWith("type "))
      .map((part) => part.split(/\s+as\s+/)[0]!);
    const visible = JSON.parse(
      execFileSync(
        process.execPath,
        ["--input-type=module", "-e", 'import * as f from "@azure/functions"; console.log(JSON.stringify(Object.keys(f)))'],
        {
          cwd: new URL("../..", import.meta.url),
          encoding: "utf8",
        },
      ),
    ) as string[];
    expect(visible).toContain("default");
    expect(named.filter((name) => !visible.includes(name))).toEqual([]);
  });
});
