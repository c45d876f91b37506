import { describe, expect, it } from "vitest";
import { freePort } from "../../src/dev/host/azurite.js";
import { createStorageClients } from "../../src/storage/clients.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";

const storage = useAzuriteStorage();

/** Clients whose storage refuses every connection (a port the system gave out and took back), trying briefly. */
async function clientsOfAbsentStorage() {
  const port = await freePort();
  const key = Buffer.from("key").toString("base64");
  return createStorageClients(
    {
      kind: "connectionString",
      connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};QueueEndpoint=http://127.0.0.1:${port}/acct;TableEndpoint=http://127.0.0.1:${port}/acct;`,
    },
    "local",
    { delayMs: 1, maxDelayMs: 1, spanMs: 3 },
  );
}

describe("the queue clients' HTTP client", () => {
  it("carries every queue operation the app uses, answers read as the SDK reads them", async () => {
    const queue = storage.clients().queueNamed("reachability-roundtrip");
    await queue.createIfNotExists();
    await queue.sendMessage("first");
    const [received] = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 })).receivedMessageItems;
    expect(received?.messageText).toBe("first");
    expect(received?.dequeueCount).toBe(1);
    const updated = await queue.updateMessage(received!.messageId, received!.popReceipt, "second", 0);
    const [again] = (await queue.receiveMessages({ numberOfMessages: 1 })).receivedMessageItems;
    expect(again?.messageText).toBe("second");
    expect(again?.dequeueCount).toBe(2);
    expect(updated.popReceipt).toBeTruthy();
    await queue.deleteMessage(again!.messageId, again!.popReceipt);
    expect((await queue.peekMessages()).peekedMessageItems).toHaveLength(0);
  });

  it("tells the instance's reachability when storage does not answer a queue request, as a table request does", async () => {
    const clients = await clientsOfAbsentStorage();
    const before = Date.now();
    await expect(clients.queueNamed("anything").sendMessage("lost")).rejects.toThrow();
    expect(clients.reachability.awaySinceDuring(before, Date.now())).toBeGreaterThanOrEqual(before);
    // The clients that stand in for the Functions host's own polling are not the app's: they tell nothing.
    const quiet = await clientsOfAbsentStorage();
    await expect(quiet.pollingQueueNamed("anything").receiveMessages()).rejects.toThrow();
    expect(quiet.reachability.awaySinceDuring(before, Date.now())).toBeUndefined();
  });
});
