// The dashboard's first paint, timed in Debian's headless Chromium
// (playwright-core, as the browser tests): from navigation to the top
// stats and the graph showing numbers, then to every panel answered, over
// a range (30 days by default). One cold load, then `runs` more in fresh
// browser contexts (no cache either way: the page asks with no-store).
// Also lists each query's time as the browser saw it, for the slowest.
// Usage: node benches/dashboard_paint.mjs '{"admin":"http://127.0.0.1:8081","site":"shop.example","period":"30d","runs":5}'
import { launch } from "../tests/browser/lib.mjs";

const cfg = Object.assign({ period: "30d", runs: 5 }, JSON.parse(process.argv[2] || "{}"));
const { browser } = await launch();

async function once() {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1280, height: 1000 });
  const url = `${cfg.admin}/dashboard?site=${encodeURIComponent(cfg.site)}&period=${cfg.period}`;
  const numbers = () => {
    const top = document.querySelector('[data-testid="top"]');
    const graph = document.getElementById("graph");
    return top.dataset.state === "ready" && top.querySelector(".v[data-v]") !== null &&
      graph.dataset.state === "ready" && graph.querySelector("circle") !== null;
  };
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForFunction(numbers, null, { polling: "raf", timeout: 120000 });
  const paint = await page.evaluate(() => performance.now());
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent === "ready",
    null, { polling: "raf", timeout: 120000 });
  const all = await page.evaluate(() => performance.now());
  const queries = await page.evaluate(() => performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/dashboard/api/"))
    .map((e) => ({ path: new URL(e.name).pathname.replace("/dashboard/api/", ""), start: Math.round(e.startTime), ms: Math.round(e.duration) })));
  const visitors = await page.evaluate(() => document.querySelector('[data-testid="value-visitors"]').textContent);
  await ctx.close();
  return { paint: Math.round(paint), all: Math.round(all), visitors, queries };
}

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const cold = await once();
const warm = [];
for (let i = 0; i < cfg.runs; i++) warm.push(await once());
await browser.close();
const slowest = warm[warm.length - 1].queries.sort((a, b) => b.ms - a.ms).slice(0, 5);
console.log(JSON.stringify({
  site: cfg.site, period: cfg.period, visitors: cold.visitors,
  cold: { paint_ms: cold.paint, all_ms: cold.all, requests: cold.queries.length },
  warm: { paint_ms: warm.map((w) => w.paint), all_ms: warm.map((w) => w.all),
          median_paint_ms: median(warm.map((w) => w.paint)), median_all_ms: median(warm.map((w) => w.all)) },
  slowest_requests_last_run: slowest,
}));
