/**
 * A small reader for the Bicep in infra/, enough for the cross-check test: no Bicep compiler can
 * run here, so the test reads the source as text. It understands the subset infra/ is written in:
 *
 * - `//` and `/* *\/` comments; strings in single quotes with `\` escapes and `${…}` interpolation
 *   (which may hold strings of its own); `'''` multi-line strings;
 * - object literals whose properties are `key: value`, separated by new lines (or commas);
 * - `var x = 'text'` and `var xs = [ 'a' 'b' ]`;
 * - `resource sym 'Type@version' [existing] = [if (…)] { … }` and `= [for x in xs: { … }]`.
 *
 * It is not a parser for all of Bicep: anything it cannot resolve (a setting name built with
 * interpolation, a role id that is not a literal or a var) throws, naming what it met, rather
 * than being skipped.
 */

/** The source with comments replaced by spaces (new lines kept), so nothing inside a comment counts. */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    if (source.startsWith("//", i)) {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (source[i] === "'") {
      const stop = skipString(source, i);
      out += source.slice(i, stop);
      i = stop;
    } else {
      out += source[i];
      i++;
    }
  }
  return out;
}

/** Index just past the string literal that starts at `start` (a quote). */
export function skipString(text: string, start: number): number {
  if (text.startsWith("'''", start)) {
    const end = text.indexOf("'''", start + 3);
    if (end === -1) throw new Error(`unterminated ''' string at ${start}`);
    return end + 3;
  }
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") i += 2;
    else if (c === "'") return i + 1;
    else if (c === "$" && text[i + 1] === "{") i = closingIndex(text, i + 1) + 1;
    else i++;
  }
  throw new Error(`unterminated string at ${start}`);
}

const CLOSER: Record<string, string> = { "{": "}", "[": "]", "(": ")" };

/** Index of the bracket that closes the one at `open`, skipping strings and nested brackets. */
export function closingIndex(text: string, open: number): number {
  const stack = [CLOSER[text[open]!]];
  if (!stack[0]) throw new Error(`no bracket at ${open}`);
  let i = open + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (CLOSER[c]) stack.push(CLOSER[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i;
    }
    i++;
  }
  throw new Error(`unclosed '${text[open]}' at ${open}`);
}

/**
 * Splits the inside of a bracket pair into its top-level items: Bicep separates object properties
 * and array items by new lines (or commas), and only those at depth 0 count.
 */
function topLevelItems(text: string, open: number): string[] {
  const close = closingIndex(text, open);
  const items: string[] = [];
  let start = open + 1;
  let i = open + 1;
  while (i < close) {
    const c = text[i]!;
    if (c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (CLOSER[c]) {
      i = closingIndex(text, i) + 1;
      continue;
    }
    if (c === "\n" || c === ",") {
      items.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  items.push(text.slice(start, close));
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

/** The top-level properties of the object literal whose `{` is at `open`: key → value text. */
export function objectProperties(text: string, open: number): Map<string, string> {
  const properties = new Map<string, string>();
  for (const item of topLevelItems(text, open)) {
    const match = /^(?:'([^']*)'|([A-Za-z_][\w]*))\s*:\s*([\s\S]*)$/.exec(item);
    if (!match) throw new Error(`not a 'key: value' property: ${item.slice(0, 80)}`);
    properties.set(match[1] ?? match[2]!, match[3]!.trim());
  }
  return properties;
}

/** Properties of an object given as value text (e.g. a property's value that is `{ … }`). */
export function objectOf(valueText: string): Map<string, string> {
  const open = valueText.indexOf("{");
  if (open !== 0) throw new Error(`not an object literal: ${valueText.slice(0, 80)}`);
  return objectProperties(valueText, 0);
}

/** A plain string literal's text, or undefined for anything else (interpolated strings included). */
export function literalString(valueText: string): string | undefined {
  const match = /^'((?:[^'\\$]|\\.|\$(?!\{))*)'$/.exec(valueText.trim());
  return match ? match[1]!.replace(/\\(.)/g, "$1") : undefined;
}

/** The items of an array literal of plain strings; throws if an item is anything else. */
export function literalStringArray(valueText: string): string[] {
  const text = valueText.trim();
  if (!text.startsWith("[")) throw new Error(`not an array literal: ${text.slice(0, 80)}`);
  return topLevelItems(text, 0).map((item) => {
    const value = literalString(item);
    if (value === undefined) throw new Error(`array item is not a plain string: ${item}`);
    return value;
  });
}

/** `var name = value` declarations: name → value text (up to the end of its expression). */
export function variables(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const match of text.matchAll(/^var\s+(\w+)\s*=\s*/gm)) {
    const start = match.index + match[0].length;
    vars.set(match[1]!, expressionAt(text, start));
  }
  return vars;
}

