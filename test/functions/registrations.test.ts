import { describe, expect, it, vi } from "vitest";
import { app } from "@azure/functions";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { STORAGE_CONNECTION_SETTING } from "../../src/storage/names.js";

describe("Azure Functions registrations", () => {
  it("register every shared definition, and nothing else, with its route, queue or schedule", async () => {
    const setup = vi.spyOn(app, "setup").mockImplementation(() => undefined);
    const http = vi.spyOn(app, "http").mockImplementation(() => undefined);
    const queue = vi.spyOn(app, "storageQueue").mockImplementation(() => undefined);
    const timer = vi.spyOn(app, "timer").mockImplementation(() => undefined);
    await import("../../functions/index.js");

    // HTTP streaming is a setup option, which the library only accepts before the first registration.
    expect(setup.mock.calls).toEqual([[{ enableHttpStream: true }]]);
    expect(setup.mock.invocationCallOrder[0]).toBeLessThan(Math.min(...http.mock.invocationCallOrder));

    const expectedHttp = functionDefinitions.filter((d) => d.kind === "http");
    expect(http.mock.calls.map(([name, options]) => [name, options.route, options.methods])).toEqual(
      expectedHttp.map((d) => [d.name, d.route, d.methods]),
    );
    const expectedQueues = functionDefinitions.filter((d) => d.kind === "queue");
    expect(queue.mock.calls.map(([name, options]) => [name, options.queueName, options.connection])).toEqual(
      expectedQueues.map((d) => [d.name, d.queueName, STORAGE_CONNECTION_SETTING]),
    );
    const expectedTimers = functionDefinitions.filter((d) => d.kind === "timer");
    expect(timer.mock.calls.map(([name, options]) => [name, options.schedule])).toEqual(expectedTimers.map((d) => [d.name, d.schedule]));
  });
});
