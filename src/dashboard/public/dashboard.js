// The ops dashboard: reads the public API with the viewer's key and draws it. Everything is
// built with DOM calls and textContent, never HTML strings, so API data cannot inject markup.
import { ago, canErase, countsInOrder, deregistrationProblems, describeModels, describeNotification, deviceModel, eraseOutcome, explainFailure, nextRefreshMs, Pager, progressOf, readinessOf, retentionOf, safeNextLink, statusLabel } from "./view.js";

const KEY_STORAGE = "autopilot-import.apiKey";
// The page is served at {api}/dashboard, so the API root is one level above this script.
const API = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const PAGE_SIZE = 20;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const state = {
  key: sessionStorage.getItem(KEY_STORAGE) ?? "",
  batches: new Pager(batchesLink("")),
  /** @type {string | undefined} */ selected: undefined,
  /** The deregistration batch whose devices are shown. */
  /** @type {string | undefined} */ deregistration: undefined,
  /** @type {Pager | undefined} */ failures: undefined,
  /** The selected batch as last drawn, for the erase dialog. */
  detail: undefined,
  timer: 0,
  generation: 0,
};

function batchesLink(status) {
  const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
  if (status) query.set("status", status);
  return `${API}/imports?${query}`;
}

function failuresLink(id) {
  return `${API}/imports/${encodeURIComponent(id)}/devices?status=failed&pageSize=${PAGE_SIZE}`;
}

/** One API call; never throws. */
async function call(path) {
  let response;
  try {
    response = await fetch(path, { headers: { "x-api-key": state.key, accept: "application/json" }, cache: "no-store", credentials: "omit" });
  } catch {
    return { ok: false, outcome: "network" };
  }
  const retryAfter = response.headers.get("retry-after");
  const body = await response.json().catch(() => undefined);
  return response.ok ? { ok: true, body, retryAfter } : { ok: false, outcome: response.status, retryAfter, detail: body?.detail };
}

/** A change to a batch (DELETE); never throws. */
async function send(method, path) {
  let response;
  try {
    response = await fetch(path, { method, headers: { "x-api-key": state.key, accept: "application/json" }, cache: "no-store", credentials: "omit" });
  } catch {
    return { ok: false, outcome: "network" };
  }
  const body = await response.json().catch(() => undefined);
  return { ok: response.ok, outcome: response.status, detail: body?.detail };
}

async function refresh() {
  clearTimeout(state.timer);
  if (!state.key) return;
  const generation = ++state.generation;
  const calls = [call(state.batches.current)];
  if (state.selected && state.failures) calls.push(call(`${API}/imports/${encodeURIComponent(state.selected)}`), call(state.failures.current));
  else calls.push(Promise.resolve(undefined), Promise.resolve(undefined));
  calls.push(call(`${API}/deregistrations?pageSize=${PAGE_SIZE}`));
  if (state.deregistration) calls.push(call(`${API}/deregistrations/${encodeURIComponent(state.deregistration)}/devices?pageSize=1000`));
  const [list, detail, failures, deregistrations, deregistrationDevices] = await Promise.all(calls);
  // A newer refresh (a click, a new key) started meanwhile and will draw instead.
  if (generation !== state.generation) return;

  if (list.ok) renderBatches(list.body);
  if (detail?.ok) renderDetail(detail.body);
  if (failures?.ok) renderFailures(failures.body);
  if (deregistrations?.ok) renderDeregistrations(deregistrations.body);
  if (deregistrationDevices?.ok) renderDeregistrationProblems(deregistrationDevices.body);

  const failed = [list, detail, failures, deregistrations, deregistrationDevices].find((result) => result && !result.ok);
  if (failed?.outcome === 401) {
    signOut(explainFailure(401).message);
    return;
  }
  showAlert(failed ? explainFailure(failed.outcome, failed.detail) : undefined);
  const delay = nextRefreshMs([list, detail, failures, deregistrations].map((result) => result?.retryAfter));
  const updated = failed ? "Not updated" : `Updated ${new Date().toLocaleTimeString()}`;
  if (document.hidden) {
    $("refresh-state").textContent = `${updated} · paused while this tab is hidden`;
    return;
  }
  $("refresh-state").textContent = `${updated} · next refresh in ${Math.round(delay / 1000)} s`;
  state.timer = setTimeout(refresh, delay);
}

