import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * Compiles a partner's program (clients/typescript/test/fixture) against the generated types:
 * `components["schemas"]["Batch"]`, the client's methods and its errors must read as a partner
 * would write them, and misuse (an unknown state, a misspelled field) must not compile.
 */
describe("the generated types", () => {
  it("compile a partner's program, and refuse its mistakes", async () => {
    const tsc = promisify(execFile)(process.execPath, [
      "node_modules/typescript/bin/tsc",
      "-p",
      "clients/typescript/test/fixture/tsconfig.json",
    ]);
    await expect(tsc.catch((error: { stdout: string }) => Promise.reject(new Error(error.stdout)))).resolves.toBeDefined();
  });
});
