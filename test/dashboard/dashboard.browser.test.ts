import { mkdir } from "node:fs/promises";
import { chromium, type Browser, type BrowserContextOptions, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainImportError } from "../../src/graph/importErrors.js";
import { makeDevices } from "../support/devices.js";
import { startPipeline, TENANT_A, type Pipeline } from "../support/pipeline.js";

/**
 * The dashboard in a real headless browser (Debian's chromium) against the development host,
 * Azurite and the Graph simulator: what a person would see, not what the API returns.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OTHER_TENANT = "cccccccc-0000-4000-8000-00000000000c";
const ORDER = "PO-DASH-0001";
const SHOTS = "test-results";
const LAPTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 } };
const PHONE: BrowserContextOptions = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
// The page refreshes every 5 s; a wait covers several refreshes, never a fixed sleep.
const WAIT = { timeout: 30_000 };

let pipeline: Pipeline;
let browser: Browser;
let batchId: string;
const devices = makeDevices(6, "DASH");

beforeAll(async () => {
  // Imports stay "running" in the simulator for 6 s, so the page is seen before the end and must refresh to see it.
  browser = await chromium.launch({ executablePath: CHROMIUM }).catch((error: Error) => {
    throw new Error(`The dashboard test drives Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH. ${error.message}`);
  });
  pipeline = await startPipeline({ simulator: { settleDelayMs: 6_000 } });
  await mkdir(SHOTS, { recursive: true });
  pipeline.simulator.registerDevice(TENANT_A, { serialNumber: devices[1]!.serialNumber }); // 806
  pipeline.simulator.registerDevice(OTHER_TENANT, { hardwareIdentifier: devices[4]!.hardwareIdentifier }); // 808
  const response = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "application/json" },
    body: JSON.stringify({ tenantId: TENANT_A, orderIdentifier: ORDER, groupTag: "Dashboard", devices }),
  });
  expect(response.status).toBe(202);
  batchId = ((await response.json()) as { id: string }).id;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
});

/** The page, and the script errors and CSP refusals it reported (they would otherwise pass unnoticed behind a page that half works). */
async function openDashboard(options: BrowserContextOptions, hash = ""): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // Chromium logs every non-2xx fetch; the 401 is the point of one test.
    if (message.type() === "error" && !/status of 401/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && response.status() !== 401) problems.push(`${response.status()} ${response.url()}`);
  });
  const response = await page.goto(`${pipeline.api}/dashboard${hash}`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
  return { page, problems };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Show imports" }).click();
}

