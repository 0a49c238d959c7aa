"use strict";
// tacit's dashboard: every number is an answer of the query API (Stats API
// v2 bodies posted to <base>query). The page adds no arithmetic to the
// numbers; it only lays them out (a bar's width, a point's height). The
// view lives in the URL; nothing is stored in the browser.

const $ = (id) => document.getElementById(id);
const SHARED = location.pathname.startsWith("/share/");
const BASE = SHARED ? location.pathname.replace(/\/+$/, "") + "/" : "/dashboard/api/";

const METRIC_LABEL = {
  visitors: "Unique visitors", visits: "Total visits", pageviews: "Total pageviews",
  views_per_visit: "Views per visit", bounce_rate: "Bounce rate", visit_duration: "Visit duration",
  events: "Events", percentage: "%", conversion_rate: "CR", scroll_depth: "Scroll depth",
  time_on_page: "Time on page", total_revenue: "Revenue", average_revenue: "Avg revenue",
};
const SHORT = { visitors: "Visitors", visits: "Visits", pageviews: "Pageviews", bounce_rate: "Bounce",
  visit_duration: "Duration", events: "Events", percentage: "%", conversion_rate: "CR",
  scroll_depth: "Scroll", time_on_page: "Time", total_revenue: "Revenue", average_revenue: "Avg rev." };
const TOP = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"];
// With a goal filter the top stats are the goal's, as in Plausible.
const GOAL_TOP = ["visitors", "events", "conversion_rate"];
const GOAL_LABEL = { visitors: "Unique conversions", events: "Total conversions", conversion_rate: "Conversion rate" };
const DIM_LABEL = {
  "event:page": "Page", "event:hostname": "Hostname", "event:goal": "Goal", "event:name": "Event",
  "visit:entry_page": "Entry page", "visit:exit_page": "Exit page", "visit:source": "Source",
  "visit:referrer": "Referrer", "visit:channel": "Channel", "visit:utm_source": "UTM source",
  "visit:utm_medium": "UTM medium", "visit:utm_campaign": "UTM campaign", "visit:utm_content": "UTM content",
  "visit:utm_term": "UTM term", "visit:device": "Device", "visit:browser": "Browser",
  "visit:browser_version": "Browser version", "visit:os": "OS", "visit:os_version": "OS version",
  "visit:country": "Country", "visit:region": "Region", "visit:city": "City", "visit:screen": "Screen",
};
// Optional metrics a panel shows when the server's query API answers them.
const OPTIONAL = { pages: ["time_on_page", "scroll_depth"], goals: ["total_revenue", "average_revenue"] };

// The panels: tabs of [dimension, title, metrics].
const PANELS = [
  { id: "sources", title: "Top sources", tabs: [
    ["visit:channel", "Channels", ["visitors", "visits", "bounce_rate"]],
    ["visit:source", "Sources", ["visitors", "visits", "bounce_rate"]],
    ["visit:referrer", "Referrers", ["visitors", "visits"]],
    ["visit:utm_medium", "Medium", ["visitors", "visits"]],
    ["visit:utm_source", "Source", ["visitors", "visits"]],
    ["visit:utm_campaign", "Campaign", ["visitors", "visits"]],
    ["visit:utm_content", "Content", ["visitors", "visits"]],
    ["visit:utm_term", "Term", ["visitors", "visits"]],
  ] },
  { id: "pages", title: "Top pages", tabs: [
    ["event:page", "Top pages", ["visitors", "pageviews"]],
    ["visit:entry_page", "Entry pages", ["visitors", "visits", "bounce_rate"]],
    ["visit:exit_page", "Exit pages", ["visitors", "visits"]],
    ["event:hostname", "Hostnames", ["visitors", "pageviews"]],
  ] },
  { id: "locations", title: "Locations", tabs: [
    ["visit:country", "Countries", ["visitors", "percentage"]],
    ["visit:region", "Regions", ["visitors", "percentage"]],
    ["visit:city", "Cities", ["visitors", "percentage"]],
  ] },
  { id: "devices", title: "Devices", tabs: [
    ["visit:device", "Devices", ["visitors", "percentage"]],
    ["visit:browser", "Browsers", ["visitors", "percentage"]],
    ["visit:os", "OS", ["visitors", "percentage"]],
    ["visit:screen", "Screens", ["visitors", "percentage"]],
  ] },
  { id: "goals", title: "Goal conversions", tabs: [["event:goal", "Goals", ["visitors", "events", "conversion_rate"]]] },
  { id: "props", title: "Custom properties", tabs: [] },
  { id: "email", title: "Email campaigns", tabs: [["visit:utm_campaign", "Campaigns", ["visitors", "visits", "bounce_rate"]]],
    fixed: ["is", "visit:channel", ["email"]],
    note: "Visits from email (channel email) by campaign; below, the emails' opens and clicks." },
];
const ROWS = 9, MORE = 100;

const state = {
  site: "", period: "30d", from: "", to: "", compare: "", interval: "", metric: "visitors",
  filters: [], tabs: {}, prop: "", more: {},
};
let meta = { sites: [], shared: null, can_share: false, policy: {} };
let optional = {};  // metric -> answered by this server
const answers = {}; // panel id -> { body, json }
let generation = 0;

