import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SETTING_NAMES } from "../../src/config/settings.js";
import { encodeDeviceMessage } from "../../src/storage/deviceMessage.js";
import * as storageNames from "../../src/storage/names.js";
import {
  appSettingNames,
  declaredNames,
  literalString,
  objectOf,
  parameters,
  resources,
  roleAssignments,
  stripComments,
  type RoleAssignment,
} from "./bicepReader.js";
// @ts-expect-error: a plain-JavaScript azd hook, without type declarations
import { funcIgnored, packageFiles } from "../../infra/hooks/stagePackage.mjs";

/**
 * No Bicep compiler runs here, so this test holds infra/ to the code instead: the app settings
 * the Bicep sets against the settings src/config/settings.ts reads, the queues and tables it
 * declares against src/storage/names.ts, the roles it grants, and the storage, vault, app and
 * package rules a deployment depends on. A new setting or name in the code fails here until the
 * Bicep sets it (or OPTIONAL_SETTINGS says why it need not).
 */

/**
 * Settings the code reads that the deployment leaves unset, each with the reason. README
 * "Deploy to Azure" lists them too (checked below). Everything else in SETTING_NAMES must be set
 * by infra/modules/functionapp.bicep.
 */
const TUNING = "tuning: the code's default is the production value; set it as an app setting to override";
export const OPTIONAL_SETTINGS: Readonly<Record<string, string>> = {
  AzureWebJobsStorage:
    "connection-string form of storage; the deployment connects with the managed identity (AzureWebJobsStorage__*) and the account refuses shared keys",
  GRAPH_BASE_URL: "defaults to https://graph.microsoft.com; set only for a national cloud",
  AZURE_CLIENT_CERTIFICATE_PATH:
    "client-certificate credential only, which Flex Consumption cannot use (no certificate files); the deployment offers managed-identity, federated-managed-identity and client-secret",
  DELETE_IMPORTED_RECORDS: "opt-in behaviour, off by default",
  SYNC_AFTER_IMPORT: "opt-in behaviour, off by default",
  SYNC_DEBOUNCE_MS: TUNING,
  GRAPH_REQUEST_TIMEOUT_MS: TUNING,
  GRAPH_LIST_GRACE_MS: TUNING,
  GRAPH_IMPORT_MODE: TUNING,
  IMPORT_CHUNK_SIZE: TUNING,
  IMPORT_MAX_DEVICES: TUNING,
  IMPORT_MAX_BODY_BYTES: TUNING,
  HASH_MIN_BYTES: TUNING,
  HASH_MAX_BYTES: TUNING,
  ENQUEUE_CONCURRENCY: TUNING,
  PACING_WINDOW_MS: TUNING,
  PACING_WRITES_PER_WINDOW: TUNING,
  PACING_HEADROOM: TUNING,
  RETRY_MAX_ATTEMPTS: TUNING,
  RETRY_BASE_DELAY_MS: TUNING,
  RETRY_MAX_DELAY_MS: TUNING,
  FOLLOW_UP_FIRST_DELAY_MS: TUNING,
  FOLLOW_UP_MAX_DELAY_MS: TUNING,
  IMPORT_SETTLE_TIMEOUT_MS: TUNING,
  STATUS_RETRY_AFTER_SECONDS: TUNING,
  WEBHOOK_ALLOWED_HOSTS: "development and tests only: lets a callbackUrl name a private or plain-http host, which production must refuse",
  WEBHOOK_RETRY_SCHEDULE_MS: TUNING,
  WEBHOOK_TIMEOUT_MS: TUNING,
  ENTRA_JWKS_URL: "defaults to the Microsoft Entra common keys; set only for a national cloud",
  INTAKE_RATE_PER_MINUTE: TUNING,
  INTAKE_RATE_BURST: TUNING,
  IDEMPOTENCY_TTL_HOURS: TUNING,
};

