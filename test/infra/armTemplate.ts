/**
 * Reads the ARM template that the Bicep compiler writes (infra/.build/main.json, from
 * `npm run infra:check`) and instantiates it for given parameter values, the way Resource Manager
 * would before deploying: defaults applied, conditions and loops resolved, modules' parameters
 * passed down, expressions evaluated. What only Azure knows at deployment time (a resource's
 * runtime properties, resource ids, the tenant) stays symbolic: a `Runtime` value or a stable
 * placeholder string, so the tests can still tell *which* resource a value comes from.
 *
 * The evaluator covers the ARM functions the compiled template uses; any other function throws,
 * naming it, rather than being guessed at.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const COMPILED_TEMPLATE = `${root}infra/.build/main.json`;

/** Newest modification time of the Bicep sources and the linter config the build depends on. */
function newestSource(): number {
  const files = ["infra/main.bicep", "infra/bicepconfig.json", "infra/tools/bicep.csproj"];
  for (const name of readdirSync(`${root}infra/modules`)) if (name.endsWith(".bicep")) files.push(`infra/modules/${name}`);
  return Math.max(...files.map((f) => statSync(`${root}${f}`).mtimeMs));
}

/**
 * The compiled template. Builds it (infra/check.sh: compile and lint) when it is missing or older
 * than a Bicep file, so a test never reads a template that no longer matches the source. No Bicep
 * CLI means a failing test, not a skipped one.
 */
export function compiledTemplate(): ArmTemplate {
  if (!existsSync(COMPILED_TEMPLATE) || statSync(COMPILED_TEMPLATE).mtimeMs < newestSource()) {
    try {
      execFileSync("bash", [`${root}infra/check.sh`], { cwd: root, stdio: "pipe", timeout: 300_000 });
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
      throw new Error(
        `the infra tests read the ARM template the Bicep compiler writes, and \`npm run infra:check\` failed ` +
          `(it needs the Bicep CLI on PATH, or the .NET SDK and NuGet to restore it):\n${e.stdout ?? ""}${e.stderr ?? e.message}`,
        { cause: error },
      );
    }
  }
  return JSON.parse(readFileSync(COMPILED_TEMPLATE, "utf8")) as ArmTemplate;
}

// ---- the template's shape (only what is read here) ----

export interface ArmTemplate {
  languageVersion?: string;
  parameters?: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  variables?: Record<string, unknown>;
  resources: ArmResource[] | Record<string, ArmResource>;
  outputs?: Record<string, unknown>;
}

export interface ArmResource {
  type: string;
  apiVersion: string;
  name: unknown;
  existing?: boolean;
  condition?: unknown;
  copy?: { name: string; count: unknown };
  scope?: unknown;
  properties?: Record<string, unknown> & { template?: ArmTemplate; parameters?: Record<string, unknown> };
  [key: string]: unknown;
}

/** A resource as deployed: every expression evaluated, loops expanded, `existing` ones marked. */
export interface DeployedResource {
  /** Module path, e.g. `storage` (empty at the top level). */
  module: string;
  symbol: string;
  type: string;
  apiVersion: string;
  name: string;
  existing: boolean;
  body: Record<string, unknown>;
}

/** A value Azure supplies at deployment time, kept as the text of where it comes from. */
export class Runtime {
  constructor(readonly text: string) {}
  toString(): string {
    return `<${this.text}>`;
  }
}

/** Placeholders for what the deployment's context supplies (stable, so names derived from them are too). */
const SUBSCRIPTION_ID = "00000000-0000-0000-0000-00000000sub1";
export const TENANT_ID = "00000000-0000-0000-0000-0000tenant01";

function hash(parts: unknown[], length: number): string {
  return createHash("sha256")
    .update(JSON.stringify(parts.map(String)))
    .digest("hex")
    .slice(0, length);
}

// ---- the expression language: parse ----