// ---------------------------------------------------------------- URL state

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.site = p.get("site") || state.site;
  state.period = p.get("period") || (p.get("from") ? "custom" : "30d");
  state.from = p.get("from") || "";
  state.to = p.get("to") || "";
  state.compare = p.get("compare") || "";
  state.interval = p.get("interval") || "";
  state.metric = p.get("metric") || "visitors";
  state.prop = p.get("prop") || "";
  state.filters = p.getAll("f").map((s) => { try { return JSON.parse(s); } catch { return null; } })
    .filter((f) => Array.isArray(f) && f.length === 3 && Array.isArray(f[2]));
  state.tabs = {};
  for (const panel of PANELS) { const t = p.get("t_" + panel.id); if (t) state.tabs[panel.id] = t; }
}

function writeUrl(push) {
  const p = new URLSearchParams();
  if (!SHARED || meta.sites.length > 1) p.set("site", state.site);
  p.set("period", state.period);
  if (state.period === "custom") { p.set("from", state.from); p.set("to", state.to); }
  if (state.compare) p.set("compare", state.compare);
  if (state.interval) p.set("interval", state.interval);
  if (state.metric !== "visitors") p.set("metric", state.metric);
  if (state.prop) p.set("prop", state.prop);
  for (const f of state.filters) p.append("f", JSON.stringify(f));
  for (const [k, v] of Object.entries(state.tabs)) p.append("t_" + k, v);
  const url = location.pathname + "?" + p.toString();
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}

// ----------------------------------------------------------------- the API

async function api(path, init) {
  const res = await fetch(BASE + path, Object.assign({ credentials: "omit", cache: "no-store" }, init || {}));
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* a number or text */ }
  if (!res.ok) throw new Error((json && json.error) || text.trim() || res.statusText);
  return json;
}

