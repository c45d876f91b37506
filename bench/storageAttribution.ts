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
 * counters, the pacing row) is shared by every device. A receive that found its queue empty is
 * counted apart (`idleReceives`), for no device: every instance polls each of its queues while it
 * runs, work or none (host.json's maxPollingInterval), so those polls are a cost of time the host
 * is up, not of devices; and the bench, which waits for the queues to drain, would otherwise
 * charge the devices for up to a function timeout of polling while a copy of a message that an
 * outage hid comes back (storm bench, issue 14).
 */
export class StorageAttribution {
  private readonly perDevice: Float64Array;
  private shared = 0;
  /** Receives answered with no message (see above). */
  idleReceives = 0;
  private readonly devicesOfMessage = new Map<string, number[]>();
  /** Every message sent or received for each chunk leader, in order: its slot as it was then (which slots a fault covered). */
  readonly leaderSlots = new Map<number, { at: number; slotAt: number; shiftAt: number; size: number }[]>();
  /** Every queue call answered for each chunk leader's messages, in order (BENCH_STORM_TIMELINE prints the late ones'). */
  readonly leaderCalls = new Map<number, { at: number; call: string; slotAt?: number }[]>();
  private readonly leaderOfMessage = new Map<string, number>();

  constructor(readonly devices: number) {
    this.perDevice = new Float64Array(devices);
  }

  readonly observe = (service: "queue" | "table", call: ObservedCall): void => {
    if (service === "queue" && isEmptyReceive(call)) {
      this.idleReceives++;
      return;
    }
    const devices = service === "queue" ? this.queueDevices(call) : tableDevices(call);
    if (service === "table")
      for (const d of devices)
        if (this.leaderSlots.has(d))
          this.noteLeaderCall(d, `table ${call.method} ${call.status}${devices.length > 1 ? ` (${devices.length} rows)` : ""}`);
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
    if (id) {
      const leader = this.leaderOfMessage.get(id);
      if (leader !== undefined) this.noteLeaderCall(leader, `${call.method} ${call.status}`);
      return this.devicesOfMessage.get(id) ?? [];
    }
    if (parts[2] !== "messages") return [];
    if (call.method === "POST") {
      const text = textsOf(call.requestBody.toString("utf8"))[0];
      const devices = this.messageDevices(text);
      const leader = this.leaderOf(text);
      for (const messageId of tagValues(call.responseBody.toString("utf8"), "MessageId")) {
        this.devicesOfMessage.set(messageId, devices);
        if (leader) this.leaderOfMessage.set(messageId, leader.index);
      }
      if (leader) this.noteLeaderCall(leader.index, `send ${call.status} attempt ${leader.attempt}`, leader.slotAt);
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
        const leader = this.leaderOf(textsOf(item)[0]);
        if (leader) {
          this.leaderOfMessage.set(messageId, leader.index);
          this.noteLeaderCall(leader.index, `received attempt ${leader.attempt} dequeue ${tagValues(item, "DequeueCount")[0]}`);
        }
        all.push(...devices);
      }
      return all;
    }
    return [];
  }

  private leaderOf(text: string | undefined): { index: number; attempt?: number; slotAt?: number } | undefined {
    const message = decodeMessage(text);
    const own = deviceIndex(message?.rowKey);
    if (!message?.chunk || own === undefined || deviceIndex(message.chunk.first) !== own) return undefined;
    return { index: own, attempt: message.attempt, slotAt: message.slotAt };
  }

  private noteLeaderCall(leader: number, call: string, slotAt?: number): void {
    const calls = this.leaderCalls.get(leader) ?? [];
    calls.push({ at: Date.now(), call, ...(slotAt !== undefined ? { slotAt } : {}) });
    this.leaderCalls.set(leader, calls);
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
  attempt?: number;
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

function isEmptyReceive(call: ObservedCall): boolean {
  const path = decodeURIComponent(call.url.split("?")[0] ?? "");
  return (
    call.method === "GET" &&
    path.endsWith("/messages") &&
    call.status === 200 &&
    !call.responseBody.toString("utf8").includes("<QueueMessage>")
  );
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
