import { afterEach, describe, expect, it, vi } from "vitest";
import { startDevHost, type DevHost } from "../../../src/dev/host/devHost.js";
import { loadHostSettings } from "../../../src/dev/host/hostSettings.js";
import type { Services } from "../../../src/app/services.js";
import type { TimerFunctionDefinition } from "../../../src/app/functionTypes.js";

// A host with one timer and no queue function needs no storage: the services are never touched.
const services = { log: { info() {}, warn() {}, error() {} } } as unknown as Services;

function countingTimer(everyMs: number): { definition: TimerFunctionDefinition; runs: () => number } {
  let runs = 0;
  return {
    definition: { kind: "timer", name: "tick", schedule: "*/5 * * * * *", everyMs, handle: async () => void runs++ },
    runs: () => runs,
  };
}

describe("the development host's timers", () => {
  let host: DevHost | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await host?.stop();
    host = undefined;
  });

  async function start(everyMs: number, timerPeriodDivisor?: number) {
    const timer = countingTimer(everyMs);
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    host = await startDevHost({
      services,
      definitions: [timer.definition],
      hostSettings: loadHostSettings(),
      ...(timerPeriodDivisor ? { timerPeriodDivisor } : {}),
    });
    return timer;
  }

  it("run each timer on its own period", async () => {
    const timer = await start(5_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(timer.runs()).toBe(2);
  });

  it("divide every period by the bench's time scale when told to, as it divides the pipeline's other delays", async () => {
    const timer = await start(5_000, 5);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(timer.runs()).toBe(10);
  });
});
