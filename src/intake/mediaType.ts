/**
 * Which body parser a Content-Type selects. JSON: application/json and any +json suffix type
 * (application/vnd.partner+json). CSV: text/csv and application/csv (some tools send the
 * latter). Parameters are allowed; `charset` is passed on to decodeText.
 */
export type MediaKind = "json" | "csv";

export const ACCEPTED_MEDIA_TYPES = ["application/json", "application/*+json", "text/csv", "application/csv"] as const;

export interface MediaType {
  kind: MediaKind;
  /** type/subtype, lower case. */
  essence: string;
  charset?: string;
}

export function readMediaType(header: string | undefined): MediaType | undefined {
  if (header === undefined) return undefined;
  const [essencePart = "", ...parameters] = header.split(";");
  const essence = essencePart.trim().toLowerCase();
  const kind = mediaKind(essence);
  if (kind === undefined) return undefined;
  let charset: string | undefined;
  for (const parameter of parameters) {
    const eq = parameter.indexOf("=");
    if (eq === -1 || parameter.slice(0, eq).trim().toLowerCase() !== "charset") continue;
    charset = parameter
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
  }
  return { kind, essence, ...(charset ? { charset } : {}) };
}

function mediaKind(essence: string): MediaKind | undefined {
  if (essence === "application/json" || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(essence)) return "json";
  if (essence === "text/csv" || essence === "application/csv") return "csv";
  return undefined;
}
