/**
 * "Did you mean …?" for unknown field and column names, and a safe way to show such a name:
 * names come from the caller, so a very long one (or one holding an '@') might really be a value
 * in the wrong place (a hash, a UPN) and is described rather than echoed.
 */

const SHOWN_NAME_MAX_LENGTH = 64;
// A product key (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX) or Windows product ID (00330-80000-00000-AA123) in the wrong place.
const PRODUCT_KEY_SHAPE = /[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}/i;

export function displayName(name: string): string {
  const safe =
    name.length <= SHOWN_NAME_MAX_LENGTH &&
    !name.includes("@") &&
    !PRODUCT_KEY_SHAPE.test(name) &&
    !/[\u0000-\u001f\u007f-\u009f]/.test(name);
  return safe ? name : `(a ${name.length}-character name)`;
}

function squash(name: string): string {
  return name.toLowerCase().replace(/[\s_.-]+/g, "");
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known name `unknown` most likely stands for: an alias, the same name in another case or
 * spelling (serial_number), or a close typo. Undefined when nothing is close.
 */
export function closestName(unknown: string, known: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | undefined {
  if (unknown.length > SHOWN_NAME_MAX_LENGTH) return undefined;
  const wanted = squash(unknown);
  if (wanted === "") return undefined;
  const alias = Object.entries(aliases).find(([from]) => squash(from) === wanted)?.[1];
  if (alias !== undefined) return alias;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(wanted, squash(name));
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(squash(best.name).length / 4));
  return best.distance <= allowed ? best.name : undefined;
}

/** "unknown field 'serialnumber'; did you mean 'serialNumber'?" */
export function unknownNameMessage(
  kind: "field" | "column",
  unknown: string,
  known: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string {
  const suggestion = closestName(unknown, known, aliases);
  const base = `unknown ${kind} '${displayName(unknown)}'`;
  return suggestion === undefined
    ? `${base}; expected one of ${known.map((k) => `'${k}'`).join(", ")}`
    : `${base}; did you mean '${suggestion}'?`;
}