type Node =
  | { kind: "literal"; value: unknown }
  | { kind: "call"; name: string; args: Node[] }
  | { kind: "member"; target: Node; property: string }
  | { kind: "index"; target: Node; index: Node };

function parse(source: string): Node {
  let i = 0;
  const skip = () => {
    while (i < source.length && /\s/.test(source[i]!)) i++;
  };
  const expect = (c: string) => {
    skip();
    if (source[i] !== c) throw new Error(`ARM expression: expected '${c}' at ${i} in ${source}`);
    i++;
  };
  function primary(): Node {
    skip();
    const c = source[i]!;
    if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) throw new Error(`ARM expression: unterminated string in ${source}`);
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += source[i++];
      }
      return { kind: "literal", value };
    }
    const number = /^-?\d+/.exec(source.slice(i));
    if (number) {
      i += number[0].length;
      return { kind: "literal", value: Number(number[0]) };
    }
    const ident = /^[A-Za-z_][\w.]*/.exec(source.slice(i));
    if (!ident) throw new Error(`ARM expression: unexpected '${c}' at ${i} in ${source}`);
    i += ident[0].length;
    expect("(");
    const args: Node[] = [];
    skip();
    if (source[i] === ")") i++;
    else
      for (;;) {
        args.push(expression());
        skip();
        if (source[i] === ",") i++;
        else {
          expect(")");
          break;
        }
      }
    return { kind: "call", name: ident[0].toLowerCase(), args };
  }
  function expression(): Node {
    let node = primary();
    for (;;) {
      skip();
      if (source[i] === ".") {
        i++;
        const property = /^[A-Za-z_$][\w$]*/.exec(source.slice(i));
        if (!property) throw new Error(`ARM expression: property name expected at ${i} in ${source}`);
        i += property[0].length;
        node = { kind: "member", target: node, property: property[0] };
      } else if (source[i] === "[") {
        i++;
        const index = expression();
        expect("]");
        node = { kind: "index", target: node, index };
      } else return node;
    }
  }
  const node = expression();
  skip();
  if (i !== source.length) throw new Error(`ARM expression: trailing text at ${i} in ${source}`);
  return node;
}

// ---- evaluate ----

interface Scope {
  parameters: Record<string, unknown>;
  variables: Record<string, unknown>;
  /** Symbolic name → resource, to resolve reference('symbol'). */
  symbols: Record<string, ArmResource>;
  copyIndex?: number;
  resourceGroup: string;
}

const isExpression = (value: string) => value.startsWith("[") && !value.startsWith("[[") && value.endsWith("]");

/** Evaluates a template value: strings holding an expression, and objects/arrays holding them (keys too). */
function evaluateValue(value: unknown, scope: Scope): unknown {
  if (typeof value === "string") {
    if (isExpression(value)) return evaluate(parse(value.slice(1, -1)), scope);
    return value.startsWith("[[") ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map((item) => evaluateValue(item, scope));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [String(evaluateValue(k, scope)), evaluateValue(v, scope)]));
  }
  return value;
}

const variableCache = new WeakMap<Scope, Map<string, unknown>>();

function variable(name: string, scope: Scope): unknown {
  let cache = variableCache.get(scope);
  if (!cache) variableCache.set(scope, (cache = new Map()));
  if (!cache.has(name)) {
    if (!Object.hasOwn(scope.variables, name)) throw new Error(`variables('${name}') is not declared`);
    cache.set(name, evaluateValue(scope.variables[name], scope));
  }
  return cache.get(name);
}

function text(value: unknown): string {
  return value instanceof Runtime ? value.toString() : typeof value === "string" ? value : JSON.stringify(value);
}

