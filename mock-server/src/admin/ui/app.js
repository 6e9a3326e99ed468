// The journal's web view. Plain JavaScript, no library, served inline by GET /__admin/ui.
// Everything that comes from the journal is put in the page as text (textContent, text
// nodes), never parsed as HTML: a path or a reason may hold markup.
"use strict";

// Where we are: /__admin/ui, or /__run/{id}/__admin/ui for a run (behind any path prefix).
const PLACE = location.pathname.match(/^(.*?)(?:\/__run\/([^/]+))?\/__admin\/ui\/?$/);
const ROOT = PLACE ? PLACE[1] : "";
const PAGE_RUN = PLACE && PLACE[2] ? decodeURIComponent(PLACE[2]) : null;
// How many events the page holds (the oldest go first); ?max= changes it.
const MAX_EVENTS = clamp(Number(new URLSearchParams(location.search).get("max")) || 2000, 50, 20000);
const FLUSH_MS = 100;
const PANEL_REFRESH_MS = 2000;
const SMS_SHOWN = 30;

const REFUSALS = new Set(["token.rejected", "api.denied", "mqtt.refused", "mqtt.denied", "push.unmapped"]);
const FAILURES = new Set(["server.failed"]);

const state = {
  namespace: PAGE_RUN, // null: the default namespace
  held: [], // oldest first
  bySeq: new Map(),
  lastSeq: 0,
  pending: [],
  flushTimer: null,
  selected: null,
  source: null,
  pollTimer: null,
  seen: { provider: new Set(), service: new Set(), kind: new Set(), status: new Set() },
  clock: null,
};

const $ = (id) => document.getElementById(id);

function clamp(n, lo, hi) {
  return Math.min(hi, Math.max(lo, n));
}

