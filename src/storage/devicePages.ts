import { deviceRowKey, type DeviceEntity, type DeviceFields } from "./importEntities.js";

/**
 * Pages of devices: how intake makes a batch durable in a few entities instead of one per device
 * (docs/ARCHITECTURE.md, "Intake"). A page holds up to PAGE_MAX_DEVICES consecutive devices of
 * the batch, every field a device row would have, as JSON split over string columns. The fan-out
 * turns each page into its device rows in one entity-group transaction that also deletes the page
 * (ImportStore.expandPage), so at every moment a device is in exactly one place: a page or its row.
 *
 * Why: a device row per device made a 10,000-device batch 10,000 entities before its 202, at least
 * 5 s at a partition's documented target of 2,000 entities a second, and 40 s on Azurite, which
 * scans the partition for every row it writes. A hundred pages are a hundred entities.
 */
export const PAGE_ROW_PREFIX = "page-";

/** 99 rows and the page's own delete fill one entity-group transaction (100 entities). */
export const PAGE_MAX_DEVICES = 99;

/**
 * Characters of device JSON per page. Table storage counts a string at 2 bytes a character and an
 * entity at 1 MiB at most; 450,000 characters leave room for the keys and column names. A page of
 * ordinary devices (a 4K hash is about 4,000 characters) fills its 99 devices first.
 */
export const PAGE_MAX_CHARS = 450_000;

/** A string column holds at most 64 KiB, 32,768 characters. */
export const PAGE_PART_CHARS = 32_000;

export function pageRowKey(firstIndex: number): string {
  return `${PAGE_ROW_PREFIX}${String(firstIndex).padStart(6, "0")}`;
}

/** A page as stored: its devices' JSON in columns d00, d01, ... (`parts` of them). */
export interface DevicePageEntity {
  partitionKey: string;
  rowKey: string;
  /** Index of its first device; its devices are [first, first + count). */
  first: number;
  count: number;
  parts: number;
  [part: `d${string}`]: string;
}

export type StoredDevicePageEntity = DevicePageEntity & { etag: string };

type PagedDevice = Omit<DeviceFields, "index">;

/**
 * Packs consecutive devices into pages, never across a boundary in `breaks` (the fan-out's range
 * starts: a range's devices are then exactly the pages whose row keys fall in its range), each
 * page at most PAGE_MAX_DEVICES devices and PAGE_MAX_CHARS characters (one device always fits:
 * the schema's largest device is far below it). A page's JSON is made in one piece, not device by
 * device: for 10,000 devices that is 40 MB of strings the host never makes and throws away.
 */
export function packPages(batchId: string, devices: readonly DeviceEntity[], breaks: readonly number[] = []): DevicePageEntity[] {
  const cuts = new Set(breaks);
  const pages: DevicePageEntity[] = [];
  let items: DeviceEntity[] = [];
  let chars = 0;
  const flush = () => {
    if (items.length > 0) pages.push(...pageEntities(batchId, items));
    items = [];
    chars = 0;
  };
  for (const device of devices) {
    const size = jsonChars(device);
    if (items.length > 0 && (cuts.has(device.index) || items.length >= PAGE_MAX_DEVICES || chars + size + 1 > PAGE_MAX_CHARS)) flush();
    items.push(device);
    chars += size + 1;
  }
  flush();
  return pages;
}

/** Columns a page leaves out: the keys, which it knows from its position, and the index (first + k). */
const NOT_PAGED = new Set(["partitionKey", "rowKey", "index"]);
const pagedColumns = (key: string, value: unknown) => (NOT_PAGED.has(key) ? undefined : value);

/** A device's JSON length as a page holds it, exact unless a string needs escaping (pageEntities then splits the page). */
function jsonChars(device: DeviceEntity): number {
  let chars = 2;
  for (const [key, value] of Object.entries(device)) {
    if (value === undefined || NOT_PAGED.has(key)) continue;
    chars += key.length + 4 + (typeof value === "string" ? value.length + 2 : String(value).length);
  }
  return chars;
}

/** The page of `items`, or two halves if escaping made its JSON longer than a page may be. */
function pageEntities(batchId: string, items: readonly DeviceEntity[]): DevicePageEntity[] {
  const json = JSON.stringify(items, pagedColumns);
  if (json.length > PAGE_MAX_CHARS && items.length > 1) {
    const half = Math.ceil(items.length / 2);
    return [...pageEntities(batchId, items.slice(0, half)), ...pageEntities(batchId, items.slice(half))];
  }
  const first = items[0]!.index;
  const page: DevicePageEntity = { partitionKey: batchId, rowKey: pageRowKey(first), first, count: items.length, parts: 0 };
  for (let at = 0; at < json.length; at += PAGE_PART_CHARS) page[partName(page.parts++)] = json.slice(at, at + PAGE_PART_CHARS);
  return [page];
}

function partName(part: number): `d${string}` {
  return `d${String(part).padStart(2, "0")}`;
}

/** The device rows a page stands for, as intake would have written them. */
export function devicesOfPage(page: DevicePageEntity): DeviceEntity[] {
  let json = "";
  for (let part = 0; part < page.parts; part++) json += page[partName(part)] ?? "";
  const fields = JSON.parse(json) as PagedDevice[];
  if (fields.length !== page.count)
    throw new Error(`Device page ${page.partitionKey}/${page.rowKey} holds ${fields.length} devices, not ${page.count}`);
  return fields.map((device, k) => ({
    partitionKey: page.partitionKey,
    rowKey: deviceRowKey(page.first + k),
    index: page.first + k,
    ...device,
  }));
}

/**
 * Cuts rows into entity-group transactions: at most 100 entities and about `maxChars` characters
 * of JSON each (a transaction's body may be 4 MiB).
 */
export function transactionGroups<T extends object>(rows: readonly T[], maxChars = 3_000_000, maxRows = 100): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let chars = 0;
  for (const row of rows) {
    const size = approximateChars(row);
    if (group.length > 0 && (group.length >= maxRows || chars + size > maxChars)) {
      groups.push(group);
      group = [];
      chars = 0;
    }
    group.push(row);
    chars += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The characters an entity's JSON takes, near enough: its string columns and a little for the rest. */
function approximateChars(row: object): number {
  let chars = 0;
  for (const [name, value] of Object.entries(row)) chars += name.length + 8 + (typeof value === "string" ? value.length : 24);
  return chars;
}
