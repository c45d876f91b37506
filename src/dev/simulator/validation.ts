import { isBase64 } from "./deviceKeys.js";
import type { ImportedDeviceInput } from "./records.js";

/**
 * Request-body checks Graph's OData layer makes before the import service sees anything:
 * failures here are a synchronous 400, never an import that settles to error.
 */
export type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

export type ApiVersion = "v1.0" | "beta";

const ENTITY_TYPE = "microsoft.graph.importedWindowsAutopilotDeviceIdentity";
const STRING_PROPERTIES = ["groupTag", "serialNumber", "productKey", "importId", "assignedUserPrincipalName"] as const;
// Accepted because Graph's own samples send them; the service assigns both, so they are ignored.
const SERVICE_OWNED_PROPERTIES = ["id", "state"] as const;
// Older beta pages (and the create sample) still list it; current ones do not, and v1.0 never had it.
const BETA_ONLY_IGNORED_PROPERTIES = ["orderIdentifier"] as const;

export function validateImportedDevice(body: unknown, version: ApiVersion): Validated<ImportedDeviceInput> {
  if (!isPlainObject(body)) return invalid("The request body must be a JSON object.");

  const known = new Set<string>(["@odata.type", "hardwareIdentifier", ...STRING_PROPERTIES, ...SERVICE_OWNED_PROPERTIES]);
  if (version === "beta") for (const p of BETA_ONLY_IGNORED_PROPERTIES) known.add(p);
  for (const key of Object.keys(body)) {
    if (!known.has(key)) {
      return invalid(
        `The property '${key}' does not exist on type '${ENTITY_TYPE}'. Make sure to only use property names that are defined by the type.`,
      );
    }
  }

  const odataType = body["@odata.type"];
  if (odataType !== undefined && odataType !== `#${ENTITY_TYPE}` && odataType !== ENTITY_TYPE) {
    return invalid(`'@odata.type' must be '#${ENTITY_TYPE}', not ${JSON.stringify(odataType)}.`);
  }

  for (const key of [...STRING_PROPERTIES, "id", ...(version === "beta" ? BETA_ONLY_IGNORED_PROPERTIES : [])]) {
    const value = body[key];
    if (value !== undefined && value !== null && typeof value !== "string") {
      return invalid(`Cannot convert the literal '${JSON.stringify(value)}' to the expected type 'Edm.String' (property '${key}').`);
    }
  }
  if (body.state !== undefined && body.state !== null && !isPlainObject(body.state)) {
    return invalid("The property 'state' must be an importedWindowsAutopilotDeviceIdentityState object.");
  }

  const hash = body.hardwareIdentifier;
  if (hash !== undefined && hash !== null && (typeof hash !== "string" || !isBase64(hash))) {
    // Graph's words for an unpadded hash (windows-itpro-docs #6150); the literal is cut short
    // here, since the message reaches device rows and logs and a whole hash must not.
    return invalid(`Cannot convert the literal '${shortLiteral(hash)}' to the expected type 'Edm.Binary'.`);
  }

  // An absent or null hash is well-formed OData; the import service rejects it later (802).
  return {
    ok: true,
    value: {
      groupTag: stringOrNull(body.groupTag),
      serialNumber: stringOrNull(body.serialNumber),
      productKey: stringOrNull(body.productKey),
      importId: stringOrNull(body.importId),
      hardwareIdentifier: stringOrNull(hash),
      assignedUserPrincipalName: stringOrNull(body.assignedUserPrincipalName),
    },
  };
}

export const IMPORT_ACTION_PARAMETER = "importedWindowsAutopilotDeviceIdentities";

export function validateImportAction(body: unknown, version: ApiVersion): Validated<ImportedDeviceInput[]> {
  if (!isPlainObject(body)) return invalid("The request body must be a JSON object.");
  for (const key of Object.keys(body)) {
    if (key !== IMPORT_ACTION_PARAMETER)
      return invalid(`The parameter '${key}' in the request payload is not a valid parameter for the operation 'import'.`);
  }
  const items = body[IMPORT_ACTION_PARAMETER];
  if (!Array.isArray(items)) return invalid(`The parameter '${IMPORT_ACTION_PARAMETER}' must be an array.`);

  const devices: ImportedDeviceInput[] = [];
  for (const [index, item] of items.entries()) {
    const one = validateImportedDevice(item, version);
    if (!one.ok) return invalid(`${IMPORT_ACTION_PARAMETER}[${index}]: ${one.message}`);
    devices.push(one.value);
  }
  return { ok: true, value: devices };
}

/** How many writes an import action costs against the throttle, read before full validation. */
export function importActionSize(body: unknown): number {
  const items = isPlainObject(body) ? body[IMPORT_ACTION_PARAMETER] : undefined;
  return Array.isArray(items) ? Math.max(1, items.length) : 1;
}

/** Serial numbers named in a create or import body, for fault rules that match on them. */
export function serialNumbersIn(body: unknown): string[] {
  if (!isPlainObject(body)) return [];
  const items = body[IMPORT_ACTION_PARAMETER];
  const devices = Array.isArray(items) ? items : [body];
  return devices.flatMap((d) => (isPlainObject(d) && typeof d.serialNumber === "string" ? [d.serialNumber] : []));
}

const LITERAL_SHOWN = 8;

function shortLiteral(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return text.length > LITERAL_SHOWN ? `${text.slice(0, LITERAL_SHOWN)}…` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function invalid(message: string): { ok: false; message: string } {
  return { ok: false, message };
}