// An element with properties, dataset entries and children (strings become text nodes).
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "data") Object.assign(node.dataset, value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function adminBase(run) {
  return run ? `${ROOT}/__run/${encodeURIComponent(run)}/__admin/` : `${ROOT}/__admin/`;
}

async function admin(path, init) {
  const response = await fetch(adminBase(state.namespace) + path, { cache: "no-store", ...init });
  let body = null;
  const text = await response.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text };
    }
  }
  if (!response.ok) {
    const message = body && (body.message || body.error) ? `${body.error || response.status}: ${body.message || ""}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

function sendJson(path, method, value) {
  return admin(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
}

// ---- What an event says at a glance ----

function queryString(query) {
  const entries = Object.entries(query || {});
  return entries.length ? "?" + entries.map(([k, v]) => `${k}=${v}`).join("&") : "";
}

function summary(ev) {
  switch (ev.kind) {
    case "http.exchange":
      return `${ev.method} ${ev.path}${queryString(ev.query)}`;
    case "token.issued":
      return `${ev.grant} for ${ev.client_id}${ev.scopes && ev.scopes.length ? " · " + ev.scopes.join(" ") : ""}`;
    case "token.rejected":
      return `${ev.error}${ev.code != null ? ` AADSTS${ev.code}` : ""}: ${ev.reason}`;
    case "token.introspected":
      return `${ev.token_id} ${ev.active ? "active" : "inactive"}${ev.reason ? ": " + ev.reason : ""} (asked by ${ev.client_id})`;
    case "api.authorized":
      return `${ev.endpoint} by ${ev.client_id}`;
    case "api.denied":
      return `${ev.endpoint}: ${ev.reason}`;
    case "data.written":
      return `${ev.count} into ${ev.collection} by ${ev.client_id}`;
    case "push.unmapped":
      return `${ev.points} points for ${ev.target}: ${ev.reason}`;
    case "mqtt.connected":
      return `${ev.client_id || "(no id)"} as ${ev.principal} over ${ev.transport}, MQTT ${ev.protocol}`;
    case "mqtt.refused":
      return `CONNACK ${mqttCode(ev.code)}: ${ev.reason}`;
    case "mqtt.subscribed":
      return `${ev.filter} (QoS ${ev.qos}) by ${ev.client_id}`;
    case "mqtt.published":
      return `${ev.topic} (${ev.bytes} B, QoS ${ev.qos})${ev.invalid ? ": " + ev.invalid : ""}`;
    case "mqtt.denied":
      return `${ev.action} ${ev.topic}: ${ev.reason}`;
    case "mqtt.disconnected":
      return `${ev.client_id || "(before CONNECT)"}: ${ev.reason}`;
    case "fault.applied":
      return `${ev.rule_id}: ${ev.action} on ${ev.method} ${ev.path}`;
    case "server.failed":
      return `${ev.component}: ${ev.reason}`;
    default:
      return JSON.stringify(ownFields(ev));
  }
}

function mqttCode(code) {
  return `${code} (0x${Number(code).toString(16).padStart(2, "0")})`;
}

// "ok", "warn" (refused: 4xx, a rejection), "bad" (failed: 5xx, dropped, gone) or "info".
function outcome(ev) {
  if (ev.kind === "http.exchange") {
    const s = ev.status;
    if (s === 0 || s === 499 || s >= 500) return "bad";
    if (s >= 400) return "warn";
    return "ok";
  }
  if (REFUSALS.has(ev.kind) || ev.kind === "fault.applied") return "warn";
  if (FAILURES.has(ev.kind)) return "bad";
  if (ev.kind === "token.introspected") return ev.active ? "ok" : "warn";
  if (ev.kind === "mqtt.disconnected") return "info";
  return "ok";
}

function statusLabel(ev) {
  switch (ev.kind) {
    case "http.exchange":
      return ev.status === 0 ? "drop" : String(ev.status);
    case "api.denied":
      return String(ev.status);
    case "mqtt.refused":
      return `0x${Number(ev.code).toString(16).padStart(2, "0")}`;
    case "token.rejected":
      return ev.code != null ? `AADSTS${ev.code}` : ev.error;
    default:
      return ev.kind.split(".")[1] || ev.kind;
  }
}

// The HTTP status an event carries, for the exact-status filter.
function httpStatus(ev) {
  if (ev.kind === "http.exchange" || ev.kind === "api.denied") return ev.status;
  return null;
}

function ownFields(ev) {
  const { seq, at, provider, service, kind, exchange, ...rest } = ev;
  return rest;
}

// ---- Filters ----

function filters() {
  return {
    provider: $("f-provider").value,
    service: $("f-service").value,
    kind: $("f-kind").value,
    status: $("f-status").value,
    text: $("f-text").value.trim().toLowerCase(),
  };
}

function matches(ev, f) {
  if (f.provider && ev.provider !== f.provider) return false;
  if (f.service && ev.service !== f.service) return false;
  if (f.kind && ev.kind !== f.kind) return false;
  if (f.status) {
    if (f.status.startsWith("=")) {
      if (String(httpStatus(ev)) !== f.status.slice(1)) return false;
    } else if (outcome(ev) !== f.status) return false;
  }
  if (f.text) {
    const hay = `${summary(ev)} ${ev.client_id || ""} ${ev.host || ""}`.toLowerCase();
    if (!hay.includes(f.text)) return false;
  }
  return true;
}

// Adds values seen to a filter's select, kept sorted; the choice made stays.
function learn(kind, value, label) {
  if (value === undefined || value === null || value === "") return;
  const key = String(value);
  const seen = state.seen[kind];
  if (seen.has(key)) return;
  seen.add(key);
  const select = $(`f-${kind}`);
  const optionValue = kind === "status" ? `=${key}` : key;
  const option = el("option", { value: optionValue }, label || key);
  const fixed = kind === "status" ? 4 : 1; // "any" (and the outcome classes) stay on top
  let before = null;
  for (let i = fixed; i < select.options.length; i++) {
    if (select.options[i].value.localeCompare(optionValue, undefined, { numeric: true }) > 0) {
      before = select.options[i];
      break;
    }
  }
  select.insertBefore(option, before);
  if (kind === "provider") $("known-providers").append(el("option", { value: key }));
}

// ---- The list ----

function timeOf(ev) {
  return typeof ev.at === "string" ? ev.at.slice(11, 23) : "";
}

function row(ev) {
  const status = el("span", { className: "status", data: { outcome: outcome(ev) } }, statusLabel(ev));
  const tr = el(
    "tr",
    { data: { seq: String(ev.seq), provider: ev.provider, kind: ev.kind }, on: { click: () => select(ev.seq) } },
    el("td", { className: "mono" }, String(ev.seq)),
    el("td", { className: "mono", title: ev.at }, timeOf(ev)),
    el("td", {}, el("span", { className: "prov", data: { provider: ev.provider } }, ev.provider)),
    el("td", {}, ev.service),
    el("td", { className: "mono" }, ev.kind),
    el("td", { className: "what mono" }, el("div", { className: "clip", title: summary(ev) }, summary(ev))),
    el("td", {}, status),
    el("td", { className: "mono" }, ev.kind === "http.exchange" ? ev.duration_ms.toFixed(1) : ""),
  );
  if (ev.seq === state.selected) tr.classList.add("selected");
  return tr;
}

function renderAll() {
  const f = filters();
  const rows = $("rows");
  const fragment = document.createDocumentFragment();
  for (let i = state.held.length - 1; i >= 0; i--) {
    if (matches(state.held[i], f)) fragment.append(row(state.held[i]));
  }
  rows.replaceChildren(fragment);
  updateCounts();
}

function updateCounts() {
  const shown = $("rows").childElementCount;
  $("empty").hidden = shown > 0;
  $("counts").textContent = `${shown} shown · ${state.held.length} held (max ${MAX_EVENTS}) · last #${state.lastSeq}`;
}

