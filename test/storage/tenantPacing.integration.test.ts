import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TenantPacing } from "../../src/storage/tenantPacing.js";
import { pacingBudget } from "../../src/model/pacing.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";

/** Two TenantPacing objects over one Azurite table, as two Function instances share it. */
const storage = useAzuriteStorage();
const budget = pacingBudget(20_000, 100, 1);

function slotsOf(reservations: { firstSlotAt: number; intervalMs: number }[]): number[] {
  return reservations.map((r) => r.firstSlotAt).sort((a, b) => a - b);
}

describe("tenant pacing in Table storage", () => {
  it("combines the reservations one instance makes at once into a few writes, and hands out distinct slots", async () => {
    const table = storage.clients().pacing;
    let writes = 0;
    const counted = new Proxy(table, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if ((property === "updateEntity" || property === "createEntity") && typeof value === "function") {
          return (...args: unknown[]) => {
            writes++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value;
      },
    });
    const pacing = new TenantPacing(counted, budget);
    const tenant = randomUUID();
    const now = Date.now();
    const slots = slotsOf(await Promise.all(Array.from({ length: 40 }, () => pacing.reserve(tenant, 1, now))));
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(budget.baseIntervalMs - 1e-6);
    // The first write goes alone; everything asked for while it is on its way goes in the next one.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(3);
  });

  it("hands two instances racing for one tenant slots that never overlap", async () => {
    const a = new TenantPacing(storage.clients().pacing, budget);
    const b = new TenantPacing(storage.clients().pacing, budget);
    const tenant = randomUUID();
    const now = Date.now();
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).reserve(tenant, 2, now)));
    const slots = all.flatMap((r) => [r.firstSlotAt, r.firstSlotAt + r.intervalMs]).sort((x, y) => x - y);
    expect(slots).toHaveLength(60);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(budget.baseIntervalMs - 1e-6);
  });

  it("lets every write that met the same 429 wait out one pause, widened once", async () => {
    const pacing = new TenantPacing(storage.clients().pacing, budget);
    const tenant = randomUUID();
    const now = Date.now();
    const after = await Promise.all(Array.from({ length: 10 }, () => pacing.throttledThenReserve(tenant, 5_000, now)));
    const slots = slotsOf(after);
    expect(slots[0]).toBeGreaterThanOrEqual(now + 5_000);
    const state = await pacing.current(tenant, now);
    expect(state.pausedUntil).toBe(now + 5_000);
    expect(state.intervalMs).toBeCloseTo(budget.baseIntervalMs * 1.25, 6);
  });

  it("counts one outage once when instances with their own copies of the schedule find it late together", async () => {
    const real = pacingBudget(20_000, 100, 0.97);
    const a = new TenantPacing(storage.clients().pacing, real);
    const b = new TenantPacing(storage.clients().pacing, real);
    const tenant = randomUUID();
    const start = Date.now();
    const slots = await a.reserve(tenant, 50, start);
    // Both instances read the schedule before the outage, and keep that copy (half a budget window).
    await a.current(tenant, start);
    await b.current(tenant, start);
    const slot = (k: number) => ({ slotAt: slots.firstSlotAt + k * slots.intervalMs, shiftAt: slots.shiftMs });
    const back = slot(10).slotAt + 15_000;
    // Storage comes back: each instance takes messages whose slots passed during the outage, a few ms apart.
    const shifts = await Promise.all([
      a.stall(tenant, slot(10), back),
      b.stall(tenant, slot(11), back + 5),
      a.stall(tenant, slot(12), back + 9),
    ]);
    expect(shifts.every((s) => Math.abs(s - 15_000) < 1e-6)).toBe(true);
    const row = await storage.clients().pacing.getEntity<{ shiftMs: number; pausedUntil: number }>(tenant, "writes");
    expect(row.shiftMs).toBeCloseTo(15_000, 6);
    expect(row.pausedUntil).toBe(back);
  });
});