const query = (body) => api("query", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

function todayUtc() { return new Date().toISOString().slice(0, 10); }
function addDays(iso, n) { const d = new Date(iso + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }

function dateRange() {
  switch (state.period) {
    case "custom": return [state.from, state.to];
    case "yesterday": { const y = addDays(todayUtc(), -1); return [y, y]; }
    // The last 30 minutes where the API answers them, else today.
    case "realtime": return optional.realtime ? "30m" : "day";
    default: return state.period;
  }
}

// Days the range spans, for the intervals it allows.
function spanDays() {
  const fixed = { day: 1, yesterday: 1, "7d": 7, "28d": 28, "30d": 30, "91d": 91, month: 31, "6mo": 183, "12mo": 365, year: 365, all: 9999 };
  if (state.period === "custom") {
    const d = (Date.parse(state.to) - Date.parse(state.from)) / 86400000 + 1;
    return Number.isFinite(d) && d > 0 ? d : 1;
  }
  return fixed[state.period] || 30;
}

function intervals() {
  if (state.period === "realtime") return optional.realtime ? ["minute"] : ["hour"];
  const d = spanDays();
  if (d <= 1) return ["hour"];
  if (d <= 7) return ["hour", "day"];
  if (d <= 92) return ["day", "week"];
  if (d <= 400) return ["day", "week", "month"];
  return ["week", "month"];
}

function interval() {
  const ok = intervals();
  if (ok.includes(state.interval)) return state.interval;
  if (ok.length === 1) return ok[0];
  return spanDays() > 92 ? "month" : ok.includes("day") ? "day" : ok[0];
}

function filters() {
  const f = state.filters.slice();
  if (meta.shared && meta.shared.filter) f.unshift(meta.shared.filter);
  return f;
}

function body(extra) {
  const b = { site_id: state.site, date_range: dateRange(), filters: filters() };
  return Object.assign(b, extra);
}

function comparison() {
  return state.compare && state.period !== "realtime" && state.period !== "all" ? { comparisons: { mode: state.compare } } : {};
}

// ---------------------------------------------------------------- formats

const nf = new Intl.NumberFormat("en-US");
let regionNames = null;
try { regionNames = new Intl.DisplayNames(["en"], { type: "region" }); } catch { regionNames = null; }

function fmt(metric, v) {
  if (v === null || v === undefined) return "–";
  switch (metric) {
    case "bounce_rate": case "percentage": case "conversion_rate": case "scroll_depth": return v + "%";
    case "visit_duration": case "time_on_page": {
      const s = Math.round(Number(v)); const m = Math.floor(s / 60);
      return m ? m + "m " + String(s % 60).padStart(2, "0") + "s" : s + "s";
    }
    default: return typeof v === "number" ? nf.format(v) : String(v);
  }
}

function flag(cc) {
  if (!/^[A-Z]{2}$/.test(cc)) return "";
  return String.fromCodePoint(...[...cc].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

function country(cc) {
  let name = cc;
  try { name = (regionNames && regionNames.of(cc)) || cc; } catch { name = cc; }
  return name;
}

// A dimension value as shown (the value itself stays in data-value).
function label(dim, v) {
  if (v === "" || v === null || v === undefined) {
    return dim === "visit:source" || dim === "visit:referrer" ? "Direct / None" : "(none)";
  }
  const s = String(v);
  if (dim === "visit:country") return flag(s) + " " + country(s);
  if (dim === "visit:region") {
    const cc = s.slice(0, 2);
    return flag(cc) + " " + s + " · " + country(cc);
  }
  if (dim === "visit:channel") return CHANNEL[s] || s.charAt(0).toUpperCase() + s.slice(1);
  return s;
}

const CHANNEL = { ai: "AI assistants", search: "Organic search", social: "Organic social", email: "Email",
  referral: "Referral", direct: "Direct", paid_search: "Paid search", paid_social: "Paid social" };

function chipText(f) {
  const ops = { is: "is", is_not: "is not", contains: "contains", contains_not: "does not contain" };
  const vals = f[2].map((v) => label(f[1], v)).join(" or ");
  return (DIM_LABEL[f[1]] || f[1]) + " " + (ops[f[0]] || f[0]) + " " + vals;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// ------------------------------------------------------------------- status

let pending = 0;
function busy(delta) {
  pending += delta;
  $("status").textContent = pending > 0 ? "loading" : "ready";
}

// -------------------------------------------------------------- top stats

async function loadTop(gen) {
  const top = $("top");
  const metrics = topMetrics();
  const goal = metrics.includes("conversion_rate");
  const name = (m) => (goal ? GOAL_LABEL[m] : null) || METRIC_LABEL[m];
  const b = body({ metrics, include: comparison() });
  top.dataset.query = JSON.stringify(b);
  top.dataset.state = "loading";
  let json;
  try { json = await query(b); } catch (e) {
    if (gen !== generation) return;
    const why = state.period === "realtime"
      ? "The last 30 minutes are not answered by this server's query API (" + e.message + "); the current visitors are above."
      : e.message;
    top.replaceChildren(el("p", { class: "note err", "data-testid": "error-top", text: why }));
    top.dataset.state = "error";
    return;
  }
  if (gen !== generation) return;
  answers.top = { body: b, json };
  const row = json.results[0] || { metrics: [] };
  top.replaceChildren(...metrics.map((m, i) => {
    const v = row.metrics[i];
    const card = el("button", { type: "button", class: "card", "data-testid": "stat-" + m, "data-metric": m,
      "aria-pressed": String(state.metric === m), title: "Graph " + name(m) },
      el("div", { class: "k", text: name(m) }),
      el("div", { class: "v", "data-v": JSON.stringify(v), "data-testid": "value-" + m, text: fmt(m, v) }));
    if (row.comparison) {
      const c = row.comparison.change[i];
      const good = m === "bounce_rate" ? c < 0 : c > 0;
      const arrow = c > 0 ? "↑" : c < 0 ? "↓" : "±";
      const unit = ["bounce_rate", "conversion_rate", "percentage"].includes(m) ? " pp" : "%";
      card.append(el("div", { class: "chg " + (c === 0 ? "" : good ? "up" : "down"), "data-testid": "change-" + m,
        "data-v": JSON.stringify(c), text: arrow + " " + Math.abs(c) + unit }));
      card.append(el("div", { class: "was", "data-v": JSON.stringify(row.comparison.metrics[i]),
        text: "was " + fmt(m, row.comparison.metrics[i]) }));
    }
    card.addEventListener("click", () => { state.metric = m; writeUrl(true); loadTopPressed(); track(loadGraph(generation)); });
    return card;
  }));
  top.dataset.state = "ready";
}

function topMetrics() {
  if (state.period === "realtime") return ["visitors", "pageviews"];
  if (filters().some((f) => f[1] === "event:goal" && f[0] !== "is_not" && f[0] !== "contains_not")) return GOAL_TOP;
  return TOP;
}

function loadTopPressed() {
  for (const c of $("top").querySelectorAll(".card")) c.setAttribute("aria-pressed", String(c.dataset.metric === state.metric));
}

// -------------------------------------------------------------------- graph

function drawIntervals() {
  const box = $("intervals");
  const cur = interval();
  box.replaceChildren(...intervals().map((i) => {
    const b = el("button", { type: "button", "aria-pressed": String(i === cur), "data-testid": "interval-" + i, text: i });
    b.addEventListener("click", () => { state.interval = i; writeUrl(true); drawIntervals(); track(loadGraph(generation)); });
    return b;
  }));
}

async function loadGraph(gen) {
  const g = $("graph");
  const iv = interval();
  if (!topMetrics().includes(state.metric)) state.metric = "visitors";
  const metric = state.metric;
  $("graph-title").textContent = METRIC_LABEL[metric] || metric;
  const b = body({ metrics: [metric], dimensions: ["time:" + iv], include: Object.assign({ time_labels: true }, comparison()) });
  g.dataset.query = JSON.stringify(b);
  g.dataset.state = "loading";
  $("graph-note").textContent = "";
  let json;
  try { json = await query(b); } catch (e) {
    if (gen !== generation) return;
    $("chart").replaceChildren();
    $("axis").replaceChildren();
    $("yaxis").replaceChildren();
    $("graph-note").textContent = state.period === "realtime"
      ? "Minute-by-minute realtime is not answered by this server's query API (" + e.message + "); the current visitors are above."
      : e.message;
    $("graph-note").className = "note err";
    g.dataset.state = "error";
    return;
  }
  if (gen !== generation) return;
  $("graph-note").className = "note";
  if (state.period === "realtime" && !optional.realtime) {
    $("graph-note").textContent = "The last 30 minutes by minute are not answered by this server's query API yet: today by hour instead. The current visitors (last five minutes) are in the header.";
  }
  answers.graph = { body: b, json };
  const labels = (json.meta && json.meta.time_labels) || json.results.map((r) => r.dimensions[0]);
  const byLabel = new Map(json.results.map((r) => [r.dimensions[0], r]));
  const vals = labels.map((l) => (byLabel.has(l) ? byLabel.get(l).metrics[0] : null));
  const cmp = labels.map((l) => (byLabel.has(l) && byLabel.get(l).comparison ? byLabel.get(l).comparison.metrics[0] : null));
  drawChart(labels, vals, cmp, metric);
  g.dataset.state = "ready";
}

function drawChart(labels, vals, cmp, metric) {
  const svg = $("chart");
  const NS = svg.namespaceURI;
  const W = 1000, H = 260, PAD = 14;
  const nums = vals.concat(cmp).filter((v) => typeof v === "number");
  const max = Math.max(1, ...nums);
  const x = (i) => (labels.length > 1 ? PAD + (i * (W - 2 * PAD)) / (labels.length - 1) : W / 2);
  const y = (v) => H - PAD - ((v || 0) / max) * (H - 2 * PAD);
  const kids = [];
  for (let k = 0; k <= 4; k++) {
    const ln = document.createElementNS(NS, "line");
    const yy = PAD + (k * (H - 2 * PAD)) / 4;
    ln.setAttribute("x1", 0); ln.setAttribute("x2", W); ln.setAttribute("y1", yy); ln.setAttribute("y2", yy);
    ln.setAttribute("class", "grid-line");
    kids.push(ln);
  }
  const path = (series, cls) => {
    const p = document.createElementNS(NS, "polyline");
    p.setAttribute("points", series.map((v, i) => x(i) + "," + y(v)).join(" "));
    p.setAttribute("class", cls);
    return p;
  };
  if (cmp.some((v) => v !== null)) kids.push(path(cmp, "cmp"));
  kids.push(path(vals, "line"));
  const r = labels.length > 200 ? 1.5 : labels.length > 60 ? 2.5 : 4;
  labels.forEach((l, i) => {
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", x(i)); c.setAttribute("cy", y(vals[i])); c.setAttribute("r", r);
    c.setAttribute("data-label", l);
    c.setAttribute("data-v", JSON.stringify(vals[i]));
    const t = document.createElementNS(NS, "title");
    t.textContent = l + ": " + fmt(metric, vals[i] === null ? 0 : vals[i]) + (cmp[i] !== null ? " (then " + fmt(metric, cmp[i]) + ")" : "");
    c.append(t);
    kids.push(c);
  });
  svg.replaceChildren(...kids);
  $("yaxis").replaceChildren(el("span", { text: fmt(metric, max) }), el("span", { text: fmt(metric, 0) }));
  svg.setAttribute("aria-label", (METRIC_LABEL[metric] || metric) + " by " + interval() + ", " + labels.length + " points");
  const ticks = Math.min(labels.length, window.innerWidth < 520 ? 3 : 7);
  const idx = ticks <= 1 ? [0] : Array.from({ length: ticks }, (_, k) => Math.round((k * (labels.length - 1)) / (ticks - 1)));
  $("axis").replaceChildren(...[...new Set(idx)].map((i) => el("span", { text: shortLabel(labels[i] || "") })));
}

function shortLabel(l) {
  if (/ \d\d:\d\d/.test(l)) return l.slice(5, 16);
  return l.slice(0, 10);
}

// ------------------------------------------------------------------- panels

function panelTabs(p) {
  if (p.id !== "props") return p.tabs;
  const site = meta.sites.find((s) => s.domain === state.site);
  const keys = (site && site.allowed_properties) || (state.prop ? [state.prop] : []);
  return keys.map((k) => ["event:props:" + k, k, ["visitors", "events"]]);
}

function currentTab(p) {
  const tabs = panelTabs(p);
  const want = p.id === "props" ? (state.prop ? "event:props:" + state.prop : "") : state.tabs[p.id];
  return tabs.find((t) => t[0] === want) || tabs[0];
}

function buildPanels() {
  const box = $("panels");
  box.replaceChildren(...PANELS.map((p) => {
    const sec = el("section", { class: "panel", id: "panel-" + p.id, "data-testid": "panel-" + p.id, "data-panel": p.id, "aria-labelledby": "h-" + p.id },
      el("div", { class: "panel-head" },
        el("h2", { id: "h-" + p.id, text: p.title }),
        el("div", { class: "tabs", role: "group", "aria-label": p.title, id: "tabs-" + p.id }),
        el("button", { type: "button", class: "csv", "data-csv": p.id, "data-testid": "csv-" + p.id, title: "Download CSV", text: "CSV" })),
      el("div", { id: "body-" + p.id }));
    if (p.id === "email") sec.append(el("div", { id: "email-opens", "data-testid": "email-opens" }));
    return sec;
  }));
  if (meta.sites.length) box.append(funnelPanel());
}

function drawTabs(p) {
  const box = $("tabs-" + p.id);
  const cur = currentTab(p);
  const tabs = panelTabs(p);
  const kids = tabs.length > 1 || p.id === "props" ? tabs.map((t) => {
    const b = el("button", { type: "button", "aria-pressed": String(cur && t[0] === cur[0]), "data-testid": "tab-" + t[0], text: t[1] });
    b.addEventListener("click", () => {
      if (p.id === "props") state.prop = t[1]; else state.tabs[p.id] = t[0];
      state.more[p.id] = false;
      writeUrl(true); drawTabs(p); track(loadPanel(p, generation));
    });
    return b;
  }) : [];
  if (p.id === "props") {
    const site = meta.sites.find((s) => s.domain === state.site);
    if (!(site && site.allowed_properties)) {
      const input = el("input", { "aria-label": "Property key", placeholder: "property key", value: state.prop, size: 10, "data-testid": "prop-key" });
      input.addEventListener("change", () => { state.prop = input.value.trim(); writeUrl(true); drawTabs(p); track(loadPanel(p, generation)); });
      kids.push(input);
    }
  }
  box.replaceChildren(...kids);
}

async function loadPanel(p, gen) {
  const sec = $("panel-" + p.id), out = $("body-" + p.id);
  drawTabs(p);
  const tab = currentTab(p);
  if (!tab) {
    sec.dataset.state = "ready";
    delete sec.dataset.query;
    out.replaceChildren(el("p", { class: "note", text: p.id === "props"
      ? "This site lists no allowed_properties: type a property key to break it down." : "Nothing to show." }));
    return;
  }
  const [dim, , base] = tab;
  const extra = (OPTIONAL[p.id] || []).filter((m) => optional[m] && !(p.id === "pages" && dim !== "event:page"));
  const metrics = base.concat(extra);
  const f = filters();
  if (p.fixed) f.push(p.fixed);
  const limit = state.more[p.id] ? MORE : ROWS;
  const b = body({ metrics, dimensions: [dim], filters: f, pagination: { limit }, include: { total_rows: true } });
  sec.dataset.query = JSON.stringify(b);
  sec.dataset.state = "loading";
  let json;
  try { json = await query(b); } catch (e) {
    if (gen !== generation) return;
    out.replaceChildren(el("p", { class: "note err", "data-testid": "error-" + p.id, text: e.message }));
    sec.dataset.state = "error";
    return;
  }
  if (gen !== generation) return;
  answers[p.id] = { body: b, json };
  const max = Math.max(1, ...json.results.map((r) => Number(r.metrics[0]) || 0));
  // An optional column with nothing in it (no goal carries revenue, no
  // page sent engagement) is kept in the table but not shown.
  const blank = new Set(extra.filter((m) => {
    const k = metrics.indexOf(m);
    return json.results.every((r) => r.metrics[k] === null || r.metrics[k] === undefined || Number(r.metrics[k]) === 0);
  }));
  const cls = (m) => "n" + (blank.has(m) ? " blank" : "");
  const head = el("tr", {}, el("th", { scope: "col", class: "label", text: DIM_LABEL[dim] || tab[1] }),
    ...metrics.map((m) => el("th", { scope: "col", class: cls(m), "data-metric": m, text: SHORT[m] || m })));
  const rows = json.results.map((r) => {
    const v = r.dimensions[0];
    const tr = el("tr", { class: "row", tabindex: "0", role: "button", "data-dim": dim, "data-value": JSON.stringify(v),
      "aria-label": "Filter by " + (DIM_LABEL[dim] || dim) + " " + label(dim, v) },
      el("td", { class: "label", title: String(v) },
        el("span", { class: "bar", style: "width:" + ((Number(r.metrics[0]) || 0) / max) * 100 + "%" }),
        el("span", { class: "txt", text: label(dim, v) })),
      ...metrics.map((m, i) => el("td", { class: cls(m), "data-metric": m, "data-v": JSON.stringify(r.metrics[i]), text: fmt(m, r.metrics[i]) })));
    const go = () => addFilter(["is", dim, [v === null ? "" : String(v)]]);
    tr.addEventListener("click", go);
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
      // Up and down move between a panel's rows.
      const next = e.key === "ArrowDown" ? tr.nextElementSibling : e.key === "ArrowUp" ? tr.previousElementSibling : null;
      if (next) { e.preventDefault(); next.focus(); }
    });
    return tr;
  });
  const kids = [];
  if (rows.length) kids.push(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
  else kids.push(el("p", { class: "note", text: "No data for this period." }));
  const total = json.meta && json.meta.total_rows;
  if (total > json.results.length || state.more[p.id]) {
    const more = el("button", { type: "button", class: "more plain", "data-testid": "more-" + p.id,
      text: state.more[p.id] ? "Show fewer" : "Show " + Math.min(total, MORE) + " of " + nf.format(total) });
    more.addEventListener("click", () => { state.more[p.id] = !state.more[p.id]; track(loadPanel(p, generation)); });
    kids.push(more);
  }
  if (p.note) kids.push(el("p", { class: "note", text: p.note }));
  if (p.id === "goals" && OPTIONAL.goals.some((m) => !optional[m])) {
    kids.push(el("p", { class: "note", text: "Revenue is not answered by this server's query API yet." }));
  }
  if (p.id === "pages" && dim === "event:page" && OPTIONAL.pages.some((m) => !optional[m])) {
    kids.push(el("p", { class: "note", text: "Time on page and scroll depth are not answered by this server's query API yet." }));
  }
  out.replaceChildren(...kids);
  sec.dataset.state = "ready";
}

function funnelPanel() {
  const site = meta.sites.find((s) => s.domain === state.site) || { funnels: [] };
  const sec = el("section", { class: "panel", id: "panel-funnels", "data-testid": "panel-funnels", "aria-labelledby": "h-funnels" },
    el("div", { class: "panel-head" }, el("h2", { id: "h-funnels", text: "Funnels" })));
  if (!site.funnels.length) {
    sec.append(el("p", { class: "note", text: "No [[funnels]] in tacit.toml for this site." }));
  } else {
    for (const f of site.funnels) {
      sec.append(el("div", { class: "funnel", "data-funnel": f.name, "data-testid": "funnel-" + f.name },
        el("h3", { text: f.name }), el("div", { class: "funnel-body" })));
    }
    sec.append(el("p", { class: "note", text: "Visits that passed each step in order within the visit (other hits between allowed), per day from analytics_funnels_daily; not filtered." }));
  }
  return sec;
}

// Each configured funnel, from the API's funnel answer (a tacit extension).
async function loadFunnels(gen) {
  const site = meta.sites.find((s) => s.domain === state.site) || { funnels: [] };
  await Promise.all(site.funnels.map(async (f) => {
    const box = document.querySelector('[data-funnel="' + CSS.escape(f.name) + '"]');
    if (!box) return;
    const out = box.querySelector(".funnel-body");
    if (filters().length) {
      // Counted per day without dimensions: a filtered funnel has no answer.
      delete box.dataset.query;
      box.dataset.state = "filtered";
      out.replaceChildren(el("p", { class: "note", "data-testid": "funnel-filtered", text: "Funnels are counted per day without dimensions: they are not shown under a filter." }));
      return;
    }
    const b = { site_id: state.site, funnel: f.name, date_range: dateRange() };
    box.dataset.query = JSON.stringify(b);
    box.dataset.state = "loading";
    let json;
    try {
      json = await api("funnel", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
    } catch (e) {
      if (gen !== generation) return;
      out.replaceChildren(el("p", { class: "note err", "data-testid": "error-funnel", text: e.message }));
      box.dataset.state = "error";
      return;
    }
    if (gen !== generation) return;
    answers["funnel:" + f.name] = { body: b, json };
    const head = el("tr", {}, el("th", { scope: "col", text: "Step" }),
      ...["Visits", "From previous", "From first", "Drop-off"].map((t) => el("th", { scope: "col", class: t === "From first" ? "n first" : "n", text: t })));
    const first = Math.max(1, json.entering_visits);
    const rows = json.steps.map((st) => el("tr", { class: "step", "data-step": st.step },
      el("td", { class: "label", title: st.name },
        el("span", { class: "bar", style: "width:" + (st.visits / first) * 100 + "%" }),
        el("span", { class: "txt", text: st.step + ". " + st.name })),
      el("td", { class: "n", "data-k": "visits", "data-v": JSON.stringify(st.visits), text: fmt("visits", st.visits) }),
      el("td", { class: "n", "data-k": "conversion_rate_step", "data-v": JSON.stringify(st.conversion_rate_step), text: st.conversion_rate_step + "%" }),
      el("td", { class: "n first", "data-k": "conversion_rate", "data-v": JSON.stringify(st.conversion_rate), text: st.conversion_rate + "%" }),
      el("td", { class: "n", "data-k": "dropoff", "data-v": JSON.stringify(st.dropoff), text: st.step === 1 ? "–" : nf.format(st.dropoff) + " (" + st.dropoff_percentage + "%)" })));
    out.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)),
      el("p", { class: "note", "data-testid": "funnel-total", text: nf.format(json.converted_visits) + " of " + nf.format(json.entering_visits) + " visits converted (" + json.conversion_rate + "%)" }));
    box.dataset.state = "ready";
  }));
}

// Email campaigns' opens and clicks, from the API's email answer (a tacit
// extension): the people's, with the machines' (proxies, scanners) apart.
async function loadEmail(gen) {
  const box = $("email-opens");
  if (!box) return;
  if (filters().length) {
    delete box.dataset.query;
    box.dataset.state = "filtered";
    box.replaceChildren(el("p", { class: "note", text: "Opens and clicks are counted per day by campaign: they are not shown under a filter." }));
    return;
  }
  const b = { site_id: state.site, date_range: dateRange() };
  box.dataset.query = JSON.stringify(b);
  box.dataset.state = "loading";
  let json;
  try {
    json = await api("email", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
  } catch (e) {
    if (gen !== generation) return;
    box.replaceChildren(el("p", { class: "note err", "data-testid": "error-email-opens", text: e.message }));
    box.dataset.state = "error";
    return;
  }
  if (gen !== generation) return;
  answers["email-opens"] = { body: b, json };
  const cols = [["unique_opens", "Opens"], ["unique_clicks", "Clicks"], ["click_to_open", "CTOR"], ["machine_opens", "Machine"]];
  const max = Math.max(1, ...json.campaigns.map((c) => c.unique_opens));
  const rows = json.campaigns.map((c) => el("tr", { class: "campaign", "data-campaign": c.campaign },
    el("td", { class: "label", title: c.campaign },
      el("span", { class: "bar", style: "width:" + (c.unique_opens / max) * 100 + "%" }),
      el("span", { class: "txt", text: c.campaign || "(none)" })),
    ...cols.map(([k]) => el("td", { class: "n", "data-k": k, "data-v": JSON.stringify(c[k]),
      text: k === "click_to_open" ? c[k] + "%" : nf.format(c[k]) }))));
  box.replaceChildren(
    el("h3", { text: "Opens and clicks" }),
    rows.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Campaign" }),
      ...cols.map(([, t]) => el("th", { scope: "col", class: "n", text: t })))), el("tbody", {}, ...rows))
      : el("p", { class: "note", text: "No email opens or clicks in this period." }),
    el("p", { class: "note", text: "Unique opens and clicks by people (distinct daily visitors, approximate); Machine: opens by image proxies and scanners, left out of the rates." }));
  box.dataset.state = "ready";
}

