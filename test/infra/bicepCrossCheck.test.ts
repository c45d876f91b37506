import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { SETTING_NAMES } from "../../src/config/settings.js";
import { encodeDeviceMessage } from "../../src/storage/deviceMessage.js";
import * as storageNames from "../../src/storage/names.js";
import { compiledTemplate, deploy, Runtime, type ArmTemplate, type DeployedResource } from "./armTemplate.js";
// @ts-expect-error: a plain-JavaScript azd hook, without type declarations
import { funcIgnored, packageFiles } from "../../infra/hooks/stagePackage.mjs";

/**
 * Holds infra/ to the code, on the ARM template the Bicep compiler writes (infra/.build/main.json,
 * built by `npm run infra:check`, or here when it is missing or stale): the template is
 * instantiated for each way an operator can configure it (test/infra/armTemplate.ts), and the
 * resources it would deploy are checked: the app settings against the settings
 * src/config/settings.ts reads, the queues and tables against src/storage/names.ts, the roles the
 * identity holds and where, and the storage, vault and app rules a deployment depends on. A new
 * setting or name in the code fails here until the Bicep sets it (or OPTIONAL_SETTINGS says why
 * it need not). Only what is not Bicep (host.json, .funcignore, azure.yaml, the README) is read as text.
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
  STORAGE_RETRY_DELAY_MS: TUNING,
  STORAGE_RETRY_MAX_DELAY_MS: TUNING,
  STORAGE_RETRY_SPAN_MS: TUNING,
  GRAPH_IMPORT_MODE: TUNING,
  IMPORT_CHUNK_SIZE: TUNING,
  IMPORT_MAX_DEVICES: TUNING,
  IMPORT_MAX_BODY_BYTES: TUNING,
  HASH_MIN_BYTES: TUNING,
  HASH_MAX_BYTES: TUNING,
  ENQUEUE_CONCURRENCY: TUNING,
  FANOUT_RANGE_DEVICES: TUNING,
  FANOUT_CONCURRENCY: TUNING,
  PACING_WINDOW_MS: TUNING,
  PACING_WRITES_PER_WINDOW: TUNING,
  PACING_HEADROOM: TUNING,
  PACING_CLOCK: TUNING,
  RETRY_MAX_ATTEMPTS: TUNING,
  RETRY_BASE_DELAY_MS: TUNING,
  RETRY_MAX_DELAY_MS: TUNING,
  FOLLOW_UP_FIRST_DELAY_MS: TUNING,
  FOLLOW_UP_MAX_DELAY_MS: TUNING,
  IMPORT_SETTLE_TIMEOUT_MS: TUNING,
  PROFILE_ASSIGN_TIMEOUT_MS: TUNING,
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

/**
 * Built-in role ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles) the app's
 * identity holds, each on the one resource it needs it on, and no others.
 */
const IDENTITY_ROLES: Readonly<Record<string, { role: string; on: string }>> = {
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": { role: "Storage Queue Data Contributor", on: "Microsoft.Storage/storageAccounts" },
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": { role: "Storage Table Data Contributor", on: "Microsoft.Storage/storageAccounts" },
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": { role: "Storage Blob Data Owner", on: "Microsoft.Storage/storageAccounts" },
  "4633458b-17de-408a-b874-0445c86b69e6": { role: "Key Vault Secrets User", on: "Microsoft.KeyVault/vaults" },
  "3913510d-42f4-4e42-8a64-420c390055eb": { role: "Monitoring Metrics Publisher", on: "Microsoft.Insights/components" },
};
const KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/** Exports of names.ts that are not queue or table names. */
const NOT_STORAGE_NAMES = new Set(["STORAGE_CONNECTION_SETTING"]);

/**
 * The ways an operator configures the deployment (infra/main.parameters.json, from azd
 * environment values): each Graph credential, and the optional partner Entra ID and deployer
 * role. Together they switch on every conditional setting and resource of the template.
 */