/** Settings the Bicep may set that src/ does not read, because the Functions host does. */
const HOST_SETTINGS: Readonly<Record<string, string>> = {
  AzureWebJobsStorage__blobServiceUri: "the host's blobs: keys, timer and singleton leases",
  AzureWebJobsStorage__queueServiceUri: "the queue trigger (connection AzureWebJobsStorage)",
  AzureWebJobsStorage__tableServiceUri: "identity-based AzureWebJobsStorage",
  AzureWebJobsStorage__credential: "identity-based AzureWebJobsStorage: managedidentity",
  AzureWebJobsStorage__clientId: "identity-based AzureWebJobsStorage: the user-assigned identity",
  APPLICATIONINSIGHTS_CONNECTION_STRING: "the host's telemetry",
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "the host's telemetry with Entra ID auth",
};

/** Deprecated on Flex Consumption (functionAppConfig replaces them); setting one breaks or confuses the app. */
const FLEX_DEPRECATED_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
  "ENABLE_ORYX_BUILD",
];

/** Built-in role ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles) the app's identity holds, and no others. */
const IDENTITY_ROLES: Readonly<Record<string, string>> = {
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
  "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
};
const IDENTITY_PRINCIPAL = "identityPrincipalId";

/** Exports of names.ts that are not queue or table names. */
const NOT_STORAGE_NAMES = new Set(["STORAGE_CONNECTION_SETTING"]);

// ---- the checks, as pure functions of what was read (so the tests below can show them failing) ----

export function settingProblems(input: {
  codeSettings: readonly string[];
  bicepSettings: readonly string[];
  optional: Readonly<Record<string, string>>;
  hostSettings: Readonly<Record<string, string>>;
  readmeDeploySection: string;
}): string[] {
  const problems: string[] = [];
  const code = new Set(input.codeSettings);
  const bicep = new Set(input.bicepSettings);
  for (const name of code) {
    if (!bicep.has(name) && !Object.hasOwn(input.optional, name)) {
      problems.push(
        `${name} is read by src/config/settings.ts but neither set by infra/modules/functionapp.bicep nor listed in OPTIONAL_SETTINGS (test/infra/bicepCrossCheck.test.ts)`,
      );
    }
  }
  for (const name of bicep) {
    if (!code.has(name) && !Object.hasOwn(input.hostSettings, name)) {
      problems.push(`${name} is set by infra/modules/functionapp.bicep but read by neither src/config/settings.ts nor the Functions host`);
    }
  }
  for (const name of Object.keys(input.optional)) {
    if (!code.has(name)) problems.push(`${name} is in OPTIONAL_SETTINGS but src/config/settings.ts no longer reads it`);
    if (bicep.has(name)) problems.push(`${name} is in OPTIONAL_SETTINGS but infra/modules/functionapp.bicep sets it`);
    if (!input.readmeDeploySection.includes(`\`${name}\``)) problems.push(`${name} is in OPTIONAL_SETTINGS but not listed in README "Deploy to Azure"`);
  }
  return problems;
}

export function nameProblems(kind: "queue" | "table", inCode: readonly string[], inBicep: readonly string[]): string[] {
  const bicep = new Set(inBicep);
  const code = new Set(inCode);
  return [
    ...[...code].filter((n) => !bicep.has(n)).map((n) => `${kind} '${n}' is named in src/storage/names.ts but not declared in infra/modules/storage.bicep`),
    ...[...bicep].filter((n) => !code.has(n)).map((n) => `${kind} '${n}' is declared in infra/modules/storage.bicep but not named in src/storage/names.ts`),
  ];
}

export function roleProblems(assignments: readonly RoleAssignment[], expected: Readonly<Record<string, string>>, principal: string): string[] {
  const held = new Set(assignments.filter((a) => a.principal === principal).map((a) => a.roleDefinitionId));
  return [
    ...Object.entries(expected)
      .filter(([id]) => !held.has(id))
      .map(([id, role]) => `the identity is not assigned ${role} (${id})`),
    ...[...held].filter((id) => !Object.hasOwn(expected, id)).map((id) => `the identity holds role ${id}, which is not among the least roles it needs`),
  ];
}