// ----------------------------------------------------------------- filters

function addFilter(f) {
  const key = JSON.stringify(f);
  if (state.filters.some((x) => JSON.stringify(x) === key)) return;
  // One condition per dimension and operator: a new value replaces the old.
  state.filters = state.filters.filter((x) => !(x[0] === f[0] && x[1] === f[1]));
  state.filters.push(f);
  writeUrl(true);
  refresh();
}

function removeFilter(i) {
  state.filters.splice(i, 1);
  writeUrl(true);
  refresh();
  const next = $("chips").querySelector("button") || $("filter-open");
  next.focus();
}

function drawChips() {
  const items = [];
  if (meta.shared && meta.shared.filter) {
    items.push(el("li", { class: "chip locked", "data-testid": "chip-locked", title: "Every view of this shared link has this filter" },
      el("span", { class: "t", text: "🔒 " + chipText(meta.shared.filter) })));
  }
  state.filters.forEach((f, i) => {
    items.push(el("li", { class: "chip", "data-testid": "chip", "data-filter": JSON.stringify(f) },
      el("span", { class: "t", text: chipText(f) }),
      (() => {
        const b = el("button", { type: "button", "aria-label": "Remove filter " + chipText(f), "data-testid": "chip-remove", text: "×" });
        b.addEventListener("click", () => removeFilter(i));
        return b;
      })()));
  });
  $("chips").replaceChildren(...items);
}

