import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createStorageClients } from "../../src/storage/clients.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";

const storage = useAzuriteStorage();

/** A port that refuses connections: one the system gave out and took back. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
    const port = await refusedPort();
    const key = Buffer.from("key").toString("base64");
    const clients = createStorageClients(
      {
        kind: "connectionString",
        connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};QueueEndpoint=http://127.0.0.1:${port}/acct;TableEndpoint=http://127.0.0.1:${port}/acct;`,
      },
      "local",
      { delayMs: 1, maxDelayMs: 1, spanMs: 3 },
    );
    const before = Date.now();
    await expect(clients.queueNamed("anything").sendMessage("lost")).rejects.toThrow();
    expect(clients.reachability.awaySinceDuring(before, Date.now())).toBeGreaterThanOrEqual(before);
    // The clients that stand in for the Functions host's own polling are not the app's: they tell nothing.
    const quiet = createStorageClients(
      {
        kind: "connectionString",
        connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};QueueEndpoint=http://127.0.0.1:${port}/acct;TableEndpoint=http://127.0.0.1:${port}/acct;`,
      },
      "local",
      { delayMs: 1, maxDelayMs: 1, spanMs: 3 },
    );
    await expect(quiet.pollingQueueNamed("anything").receiveMessages()).rejects.toThrow();
    expect(quiet.reachability.awaySinceDuring(before, Date.now())).toBeUndefined();
  });
});
