// Lint: typescript-eslint's recommended rules, and the layer rule of docs/ARCHITECTURE.md
// ("Code layout: layers that point one way"). `npm run lint` runs it in CI (.ci/run).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * The layers from the bottom up: a folder may import its own layer's folders and the ones below,
 * never one above. `src/model` holds the domain rules and imports no I/O; stores sit beside the
 * capability that owns them; `src/dev` (simulator, development host) and everything outside `src`
 * sit on top and never ship (.funcignore, test/infra/stagedPackage.test.ts).
 */
export const LAYERS = [
  ["src/model"],
  ["src/http", "src/telemetry", "src/config", "src/secrets"],
  ["src/storage", "src/graph"],
  ["src/dashboard", "src/auth"],
  ["src/webhooks"],
  ["src/status"],
  ["src/worker"],
  ["src/intake"],
  ["src/batches"],
  ["src/deregistration"],
  ["src/app"],
  ["functions", "src/dev", "src/cli", "bench", "test"],
];

const upwardZones = LAYERS.flatMap((folders, rank) =>
  folders.map((target) => ({
    target: `./${target}`,
    from: LAYERS.slice(rank + 1)
      .flat()
      .map((folder) => `./${folder}`),
    message: `${target} is layer ${rank}; it may not import a layer above it (docs/ARCHITECTURE.md, "layers that point one way").`,
  })),
).filter((zone) => zone.from.length > 0);

/** What ships (functions, src except src/dev) never reaches development-only code. */
const shippedZones = ["./functions", "./src/cli"].map((target) => ({
  target,
  from: ["./src/dev", "./test", "./bench"],
  message: "Shipped code may not import development-only code (src/dev, test, bench).",
}));

/** Modules that do I/O: the domain rules in src/model stay pure and are tested without servers. */
const ioModules = [
  "node:fs",
  "node:fs/promises",
  "node:http",
  "node:https",
  "node:http2",
  "node:child_process",
  "node:dgram",
  "node:dns",
  "node:tls",
  "node:worker_threads",
  "@azure/data-tables",
  "@azure/storage-queue",
  "@azure/identity",
  "@azure/functions",
  "@azure/keyvault-secrets",
];

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "coverage/**",
      "clients/typescript/src/generated/**",
      "clients/typescript/dist/**",
      "src/dashboard/public/**",
      "infra/**",
      ".azurite/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })],
      "import-x/extensions": [".ts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
    },
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly" },
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      // Intake looks for control characters on purpose (they are refused or replaced).
      "no-control-regex": "off",
      "import-x/no-restricted-paths": ["error", { zones: [...upwardZones, ...shippedZones] }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests walk untyped JSON (OpenAPI documents, ARM templates) as any.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["src/model/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...ioModules.map((name) => ({ name, message: "src/model holds pure domain rules: no I/O." })),
            { name: "node:net", allowImportNames: ["isIP", "BlockList"], message: "src/model may parse addresses, not open sockets." },
          ],
        },
      ],
    },
  },
);
