// The official Plausible tracker (npm @plausible-analytics/tracker, pinned in
// package.json), unchanged, in Debian's headless Chromium, pointed at tacit.
// Serves a test page on 127.0.0.1, lets the tracker send a pageview, custom
// events with props and revenue, a non-interactive event, an SPA
// navigation, an outbound link click, a file download, a form submission,
// and the engagement event on tab hide; prints one JSON line: every request
// the tracker made to tacit with its status and whether the browser let the
// script read the answer (CORS).
// Usage: node plausible.mjs <tacit endpoint url> <port for the test page>
import { launch, serve } from "./lib.mjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const endpoint = process.argv[2];
const port = Number(process.argv[3] || 0);
const here = path.dirname(fileURLToPath(import.meta.url));
const tracker = fs.readFileSync(path.join(here, "node_modules/@plausible-analytics/tracker/plausible.js"));

const page = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head>
<body style="height:3000px">
<a id="out" href="https://partner.example.org/offer" target="_blank">partner</a>
<a id="file" href="/files/price-list.pdf" target="_blank">price list</a>
<form id="form" action="/thanks" onsubmit="event.preventDefault()"><input name="q" value="x"><button id="send">send</button></form>
<script type="module">
  import { init, track } from "/plausible.js";
  window.__plausible = true; // let it run under automation (navigator.webdriver)
  window.results = [];
  const cb = (name) => (r) => window.results.push({ name, status: r && r.status, error: r && r.error ? String(r.error) : null });
  init({ domain: "example.com", endpoint: ${JSON.stringify(endpoint)}, captureOnLocalhost: true,
         outboundLinks: true, fileDownloads: true, formSubmissions: true, logging: false });
  track("Signup", { props: { plan: "pro", seats: "3" }, callback: cb("Signup") });
  track("Purchase", { revenue: { amount: 10.5, currency: "EUR" }, props: { sku: "A-1" }, callback: cb("Purchase") });
  track("Scrolled", { interactive: false, callback: cb("Scrolled") });
  track("404", { props: { path: "/missing" }, callback: cb("404") });
  window.done = true;
</script></body></html>`;

const { server, origin } = await serve(port, page, { "/plausible.js": ["text/javascript", tracker] });
const { browser, ctx } = await launch();
const sent = [];
try {
  const p = await ctx.newPage();
  // Only the tracker's requests to tacit count; the outbound link and the
  // download are stopped before they leave (the tracker fires first).
  p.on("response", (resp) => {
    const r = resp.request();
    if (!r.url().startsWith(endpoint)) return;
    sent.push({ body: JSON.parse(r.postData() || "{}"), status: resp.status(),
                cors: resp.headers()["access-control-allow-origin"] || null });
  });
  p.on("requestfailed", (r) => {
    if (r.url().startsWith(endpoint)) sent.push({ body: JSON.parse(r.postData() || "{}"), status: null, failure: r.failure() && r.failure().errorText });
  });
  await p.goto(origin + "/");
  await p.waitForFunction(() => window.done && window.results.length >= 4, null, { timeout: 15000 });
  // An SPA navigation: pushState is a pageview.
  await p.evaluate(() => history.pushState({}, "", "/checkout?step=2"));
  // Outbound link, file download, form submission.
  await p.click("#out", { noWaitAfter: true }).catch(() => {});
  await p.waitForTimeout(300);
  await p.click("#file", { noWaitAfter: true }).catch(() => {});
  await p.waitForTimeout(300);
  await p.click("#send");
  await p.waitForTimeout(300);
  // Scroll, then hide the tab: the engagement event.
  await p.evaluate(() => window.scrollTo(0, 1500));
  await p.waitForTimeout(200);
  await p.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await p.waitForTimeout(1000);
  const results = await p.evaluate(() => window.results).catch(() => []);
  console.log(JSON.stringify({ origin, sent, results }));
} finally {
  await browser.close();
  server.close();
}