function setupFilterForm() {
  const dimSel = $("filter-dim");
  dimSel.replaceChildren(...Object.entries(DIM_LABEL).map(([d, l]) => el("option", { value: d, text: l })));
  const form = $("filter-form"), open = $("filter-open");
  const close = () => { form.hidden = true; open.setAttribute("aria-expanded", "false"); open.focus(); };
  open.addEventListener("click", () => {
    form.hidden = !form.hidden;
    open.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) dimSel.focus();
  });
  $("filter-cancel").addEventListener("click", close);
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("filter-value").value.trim();
    if (!v) return;
    addFilter([$("filter-op").value, dimSel.value, [v]]);
    $("filter-value").value = "";
    close();
  });
}

// --------------------------------------------------------------- settings

function drawSettings() {
  const s = meta.sites.find((x) => x.domain === state.site);
  const box = $("settings");
  if (!s) { box.replaceChildren(); return; }
  const list = (items, empty) => (items && items.length ? el("ul", {}, ...items.map((i) => el("li", {}, i))) : el("p", { class: "note", text: empty }));
  box.replaceChildren(
    el("h2", { text: "Settings of " + s.domain + " (read-only)" }),
    el("p", { class: "note", text: "From tacit.toml. The dashboard never writes it: the file is the one source of truth and the dashboard's listener has no login. Edit the file and restart to change them." }),
    el("h3", { text: "Goals" }),
    el("p", { text: "Every custom event name is a goal, and every page as “Visit /path” (event:goal); tacit.toml lists no goals to configure." }),
    el("h3", { text: "Funnels" }),
    list(s.funnels.map((f) => f.name + ": " + f.steps.join(" → ")), "No [[funnels]] for this site."),
    el("h3", { text: "Allowed custom properties" }),
    s.allowed_properties ? list(s.allowed_properties, "None: this site stores no custom property.") : el("p", { text: "Every key (allowed_properties is not set; values are scrubbed either way)." }),
    el("h3", { text: "Policy" }),
    el("p", { text: "Per-hit data for " + meta.policy.event_ttl_days + " days (filters and breakdowns reach that far), daily aggregates for " + meta.policy.aggregate_ttl_months + " months; locations: " + meta.policy.location + "." }),
  );
}

