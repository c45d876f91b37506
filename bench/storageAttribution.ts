import type { ObservedCall } from "./countingProxy.js";

/**
 * Which devices each storage transaction was for, so a bench can say what a fault cost the
 * devices it touched and what it cost the rest (stormRun.ts). Read from the calls themselves:
 *
 * - a queue message names its device (`rowKey`), or a chunk leader its chunk's devices; a send
 *   carries the message, a receive answers with it, and a delete or update names the message id
 *   a send or receive answered with;
 * - a table call names device rows in its URL (`RowKey='device-000123'`), its body (an
 *   entity-group transaction), or its filter (a range of a chunk's rows).
 *
 * A transaction for several devices is split evenly among them; one for none (the batch header,
 * counters, the pacing row, an idle poll of an empty queue) is shared by every device.
 */
export class StorageAttribution {
  private readonly perDevice: Float64Array;
  private shared = 0;
  private readonly devicesOfMessage = new Map<string, number[]>();
  /** Every message sent or received for each chunk leader, in order: its slot as it was then (which slots a fault covered). */
  readonly leaderSlots = new Map<number, { at: number; slotAt: number; shiftAt: number; size: number }[]>();

  constructor(readonly devices: number) {
    this.perDevice = new Float64Array(devices);
  }

  readonly observe = (service: "queue" | "table", call: ObservedCall): void => {
    const devices = service === "queue" ? this.queueDevices(call) : tableDevices(call);
    if (devices.length === 0) this.shared++;
    else for (const d of devices) if (d < this.devices) this.perDevice[d]! += 1 / devices.length;
  };

  /** Transactions per device of a set, with the shared ones spread over every device. */
  perDeviceOf(set: readonly number[]): number {
    if (set.length === 0) return 0;
    let sum = 0;
    for (const d of set) sum += this.perDevice[d]!;
    return sum / set.length + this.shared / this.devices;
  }

  total(): number {
    return this.perDevice.reduce((a, b) => a + b, 0) + this.shared;
  }

  private queueDevices(call: ObservedCall): number[] {
    const path = decodeURIComponent(call.url.split("?")[0] ?? "");
    const parts = path.split("/").filter(Boolean);
    // /account/queue/messages[/id]
    const id = parts[3];
    if (id) return this.devicesOfMessage.get(id) ?? [];
    if (parts[2] !== "messages") return [];
    if (call.method === "POST") {
      const devices = this.messageDevices(textsOf(call.requestBody.toString("utf8"))[0]);
      for (const messageId of tagValues(call.responseBody.toString("utf8"), "MessageId")) this.devicesOfMessage.set(messageId, devices);
      return devices;
    }
    if (call.method === "GET") {
      const body = call.responseBody.toString("utf8");
      const all: number[] = [];
      for (const item of body.split("</QueueMessage>")) {
        const messageId = tagValues(item, "MessageId")[0];
        if (!messageId) continue;
        const devices = this.messageDevices(textsOf(item)[0]);
        this.devicesOfMessage.set(messageId, devices);
        all.push(...devices);
      }
      return all;
    }
    return [];
  }

  private messageDevices(text: string | undefined): number[] {
    const message = decodeMessage(text);
    if (!message) return [];
    const own = deviceIndex(message.rowKey);
    if (own === undefined) return [];
    const first = message.chunk ? deviceIndex(message.chunk.first) : undefined;
    if (message.chunk && first === own) {
      if (message.slotAt !== undefined) {
        const seen = this.leaderSlots.get(own) ?? [];
        seen.push({ at: Date.now(), slotAt: message.slotAt, shiftAt: message.shiftAt ?? 0, size: message.chunk.size });
        this.leaderSlots.set(own, seen);
      }
      return Array.from({ length: message.chunk.size }, (_, i) => own + i);
    }
    return [own];
  }
}

interface MessageFields {
  rowKey?: string;
  slotAt?: number;
  shiftAt?: number;
  chunk?: { first: string; size: number };
}

function decodeMessage(text: string | undefined): MessageFields | undefined {
  if (!text) return undefined;
  for (const candidate of [text, Buffer.from(text, "base64").toString("utf8")]) {
    try {
      const parsed = JSON.parse(unescapeXml(candidate)) as unknown;
      if (parsed && typeof parsed === "object") return parsed as MessageFields;
    } catch {
      // not this encoding
    }
  }
  return undefined;
}

function tableDevices(call: ObservedCall): number[] {
  const url = decodeURIComponent(call.url);
  const range = /RowKey ge '(device-\d+)' and RowKey lt '(device-\d+)'/.exec(url);
  if (range) {
    const from = deviceIndex(range[1])!;
    const to = deviceIndex(range[2])!;
    return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
  }
  const found = new Set<number>();
  for (const match of `${url}\n${call.requestBody.toString("utf8")}`.matchAll(/device-(\d{6})/g)) found.add(Number(match[1]));
  return [...found];
}

function deviceIndex(rowKey: string | undefined): number | undefined {
  const match = rowKey ? /^device-(\d+)$/.exec(rowKey) : null;
  return match ? Number(match[1]) : undefined;
}

function tagValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1]!);
}

function textsOf(xml: string): string[] {
  return tagValues(xml, "MessageText");
}

function unescapeXml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
