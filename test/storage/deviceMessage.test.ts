import { describe, expect, it } from "vitest";
import { decodeDeviceMessage, encodeDeviceMessage, MalformedMessageError, type DeviceMessage } from "../../src/storage/deviceMessage.js";

const message: DeviceMessage = { v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 1 };

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

  it("reject anything that is not a device message", () => {
    expect(() => decodeDeviceMessage({ ...message, attempt: 0 })).toThrow(MalformedMessageError);
    expect(() => decodeDeviceMessage("bm90IGpzb24=")).toThrow(MalformedMessageError);
    expect(() => decodeDeviceMessage({ v: 2 })).toThrow(MalformedMessageError);
  });
});