function setupSettings() {
  const b = $("settings-open");
  b.addEventListener("click", () => {
    const box = $("settings");
    box.hidden = !box.hidden;
    b.setAttribute("aria-expanded", String(!box.hidden));
    if (!box.hidden) drawSettings();
  });
}

// ------------------------------------------------------------------- share

function setupShare() {
  const sheet = $("share"), open = $("share-open");
  open.hidden = !meta.can_share;
  open.addEventListener("click", () => {
    sheet.hidden = !sheet.hidden;
    const f = state.filters[0];
    $("share-limit-label").hidden = !f;
    if (f) $("share-filter").textContent = chipText(f);
    $("share-result").textContent = "";
  });
  $("share-close").addEventListener("click", () => { sheet.hidden = true; open.focus(); });
  sheet.addEventListener("keydown", (e) => { if (e.key === "Escape") { sheet.hidden = true; open.focus(); } });
  $("share-create").addEventListener("click", async () => {
    const f = $("share-limit").checked && !$("share-limit-label").hidden ? state.filters[0] : null;
    try {
      const r = await api("share", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ site_id: state.site, filter: f }) });
      $("share-result").textContent = "Link (append to the partner listener's address): " + r.path +
        " · id " + r.id + " (list it under [dashboard] revoked_shares to revoke)";
      $("share-result").dataset.path = r.path;
    } catch (e) { $("share-result").textContent = e.message; }
  });
}