const BASE = { environmentName: "ci", location: "westeurope" };
const CONFIGURATIONS: Readonly<Record<string, Record<string, unknown>>> = {
  "managed-identity (the default)": BASE,
  "federated-managed-identity": {
    ...BASE,
    graphCredential: "federated-managed-identity",
    graphAppClientId: "11111111-1111-1111-1111-111111111111",
  },
  "client-secret": { ...BASE, graphCredential: "client-secret", graphAppClientId: "11111111-1111-1111-1111-111111111111" },
  "partner Entra ID tokens, deployer granted secrets": {
    ...BASE,
    entraAudience: "api://autopilot-import",
    entraIssuers: "https://login.microsoftonline.com/22222222-2222-2222-2222-222222222222/v2.0",
    principalId: "33333333-3333-3333-3333-333333333333",
  },
};

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
    if (!input.readmeDeploySection.includes(`\`${name}\``))
      problems.push(`${name} is in OPTIONAL_SETTINGS but not listed in README "Deploy to Azure"`);
  }
  return problems;
}

export function nameProblems(kind: "queue" | "table", inCode: readonly string[], inBicep: readonly string[]): string[] {
  const bicep = new Set(inBicep);
  const code = new Set(inCode);
  return [
    ...[...code]
      .filter((n) => !bicep.has(n))
      .map((n) => `${kind} '${n}' is named in src/storage/names.ts but not declared in infra/modules/storage.bicep`),
    ...[...bicep]
      .filter((n) => !code.has(n))
      .map((n) => `${kind} '${n}' is declared in infra/modules/storage.bicep but not named in src/storage/names.ts`),
  ];
}

export interface RoleGrant {
  roleDefinitionId: string;
  principalId: unknown;
  scope: unknown;
}

/** Role assignments of a deployment: the role GUID, who holds it and where. */
export function roleGrants(resources: readonly DeployedResource[]): RoleGrant[] {
  return resources
    .filter((r) => r.type === "Microsoft.Authorization/roleAssignments" && !r.existing)
    .map((r) => {
      const properties = r.body.properties as { roleDefinitionId: string; principalId: unknown };
      const id = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(properties.roleDefinitionId)?.[0];
      if (!id) throw new Error(`role assignment ${r.module}/${r.symbol}: no role GUID in ${properties.roleDefinitionId}`);
      return { roleDefinitionId: id.toLowerCase(), principalId: properties.principalId, scope: r.body.scope };
    });
}

/**
 * The identity holds exactly the expected roles, each on the one resource of the expected type
 * that the deployment creates (never on the resource group or subscription: an assignment without
 * a scope lands on the deployment's resource group).
 */