function showNotice(message) {
  $("notice").hidden = !message;
  $("notice").textContent = message ?? "";
}

function showAlert(problem) {
  const alert = $("alert");
  alert.hidden = !problem;
  alert.textContent = problem?.message ?? "";
  alert.dataset.kind = problem?.kind ?? "";
}

function time(iso) {
  if (!iso) return document.createTextNode("—");
  const element = document.createElement("time");
  element.dateTime = iso;
  element.textContent = new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  element.title = ago(iso);
  return element;
}

function cell(label, ...content) {
  const td = document.createElement("td");
  td.dataset.label = label;
  // One child, so the phone layout's label column (td::before) sits beside all of the content.
  const body = document.createElement("div");
  body.append(...content);
  td.append(body);
  return td;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function batchName(batch) {
  return batch.orderIdentifier || `Batch ${batch.id.slice(0, 8)}`;
}

function progressBar(batch) {
  const { final, total, percent } = progressOf(batch);
  const wrapper = element("div", "progress-cell");
  const bar = element("div", "progress");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", `Progress of ${batchName(batch)}`);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-valuetext", `${final} of ${total} devices final, ${percent} %`);
  const fill = element("div", `fill status-${batch.status}`);
  fill.style.width = `${percent}%`;
  bar.append(fill);
  wrapper.append(bar, element("span", "progress-text", `${final} / ${total} · ${percent} %`));
  return wrapper;
}

function countList(counts, nonZeroOnly) {
  const list = element("ul", "state-counts");
  for (const { state: name, count } of countsInOrder(counts, { nonZeroOnly })) {
    const item = element("li", `state-${name}`);
    item.append(element("span", "state-name", name), " ", element("strong", "", String(count)));
    list.append(item);
  }
  return list;
}

function renderBatches(page) {
  const rows = (page.value ?? []).map((batch) => {
    const tr = document.createElement("tr");
    if (batch.id === state.selected) tr.setAttribute("aria-current", "true");
    const open = element("button", "link", batchName(batch));
    open.type = "button";
    open.addEventListener("click", () => select(batch.id));
    const name = cell("Batch", open, element("span", "batch-id", batch.id));
    const status = cell("Status", element("span", `badge status-${batch.status}`, statusLabel(batch.status)));
    const readiness = readinessOf(batch);
    if (readiness) status.append(element("span", "readiness", readiness.text));
    tr.append(name, status, cell("Progress", progressBar(batch)), cell("Devices by state", countList(batch.counts ?? {}, true)), cell("Created", time(batch.createdAt)), cell("Updated", time(batch.updatedAt)));
    return tr;
  });
  $("batches").querySelector("tbody").replaceChildren(...rows);
  $("batches-empty").hidden = rows.length > 0;
  const next = safeNextLink(page.nextLink);
  setPager("batches", state.batches, next);
}

/** Read-only: deregistration batches are submitted by partners' systems, never from this page. */
function renderDeregistrations(page) {
  const rows = (page.value ?? []).map((batch) => {
    const tr = document.createElement("tr");
    if (batch.id === state.deregistration) tr.setAttribute("aria-current", "true");
    const open = element("button", "link", `Deregistration of ${batch.deviceCount} device${batch.deviceCount === 1 ? "" : "s"}`);
    open.type = "button";
    open.addEventListener("click", () => {
      state.deregistration = batch.id;
      $("deregistration-problems").querySelector("tbody").replaceChildren();
      $("deregistration-detail").hidden = false;
      refresh().then(() => $("deregistration-problems-heading").focus());
    });
    tr.append(
      cell("Batch", open, element("span", "batch-id", batch.id)),
      cell("Status", element("span", `badge status-${batch.status}`, statusLabel(batch.status))),
      cell("Progress", progressBar(batch)),
      cell("Devices by state", countList(batch.counts ?? {}, true)),
      cell("Created", time(batch.createdAt)),
    );
    return tr;
  });
  $("deregistrations").querySelector("tbody").replaceChildren(...rows);
  $("deregistrations-empty").hidden = rows.length > 0;
}

