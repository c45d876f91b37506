/**
 * A small JSON Schema (2020-12) validator for the keywords the OpenAPI document uses, so a test
 * can check a live response against the document itself rather than the zod schemas it came
 * from. Returns every problem found, with its JSON path. `$ref`s resolve against `root`.
 */
type Schema = Record<string, unknown> | boolean;

const FORMATS: Record<string, RegExp> = {
  "date-time": /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  uri: /^[a-z][a-z0-9+.-]*:/i,
};

const KNOWN_KEYWORDS = new Set([
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "format",
  "allOf",
  "anyOf",
  "oneOf",
  "$ref",
  "description",
  "default",
  "contentEncoding",
  "title",
  "examples",
  "$schema",
  "propertyNames",
]);

export function validateJson(value: unknown, schema: Schema, root: unknown = schema, path = "$"): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const problems: string[] = [];
  for (const key of Object.keys(schema))
    if (!KNOWN_KEYWORDS.has(key) && !key.startsWith("x-")) problems.push(`${path}: the validator does not know keyword '${key}'`);
  if (typeof schema.$ref === "string") problems.push(...validateJson(value, resolve(root, schema.$ref), root, path));
  for (const sub of (schema.allOf as Schema[] | undefined) ?? []) problems.push(...validateJson(value, sub, root, path));
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((sub) => validateJson(value, sub, root, path).length === 0)) {
    problems.push(`${path}: matches none of anyOf`);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = schema.oneOf.filter((sub) => validateJson(value, sub, root, path).length === 0).length;
    if (matching !== 1) problems.push(`${path}: matches ${matching} of oneOf, not exactly one`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(value, t as string)))
      return [...problems, `${path}: ${JSON.stringify(value)?.slice(0, 80)} is not ${types.join("|")}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    problems.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && [...value].length < schema.minLength)
      problems.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === "number" && [...value].length > schema.maxLength)
      problems.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
      problems.push(`${path}: does not match ${schema.pattern}`);
    const format = typeof schema.format === "string" ? FORMATS[schema.format] : undefined;
    if (format && !format.test(value)) problems.push(`${path}: not a ${schema.format}`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
      problems.push(`${path}: not above ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum)
      problems.push(`${path}: not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) problems.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined)
      value.forEach((item, i) => problems.push(...validateJson(item, schema.items as Schema, root, `${path}[${i}]`)));
  }
  if (isType(value, "object")) {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const name of (schema.required as string[] | undefined) ?? [])
      if (!(name in object)) problems.push(`${path}: missing required '${name}'`);
    for (const [name, item] of Object.entries(object)) {
      if (name in properties) problems.push(...validateJson(item, properties[name]!, root, `${path}.${name}`));
      else if (schema.additionalProperties !== undefined)
        problems.push(...validateJson(item, schema.additionalProperties as Schema, root, `${path}.${name}`));
    }
  }
  return problems;
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "null":
      return value === null;
    default:
      return typeof value === type;
  }
}

export function resolve(root: unknown, ref: string): Schema {
  if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported: ${ref}`);
  let node = root;
  for (const part of ref.slice(2).split("/"))
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  return node as Schema;
}
