import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { publishedOpenApiDocument } from "../../src/app/openapi/publishedDocument.js";
// @ts-expect-error: a plain ES module of the client package's generator, without types.
import { renderClientFiles } from "../../clients/typescript/scripts/render.mjs";

/**
 * The committed client (its OpenAPI snapshot and generated types) is what the generator makes
 * from the current document: a contract change without `npm run client:generate` fails here, as
 * `npm run client:check` fails it in CI.
 */
describe("the typed client", () => {
  it("is generated from the current OpenAPI document", async () => {
    const files = (await renderClientFiles(publishedOpenApiDocument())) as Record<string, string>;
    expect(Object.keys(files)).toEqual(["openapi.json", "src/generated/schema.ts"]);
    for (const [path, text] of Object.entries(files)) {
      expect(readFileSync(`clients/typescript/${path}`, "utf8"), `clients/typescript/${path} is stale: run npm run client:generate`).toBe(
        text,
      );
    }
  });
});
