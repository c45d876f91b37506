/**
 * Server-driven paging. The skip token carries the creation sequence of the last record
 * served rather than an offset, so a walk sees every record that exists throughout it exactly
 * once even when records are deleted or created between pages (new ones come at the end).
 * The token is opaque to clients; they must follow @odata.nextLink as given.
 */
export const MAX_PAGE_SIZE = 999;

export interface PageCursor {
  /** Records with a sequence greater than this come next. */
  after: number;
  top: number;
}

export function encodeSkipToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify({ a: cursor.after, t: cursor.top }), "utf8").toString("base64url");
}

export function decodeSkipToken(token: string): PageCursor | undefined {
  try {
    const raw: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof raw !== "object" || raw === null) return undefined;
    const { a, t } = raw as { a?: unknown; t?: unknown };
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(t)) return undefined;
    if ((t as number) < 1 || (t as number) > MAX_PAGE_SIZE) return undefined;
    return { after: a as number, top: t as number };
  } catch {
    return undefined;
  }
}

/** `$top` as Graph takes it: a whole number from 1 to 999. */
export function parseTop(raw: string): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const top = Number(raw);
  return top >= 1 && top <= MAX_PAGE_SIZE ? top : undefined;
}

export interface Page<T> {
  items: T[];
  /** Present when more records follow the page. */
  next?: PageCursor;
}

/** Takes one page from items in ascending `seq` order. */
export function takePage<T extends { seq: number }>(items: Iterable<T>, cursor: PageCursor): Page<T> {
  const page: T[] = [];
  for (const item of items) {
    if (item.seq <= cursor.after) continue;
    if (page.length === cursor.top) return { items: page, next: { after: page[page.length - 1]!.seq, top: cursor.top } };
    page.push(item);
  }
  return { items: page };
}