// ---- reading the repository ----

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

function bicepFiles(): Map<string, string> {
  const files = new Map<string, string>([["infra/main.bicep", stripComments(read("infra/main.bicep"))]]);
  for (const name of readdirSync(new URL("infra/modules/", root)).filter((f) => f.endsWith(".bicep")).sort()) {
    files.set(`infra/modules/${name}`, stripComments(read(`infra/modules/${name}`)));
  }
  return files;
}

function readmeSection(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}`);
  if (start === -1) return "";
  const next = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, next === -1 ? undefined : next);
}

function codeStorageNames(): { queues: string[]; tables: string[]; unclassified: string[] } {
  const queues: string[] = [];
  const tables: string[] = [];
  const unclassified: string[] = [];
  for (const [key, value] of Object.entries(storageNames)) {
    if (NOT_STORAGE_NAMES.has(key)) continue;
    if (key.endsWith("_QUEUE") && typeof value === "string") queues.push(value);
    else if (key.endsWith("_TABLE") && typeof value === "string") tables.push(value);
    else unclassified.push(key);
  }
  return { queues, tables, unclassified };
}

const files = bicepFiles();
const functionApp = files.get("infra/modules/functionapp.bicep")!;
const storage = files.get("infra/modules/storage.bicep")!;
const allBicep = [...files.values()];

function resourceOf(text: string, type: string) {
  const found = resources(text).filter((r) => r.type === type && !r.existing);
  expect(found, `one ${type} declared`).toHaveLength(1);
  return found[0]!;
}

describe("the Bicep reader", () => {
  const snippet = stripComments(`