// --------------------------------------------------------------------- CSV

function csvCell(v) {
  let s = v === null || v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // not a formula in a spreadsheet
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function downloadCsv(id) {
  const a = answers[id];
  if (!a) return;
  const dims = a.body.dimensions || [];
  const lines = [dims.concat(a.body.metrics).map(csvCell).join(",")];
  for (const r of a.json.results) lines.push(r.dimensions.concat(r.metrics).map(csvCell).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
  const link = el("a", { href: URL.createObjectURL(blob), download: state.site + "-" + id + ".csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 5000);
}

// -------------------------------------------------------------------- flow

const inflight = new Set();
function track(p) {
  busy(1);
  const done = p.catch(() => {}).finally(() => { inflight.delete(done); busy(-1); });
  inflight.add(done);
  return done;
}

async function realtime() {
  if (!state.site) return;
  try { $("current").textContent = nf.format(await api("realtime?site_id=" + encodeURIComponent(state.site))); } catch { $("current").textContent = "–"; }
  // Today so far, from the open day's live visits (within a link's filter).
  try {
    const r = await query({ site_id: state.site, date_range: "day", metrics: ["visits", "bounce_rate", "visit_duration"],
      filters: meta.shared && meta.shared.filter ? [meta.shared.filter] : [] });
    const m = (r.results[0] && r.results[0].metrics) || [0, 0, 0];
    $("today").textContent = fmt("visits", m[0]) + " visits today · " + fmt("bounce_rate", m[1]) + " bounce · " + fmt("visit_duration", m[2]);
  } catch { $("today").textContent = "–"; }
}

function syncControls() {
  $("site").value = state.site;
  $("period").value = state.period;
  $("custom").hidden = state.period !== "custom";
  $("from").value = state.from;
  $("to").value = state.to;
  $("compare").value = state.compare;
  $("compare").disabled = state.period === "realtime" || state.period === "all";
}

function refresh() {
  generation++;
  const gen = generation;
  syncControls();
  drawChips();
  drawIntervals();
  if (!$("settings").hidden) drawSettings();
  // The top stats and the graph first, the panels once they are answered:
  // asked all at once, the engine shares its cores among them all and the
  // first screen waits for the slowest panel (benches/dashboard_paint.mjs).
  track((async () => {
    await Promise.allSettled([track(loadTop(gen)), track(loadGraph(gen))]);
    if (gen !== generation) return;
    track(realtime());
    for (const p of PANELS) track(loadPanel(p, gen));
    track(loadFunnels(gen));
    track(loadEmail(gen));
  })());
}

// The first paint does not wait for the probes, except in realtime (its
// range depends on them); a panel whose optional metrics turn out to be
// answered is asked again.
async function probed() {
  // The server says what it answers: nothing to probe, nothing to ask twice.
  if (Array.isArray(meta.answers)) { await probe(); return; }
  const p = track(probe());
  if (state.period === "realtime") { await p; return; }
  p.then(() => {
    if (Object.entries(optional).some(([m, ok]) => ok && m !== "realtime")) {
      for (const panel of PANELS) if (OPTIONAL[panel.id]) track(loadPanel(panel, generation));
    }
    if (optional.realtime && state.period === "realtime") refresh();
  });
}

async function probe() {
  // Which optional metrics this server's query API answers: it says so in
  // its site list; an older server is asked.
  if (Array.isArray(meta.answers)) {
    for (const m of [...new Set(Object.values(OPTIONAL).flat()), "realtime"]) optional[m] = meta.answers.includes(m);
    return;
  }
  const ms = [...new Set(Object.values(OPTIONAL).flat())];
  const day = todayUtc();
  const ask = async (name, b) => {
    try { await query(Object.assign({ site_id: state.site }, b)); optional[name] = true; } catch { optional[name] = false; }
  };
  await Promise.all(ms.map((m) => ask(m, { metrics: [m], date_range: [day, day] }))
    .concat([ask("realtime", { metrics: ["visitors"], date_range: "30m", dimensions: ["time:minute"] })]));
}

async function init() {
  busy(1);
  try {
    meta = await api("sites");
  } catch (e) {
    $("status").textContent = "error: " + e.message;
    return;
  }
  const sites = meta.sites.map((s) => s.domain);
  $("site").replaceChildren(...sites.map((s) => el("option", { value: s, text: s })));
  $("site").disabled = sites.length < 2;
  readUrl();
  if (!sites.includes(state.site)) state.site = sites[0] || "";
  if (state.period === "custom" && !(state.from && state.to)) {
    state.to = todayUtc(); state.from = addDays(state.to, -29);
  }
  setupFilterForm();
  setupSettings();
  setupShare();
  $("site").addEventListener("change", async () => {
    state.site = $("site").value; state.filters = []; state.prop = ""; writeUrl(true);
    buildPanels(); optional = {}; await probed(); refresh();
  });
  $("period").addEventListener("change", () => {
    state.period = $("period").value;
    if (state.period === "custom" && !(state.from && state.to)) { state.to = todayUtc(); state.from = addDays(state.to, -29); }
    state.interval = ""; writeUrl(true); refresh();
  });
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", () => {
      if ($("from").value && $("to").value && $("from").value <= $("to").value) {
        state.from = $("from").value; state.to = $("to").value; state.interval = ""; writeUrl(true); refresh();
      }
    });
  }
  $("compare").addEventListener("change", () => { state.compare = $("compare").value; writeUrl(true); refresh(); });
  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-csv]");
    if (b) downloadCsv(b.dataset.csv);
  });
  window.addEventListener("popstate", () => { readUrl(); buildPanels(); refresh(); });
  // Realtime refreshes every panel; other periods only the current visitors.
  setInterval(() => { if (state.period === "realtime") refresh(); else track(realtime()); }, 30000);
  buildPanels();
  writeUrl(false);
  await probed();
  refresh();
  busy(-1);
}

init();
