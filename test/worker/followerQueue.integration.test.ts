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
  it("holds a chunk's followers apart from its leader, and its timer runs them when they fall due", async () => {
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

    // The leader's message is never run (as if poisoned before it claimed): once the followers
    // fall due, the timer's runs take each device alone, as a create at a new slot.
    const deadline = Date.now() + 20_000;
    while ((await depth(FOLLOWER_QUEUE)) > 0 && Date.now() < deadline) {
      await drainFollowers.handle(services);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await depth(FOLLOWER_QUEUE)).toBe(0);
    const alone: DeviceMessage[] = [];
    while (alone.length < 2 && Date.now() < deadline) {
      const { receivedMessageItems } = await services.storage.deviceQueue.receiveMessages({ numberOfMessages: 32 });
      for (const item of receivedMessageItems) {
        const message = decodeDeviceMessage(item.messageText);
        if (message.kind === "submit" && !message.chunk) alone.push(message);
      }
    }
    expect(alone.map((m) => [m.batchId, m.rowKey, m.attempt]).sort()).toEqual([
      [accepted.batchId, "device-000001", 1],
      [accepted.batchId, "device-000002", 1],
    ]);
  }, 30_000);
});
