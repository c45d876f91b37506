import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import type { TimerFunctionDefinition } from "../../src/app/functionTypes.js";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { decodeDeviceMessage, type DeviceMessage } from "../../src/storage/deviceMessage.js";
import { DEVICE_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";
import { makeDevices } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

/**
 * A chunk's followers go to their own queue, drained by a timer, so a big batch's followers never
 * stand in the device queue in front of other tenants' messages. On real Azurite: the app's
 * DeviceQueue routes them, and the drainFollowers timer runs them.
 */
let azurite: RunningAzurite;
let services: Services;

beforeAll(async () => {
  azurite = await startAzurite();
  // A 1 s budget window: followers come 3 windows (3 s) after their chunk's slot.
  services = await createServices(loadConfig({ AzureWebJobsStorage: azurite.connectionString, PACING_WINDOW_MS: "1000" }), silentLogger);
});
afterAll(async () => azurite?.stop());

const depth = async (name: string) => (await services.storage.queueNamed(name).getProperties()).approximateMessagesCount ?? 0;
const drainFollowers = functionDefinitions.find((d): d is TimerFunctionDefinition => d.kind === "timer" && d.name === "drainFollowers")!;

describe("the followers' queue", () => {
  it("holds a chunk's followers apart from its leader, and its timer has one of them send a lost leader again", async () => {
    const accepted = await submitBatch(
      withInlineFanOut(
        {
          ...services,
          enqueueConcurrency: 4,
          firstPollDelayMs: 1_000,
          chunking: { size: 100, followerDelayMs: services.config.importAction.followerDelayMs },
          log: silentLogger,
        },
        services.fanOutProgress,
      ),
      { partnerId: "follower-test", tenantId: "dddddddd-0000-4000-8000-000000000001", devices: makeDevices(3, "FQ") },
      "json",
    );
    // The leader and the first poll round in the device queue; the two followers in theirs.
    expect(await depth(DEVICE_QUEUE)).toBe(2);
    expect(await depth(FOLLOWER_QUEUE)).toBe(2);

    // The leader's message is never run (lost, as a receive whose answer an outage cut): once the
    // followers fall due, the timer's run has one of them send the chunk a leader again, at a new
    // slot, and both wait for it in their own queue (kept in place).
    const deadline = Date.now() + 20_000;
    const leaders: DeviceMessage[] = [];
    while (leaders.length < 2 && Date.now() < deadline) {
      await drainFollowers.handle(services);
      const { receivedMessageItems } = await services.storage.deviceQueue.receiveMessages({ numberOfMessages: 32 });
      for (const item of receivedMessageItems) {
        const message = decodeDeviceMessage(item.messageText);
        if (message.kind === "submit" && message.chunk?.first === message.rowKey) leaders.push(message);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const [first, again] = leaders.sort((a, b) => (a.kind === "submit" && b.kind === "submit" ? a.slotAt! - b.slotAt! : 0));
    expect(leaders).toHaveLength(2);
    expect(again).toMatchObject({ batchId: accepted.batchId, rowKey: "device-000000", attempt: 1, chunk: { first: "device-000000" } });
    expect(again!.kind === "submit" && first!.kind === "submit" && again!.slotAt! > first!.slotAt!).toBe(true);
    // The followers were neither run alone nor sent anew: both still wait in their queue.
    expect(await depth(FOLLOWER_QUEUE)).toBe(2);
  }, 30_000);
});