function renderDeregistrationProblems(page) {
  const rows = deregistrationProblems(page.value ?? []).map((problem) => {
    const tr = document.createElement("tr");
    tr.append(
      cell("Serial number", element("span", "serial", problem.serialNumber)),
      cell("Outcome", problem.state),
      cell("Code", element("code", "", problem.code)),
      cell("What it means", problem.message),
    );
    return tr;
  });
  $("deregistration-problems").querySelector("tbody").replaceChildren(...rows);
  $("deregistration-problems-empty").hidden = rows.length > 0;
}

function setPager(prefix, pager, next) {
  const nextButton = /** @type {HTMLButtonElement} */ ($(`${prefix}-next`));
  nextButton.disabled = !next;
  nextButton.dataset.link = next ?? "";
  /** @type {HTMLButtonElement} */ ($(`${prefix}-prev`)).disabled = !pager.hasPrevious;
  $(`${prefix}-page`).textContent = `Page ${pager.pageNumber}`;
}

function renderDetail(batch) {
  $("detail-heading").textContent = batchName(batch);
  const rows = [
    ["Status", statusLabel(batch.status)],
    ["Progress", progressBar(batch)],
    ["Batch id", batch.id],
    ["Tenant", batch.tenantId],
    ["Group tag", batch.groupTag ?? "—"],
    ...(readinessOf(batch) ? [["Ready to ship", readinessOf(batch).text]] : []),
    ["Source", batch.source ?? "—"],
    ["Models", describeModels(batch.deviceModels)],
    ["Hash checks", batch.hashCheck === "off" ? "off: hashes not read at intake" : "on"],
    ["Created", time(batch.createdAt)],
    ["Updated", time(batch.updatedAt)],
    ["Completed", time(batch.completedAt)],
    ["Kept until", keptUntil(batch)],
    ...(batch.notification ? [["Callback", describeNotification(batch.notification)]] : []),
  ];
  state.detail = batch;
  $("erase-open").hidden = !canErase(batch);
  $("detail-summary").replaceChildren(...rows.flatMap(([term, value]) => [element("dt", "", term), wrap("dd", value)]));
  const tiles = countsInOrder(batch.counts ?? {}).map(({ state: name, count }) => {
    const tile = element("div", `tile state-${name}`);
    tile.append(element("dt", "", name), element("dd", "", String(count)));
    return tile;
  });
  $("detail-counts").replaceChildren(...tiles);
}

function keptUntil(batch) {
  const retention = retentionOf(batch);
  return retention.until ? time(retention.until) : document.createTextNode(retention.text);
}

function openEraseDialog() {
  const batch = state.detail;
  if (!batch) return;
  $("erase-text").textContent =
    `Everything this service keeps of ${batchName(batch)} is removed for good: its ${batch.deviceCount} devices with their hardware hashes, ` +
    "product keys, users and outcomes. Devices already imported stay in Intune.";
  /** @type {HTMLButtonElement} */ ($("erase-confirm")).disabled = false;
  /** @type {HTMLDialogElement} */ ($("erase-dialog")).showModal();
  $("erase-cancel").focus();
}

async function eraseSelected() {
  const id = state.detail?.id;
  if (!id) return;
  /** @type {HTMLButtonElement} */ ($("erase-confirm")).disabled = true;
  // No refresh while the batch is erased: one would find it half gone, and draw that.
  clearTimeout(state.timer);
  state.generation++;
  const result = await send("DELETE", `${API}/imports/${encodeURIComponent(id)}`);
  /** @type {HTMLDialogElement} */ ($("erase-dialog")).close();
  if (result.outcome === 401) {
    signOut(explainFailure(401).message);
    return;
  }
  const told = eraseOutcome(result.outcome, result.detail);
  if (result.ok || result.outcome === 404) {
    // Gone either way: close its details and take it off the list.
    state.selected = undefined;
    state.failures = undefined;
    state.detail = undefined;
    $("detail").hidden = true;
    history.replaceState(null, "", location.pathname + location.search);
    showAlert(undefined);
    showNotice(told.message);
    $("batches-heading").focus();
  } else showAlert(told);
  refresh();
}