function receive(ev) {
  if (!ev || typeof ev.seq !== "number" || ev.seq <= state.lastSeq) return;
  state.lastSeq = ev.seq;
  state.pending.push(ev);
  if (state.pending.length > MAX_EVENTS) state.pending.splice(0, state.pending.length - MAX_EVENTS);
  if (!state.flushTimer) state.flushTimer = setTimeout(flush, FLUSH_MS);
}

// New events in, in one go: many per second reach the page, the DOM changes once per flush.
function flush() {
  state.flushTimer = null;
  const batch = state.pending;
  state.pending = [];
  if (!batch.length) return;
  const f = filters();
  const rows = $("rows");
  const fragment = document.createDocumentFragment();
  let faultFired = false;
  for (const ev of batch) {
    state.held.push(ev);
    state.bySeq.set(ev.seq, ev);
    learn("provider", ev.provider);
    learn("service", ev.service);
    learn("kind", ev.kind);
    learn("status", httpStatus(ev));
    if (ev.kind === "fault.applied") faultFired = true;
  }
  for (const ev of batch) if (matches(ev, f)) fragment.prepend(row(ev));
  rows.prepend(fragment);
  while (state.held.length > MAX_EVENTS) {
    const gone = state.held.shift();
    state.bySeq.delete(gone.seq);
    const tr = rows.querySelector(`tr[data-seq="${gone.seq}"]`);
    if (tr) tr.remove();
  }
  updateCounts();
  if (state.selected !== null && state.bySeq.has(state.selected)) showDetail(state.bySeq.get(state.selected));
  if (faultFired) refreshFaults();
}

function forgetHeld() {
  state.held = [];
  state.bySeq.clear();
  state.pending = [];
  state.selected = null;
  $("rows").replaceChildren();
  $("detail").replaceChildren(el("p", { className: "hint" }, "Select an event to see its details."));
  updateCounts();
}

function notice(text) {
  $("notice").textContent = text;
}

// ---- One event in detail ----

function select(seq) {
  state.selected = seq;
  for (const tr of $("rows").querySelectorAll("tr.selected")) tr.classList.remove("selected");
  const tr = $("rows").querySelector(`tr[data-seq="${seq}"]`);
  if (tr) tr.classList.add("selected");
  const ev = state.bySeq.get(seq);
  if (ev) showDetail(ev);
}

// The events an exchange's handler recorded: those carrying its exchange number.
function duringExchange(ev) {
  if (ev.exchange == null) return [];
  return state.held.filter((other) => other.exchange === ev.exchange && other.kind !== "http.exchange");
}

// The exchange a domain event was recorded in: the one with its exchange number.
function exchangeOf(ev) {
  if (ev.exchange == null) return null;
  return state.held.find((other) => other.exchange === ev.exchange && other.kind === "http.exchange") || null;
}

function related(ev) {
  const during = ev.kind === "http.exchange" ? duringExchange(ev) : [];
  const owner = ev.kind !== "http.exchange" ? exchangeOf(ev) : null;
  const tokens = new Set();
  for (const e of [ev, ...during]) if (e.token_id) tokens.add(e.token_id);
  const near = new Set([ev.seq, ...during.map((e) => e.seq), owner && owner.seq]);
  const sameToken = tokens.size ? state.held.filter((e) => e.token_id && tokens.has(e.token_id) && !near.has(e.seq)) : [];
  return { during, owner, sameToken };
}