describe("the ops dashboard in a browser", () => {
  it("shows the partner's deregistrations, read-only, and why a device was not deregistered", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "DASH-RET-1" });
    const posted = await fetch(`${pipeline.api}/deregistrations`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "DASH-RET-1" }, { serialNumber: "DASH-RET-404" }] }),
    });
    expect(posted.status).toBe(202);
    const { page, problems } = await openDashboard(LAPTOP);
    await signIn(page, pipeline.partner.apiKey);
    const panel = page.getByRole("region", { name: "Deregistrations" });
    const row = panel.getByRole("row").filter({ hasText: "Deregistration of 2 devices" });
    await row.getByText("Partly succeeded").waitFor(WAIT);
    expect(await row.getByRole("listitem").allTextContents()).toEqual(["deregistered 1", "not_found 1"]);
    await row.getByRole("button", { name: "Deregistration of 2 devices" }).click();
    const problem = panel.getByRole("table", { name: "Devices not deregistered" }).getByRole("row").filter({ hasText: "DASH-RET-404" });
    await problem.waitFor(WAIT);
    expect((await problem.getByRole("cell").allInnerTexts()).map((t) => t.trim())).toEqual([
      "DASH-RET-404",
      "not found",
      "NotFound",
      expect.stringContaining("no Autopilot device"),
    ]);
    expect(await panel.getByRole("button", { name: /erase|delete|retry|cancel/i }).count()).toBe(0);
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows the partner's batch progressing to 100 %, its counts, and its failures explained", async () => {
    const { page, problems } = await openDashboard(LAPTOP);
    await signIn(page, pipeline.partner.apiKey);

    const row = page.getByRole("row").filter({ hasText: ORDER });
    const progress = row.getByRole("progressbar", { name: `Progress of ${ORDER}` });
    await progress.waitFor(WAIT);
    // First seen while Intune is still importing: the page has to refresh on its own to see the end.
    // One read of the row, so both facts come from the same refresh.
    const first = await row.evaluate((tr) => ({
      text: tr.textContent ?? "",
      percent: tr.querySelector('[role="progressbar"]')?.getAttribute("aria-valuenow"),
    }));
    expect(Number(first.percent)).toBeLessThan(100);
    expect(first.text).toContain("Running");

    await row.locator('[role="progressbar"][aria-valuenow="100"]').waitFor(WAIT);
    await row.getByText("Partly succeeded").waitFor(WAIT);
    expect(await progress.getAttribute("aria-valuetext")).toBe("6 of 6 devices final, 100 %");
    expect(await row.getByText("6 / 6 · 100 %").count()).toBe(1);
    expect(await row.getByRole("listitem").allTextContents()).toEqual(["imported 4", "failed 2"]);

    await row.getByRole("button", { name: ORDER }).click();
    const detail = page.getByRole("region", { name: ORDER });
    const failures = detail
      .getByRole("table")
      .getByRole("row")
      .filter({ has: page.getByRole("cell") });
    await failures.nth(1).waitFor(WAIT);
    expect(await failures.count()).toBe(2);
    const cells = await Promise.all([0, 1].map((i) => failures.nth(i).getByRole("cell").allInnerTexts()));
    const failure = (index: number, code: number, name: string) => [
      String(index),
      devices[index]!.serialNumber,
      "Contoso Surface Laptop 7",
      String(code),
      name,
      explainImportError(code, name),
    ];
    expect(cells.map((c) => c.map((t) => t.trim()))).toEqual([
      failure(1, 806, "ZtdDeviceAlreadyAssigned"),
      failure(4, 808, "ZtdDeviceAssignedToOtherTenant"),
    ]);
    expect(await detail.getByRole("definition").allInnerTexts()).toEqual(
      expect.arrayContaining(["4", "2", "Contoso Surface Laptop 7 × 6", "on"]),
    );
    expect(page.url()).toContain(`#batch=${batchId}`);
    // Keyboard and screen reader users land on the details they asked for.
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent), WAIT).toBe(ORDER);

    // The page never shows a hardware hash (the API does not return them either).
    const text = await page.locator("body").innerText();
    for (const d of devices) expect(text).not.toContain(d.hardwareIdentifier.slice(0, 40));

    await page.screenshot({ path: `${SHOTS}/dashboard-laptop.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);

  it("says plainly when the API refuses the key (401) and asks for it again", async () => {
    const { page, problems } = await openDashboard(LAPTOP);
    await signIn(page, "not-a-real-key");
    const alert = page.getByRole("alert");
    await alert.getByText("did not accept this API key (401)").waitFor(WAIT);
    expect(await page.getByLabel("API key").isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("says so when the API cannot be reached, and keeps what it last showed", async () => {
    const { page } = await openDashboard(LAPTOP);
    await signIn(page, pipeline.partner.apiKey);
    const row = page.getByRole("row").filter({ hasText: ORDER });
    await row.waitFor(WAIT);
    await page.route("**/api/imports**", (route) => route.abort("connectionrefused"));
    await page.getByRole("alert").getByText("The API cannot be reached").waitFor(WAIT);
    expect(await row.isVisible()).toBe(true);
    await page.context().close();
  }, 60_000);

  it("refreshes every 5 s, waits longer when Retry-After says so, and pauses while the tab is hidden", async () => {
    const context = await browser.newContext(LAPTOP);
    // The page's own clock, paused: its timers fire only when the test moves time on, so the
    // schedule is checked exactly, without waiting for it. Network calls are real.
    const t0 = new Date("2026-11-29T03:00:00Z");
    await context.clock.install({ time: t0 });
    await context.clock.pauseAt(t0);
    await context.addInitScript(() => {
      const counted = window as unknown as { apiCalls: number };
      counted.apiCalls = 0;
      const original = window.fetch.bind(window);
      // One refresh reads the batch list once (and the deregistrations beside it): refreshes are counted by the former.
      window.fetch = (...args) => {
        if (String(args[0]).includes("/api/imports?")) counted.apiCalls++;
        return original(...args);
      };
    });
    const page = await context.newPage();
    await page.goto(`${pipeline.api}/dashboard`);
    await signIn(page, pipeline.partner.apiKey);
    await page.getByRole("row").filter({ hasText: ORDER }).waitFor(WAIT);
    const line = page.locator("#refresh-state");
    const calls = () => page.evaluate(() => (window as unknown as { apiCalls: number }).apiCalls);
    /** Moves the page's time on, then waits for the refresh it may have started to be drawn. */
    const advance = async (ms: number) => {
      const before = await line.textContent();
      const callsBefore = await calls();
      await context.clock.runFor(ms);
      if ((await calls()) > callsBefore) await expect.poll(() => line.textContent(), WAIT).not.toBe(before);
    };
    await expect.poll(() => line.textContent(), WAIT).toMatch(/next refresh in 5 s$/);

    const start = await calls();
    await advance(4_900);
    expect(await calls()).toBe(start);
    await advance(100);
    expect(await calls()).toBe(start + 1);

    // The API asks for 30 s: the page waits that long, not 5 s.
    await page.route(/\/api\/imports\?/, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), "retry-after": "30" } });
    });
    await advance(5_000);
    expect(await calls()).toBe(start + 2);
    expect(await line.textContent()).toMatch(/next refresh in 30 s$/);
    await advance(29_000);
    expect(await calls()).toBe(start + 2);
    await advance(1_000);
    expect(await calls()).toBe(start + 3);
    await page.unroute(/\/api\/imports\?/);

    const setHidden = (hidden: boolean) =>
      page.evaluate((value) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (value ? "hidden" : "visible") });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);
    await setHidden(true);
    expect(await line.textContent()).toBe("Paused while this tab is hidden");
    await context.clock.runFor(120_000);
    expect(await calls()).toBe(start + 3);
    // Shown again: it catches up at once, then resumes its schedule.
    await setHidden(false);
    expect(await calls()).toBe(start + 4);
    await expect.poll(() => line.textContent(), WAIT).toMatch(/next refresh in 5 s$/);
    await context.close();
  }, 60_000);

  it("fits a 375-px phone screen without horizontal scrolling", async () => {
    const { page, problems } = await openDashboard(PHONE, `#batch=${batchId}`);
    await signIn(page, pipeline.partner.apiKey);
    await page.getByRole("row").filter({ hasText: ORDER }).locator('[aria-valuenow="100"]').waitFor(WAIT);
    await page.getByText("ZtdDeviceAssignedToOtherTenant", { exact: true }).waitFor(WAIT);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));
    expect(widths.viewport).toBe(375);
    expect(widths.scroll).toBeLessThanOrEqual(widths.viewport);
    await page.screenshot({ path: `${SHOTS}/dashboard-phone.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("erases a finished batch after asking, and keeps it when the viewer says no", async () => {
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, orderIdentifier: "PO-DASH-ERASE", devices: makeDevices(2, "DASHERASE") }),
    });
    const { id } = (await response.json()) as { id: string };
    const { page, problems } = await openDashboard(LAPTOP, `#batch=${id}`);
    await signIn(page, pipeline.partner.apiKey);
    const detail = page.getByRole("region", { name: "PO-DASH-ERASE" });
    const open = detail.getByRole("button", { name: "Erase batch…" });
    // Offered only once the batch has finished, with the date it would be erased anyway.
    await open.waitFor(WAIT);
    expect(await detail.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    const keptUntil = await page.evaluate(
      () =>
        [...document.querySelectorAll("#detail-summary dt")]
          .find((dt) => dt.textContent === "Kept until")
          ?.nextElementSibling?.querySelector("time")?.dateTime,
    );
    expect(Date.parse(keptUntil!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    await open.click();
    const dialog = page.getByRole("dialog", { name: "Erase this batch?" });
    await dialog.waitFor(WAIT);
    expect(await dialog.innerText()).toContain("its 2 devices with their hardware hashes, product keys, users and outcomes");
    await dialog.getByRole("button", { name: "Keep it" }).click();
    await dialog.waitFor({ state: "hidden", ...WAIT });
    expect((await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).status).toBe(200);

    await open.click();
    await dialog.getByRole("button", { name: "Erase", exact: true }).click();
    await page.getByRole("status").getByText("The batch was erased").waitFor(WAIT);
    expect(await detail.isVisible()).toBe(false);
    expect(page.url()).not.toContain("#batch=");
    const batches = page.getByRole("table", { name: "Import batches, newest first" });
    await expect.poll(() => batches.getByRole("button").allInnerTexts(), WAIT).not.toContain("PO-DASH-ERASE");
    expect((await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).status).toBe(404);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("pages through a batch's failures, forward and back, and filters batches by status", async () => {
    const rejected = makeDevices(23, "DASHPAGE");
    for (const d of rejected) pipeline.simulator.rejectHash(d.hardwareIdentifier);
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, orderIdentifier: "PO-DASH-PAGES", devices: rejected }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const { page, problems } = await openDashboard(LAPTOP, `#batch=${id}`);
    await signIn(page, pipeline.partner.apiKey);
    const detail = page.getByRole("region", { name: "PO-DASH-PAGES" });
    await detail.locator('[role="progressbar"][aria-valuenow="100"]').waitFor(WAIT);
    const pager = page.getByRole("navigation", { name: "Failed device pages" });
    const rows = detail
      .getByRole("table")
      .getByRole("row")
      .filter({ has: page.getByRole("cell") });
    const firstCells = () => rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector("td")?.textContent?.trim()));
    // The page shown may predate the last failures; the next refresh brings the full page and its nextLink.
    await expect.poll(() => pager.getByRole("button", { name: "Next" }).isEnabled(), WAIT).toBe(true);
    expect(await firstCells()).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));

    await pager.getByRole("button", { name: "Next" }).click();
    await pager.getByText("Page 2").waitFor(WAIT);
    await expect.poll(firstCells, WAIT).toEqual(["20", "21", "22"]);
    expect(await pager.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    expect(await rows.first().getByText("InvalidZtdHardwareHash", { exact: true }).count()).toBe(1);

    await pager.getByRole("button", { name: "Previous" }).click();
    await pager.getByText("Page 1").waitFor(WAIT);
    await expect.poll(firstCells, WAIT).toHaveLength(20);

    // The status filter: this batch failed outright; the first one only partly.
    const batches = page.getByRole("table", { name: "Import batches, newest first" });
    const listed = () => batches.getByRole("button").allInnerTexts();
    await expect.poll(listed, WAIT).toEqual(["PO-DASH-PAGES", ORDER]);
    await page.getByRole("combobox", { name: /^Status/ }).selectOption("failed");
    await expect.poll(listed, WAIT).toEqual(["PO-DASH-PAGES"]);
    await page.getByRole("combobox", { name: /^Status/ }).selectOption("partially_succeeded");
    await expect.poll(listed, WAIT).toEqual([ORDER]);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);
});