/** The expression starting at `start`, to the end of its line, brackets and strings spanning lines included. */
function expressionAt(text: string, start: number): string {
  let i = start;
  while (i < text.length && text[i] !== "\n") {
    const c = text[i]!;
    if (c === "'") i = skipString(text, i);
    else if (CLOSER[c]) i = closingIndex(text, i) + 1;
    else i++;
  }
  return text.slice(start, i).trim();
}

export interface BicepResource {
  symbol: string;
  /** e.g. Microsoft.Storage/storageAccounts/queueServices/queues */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** `[for x in <loopSource>: …]`: the collection's expression text. */
  loopSource?: string;
  properties: Map<string, string>;
}

/** Every `resource` declaration of a file. */
export function resources(text: string): BicepResource[] {
  const found: BicepResource[] = [];
  for (const match of text.matchAll(/^resource\s+(\w+)\s+'([^'@]+)@([^']+)'\s*(existing\s*)?=\s*/gm)) {
    let i = match.index + match[0].length;
    if (text.startsWith("if", i)) {
      const open = text.indexOf("(", i);
      i = closingIndex(text, open) + 1;
      while (/\s/.test(text[i]!)) i++;
    }
    let loopSource: string | undefined;
    if (text[i] === "[") {
      const loop = /^\[\s*for\s+(?:\w+|\([^)]*\))\s+in\s+([^:]+):\s*/.exec(text.slice(i));
      if (!loop) throw new Error(`resource ${match[1]}: unsupported loop`);
      loopSource = loop[1]!.trim();
      i += loop[0].length;
    }
    if (text[i] !== "{") throw new Error(`resource ${match[1]}: expected '{' after '='`);
    found.push({
      symbol: match[1]!,
      type: match[2]!,
      apiVersion: match[3]!,
      existing: Boolean(match[4]),
      ...(loopSource ? { loopSource } : {}),
      properties: objectProperties(text, i),
    });
  }
  return found;
}

/**
 * The names given to the declared (not `existing`) resources of one type: a literal `name`, or
 * for a loop, the items of the array it loops over (a literal or a `var`).
 */
export function declaredNames(text: string, type: string): string[] {
  const vars = variables(text);
  return resources(text)
    .filter((r) => r.type === type && !r.existing)
    .flatMap((r) => {
      if (r.loopSource !== undefined) {
        const source = vars.get(r.loopSource) ?? r.loopSource;
        return literalStringArray(source);
      }
      const name = literalString(r.properties.get("name") ?? "");
      if (name === undefined) throw new Error(`${r.symbol}: name is not a plain string`);
      return [name];
    });
}

/**
 * App settings: every object literal whose properties are exactly `name` and `value` (the shape of
 * siteConfig.appSettings items). Names must be plain strings, so a reader can know them.
 */
export function appSettingNames(text: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      i = skipString(text, i) - 1;
      continue;
    }
    if (c !== "{") continue;
    const properties = objectProperties(text, i);
    if (properties.size === 2 && properties.has("name") && properties.has("value")) {
      const name = literalString(properties.get("name")!);
      if (name === undefined) throw new Error(`app setting name is not a plain string: ${properties.get("name")}`);
      names.push(name);
    }
  }
  return names;
}

export interface RoleAssignment {
  symbol: string;
  roleDefinitionId: string;
  /** The principalId expression, e.g. `identityPrincipalId`. */
  principal: string;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Role assignments, with the role definition GUID resolved from a literal or a `var`. */
export function roleAssignments(text: string): RoleAssignment[] {
  const vars = variables(text);
  return resources(text)
    .filter((r) => r.type === "Microsoft.Authorization/roleAssignments" && !r.existing)
    .map((r) => {
      const body = objectOf(r.properties.get("properties") ?? "");
      const expression = body.get("roleDefinitionId") ?? "";
      const direct = GUID.exec(expression);
      const viaVar = [...expression.matchAll(/\b([A-Za-z_]\w*)\b/g)]
        .map((m) => literalString(vars.get(m[1]!) ?? ""))
        .find((value) => value !== undefined && GUID.test(value));
      const roleDefinitionId = direct?.[0] ?? viaVar;
      if (!roleDefinitionId) throw new Error(`${r.symbol}: cannot resolve roleDefinitionId '${expression}'`);
      return { symbol: r.symbol, roleDefinitionId: roleDefinitionId.toLowerCase(), principal: body.get("principalId") ?? "" };
    });
}

/** `param name type [= default]` declarations: name → whether it has a default. */
export function parameters(text: string): Map<string, { hasDefault: boolean }> {
  const params = new Map<string, { hasDefault: boolean }>();
  for (const match of text.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)) params.set(match[1]!, { hasDefault: Boolean(match[2]) });
  return params;
}