// Why a request was refused, from the refusal events' own fields.
function reasons(events) {
  const out = [];
  for (const e of events) {
    switch (e.kind) {
      case "token.rejected":
        out.push(`${e.error}${e.code != null ? ` (AADSTS${e.code})` : ""}: ${e.reason}`);
        break;
      case "api.denied":
        out.push(`${e.status} at ${e.endpoint}: ${e.reason}`);
        break;
      case "mqtt.refused":
        out.push(`CONNACK reason code ${mqttCode(e.code)}: ${e.reason}`);
        break;
      case "mqtt.denied":
        out.push(`${e.action} ${e.topic} denied: ${e.reason}`);
        break;
      case "mqtt.disconnected":
        out.push(`disconnected: ${e.reason}`);
        break;
      case "push.unmapped":
        out.push(`${e.points} points dropped: ${e.reason}`);
        break;
      case "token.introspected":
        if (!e.active && e.reason) out.push(`inactive token: ${e.reason}`);
        break;
      case "fault.applied":
        out.push(`fault rule ${e.rule_id} fired: ${e.action}`);
        break;
      case "server.failed":
        out.push(`${e.component} stopped: ${e.reason}`);
        break;
    }
  }
  return out;
}

function field(dl, name, value) {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
  const shown = typeof value === "object" && !Array.isArray(value) ? JSON.stringify(value) : Array.isArray(value) ? value.join(", ") : String(value);
  dl.append(el("dt", {}, name), el("dd", {}, shown));
}

function eventLink(e, note) {
  return el(
    "li",
    { on: { click: () => select(e.seq) }, title: "show this event" },
    el("span", { className: "mono" }, `#${e.seq}`),
    el("span", { className: "status", data: { outcome: outcome(e) } }, statusLabel(e)),
    el("span", { className: "mono" }, e.kind),
    el("span", { className: "grow" }, summary(e)),
    note ? el("span", { className: "muted" }, note) : null,
  );
}

function body(name, value) {
  if (value === undefined || value === null) return [];
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return [el("h4", {}, name), el("pre", {}, text)];
}

function showDetail(ev) {
  const { during, owner, sameToken } = related(ev);
  const dl = el("dl");
  field(dl, "seq", ev.seq);
  field(dl, "at", ev.at);
  field(dl, "provider", ev.provider);
  field(dl, "service", ev.service);
  field(dl, "kind", ev.kind);
  if (ev.kind === "http.exchange") {
    field(dl, "method", ev.method);
    field(dl, "path", ev.path);
    field(dl, "query", Object.keys(ev.query || {}).length ? queryString(ev.query).slice(1) : "");
    field(dl, "status", ev.status === 0 ? "0 (connection dropped)" : ev.status === 499 ? "499 (client went away)" : ev.status);
    field(dl, "time", `${ev.duration_ms.toFixed(2)} ms`);
    field(dl, "host", ev.host);
    field(dl, "listener", ev.listener);
    field(dl, "user agent", ev.user_agent);
    field(dl, "authorization", ev.auth_scheme);
    field(dl, "client certificate", ev.client_cert ? `x5t#S256 ${ev.client_cert}` : "none");
    field(dl, "secret seen in", ev.secret_in);
    field(dl, "retry-after", ev.retry_after);
  } else {
    const { request_body, response_body, ...rest } = ownFields(ev);
    for (const [key, value] of Object.entries(rest)) field(dl, key.replace(/_/g, " "), value);
  }

  const why = reasons([ev, ...during]);
  const whyBox =
    why.length && outcome(ev) !== "ok"
      ? el("div", { className: "why", id: "why" }, el("strong", {}, "Why"), why.map((w) => el("p", {}, w)))
      : null;

  const headerNames = ev.headers && ev.headers.length ? [el("h4", {}, "Request header names"), el("div", { className: "chips" }, ev.headers.map((h) => el("span", { className: "chip mono" }, h)))] : [];

  const links = [];
  if (owner) links.push(eventLink(owner, "its request"));
  for (const e of during) links.push(eventLink(e, "during this request"));
  for (const e of sameToken) links.push(eventLink(e, "same token"));
  const relatedList = links.length ? [el("h4", {}, "Related events"), el("ul", { className: "list related", id: "related" }, links)] : [];

  $("detail").replaceChildren(
    el("h3", {}, el("span", { className: "prov", data: { provider: ev.provider } }, ev.provider), " ", summary(ev)),
    whyBox,
    dl,
    ...headerNames,
    ...relatedList,
    ...body("Request body", ev.request_body),
    ...body("Response body", ev.response_body),
    el("h4", {}, "Event (JSON)"),
    el("pre", {}, JSON.stringify(ev, null, 2)),
  );
}

// ---- Live: the stream, or polling when there is none ----

