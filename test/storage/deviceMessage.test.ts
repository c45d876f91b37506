import { describe, expect, it } from "vitest";
import {
  chunkRole,
  decodeDeviceMessage,
  decodeSubmitMessage,
  encodeDeviceMessage,
  MalformedMessageError,
  type DeviceMessage,
} from "../../src/storage/deviceMessage.js";

const message: DeviceMessage = { v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 1 };

/** Each kind as its producers send it (the JSON on the wire), so messages already queued keep decoding. */
const sentToday: [string, DeviceMessage][] = [
  ["submit, without a slot", message],
  ["submit, a create at its slot", { v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 2, slotAt: 1_000, shiftAt: 0 }],
  [
    "submit, rescheduled",
    { v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 1, slotAt: 1_000, shiftAt: 5, rescheduled: 2 },
  ],
  [
    "submit, a chunk's leader",
    {
      v: 1,
      kind: "submit",
      batchId: "b",
      rowKey: "device-000000",
      attempt: 1,
      slotAt: 1_000,
      shiftAt: 0,
      chunk: { first: "device-000000", size: 100 },
    },
  ],
  ["pollBatch", { v: 1, kind: "pollBatch", batchId: "b", rowKey: "batch", attempt: 3 }],
  ["syncTenant, first", { v: 1, kind: "syncTenant", batchId: "tenant-x", rowKey: "sync", attempt: 1 }],
  ["syncTenant, back with its slot", { v: 1, kind: "syncTenant", batchId: "tenant-x", rowKey: "sync", attempt: 1, slotAt: 9_000 }],
  [
    "deleteRecords",
    {
      v: 1,
      kind: "deleteRecords",
      batchId: "b",
      rowKey: "batch",
      attempt: 1,
      tenantId: "t",
      graphIds: ["g1", "g2"],
      slotAt: 1_000,
      shiftAt: 0,
      intervalMs: 200,
    },
  ],
  ["updateExisting", { v: 1, kind: "updateExisting", batchId: "b", rowKey: "device-000004", attempt: 1, slotAt: 1_000, shiftAt: 0 }],
  ["deregister", { v: 1, kind: "deregister", batchId: "d", rowKey: "device-000000", attempt: 2, slotAt: 1_000, shiftAt: 7 }],
];

/** What no producer sends, or a kind cannot do without. */
const malformed: [string, unknown][] = [
  ["attempt 0", { ...message, attempt: 0 }],
  ["not JSON", "bm90IGpzb24="],
  ["another version", { v: 2 }],
  ["an unknown kind", { ...message, kind: "import" }],
  ["no kind", { v: 1, batchId: "b", rowKey: "device-000001", attempt: 1 }],
  ["a chunk of one", { ...message, chunk: { first: "device-000001", size: 1 } }],
  [
    "deleteRecords without its ids",
    { v: 1, kind: "deleteRecords", batchId: "b", rowKey: "batch", attempt: 1, tenantId: "t", slotAt: 1_000, shiftAt: 0, intervalMs: 200 },
  ],
  [
    "deleteRecords without its tenant",
    { v: 1, kind: "deleteRecords", batchId: "b", rowKey: "batch", attempt: 1, graphIds: ["g"], slotAt: 1_000, shiftAt: 0, intervalMs: 200 },
  ],
  [
    "deleteRecords without its slot",
    { v: 1, kind: "deleteRecords", batchId: "b", rowKey: "batch", attempt: 1, tenantId: "t", graphIds: ["g"], shiftAt: 0, intervalMs: 200 },
  ],
];

describe("device messages", () => {
  it("round-trip through base64, as the Functions host expects", () => {
    const encoded = encodeDeviceMessage(message);
    expect(encoded).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodeDeviceMessage(encoded)).toEqual(message);
  });

  it("accept what the Functions host hands over: the decoded object or its JSON text", () => {
    expect(decodeDeviceMessage(message)).toEqual(message);
    expect(decodeDeviceMessage(JSON.stringify(message))).toEqual(message);
  });

  it("stay far below the 64 KB queue message limit", () => {
    const long = { ...message, batchId: "b".repeat(36), rowKey: "device-999999", attempt: 99 };
    expect(encodeDeviceMessage(long).length).toBeLessThan(1024);
  });

  it.each(sentToday)("decode %s exactly as sent", (_name, sent) => {
    expect(decodeDeviceMessage(encodeDeviceMessage(sent))).toEqual(sent);
    expect(decodeDeviceMessage(JSON.parse(JSON.stringify(sent)))).toEqual(sent);
  });

  it.each(malformed)("reject %s", (_name, payload) => {
    expect(() => decodeDeviceMessage(payload)).toThrow(MalformedMessageError);
  });

  it.each(sentToday.filter(([, sent]) => sent.kind !== "submit"))(
    "the follower queue refuses %s: it holds submit messages only",
    (_name, sent) => {
      expect(() => decodeSubmitMessage(encodeDeviceMessage(sent))).toThrow(MalformedMessageError);
    },
  );

  it.each(sentToday.filter(([, sent]) => sent.kind === "submit"))("the follower queue takes %s", (_name, sent) => {
    expect(decodeSubmitMessage(encodeDeviceMessage(sent))).toEqual(sent);
  });

  it.each([
    ["a submit without a chunk", message, "single"],
    ["a chunk's leader", { ...message, rowKey: "device-000000", chunk: { first: "device-000000", size: 4 } }, "leader"],
    ["a chunk's follower", { ...message, chunk: { first: "device-000000", size: 4 } }, "follower"],
    ["a poll round", sentToday[4]![1], "single"],
  ] as const)("chunkRole: %s is %s", (_name, m, role) => {
    expect(chunkRole(m)).toBe(role);
  });
});
