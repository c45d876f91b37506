import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { ServiceClock } from "../../src/storage/serviceClock.js";
import { observingHttpClient, StorageReachability } from "../../src/storage/storageReachability.js";

let azurite: RunningAzurite;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

describe("ServiceClock against Azurite", () => {
  it.each([1_500, -2_000])("an instance whose clock is %i ms off keeps Azurite's time once it has written", async (skewMs) => {
    const clock = new ServiceClock(() => Date.now() + skewMs);
    const table = TableClient.fromConnectionString(azurite.connectionString, `clock${skewMs < 0 ? "behind" : "ahead"}`, {
      allowInsecureConnection: true,
      httpClient: observingHttpClient(createDefaultHttpClient(), new StorageReachability(clock.now), clock),
    });
    await table.createTable();
    // Reads first: only the Date header's whole seconds.
    await table.getEntity("p", "r").catch(() => undefined);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1_000 + 50);
    for (let i = 0; i < 5; i++) await table.upsertEntity({ partitionKey: "p", rowKey: "r", i }, "Merge");
    // Azurite runs on this machine's clock: the skewed instance now agrees with it within a round trip.
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    expect(clock.offsetMs).toBeCloseTo(-skewMs, -2);
  });
});
