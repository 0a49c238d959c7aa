// Drives Debian's Chromium (headless) against tacit's dashboard, run from
// tests/it/dashboard.rs. Every panel carries the Stats API v2 body it sent
// (data-query); this script posts the same body to POST /api/v2/query with
// a key and checks that every number the panel shows is the API's. Then:
// a click on a source filters every panel and adds a chip, removing the
// chip restores the view, a comparison shows the API's deltas, the
// interval switch redraws the graph, the URL round-trips the view, the
// page reads at 360 px in dark mode, a shared link opens without
// credentials on the partner listener and refuses another site.
// Screenshots go to <shots>/. Prints one JSON line: what it compared.
// Usage: node dashboard.mjs '{"admin":..,"partner":..,"site":..,"other":..,"key":..,"from":..,"to":..,"shots":..}'
import { launch } from "./lib.mjs";
import fs from "node:fs";
import path from "node:path";

const cfg = JSON.parse(process.argv[2]);
const { browser, ctx } = await launch();
const failures = [];
let compared = 0;
const refusedUnder = {};
const fail = (msg) => { failures.push(msg); console.error("FAIL:", msg); };
const check = (ok, msg) => { if (!ok) fail(msg); };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function apiQuery(body) {
  const r = await fetch(cfg.admin + "/api/v2/query", {
    method: "POST", headers: { authorization: "Bearer " + cfg.key, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error("API " + r.status + ": " + JSON.stringify(j));
  return j;
}

async function ready(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent === "ready", null, { timeout: 30000 });
}

// Every panel's request, rows and numbers as the page shows them.
async function shown(page) {
  return page.evaluate(() => {
    const out = {};
    for (const sec of document.querySelectorAll("[data-panel]")) {
      const id = sec.dataset.panel;
      if (!sec.dataset.query) continue;
      const p = { query: JSON.parse(sec.dataset.query), state: sec.dataset.state };
      if (id === "top") {
        p.values = [...sec.querySelectorAll(".card")].map((c) => ({
          metric: c.dataset.metric,
          v: JSON.parse(c.querySelector(".v").dataset.v),
          text: c.querySelector(".v").textContent,
          change: c.querySelector(".chg") ? JSON.parse(c.querySelector(".chg").dataset.v) : undefined,
        }));
      } else if (id === "graph") {
        p.points = [...sec.querySelectorAll("circle")].map((c) => [c.dataset.label, JSON.parse(c.dataset.v)]);
      } else {
        p.rows = [...sec.querySelectorAll("tr.row")].map((tr) => ({
          value: JSON.parse(tr.dataset.value),
          metrics: [...tr.querySelectorAll("td.n")].map((td) => JSON.parse(td.dataset.v)),
        }));
      }
      out[id] = p;
    }
    return out;
  });
}

// Each panel against the API's answer to the panel's own request.
async function compareWithApi(page, what, extraFilter) {
  const s = await shown(page);
  const ids = Object.keys(s);
  check(ids.length >= 8, `${what}: ${ids.length} panels with a query`);
  for (const id of ids) {
    const p = s[id];
    if (p.state !== "ready") { check(p.state === "error", `${what}/${id}: state ${p.state}`); continue; }
    const body = structuredClone(p.query);
    if (extraFilter) body.filters = (body.filters || []).concat([extraFilter]);
    const a = await apiQuery(body);
    if (id === "top") {
      const row = a.results[0];
      p.values.forEach((c, i) => {
        check(same(c.v, row.metrics[i]), `${what}/top ${c.metric}: page ${c.v}, API ${row.metrics[i]}`);
        if (typeof c.v === "number" && c.metric === "visitors") {
          check(Number(c.text.replace(/,/g, "")) === row.metrics[i], `${what}/top visitors text ${c.text}`);
        }
        if (row.comparison) check(same(c.change, row.comparison.change[i]), `${what}/top ${c.metric} change: page ${c.change}, API ${row.comparison.change[i]}`);
        compared++;
      });
    } else if (id === "graph") {
      const labels = a.meta.time_labels;
      const by = new Map(a.results.map((r) => [r.dimensions[0], r.metrics[0]]));
      check(p.points.length === labels.length, `${what}/graph: ${p.points.length} points, API ${labels.length} labels`);
      p.points.forEach(([l, v], i) => {
        check(l === labels[i], `${what}/graph label ${i}: ${l} vs ${labels[i]}`);
        check(same(v, by.has(l) ? by.get(l) : null), `${what}/graph ${l}: page ${v}, API ${by.get(l)}`);
        compared++;
      });
    } else {
      check(p.rows.length === a.results.length, `${what}/${id}: ${p.rows.length} rows, API ${a.results.length}`);
      a.results.forEach((r, i) => {
        const row = p.rows[i] || { value: undefined, metrics: [] };
        check(same(row.value, r.dimensions[0]), `${what}/${id} row ${i}: ${row.value} vs ${r.dimensions[0]}`);
        check(same(row.metrics, r.metrics), `${what}/${id} ${r.dimensions[0]}: page ${row.metrics}, API ${r.metrics}`);
        compared += r.metrics.length;
      });
    }
  }
  return s;
}

const shot = (page, name) => page.screenshot({ path: path.join(cfg.shots, name), fullPage: true });

try {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1280, height: 1000 });
  const external = [];
  const origins = [new URL(cfg.admin).origin, new URL(cfg.partner).origin];
  ctx.on("request", (r) => { const u = r.url(); if (!origins.some((o) => u.startsWith(o)) && !u.startsWith("blob:") && !u.startsWith("data:")) external.push(u); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  // 1. Loads on generated data; every panel is the API's answer.
  const start = `${cfg.admin}/dashboard?site=${cfg.site}&period=custom&from=${cfg.from}&to=${cfg.to}`;
  const t0 = Date.now();
  await page.goto(start);
  await page.waitForFunction(() => document.querySelector('[data-testid="top"]').dataset.state === "ready", null, { timeout: 30000 });
  const topStatsMs = Date.now() - t0;
  await ready(page);
  const firstPaintMs = Date.now() - t0;
  const base = await compareWithApi(page, "overview");
  const visitors0 = base.top.values.find((v) => v.metric === "visitors").v;
  check(visitors0 > 0, "visitors on generated data");
  check(base.sources && base.sources.rows.length > 0, "sources rows");
  check(base.goals && base.goals.rows.some((r) => r.value === "signup"), "the signup goal is listed");
  check(base.props && base.props.rows.length > 0, "the plan property is broken down");
  const countryText = await page.textContent('[data-testid="panel-locations"] tbody');
  check(/Germany/.test(countryText) && /\u{1F1E9}\u{1F1EA}/u.test(countryText), "countries by name with a flag: " + countryText.slice(0, 80));
  await shot(page, "01-overview.png");

  // The metrics the API answers since engagement and revenue: shown as columns.
  check(base.pages && ["time_on_page", "scroll_depth"].every((m) => base.pages.query.metrics.includes(m)),
    "top pages show time on page and scroll depth: " + (base.pages && base.pages.query.metrics));
  check(base.goals && ["total_revenue", "average_revenue"].every((m) => base.goals.query.metrics.includes(m)),
    "goals show revenue: " + (base.goals && base.goals.query.metrics));

  // The configured funnel: the panel's numbers are the funnel answer's.
  const funnel = await page.evaluate(() => [...document.querySelectorAll("[data-funnel]")].map((f) => ({
    name: f.dataset.funnel, state: f.dataset.state, query: f.dataset.query && JSON.parse(f.dataset.query),
    steps: [...f.querySelectorAll("tr.step")].map((tr) => Object.fromEntries(
      [...tr.querySelectorAll("td[data-k]")].map((td) => [td.dataset.k, JSON.parse(td.dataset.v)]))),
  })));
  check(funnel.length === 1 && funnel[0].state === "ready", "the signup funnel is answered: " + JSON.stringify(funnel));
  for (const f of funnel) {
    const r = await fetch(cfg.admin + "/dashboard/api/funnel", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(f.query) });
    const a = await r.json();
    check(r.ok && a.steps.length === 3 && f.steps.length === 3, "funnel answer: " + JSON.stringify(a));
    check(a.steps[0].visits > a.steps[2].visits && a.steps[2].visits > 0, "the funnel narrows and converts: " + JSON.stringify(a.steps));
    a.steps.forEach((st, i) => {
      for (const k of ["visits", "conversion_rate_step", "conversion_rate", "dropoff"]) {
        check(same((f.steps[i] || {})[k], st[k]), `funnel ${f.name} step ${i + 1} ${k}: page ${(f.steps[i] || {})[k]}, API ${st[k]}`);
        compared++;
      }
    });
  }
  await page.locator('[data-testid="panel-funnels"]').screenshot({ path: path.join(cfg.shots, "12-funnel.png") });

  // Email opens and clicks: the panel's numbers are the email answer's.
  const email = await page.evaluate(() => {
    const box = document.getElementById("email-opens");
    return { state: box.dataset.state, query: box.dataset.query && JSON.parse(box.dataset.query),
      rows: [...box.querySelectorAll("tr.campaign")].map((tr) => Object.assign({ campaign: tr.dataset.campaign },
        Object.fromEntries([...tr.querySelectorAll("td[data-k]")].map((td) => [td.dataset.k, JSON.parse(td.dataset.v)])))) };
  });
  check(email.state === "ready" && email.rows.length > 0, "email opens shown: " + JSON.stringify(email).slice(0, 200));
  if (email.query) {
    const r = await fetch(cfg.admin + "/dashboard/api/email", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(email.query) });
    const a = await r.json();
    check(r.ok && a.campaigns.length === email.rows.length, "email answer: " + JSON.stringify(a).slice(0, 200));
    a.campaigns.forEach((c, i) => {
      const row = email.rows[i] || {};
      check(row.campaign === c.campaign, `email row ${i}: ${row.campaign} vs ${c.campaign}`);
      for (const k of ["unique_opens", "unique_clicks", "click_to_open", "machine_opens"]) {
        check(same(row[k], c[k]), `email ${c.campaign} ${k}: page ${row[k]}, API ${c[k]}`);
        compared++;
      }
    });
  }
  await page.locator('[data-testid="panel-email"]').screenshot({ path: path.join(cfg.shots, "13-email.png") });

  // The read-only settings view: tacit.toml's funnels and properties.
  await page.click('[data-testid="settings-open"]');
  const settings = await page.textContent('[data-testid="settings"]');
  const items = await page.locator('[data-testid="settings"] li').allTextContents();
  check(/read-only/.test(settings) && items.includes("signup: / → /pricing → /signup") && items.includes("plan"),
    "settings show the funnel and the allowed property: " + items.join(" | "));
  await page.locator('[data-testid="settings"]').screenshot({ path: path.join(cfg.shots, "10-settings.png") });
  await page.click('[data-testid="settings-open"]');

  // 2. A click on a source filters every panel and adds a chip.
  await page.click('[data-testid="tab-visit:source"]');
  await ready(page);
  await page.click('[data-testid="panel-sources"] tr.row[data-value="\\"Google\\""]');
  await ready(page);
  const chips = await page.locator('[data-testid="chip"]').allTextContents();
  check(chips.length === 1 && /Source is Google/.test(chips[0]), "one chip: " + chips);
  const filtered = await compareWithApi(page, "filtered");
  const want = JSON.stringify(["is", "visit:source", ["Google"]]);
  for (const [id, p] of Object.entries(filtered)) {
    check((p.query.filters || []).some((f) => JSON.stringify(f) === want), `${id} carries the source filter`);
  }
  const visitors1 = filtered.top.values.find((v) => v.metric === "visitors").v;
  check(visitors1 > 0 && visitors1 < visitors0, `filtered visitors ${visitors1} < ${visitors0}`);
  check(new URL(page.url()).searchParams.getAll("f").length === 1, "the filter is in the URL");
  await shot(page, "02-filtered-by-source.png");

  // 3. Removing the chip restores the view.
  await page.click('[data-testid="chip-remove"]');
  await ready(page);
  check(await page.locator('[data-testid="chip"]').count() === 0, "no chip left");
  const restored = await compareWithApi(page, "restored");
  check(same(restored.top.values, base.top.values), "top stats restored");
  for (const id of ["pages", "locations", "devices", "goals"]) check(same(restored[id].rows, base[id].rows), `${id} restored`);
  await shot(page, "03-chip-removed.png");

  // 4. A comparison shows deltas (the API's change).
  await page.selectOption('[data-testid="compare"]', "previous_period");
  await ready(page);
  const cmp = await compareWithApi(page, "comparison");
  const changes = cmp.top.values.map((v) => v.change);
  check(changes.every((c) => typeof c === "number"), "every top stat has a change: " + changes);
  check(await page.locator('[data-testid="change-visitors"]').isVisible(), "the visitors delta is shown");
  check(await page.locator("#chart polyline.cmp").count() === 1, "the graph draws the compared period");
  await shot(page, "04-comparison.png");

  // 5. The interval switch redraws the graph.
  const dayPoints = await page.locator("#chart circle").count();
  await page.click('[data-testid="interval-hour"]');
  await ready(page);
  const hourPoints = await page.locator("#chart circle").count();
  check(dayPoints === 2 && hourPoints === 48, `points by day ${dayPoints}, by hour ${hourPoints}`);
  await compareWithApi(page, "hourly");
  await shot(page, "05-interval-hour.png");

  // 6. The URL round-trips the view (filters typed in the form, keyboard too).
  await page.click('[data-testid="filter-open"]');
  await page.selectOption('[data-testid="filter-dim"]', "event:page");
  await page.selectOption('[data-testid="filter-op"]', "contains");
  await page.fill('[data-testid="filter-value"]', "/blog");
  await page.press('[data-testid="filter-value"]', "Enter");
  await ready(page);
  await page.locator('[data-testid="panel-devices"] tr.row').first().focus();
  await page.keyboard.press("ArrowDown");
  const rowValue = await page.evaluate(() => JSON.parse(document.activeElement.dataset.value));
  const second = JSON.parse(await page.locator('[data-testid="panel-devices"] tr.row').nth(1).getAttribute("data-value"));
  check(same(rowValue, second), `the down arrow moves to the second row: ${rowValue} vs ${second}`);
  await page.keyboard.press("Enter");
  await ready(page);
  const chips2 = await page.locator('[data-testid="chip"]').allTextContents();
  check(chips2.length === 2, "two chips (form and keyboard): " + chips2);
  const view = await compareWithApi(page, "two filters");
  const url = page.url();
  const page2 = await ctx.newPage();
  await page2.setViewportSize({ width: 1280, height: 1000 });
  await page2.goto(url);
  await ready(page2);
  const view2 = await shown(page2);
  check(same(await page2.locator('[data-testid="chip"]').allTextContents(), chips2), "chips round-trip");
  check(await page2.inputValue('[data-testid="compare"]') === "previous_period", "comparison round-trips");
  check(await page2.getAttribute('[data-testid="interval-hour"]', "aria-pressed") === "true", "interval round-trips");
  for (const id of Object.keys(view)) {
    check(same(view2[id].query, view[id].query), `${id}: the same request after the round trip`);
    check(same(view2[id].values || view2[id].points || view2[id].rows, view[id].values || view[id].points || view[id].rows), `${id}: the same numbers`);
  }
  check(JSON.stringify(view.devices.query.filters).includes(JSON.stringify(rowValue)), "the keyboard filter applies");
  await shot(page2, "06-url-round-trip.png");

  // CSV of a panel, client-side from the API's answer.
  const [dl] = await Promise.all([page2.waitForEvent("download"), page2.click('[data-testid="csv-pages"]')]);
  const csv = fs.readFileSync(await dl.path(), "utf8").trim().split(/\r?\n/);
  const pages = view2.pages;
  check(csv[0] === ["event:page"].concat(pages.query.metrics).join(","), "CSV header: " + csv[0]);
  check(csv.length === pages.rows.length + 1, `CSV rows ${csv.length - 1} vs ${pages.rows.length}`);
  if (pages.rows[0]) check(csv[1] === [pages.rows[0].value].concat(pages.rows[0].metrics).join(","), "CSV first row: " + csv[1]);
  await page2.close();

  // Realtime: the last 30 minutes by minute where the API answers them,
  // else today by hour with a note; the numbers are the API's either way.
  const rt = await ctx.newPage();
  await rt.setViewportSize({ width: 1280, height: 1000 });
  await rt.goto(`${cfg.admin}/dashboard?site=${cfg.site}&period=realtime`);
  await ready(rt);
  const rtView = await compareWithApi(rt, "realtime");
  const minutes = rtView.graph.query.dimensions[0] === "time:minute";
  const note = (await rt.textContent("#graph-note")).trim();
  check(minutes ? rtView.graph.points.length >= 30 : /not answered/.test(note), `realtime: by minute ${minutes}, note ${note}`);
  const current = Number((await rt.textContent("#current")).trim());
  check(current >= 1, "the live visitor is a current visitor: " + current);
  // Today's visits, bounce rate and duration: the API's, from the live visits.
  const today = (await rt.textContent("#today")).trim();
  const day = await apiQuery({ site_id: cfg.site, date_range: "day", metrics: ["visits", "bounce_rate", "visit_duration"] });
  const dm = (day.results[0] && day.results[0].metrics) || [0, 0, 0];
  check(dm[0] >= 1 && today.startsWith(new Intl.NumberFormat("en-US").format(dm[0]) + " visits today · " + dm[1] + "% bounce"), `today: ${today} vs ${JSON.stringify(dm)}`);
  if (minutes) check(rtView.top.values[0].v >= 1, "the live visitor is in the last 30 minutes");
  await shot(rt, "09-realtime.png");
  await rt.close();

  // A goal and a custom property filter every panel too (a panel the API
  // refused would show the API's reason; none is refused here).
  for (const [panel, value] of [["goals", "signup"], ["props", "pro"]]) {
    const g = await ctx.newPage();
    await g.setViewportSize({ width: 1280, height: 1000 });
    await g.goto(start);
    await ready(g);
    await g.click(`[data-testid="panel-${panel}"] tr.row[data-value='${JSON.stringify(value)}']`);
    await ready(g);
    const v = await compareWithApi(g, "filtered by " + panel);
    const refusedPanels = await g.$$eval('[data-state="error"]', (els) => els.map((e) => e.dataset.panel + ": " + e.textContent.trim()));
    refusedUnder[panel] = refusedPanels;
    check(refusedPanels.length === 0, `the API answers every panel under the ${panel} filter: ${refusedPanels}`);
    check(v.top.state === "ready" && v.top.values[0].v > 0, `top stats under the ${panel} filter`);
    if (panel === "goals") {
      // As in Plausible: a goal's top stats are its conversions.
      check(same(v.top.values.map((x) => x.metric), ["visitors", "events", "conversion_rate"]), "goal top stats: " + v.top.values.map((x) => x.metric));
      await shot(g, "11-filtered-by-goal.png");
    }
    await g.close();
  }

  // 7. 360 px wide, dark mode from the system setting.
  const small = await browser.newContext({ viewport: { width: 360, height: 800 }, colorScheme: "dark" });
  const page3 = await small.newPage();
  await page3.goto(start);
  await ready(page3);
  const widths = await page3.evaluate(() => [document.documentElement.scrollWidth, getComputedStyle(document.body).backgroundColor]);
  check(widths[0] <= 360, "no horizontal scroll at 360 px: " + widths[0]);
  check(widths[1] !== "rgb(246, 247, 249)", "dark background: " + widths[1]);
  await shot(page3, "07-dark-360px.png");
  await small.close();

  // 8. A shared link: no credentials, the partner listener, one site.
  const made = await fetch(cfg.admin + "/dashboard/api/share", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ site_id: cfg.site, filter: ["is", "visit:device", ["desktop"]] }),
  }).then((r) => r.json());
  const anon = await browser.newContext();
  const page4 = await anon.newPage();
  await page4.setViewportSize({ width: 1280, height: 1000 });
  // Refusals allowed: the probes for metrics the API may not answer yet.
  const refused = [];
  page4.on("response", (r) => {
    if (r.status() < 400) return;
    let metrics = [];
    try { metrics = JSON.parse(r.request().postData() || "{}").metrics || []; } catch { metrics = []; }
    const body = JSON.parse(r.request().postData() || "{}");
    const probe = (metrics.length === 1 && ["time_on_page", "scroll_depth", "total_revenue", "average_revenue"].includes(metrics[0]))
      || body.date_range === "30m";
    if (!probe) refused.push(r.status() + " " + r.url());
  });
  await page4.goto(`${cfg.partner}${made.path}?period=custom&from=${cfg.from}&to=${cfg.to}`);
  await ready(page4);
  check(await page4.locator('[data-testid="chip-locked"]').count() === 1, "the link's filter shows as a locked chip");
  check(await page4.locator('[data-testid="share-open"]').isHidden(), "a shared link cannot share");
  check(refused.length === 0, "every request of the shared page answered: " + refused.join(", "));
  await compareWithApi(page4, "shared", null);
  await shot(page4, "08-shared-link.png");
  const other = await page4.evaluate(async (site) => {
    const r = await fetch(location.pathname + "/query", { method: "POST", body: JSON.stringify({ site_id: site, metrics: ["visitors"], date_range: "7d" }) });
    return r.status;
  }, cfg.other);
  check(other === 403, "another site through the link: " + other);
  const admin = await page4.evaluate(async () => (await fetch("/dashboard/api/sites")).status);
  check(admin === 404, "the admin routes are not on the partner listener: " + admin);
  check((await anon.cookies()).length === 0 && (await ctx.cookies()).length === 0, "no cookies");
  await anon.close();

  check(external.length === 0, "external requests: " + external.join(" "));
  check(errors.length === 0, "page errors: " + errors.join(" | "));
  console.log(JSON.stringify({ compared, refusedUnder, topStatsMs, firstPaintMs, screenshots: cfg.shots, failures: failures.length }));
} catch (e) {
  fail(String(e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