var queueNames = [
  'a-queue' // a comment with a { brace
]
var roleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
resource q 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for n in queueNames: {
  name: n
}]
resource t 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = if (deploy) {
  name: 'atable'
}
resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid('x', '\${y}')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: identityPrincipalId
  }
}
var settings = cond ? [
  {
    name: 'GRAPH_CREDENTIAL'
    value: 'x\${'}'}y'
  }
] : []
var more = [
  { name: 'SINGLE_LINE', value: 1 }
]
`);

  it("reads app setting names, loop and literal resource names, and role ids through vars", () => {
    expect(appSettingNames(snippet)).toEqual(["GRAPH_CREDENTIAL", "SINGLE_LINE"]);
    expect(declaredNames(snippet, "Microsoft.Storage/storageAccounts/queueServices/queues")).toEqual(["a-queue"]);
    expect(declaredNames(snippet, "Microsoft.Storage/storageAccounts/tableServices/tables")).toEqual(["atable"]);
    expect(roleAssignments(snippet)).toEqual([
      { symbol: "ra", roleDefinitionId: "974c5e8b-45b9-4653-ba55-5f855dd0fb88", principal: "identityPrincipalId" },
    ]);
  });

  it("refuses a setting whose name it cannot know", () => {
    expect(() => appSettingNames(`var s = [\n  {\n    name: '\${prefix}X'\n    value: 'v'\n  }\n]\n`)).toThrow(/not a plain string/);
  });

  it("fails the cross-check naming a setting the Bicep does not set, and a stale one it does", () => {
    const problems = settingProblems({
      codeSettings: ["GRAPH_CREDENTIAL", "WEBHOOK_SIGNING_SECRET"],
      bicepSettings: appSettingNames(snippet),
      optional: {},
      hostSettings: {},
      readmeDeploySection: "",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^WEBHOOK_SIGNING_SECRET is read by src\/config\/settings.ts but neither set/),
      expect.stringMatching(/^SINGLE_LINE is set by infra\/modules\/functionapp.bicep but read by neither/),
    ]);
  });

  it("fails naming a queue, table or role that does not match", () => {
    expect(nameProblems("queue", ["a-queue", "webhooks"], ["a-queue"])).toEqual([
      "queue 'webhooks' is named in src/storage/names.ts but not declared in infra/modules/storage.bicep",
    ]);
    expect(roleProblems(roleAssignments(snippet), IDENTITY_ROLES, IDENTITY_PRINCIPAL)).toContain(
      "the identity is not assigned Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6)",
    );
  });

  it("reads .funcignore rules the way gitignore does for the patterns used", () => {
    const rules = "*.ts\n/test/\n/dist/bench/\n!keep.ts\n";
    expect(funcIgnored(rules, "src/app/services.ts")).toBe(true);
    expect(funcIgnored(rules, "keep.ts")).toBe(false);
    expect(funcIgnored(rules, "test/x.js")).toBe(true);
    expect(funcIgnored(rules, "src/test/x.js")).toBe(false);
    expect(funcIgnored(rules, "dist/bench/run.js")).toBe(true);
    expect(funcIgnored(rules, "dist/functions/index.js")).toBe(false);
  });
});

describe("infra/ against the code", () => {
  it("sets every setting src/config/settings.ts reads (or OPTIONAL_SETTINGS says why not), and nothing else", () => {
    const problems = settingProblems({
      codeSettings: SETTING_NAMES,
      bicepSettings: allBicep.flatMap(appSettingNames),
      optional: OPTIONAL_SETTINGS,
      hostSettings: HOST_SETTINGS,
      readmeDeploySection: readmeSection(read("README.md"), "Deploy to Azure"),
    });
    expect(problems).toEqual([]);
  });

  it("sets no app setting that Flex Consumption has deprecated", () => {
    const set = new Set(appSettingNames(functionApp));
    expect(FLEX_DEPRECATED_SETTINGS.filter((name) => set.has(name))).toEqual([]);
  });

  it("declares exactly the queues and tables src/storage/names.ts names", () => {
    const code = codeStorageNames();
    expect(code.unclassified, "names.ts exports: end each queue name *_QUEUE and each table name *_TABLE").toEqual([]);
    expect([
      ...nameProblems("queue", code.queues, declaredNames(storage, "Microsoft.Storage/storageAccounts/queueServices/queues")),
      ...nameProblems("table", code.tables, declaredNames(storage, "Microsoft.Storage/storageAccounts/tableServices/tables")),
    ]).toEqual([]);
  });

  it("agrees with host.json and the message encoding the code writes", () => {
    const host = JSON.parse(read("host.json"));
    expect(host.extensions.queues.messageEncoding).toBe("base64");
    const encoded = encodeDeviceMessage({ v: 1, kind: "submit", batchId: "b", rowKey: "device-000000", attempt: 1 });
    expect(JSON.parse(Buffer.from(encoded, "base64").toString("utf8"))).toMatchObject({ batchId: "b" });
    // Flex Consumption runs non-C# apps on extension bundle 4.x or later.
    expect(host.extensionBundle.version).toMatch(/^\[4\./);
  });

  it("grants the identity exactly the least roles it needs", () => {
    expect(roleProblems(allBicep.flatMap(roleAssignments), IDENTITY_ROLES, IDENTITY_PRINCIPAL)).toEqual([]);
  });

  it("locks the storage account down: no shared keys, TLS 1.2, no public blobs, HTTPS only", () => {
    const account = objectOf(resourceOf(storage, "Microsoft.Storage/storageAccounts").properties.get("properties")!);
    expect(account.get("allowSharedKeyAccess")).toBe("false");
    expect(literalString(account.get("minimumTlsVersion")!)).toBe("TLS1_2");
    expect(account.get("allowBlobPublicAccess")).toBe("false");
    expect(account.get("supportsHttpsTrafficOnly")).toBe("true");
  });

  it("keeps Key Vault in RBAC mode with soft delete and purge protection", () => {
    const vault = objectOf(resourceOf(files.get("infra/modules/keyvault.bicep")!, "Microsoft.KeyVault/vaults").properties.get("properties")!);
    expect(vault.get("enableRbacAuthorization")).toBe("true");
    expect(vault.get("enableSoftDelete")).toBe("true");
    expect(vault.get("enablePurgeProtection")).toBe("true");
  });

  it("runs Node 22 on a Flex Consumption plan, deploying from blob storage with the identity", () => {
    const plan = resourceOf(functionApp, "Microsoft.Web/serverfarms");
    expect(literalString(objectOf(plan.properties.get("sku")!).get("name")!)).toBe("FC1");
    const site = resourceOf(functionApp, "Microsoft.Web/sites");
    expect(literalString(site.properties.get("kind")!)).toBe("functionapp,linux");
    const config = objectOf(objectOf(site.properties.get("properties")!).get("functionAppConfig")!);
    const runtime = objectOf(config.get("runtime")!);
    expect([literalString(runtime.get("name")!), literalString(runtime.get("version")!)]).toEqual(["node", "22"]);
    const scale = objectOf(config.get("scaleAndConcurrency")!);
    expect([scale.get("maximumInstanceCount"), scale.get("instanceMemoryMB")]).toEqual(["maximumInstanceCount", "instanceMemoryMB"]);
    const deployment = objectOf(objectOf(config.get("deployment")!).get("storage")!);
    expect(literalString(deployment.get("type")!)).toBe("blobContainer");
    expect(literalString(objectOf(deployment.get("authentication")!).get("type")!)).toBe("UserAssignedIdentity");
    // azd deploys the azure.yaml service to the resource carrying its name in this tag.
    expect(site.properties.get("tags")).toContain("'azd-service-name': 'api'");
    expect(read("azure.yaml")).toMatch(/^services:\n {2}api:\n(?: {4}.*\n)*? {4}host: function\n/m);
  });

  it("passes only parameters main.bicep declares, and every one it requires", () => {
    const declared = parameters(files.get("infra/main.bicep")!);
    const passed = Object.keys(JSON.parse(read("infra/main.parameters.json")).parameters);
    expect(passed.filter((name) => !declared.has(name))).toEqual([]);
    expect([...declared].filter(([name, p]) => !p.hasDefault && !passed.includes(name)).map(([name]) => name)).toEqual([]);
    for (const match of files.get("infra/main.bicep")!.matchAll(/^module\s+\w+\s+'([^']+)'/gm)) {
      expect(existsSync(new URL(`infra/${match[1]}`, root)), match[1]).toBe(true);
    }
  });

  it("packages what the app runs and leaves out sources, tests and tools", () => {
    const rules = read(".funcignore");
    const kept = ["dist/functions/index.js", "dist/src/app/services.js", "host.json", "package.json", "package-lock.json", "src/dashboard/public/index.html"];
    const left = ["src/app/services.ts", "functions/index.ts", "test/infra/bicepCrossCheck.test.ts", "bench/run.ts", "dist/bench/run.js", "dist/test/support/devices.js", "infra/main.bicep", "local.settings.json", "dist/src/app/services.js.map", ".azure/dev/.env"];
    expect(kept.filter((path) => funcIgnored(rules, path))).toEqual([]);
    expect(left.filter((path) => !funcIgnored(rules, path))).toEqual([]);
    expect(JSON.parse(read("package.json")).main).toBe("dist/functions/index.js");
    // What the azd hook would stage from this checkout: no TypeScript, no tests, the dashboard's files.
    const staged: string[] = packageFiles(fileURLToPath(root), rules);
    expect(staged).toEqual(expect.arrayContaining(["host.json", "package.json", "package-lock.json", "src/dashboard/public/index.html"]));
    expect(staged.filter((path) => /\.ts$|^test\/|^bench\/|^infra\/|^node_modules\//.test(path))).toEqual([]);
    // azd packages the directory azure.yaml names as `dist`, which the prepackage hook fills.
    const service = read("azure.yaml");
    expect(service).toMatch(/^ {4}dist: \.deploy$/m);
    expect(service).toMatch(/^ {4}remoteBuild: false$/m);
    expect(service).toMatch(/run: node infra\/hooks\/stagePackage\.mjs/);
  });
});