export function roleProblems(
  grants: readonly RoleGrant[],
  expected: Readonly<Record<string, { role: string; on: string }>>,
  identity: string,
  created: readonly DeployedResource[],
): string[] {
  const principal = `reference(Microsoft.ManagedIdentity/userAssignedIdentities/${identity}).principalId`;
  const mine = grants.filter((g) => g.principalId instanceof Runtime && g.principalId.text === principal);
  const problems: string[] = [];
  for (const [id, { role, on }] of Object.entries(expected)) {
    const held = mine.filter((g) => g.roleDefinitionId === id);
    const targets = created.filter((r) => r.type === on && !r.existing).map((r) => `${r.type}/${r.name}`);
    if (held.length === 0) problems.push(`the identity is not assigned ${role} (${id})`);
    if (targets.length !== 1) problems.push(`${role}: expected the deployment to create one ${on}, found ${targets.length}`);
    for (const grant of held) {
      if (grant.scope !== targets[0])
        problems.push(`${role} is granted on ${String(grant.scope ?? "the resource group")}, not on ${targets[0] ?? on}`);
    }
  }
  for (const grant of mine) {
    if (!Object.hasOwn(expected, grant.roleDefinitionId))
      problems.push(`the identity holds role ${grant.roleDefinitionId}, which is not among the least roles it needs`);
  }
  return problems;
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

// ---- reading the repository ----

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

function readmeSection(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}`);
  if (start === -1) return "";
  const next = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, next === -1 ? undefined : next);
}

let template: ArmTemplate;
const deployments = new Map<string, DeployedResource[]>();

beforeAll(() => {
  template = compiledTemplate();
  for (const [label, values] of Object.entries(CONFIGURATIONS)) deployments.set(label, deploy(template, values));
}, 300_000);

const only = (resources: readonly DeployedResource[], type: string): DeployedResource => {
  const found = resources.filter((r) => r.type === type && !r.existing);
  expect(
    found.map((r) => r.name),
    `one ${type} deployed`,
  ).toHaveLength(1);
  return found[0]!;
};
const props = (r: DeployedResource) => r.body.properties as Record<string, any>;
const appSettings = (resources: readonly DeployedResource[]) =>
  props(only(resources, "Microsoft.Web/sites")).siteConfig.appSettings as { name: string; value: unknown }[];

describe("the template evaluator and the checks", () => {
  const tiny: ArmTemplate = {
    parameters: {
      mode: { type: "string", defaultValue: "a", allowedValues: ["a", "b"] },
      names: { type: "array", defaultValue: ["x", "y"] },
    },
    variables: { suffix: "[toLower('-Q')]" },
    resources: [
      {
        type: "Microsoft.Resources/deployments",
        apiVersion: "2025-04-01",
        name: "inner",
        properties: {
          parameters: { prefix: { value: "[format('p{0}', variables('suffix'))]" }, names: { value: "[parameters('names')]" } },
          template: {
            languageVersion: "2.0",
            parameters: { prefix: { type: "string" }, names: { type: "array" } },
            resources: {
              queues: {
                type: "Microsoft.Storage/storageAccounts/queueServices/queues",
                apiVersion: "2026-09-01",
                copy: { name: "queues", count: "[length(parameters('names'))]" },
                name: "[format('{0}{1}', parameters('prefix'), parameters('names')[copyIndex()])]",
              },
              site: { type: "Microsoft.Web/sites", apiVersion: "2025-03-01", name: "s", existing: true },
            },
          },
        },
      },
      {
        type: "Microsoft.Storage/storageAccounts",
        apiVersion: "2026-09-01",
        name: "only-b",
        condition: "[equals(parameters('mode'), 'b')]",
      },
    ],
  };

  it("passes parameters into modules, expands loops, resolves conditions and marks existing resources", () => {
    const names = (values: Record<string, unknown>) =>
      deploy(tiny, values).map((r) => `${r.module}:${r.name}${r.existing ? " (existing)" : ""}`);
    expect(names({})).toEqual([":inner", "inner:p-qx", "inner:p-qy", "inner:s (existing)"]);
    expect(names({ mode: "b", names: ["z"] })).toEqual([":inner", "inner:p-qz", "inner:s (existing)", ":only-b"]);
    expect(() => deploy(tiny, { mode: "c" })).toThrow(/not among its allowed values/);
    expect(() => deploy(tiny, { nope: 1 })).toThrow(/no parameter nope/);
  });

  it("refuses a function it does not know rather than guessing", () => {
    const unknown: ArmTemplate = { resources: [{ type: "T", apiVersion: "1", name: "[pickZones('x')]" }] };
    expect(() => deploy(unknown, {})).toThrow(/pickzones\(\) is not known/);
  });

  it("fails the cross-check naming a setting the template does not set, and a stale one it does", () => {
    const problems = settingProblems({
      codeSettings: ["GRAPH_CREDENTIAL", "WEBHOOK_SIGNING_SECRET"],
      bicepSettings: ["GRAPH_CREDENTIAL", "SINGLE_LINE"],
      optional: {},
      hostSettings: {},
      readmeDeploySection: "",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^WEBHOOK_SIGNING_SECRET is read by src\/config\/settings.ts but neither set/),
      expect.stringMatching(/^SINGLE_LINE is set by infra\/modules\/functionapp.bicep but read by neither/),
    ]);
  });

  it("fails naming a queue that does not match, a missing role, and a role granted too widely", () => {
    expect(nameProblems("queue", ["a-queue", "webhooks"], ["a-queue"])).toEqual([
      "queue 'webhooks' is named in src/storage/names.ts but not declared in infra/modules/storage.bicep",
    ]);
    const principalId = new Runtime("reference(Microsoft.ManagedIdentity/userAssignedIdentities/id-x).principalId");
    const created = [
      { module: "m", symbol: "v", type: "Microsoft.KeyVault/vaults", apiVersion: "1", name: "kv", existing: false, body: {} },
    ];
    const expected = { "4633458b-17de-408a-b874-0445c86b69e6": { role: "Key Vault Secrets User", on: "Microsoft.KeyVault/vaults" } };
    expect(roleProblems([], expected, "id-x", created)).toEqual([
      "the identity is not assigned Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6)",
    ]);
    expect(
      roleProblems(
        [{ roleDefinitionId: "4633458b-17de-408a-b874-0445c86b69e6", principalId, scope: undefined }],
        expected,
        "id-x",
        created,
      ),
    ).toEqual(["Key Vault Secrets User is granted on the resource group, not on Microsoft.KeyVault/vaults/kv"]);
    expect(
      roleProblems(
        [{ roleDefinitionId: "b24988ac-6180-42a0-ab88-20f7382dd24c", principalId, scope: "Microsoft.KeyVault/vaults/kv" }],
        {},
        "id-x",
        created,
      ),
    ).toEqual(["the identity holds role b24988ac-6180-42a0-ab88-20f7382dd24c, which is not among the least roles it needs"]);
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

describe("the compiled template against the code", () => {
  it("sets every setting src/config/settings.ts reads (or OPTIONAL_SETTINGS says why not), and nothing else, in some configuration", () => {
    const set = new Set([...deployments.values()].flatMap((resources) => appSettings(resources).map((s) => s.name)));
    const problems = settingProblems({
      codeSettings: SETTING_NAMES,
      bicepSettings: [...set],
      optional: OPTIONAL_SETTINGS,
      hostSettings: HOST_SETTINGS,
      readmeDeploySection: readmeSection(read("README.md"), "Deploy to Azure"),
    });
    expect(problems).toEqual([]);
  });

  it("sets each app setting once, none that Flex Consumption has deprecated, and the ones each credential needs", () => {
    for (const [label, resources] of deployments) {
      const names = appSettings(resources).map((s) => s.name);
      expect(
        names.filter((n, i) => names.indexOf(n) !== i),
        `${label}: duplicates`,
      ).toEqual([]);
      expect(
        FLEX_DEPRECATED_SETTINGS.filter((n) => names.includes(n)),
        label,
      ).toEqual([]);
    }
    const settings = (label: string) => Object.fromEntries(appSettings(deployments.get(label)!).map((s) => [s.name, s.value]));
    const identity = only(deployments.get("managed-identity (the default)")!, "Microsoft.ManagedIdentity/userAssignedIdentities").name;
    const clientId = `reference(Microsoft.ManagedIdentity/userAssignedIdentities/${identity}).clientId`;
    expect(settings("managed-identity (the default)")).toMatchObject({
      GRAPH_CREDENTIAL: "managed-identity",
      AZURE_CLIENT_ID: new Runtime(clientId),
    });
    expect(settings("managed-identity (the default)")).not.toHaveProperty("AZURE_CLIENT_SECRET");
    expect(settings("federated-managed-identity")).toMatchObject({
      AZURE_CLIENT_ID: "11111111-1111-1111-1111-111111111111",
      MANAGED_IDENTITY_CLIENT_ID: new Runtime(clientId),
    });
    // The client secret is a Key Vault reference to the vault this deployment creates, never a value.
    const vault = only(deployments.get("client-secret")!, "Microsoft.KeyVault/vaults").name;
    expect(settings("client-secret").AZURE_CLIENT_SECRET).toBe(`@Microsoft.KeyVault(VaultName=${vault};SecretName=graph-client-secret)`);
    expect(settings("partner Entra ID tokens, deployer granted secrets")).toMatchObject({ ENTRA_AUDIENCE: "api://autopilot-import" });
    // Partner webhook secrets go to the vault this deployment creates, under every credential.
    for (const [label, resources] of deployments) {
      const created = only(resources, "Microsoft.KeyVault/vaults").name;
      expect(settings(label).KEY_VAULT_URL, label).toEqual(new Runtime(`reference(Microsoft.KeyVault/vaults/${created}).vaultUri`));
    }
  });

  it("declares exactly the queues and tables src/storage/names.ts names, in the one storage account", () => {
    const code = codeStorageNames();
    expect(code.unclassified, "names.ts exports: end each queue name *_QUEUE and each table name *_TABLE").toEqual([]);
    const resources = deployments.get("managed-identity (the default)")!;
    const account = only(resources, "Microsoft.Storage/storageAccounts").name;
    const children = (type: string) => resources.filter((r) => r.type === type && !r.existing).map((r) => r.name);
    const queues = children("Microsoft.Storage/storageAccounts/queueServices/queues");
    const tables = children("Microsoft.Storage/storageAccounts/tableServices/tables");
    expect([...queues, ...tables].filter((name) => !name.startsWith(`${account}/default/`))).toEqual([]);
    const last = (names: string[]) => names.map((n) => n.split("/").at(-1)!);
    expect([...nameProblems("queue", code.queues, last(queues)), ...nameProblems("table", code.tables, last(tables))]).toEqual([]);
  });

  it("agrees with host.json and the message encoding the code writes", () => {
    const host = JSON.parse(read("host.json"));
    expect(host.extensions.queues.messageEncoding).toBe("base64");
    const encoded = encodeDeviceMessage({ v: 1, kind: "submit", batchId: "b", rowKey: "device-000000", attempt: 1 });
    expect(JSON.parse(Buffer.from(encoded, "base64").toString("utf8"))).toMatchObject({ batchId: "b" });
    // Flex Consumption runs non-C# apps on extension bundle 4.x or later.
    expect(host.extensionBundle.version).toMatch(/^\[4\./);
  });

  it("grants the identity exactly the least roles it needs, each on the one storage account, vault or Application Insights", () => {
    for (const [label, resources] of deployments) {
      const identity = only(resources, "Microsoft.ManagedIdentity/userAssignedIdentities").name;
      expect(roleProblems(roleGrants(resources), IDENTITY_ROLES, identity, resources), label).toEqual([]);
    }
  });

  it("grants the deployer only Key Vault Secrets Officer on the vault, and only when azd names one", () => {
    const others = (label: string) => {
      const resources = deployments.get(label)!;
      const identity = only(resources, "Microsoft.ManagedIdentity/userAssignedIdentities").name;
      return roleGrants(resources).filter((g) => !(g.principalId instanceof Runtime && g.principalId.text.includes(`/${identity})`)));
    };
    expect(others("managed-identity (the default)")).toEqual([]);
    const vault = only(deployments.get("partner Entra ID tokens, deployer granted secrets")!, "Microsoft.KeyVault/vaults");
    expect(others("partner Entra ID tokens, deployer granted secrets")).toEqual([
      {
        roleDefinitionId: KEY_VAULT_SECRETS_OFFICER,
        principalId: "33333333-3333-3333-3333-333333333333",
        scope: `Microsoft.KeyVault/vaults/${vault.name}`,
      },
    ]);
  });

  it("locks the storage account down: no shared keys, TLS 1.2, no public blobs, HTTPS only", () => {
    const resources = deployments.get("managed-identity (the default)")!;
    expect(props(only(resources, "Microsoft.Storage/storageAccounts"))).toMatchObject({
      allowSharedKeyAccess: false,
      minimumTlsVersion: "TLS1_2",
      allowBlobPublicAccess: false,
      supportsHttpsTrafficOnly: true,
    });
    expect(props(only(resources, "Microsoft.Storage/storageAccounts/blobServices/containers")).publicAccess).toBe("None");
  });

  it("serves the app over HTTPS and TLS 1.2 only, with FTP and basic publishing credentials off", () => {
    const resources = deployments.get("managed-identity (the default)")!;
    const site = only(resources, "Microsoft.Web/sites");
    expect(props(site)).toMatchObject({ httpsOnly: true, siteConfig: { minTlsVersion: "1.2", ftpsState: "Disabled" } });
    const policies = resources.filter((r) => r.type === "Microsoft.Web/sites/basicPublishingCredentialsPolicies" && !r.existing);
    expect(policies.map((p) => [p.name, props(p).allow]).sort()).toEqual([
      [`${site.name}/ftp`, false],
      [`${site.name}/scm`, false],
    ]);
  });

  it("keeps Key Vault in RBAC mode with soft delete and purge protection, and telemetry on Entra ID only", () => {
    const resources = deployments.get("managed-identity (the default)")!;
    expect(props(only(resources, "Microsoft.KeyVault/vaults"))).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enablePurgeProtection: true,
    });
    expect(props(only(resources, "Microsoft.Insights/components")).DisableLocalAuth).toBe(true);
  });

  it("runs Node 22 on a Flex Consumption plan as the identity, deploying from the package container with it", () => {
    const resources = deployments.get("managed-identity (the default)")!;
    const identity = `Microsoft.ManagedIdentity/userAssignedIdentities/${only(resources, "Microsoft.ManagedIdentity/userAssignedIdentities").name}`;
    const plan = only(resources, "Microsoft.Web/serverfarms");
    expect(plan.body.sku).toMatchObject({ name: "FC1", tier: "FlexConsumption" });
    const site = only(resources, "Microsoft.Web/sites");
    expect(site.body.kind).toBe("functionapp,linux");
    expect(site.body.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: { [identity]: {} } });
    expect(props(site)).toMatchObject({ serverFarmId: `Microsoft.Web/serverfarms/${plan.name}`, keyVaultReferenceIdentity: identity });
    const config = props(site).functionAppConfig;
    expect(config.runtime).toEqual({ name: "node", version: "22" });
    expect(config.scaleAndConcurrency).toEqual({ maximumInstanceCount: 40, instanceMemoryMB: 2048 });
    const account = only(resources, "Microsoft.Storage/storageAccounts").name;
    const container = only(resources, "Microsoft.Storage/storageAccounts/blobServices/containers").name.split("/").at(-1);
    expect(config.deployment.storage).toEqual({
      type: "blobContainer",
      value: new Runtime(`<reference(Microsoft.Storage/storageAccounts/${account}).primaryEndpoints.blob>${container}`),
      authentication: { type: "UserAssignedIdentity", userAssignedIdentityResourceId: identity },
    });
    // azd deploys the azure.yaml service to the resource carrying its name in this tag.
    expect(site.body.tags).toMatchObject({ "azd-service-name": "api" });
    expect(read("azure.yaml")).toMatch(/^services:\n {2}api:\n(?: {4}.*\n)*? {4}host: function\n/m);
  });

  it("passes only parameters main.bicep declares, and every one it requires", () => {
    const declared = template.parameters ?? {};
    const passed = Object.keys(JSON.parse(read("infra/main.parameters.json")).parameters);
    expect(passed.filter((name) => !Object.hasOwn(declared, name))).toEqual([]);
    expect(
      Object.entries(declared)
        .filter(([name, p]) => !("defaultValue" in p) && !passed.includes(name))
        .map(([name]) => name),
    ).toEqual([]);
  });

  it("packages what the app runs and leaves out sources, tests and tools", () => {
    const rules = read(".funcignore");
    const kept = [
      "dist/functions/index.js",
      "dist/src/app/services.js",
      "host.json",
      "package.json",
      "package-lock.json",
      "src/dashboard/public/index.html",
    ];
    const left = [
      "src/app/services.ts",
      "functions/index.ts",
      "test/infra/bicepCrossCheck.test.ts",
      "bench/run.ts",
      "dist/bench/run.js",
      "dist/test/support/devices.js",
      "infra/main.bicep",
      "local.settings.json",
      "dist/src/app/services.js.map",
      ".azure/dev/.env",
    ];
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