function evaluate(node: Node, scope: Scope): unknown {
  switch (node.kind) {
    case "literal":
      return node.value;
    case "member": {
      const target = evaluate(node.target, scope);
      if (target instanceof Runtime) return new Runtime(`${target.text}.${node.property}`);
      if (target && typeof target === "object" && Object.hasOwn(target, node.property))
        return (target as Record<string, unknown>)[node.property];
      throw new Error(`ARM expression: no property '${node.property}' on ${text(target)}`);
    }
    case "index": {
      const target = evaluate(node.target, scope);
      const index = evaluate(node.index, scope);
      if (target instanceof Runtime) return new Runtime(`${target.text}[${text(index)}]`);
      return (target as Record<string, unknown>)[index as string];
    }
    case "call":
      return call(node.name, node.args, scope);
  }
}

function call(name: string, argNodes: Node[], scope: Scope): unknown {
  // `if` evaluates only the branch taken, as ARM does.
  if (name === "if") {
    const condition = evaluate(argNodes[0]!, scope);
    if (typeof condition !== "boolean") throw new Error(`if() on a value known only at deployment: ${text(condition)}`);
    return evaluate(argNodes[condition ? 1 : 2]!, scope);
  }
  const args = argNodes.map((a) => evaluate(a, scope));
  const runtime = args.some((a) => a instanceof Runtime);
  switch (name) {
    case "parameters":
      if (!Object.hasOwn(scope.parameters, args[0] as string)) throw new Error(`parameters('${text(args[0])}') has no value`);
      return scope.parameters[args[0] as string];
    case "variables":
      return variable(args[0] as string, scope);
    case "equals":
      return runtime ? new Runtime(`equals(${args.map(text).join(", ")})`) : JSON.stringify(args[0]) === JSON.stringify(args[1]);
    case "not":
      return runtime ? new Runtime(`not(${text(args[0])})`) : !args[0];
    case "and":
      return args.every(Boolean);
    case "or":
      return args.some(Boolean);
    case "empty": {
      const v = args[0];
      if (v instanceof Runtime) return new Runtime(`empty(${v.text})`);
      return v === null || v === "" || (Array.isArray(v) ? v.length === 0 : typeof v === "object" && Object.keys(v as object).length === 0);
    }
    case "length":
      return (args[0] as unknown[] | string).length;
    case "createarray":
      return args;
    case "createobject": {
      const out: Record<string, unknown> = {};
      for (let k = 0; k < args.length; k += 2) out[args[k] as string] = args[k + 1];
      return out;
    }
    case "concat":
      if (args.every(Array.isArray)) return (args as unknown[][]).flat();
      return runtime ? new Runtime(args.map(text).join("")) : args.join("");
    case "union":
      return Object.assign({}, ...(args as object[]));
    case "format": {
      const out = (args[0] as string).replace(/\{(\d+)\}/g, (_, n: string) => text(args[Number(n) + 1]));
      return runtime ? new Runtime(out) : out;
    }
    case "string": {
      // ARM's string(): a string as it is, anything else as its JSON text.
      const v = args[0];
      if (v instanceof Runtime) return new Runtime(`string(${v.text})`);
      return typeof v === "string" ? v : JSON.stringify(v);
    }
    case "tolower":
      return runtime ? new Runtime(`toLower(${text(args[0])})`) : (args[0] as string).toLowerCase();
    case "copyindex":
      if (scope.copyIndex === undefined) throw new Error("copyIndex() outside a loop");
      return scope.copyIndex + ((args[0] as number) ?? 0);
    case "true":
      return true;
    case "false":
      return false;
    case "null":
      return null;
    // What the deployment context supplies: stable placeholders.
    case "subscription":
      return { id: `/subscriptions/${SUBSCRIPTION_ID}`, subscriptionId: SUBSCRIPTION_ID, tenantId: TENANT_ID };
    case "tenant":
      return { tenantId: TENANT_ID };
    case "resourcegroup":
      return { name: scope.resourceGroup, location: new Runtime("resourceGroup().location") };
    case "uniquestring":
      return hash(args, 13);
    case "guid": {
      const h = hash(args, 32);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    // Resource ids, as type/name so a test can tell which resource one names.
    case "resourceid":
    case "subscriptionresourceid":
    case "extensionresourceid": {
      const [type, ...names] = args.map(text);
      return `${type}/${names.join("/")}`;
    }
    case "reference": {
      const target = args[0] as string;
      const resource = scope.symbols[target];
      if (!resource) return new Runtime(`reference(${target})`);
      return new Runtime(`reference(${resource.type}/${text(evaluateValue(resource.name, scope))})`);
    }
    default:
      throw new Error(`ARM function ${name}() is not known to test/infra/armTemplate.ts`);
  }
}

// ---- instantiate a template ----

function resourceList(template: ArmTemplate): [string, ArmResource][] {
  return Array.isArray(template.resources) ? template.resources.map((r, i) => [`${r.type}[${i}]`, r]) : Object.entries(template.resources);
}

/**
 * Every resource the template deploys (and those it declares `existing`), for these parameter
 * values, modules included. Parameters without a value take their default, like ARM; a missing
 * required one throws.
 */
export function deploy(template: ArmTemplate, values: Record<string, unknown>, module = "", resourceGroup = "rg"): DeployedResource[] {
  const scope: Scope = {
    parameters: {},
    variables: template.variables ?? {},
    symbols: Array.isArray(template.resources) ? {} : template.resources,
    resourceGroup,
  };
  for (const [name, declaration] of Object.entries(template.parameters ?? {})) {
    if (Object.hasOwn(values, name)) scope.parameters[name] = values[name];
    else if ("defaultValue" in declaration) scope.parameters[name] = evaluateValue(declaration.defaultValue, scope);
    else throw new Error(`${module || "main"}: parameter ${name} has no value and no default`);
    const allowed = declaration.allowedValues;
    if (allowed && !allowed.some((a) => JSON.stringify(a) === JSON.stringify(scope.parameters[name]))) {
      throw new Error(`${module || "main"}: parameter ${name} = ${text(scope.parameters[name])} is not among its allowed values`);
    }
  }
  for (const name of Object.keys(values)) {
    if (!Object.hasOwn(template.parameters ?? {}, name)) throw new Error(`${module || "main"}: no parameter ${name}`);
  }
  const deployed: DeployedResource[] = [];
  for (const [symbol, resource] of resourceList(template)) {
    const count = resource.copy ? (evaluateValue(resource.copy.count, scope) as number) : undefined;
    for (let index = 0; index < (count ?? 1); index++) {
      const itemScope: Scope = count === undefined ? scope : { ...scope, copyIndex: index };
      if (resource.condition !== undefined && evaluateValue(resource.condition, itemScope) !== true) continue;
      const { properties, ...rest } = resource;
      if (resource.type === "Microsoft.Resources/deployments" && properties?.template) {
        const name = String(evaluateValue(resource.name, itemScope));
        const { template: inner, parameters, ...otherProperties } = properties;
        const passed: Record<string, unknown> = {};
        for (const [key, wrapped] of Object.entries(parameters ?? {})) {
          passed[key] = (evaluateValue(wrapped, itemScope) as { value: unknown }).value;
        }
        const group = resource.resourceGroup !== undefined ? String(evaluateValue(resource.resourceGroup, itemScope)) : resourceGroup;
        deployed.push({
          module,
          symbol,
          type: resource.type,
          apiVersion: resource.apiVersion,
          name,
          existing: false,
          body: evaluateValue(otherProperties, itemScope) as Record<string, unknown>,
        });
        deployed.push(...deploy(inner, passed, module ? `${module}/${name}` : name, group));
        continue;
      }
      const body = evaluateValue({ ...rest, properties }, itemScope) as Record<string, unknown>;
      deployed.push({
        module,
        symbol,
        type: resource.type,
        apiVersion: resource.apiVersion,
        name: String(body.name),
        existing: resource.existing === true,
        body,
      });
    }
  }
  return deployed;
}