function setConnection(mode, text) {
  const c = $("connection");
  c.dataset.state = mode;
  c.textContent = text || mode;
}

function disconnect() {
  if (state.source) state.source.close();
  state.source = null;
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function connect() {
  disconnect();
  setConnection("connecting");
  const source = new EventSource(adminBase(state.namespace) + "events/stream");
  state.source = source;
  source.onopen = () => setConnection("live");
  source.addEventListener("journal", (m) => {
    try {
      receive(JSON.parse(m.data));
    } catch {
      notice("an event that is not JSON was skipped");
    }
  });
  source.addEventListener("lagged", (m) => {
    let missed = "some";
    try {
      missed = JSON.parse(m.data).missed;
    } catch {}
    notice(`the page fell behind: ${missed} events missed`);
  });
  source.addEventListener("cleared", () => {
    forgetHeld();
    notice("the journal was cleared");
  });
  source.onerror = () => {
    if (state.source !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (an older server, or an error): read the journal instead.
      source.close();
      state.source = null;
      poll();
    } else {
      setConnection("connecting", "reconnecting");
    }
  };
}

async function poll() {
  setConnection("polling");
  try {
    const query = state.lastSeq ? `since=${state.lastSeq}` : `limit=${MAX_EVENTS}`;
    const page = await admin(`events?${query}`);
    for (const ev of page.events) receive(ev);
  } catch (e) {
    setConnection("down", "unreachable");
  }
  state.pollTimer = setTimeout(poll, 1000);
}

// ---- Panels: runs, faults, clock, SMS ----

async function refreshRuns() {
  const list = $("runs");
  try {
    if (PAGE_RUN) {
      const run = await (await fetch(`${ROOT}/__admin/runs/${encodeURIComponent(PAGE_RUN)}`, { cache: "no-store" })).json();
      list.replaceChildren(runItem(run.id ? run : { id: PAGE_RUN }));
      return;
    }
    const answer = await admin("runs");
    const runs = answer.runs || [];
    list.replaceChildren(
      el("li", {}, el("span", { className: "grow" }, "default namespace"), watchButton(null)),
      ...runs.map(runItem),
    );
    syncNamespaces(runs.map((r) => r.id));
  } catch (e) {
    list.replaceChildren(el("li", { className: "error" }, `runs: ${e.message}`));
  }
}

function runItem(run) {
  return el(
    "li",
    { data: { run: run.id } },
    el("a", { className: "grow mono", href: `${ROOT}/__run/${encodeURIComponent(run.id)}/__admin/ui`, title: "this run's own page" }, run.id),
    run.events != null ? el("span", { className: "muted" }, `${run.events} events`) : null,
    run.idle_seconds != null ? el("span", { className: "muted" }, `idle ${Math.round(run.idle_seconds)} s`) : null,
    PAGE_RUN ? null : watchButton(run.id),
  );
}

function watchButton(run) {
  return el("button", { type: "button", on: { click: () => watch(run) } }, "watch");
}

// The namespace select: the default namespace and every live run (a run's page: that run only).
function syncNamespaces(runIds) {
  const select = $("namespace");
  const wanted = PAGE_RUN ? [PAGE_RUN] : ["", ...runIds];
  if (state.namespace && !wanted.includes(state.namespace)) wanted.push(state.namespace);
  const current = [...select.options].map((o) => o.value);
  if (JSON.stringify(current) === JSON.stringify(wanted)) return;
  select.replaceChildren(...wanted.map((id) => el("option", { value: id }, id ? `run ${id}` : "default namespace")));
  select.value = state.namespace || "";
  select.disabled = Boolean(PAGE_RUN);
}

function watch(run) {
  if ((run || null) === state.namespace) return;
  state.namespace = run || null;
  $("namespace").value = run || "";
  state.lastSeq = 0;
  forgetHeld();
  notice("");
  connect();
  refreshPanels();
}

async function refreshFaults() {
  const list = $("faults");
  try {
    const rules = await admin("faults");
    list.replaceChildren(
      ...(rules.length ? rules.map(faultItem) : [el("li", { className: "muted" }, "no fault rules armed")]),
    );
  } catch (e) {
    list.replaceChildren(el("li", { className: "error" }, `faults: ${e.message}`));
  }
}

function faultItem(rule) {
  const where = [rule.provider || "*", rule.service || "*"].join("/");
  const action = Object.entries(rule.action || {})
    .filter(([, v]) => v !== null && v !== undefined && v !== false && !(typeof v === "object" && !Object.keys(v).length))
    .map(([k, v]) => (v === true ? k : typeof v === "object" ? `${k} …` : `${k} ${v}`))
    .join(", ");
  const remove = el("button", { type: "button", title: `remove ${rule.id}`, on: { click: () => removeFault(rule.id) } }, "remove");
  return el(
    "li",
    { data: { fault: rule.id } },
    el("span", { className: "mono" }, rule.id),
    el("span", { className: "grow mono" }, `${where} ${rule.method || "*"} ${rule.route || "/**"} → ${action}`),
    el("span", { className: "muted" }, `fired ${rule.fired ?? 0}${rule.times ? "/" + rule.times : ""}`),
    remove,
  );
}

async function removeFault(id) {
  try {
    await admin(`faults/${encodeURIComponent(id)}`, { method: "DELETE" });
    $("fault-error").textContent = "";
  } catch (e) {
    $("fault-error").textContent = e.message;
  }
  refreshFaults();
}

async function addFault(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  const rule = { action: {} };
  for (const name of ["provider", "service", "method", "route"]) if (value(name)) rule[name] = value(name);
  if (value("times")) rule.times = Number(value("times"));
  if (value("status")) rule.action.status = Number(value("status"));
  if (value("delay_ms")) rule.action.delay_ms = Number(value("delay_ms"));
  if (form.elements.drop_connection.checked) rule.action.drop_connection = true;
  try {
    await sendJson("faults", "POST", rule);
    $("fault-error").textContent = "";
  } catch (e) {
    $("fault-error").textContent = e.message;
  }
  refreshFaults();
}

async function refreshClock() {
  try {
    const clock = await admin("clock");
    state.clock = { ...clock, fetched: Date.now() };
    renderClock();
    $("clock-error").textContent = "";
  } catch (e) {
    $("clock-error").textContent = e.message;
  }
}

function renderClock() {
  const c = state.clock;
  if (!c) return;
  const now = new Date(Date.parse(c.now) + (c.frozen ? 0 : Date.now() - c.fetched));
  $("clock-now").textContent = isNaN(now) ? c.now : now.toISOString().replace(/\.\d+Z$/, "Z");
  $("clock-offset").textContent = Number(c.offset_seconds).toFixed(0);
  const tag = $("clock-state");
  tag.textContent = c.frozen ? "frozen" : "running";
  tag.dataset.frozen = String(Boolean(c.frozen));
  $("clock-freeze").textContent = c.frozen ? "unfreeze" : "freeze";
}

async function changeClock(change) {
  try {
    const clock = await sendJson("clock", "POST", change);
    state.clock = { ...clock, fetched: Date.now() };
    renderClock();
    $("clock-error").textContent = "";
  } catch (e) {
    $("clock-error").textContent = e.message;
  }
}

async function refreshSms() {
  const list = $("sms");
  try {
    const messages = ((await admin("sms")).messages || []).slice(-SMS_SHOWN).reverse();
    list.replaceChildren(
      ...(messages.length
        ? messages.map((m) =>
            el(
              "li",
              {},
              el("span", { className: "mono muted" }, (m.sent_at || "").slice(11, 19)),
              el("span", { className: "mono" }, m.to),
              el("span", { className: "grow" }, m.text),
            ),
          )
        : [el("li", { className: "muted" }, "no messages sent")]),
    );
  } catch (e) {
    list.replaceChildren(el("li", { className: "error" }, `sms: ${e.message}`));
  }
}

function refreshPanels() {
  refreshRuns();
  refreshFaults();
  refreshClock();
  refreshSms();
}

// ---- Start ----

function start() {
  for (const id of ["f-provider", "f-service", "f-kind", "f-status"]) $(id).addEventListener("change", renderAll);
  $("f-text").addEventListener("input", renderAll);
  $("clear-view").addEventListener("click", forgetHeld);
  $("namespace").addEventListener("change", (e) => watch(e.target.value || null));
  $("fault-form").addEventListener("submit", addFault);
  $("clock-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const seconds = Number($("clock-advance").value);
    if (Number.isFinite(seconds)) changeClock({ advance_seconds: seconds });
  });
  $("clock-freeze").addEventListener("click", () => changeClock({ freeze: !(state.clock && state.clock.frozen) }));
  syncNamespaces([]);
  updateCounts();
  connect();
  refreshPanels();
  setInterval(() => {
    if (document.visibilityState === "visible") refreshPanels();
  }, PANEL_REFRESH_MS);
  setInterval(renderClock, 1000);
}

start();
