// Drives Debian's Chromium (headless) against tacit's /dashboard and checks
// that the numbers it shows are the ones given on the command line (which
// the Rust test computed with SQL). Keeps a screenshot as an artifact.
// Usage: node dashboard.mjs <dashboard url> <expected json> <screenshot.png>
import { chromium } from "playwright-core";

const [url, expectedJson, shot] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(new URL(url).origin)) external.push(r.url()); });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent === "ready", null, { timeout: 20000 });
  const text = async (id) => (await page.textContent(`[data-testid="${id}"]`)).trim();
  const shown = {
    visitors: Number((await text("visitors")).replace(/,/g, "")),
    pageviews: Number((await text("pageviews")).replace(/,/g, "")),
    visits: Number((await text("visits")).replace(/,/g, "")),
    top_page: (await page.textContent('[data-testid="pages"] tr:nth-child(2) td:first-child')).trim(),
    chart_points: await page.locator('[data-testid="chart"] circle').count(),
  };
  await page.screenshot({ path: shot, fullPage: true });
  for (const [k, v] of Object.entries(expected)) {
    if (shown[k] !== v) { console.error(`mismatch ${k}: page shows ${shown[k]}, SQL says ${v}`); failed = true; }
  }
  if (external.length) { console.error("external requests:", external); failed = true; }
  console.log(JSON.stringify({ shown, screenshot: shot }));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