function wrap(tag, content) {
  const node = document.createElement(tag);
  node.append(content);
  return node;
}

function renderFailures(page) {
  const rows = (page.value ?? []).map((device) => {
    const tr = document.createElement("tr");
    tr.append(
      cell("Index", String(device.index)),
      cell("Serial number", element("span", "serial", device.serialNumber)),
      cell("Model", deviceModel(device)),
      cell("Code", element("code", "", device.error?.code ?? "—")),
      cell("Reason", device.error?.name ?? "—"),
      cell("What it means", device.error?.message ?? "—"),
    );
    return tr;
  });
  $("failures").querySelector("tbody").replaceChildren(...rows);
  $("failures-empty").hidden = rows.length > 0;
  setPager("failures", state.failures, safeNextLink(page.nextLink));
}

function select(id) {
  state.selected = id;
  state.detail = undefined;
  showNotice(undefined);
  $("erase-open").hidden = true;
  state.failures = new Pager(failuresLink(id));
  history.replaceState(null, "", `#batch=${encodeURIComponent(id)}`);
  $("detail").hidden = false;
  $("detail-heading").textContent = "Loading…";
  $("failures").querySelector("tbody").replaceChildren();
  for (const row of $("batches").querySelectorAll("tbody tr")) row.removeAttribute("aria-current");
  // Focus moves to the details, so a keyboard or screen reader user lands where the answer is.
  refresh().then(() => $("detail-heading").focus());
}

function signIn(key) {
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-section").hidden = true;
  $("main").hidden = false;
  $("forget-key").hidden = false;
  showAlert(undefined);
  refresh();
}

function signOut(message) {
  clearTimeout(state.timer);
  state.generation++;
  state.key = "";
  sessionStorage.removeItem(KEY_STORAGE);
  $("main").hidden = true;
  $("forget-key").hidden = true;
  $("key-section").hidden = false;
  $("refresh-state").textContent = "";
  showNotice(undefined);
  showAlert(message ? { kind: "unauthorized", message } : undefined);
  $("api-key").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("api-key"));
  const key = input.value.trim();
  input.value = "";
  if (key) signIn(key);
});
$("forget-key").addEventListener("click", () => signOut());
$("erase-open").addEventListener("click", openEraseDialog);
$("erase-cancel").addEventListener("click", () => /** @type {HTMLDialogElement} */ ($("erase-dialog")).close());
$("erase-confirm").addEventListener("click", eraseSelected);
$("status-filter").addEventListener("change", (event) => {
  state.batches = new Pager(batchesLink(/** @type {HTMLSelectElement} */ (event.target).value));
  refresh();
});
for (const prefix of ["batches", "failures"]) {
  const pager = () => (prefix === "batches" ? state.batches : state.failures);
  $(`${prefix}-next`).addEventListener("click", (event) => {
    const link = /** @type {HTMLElement} */ (event.currentTarget).dataset.link;
    if (link) pager()?.forward(link);
    refresh();
  });
  $(`${prefix}-prev`).addEventListener("click", () => {
    pager()?.back();
    refresh();
  });
}
// A hidden tab stops polling the API and catches up the moment it is shown again.
document.addEventListener("visibilitychange", () => {
  if (!state.key) return;
  if (!document.hidden) {
    refresh();
    return;
  }
  clearTimeout(state.timer);
  $("refresh-state").textContent = "Paused while this tab is hidden";
});

const linked = /^#batch=([\w-]+)$/.exec(location.hash);
if (linked) {
  state.selected = decodeURIComponent(linked[1]);
  state.failures = new Pager(failuresLink(state.selected));
  $("detail").hidden = false;
}
if (state.key) signIn(state.key);
