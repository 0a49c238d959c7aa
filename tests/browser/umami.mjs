// Umami's own tracker (umami@2.10.0 src/tracker/index.js, fetched by
// scripts/setup), unchanged, in Debian's headless Chromium, pointed at
// tacit with `data-host-url`. Sends the pageview, a click on an element
// with data-umami-event, a custom event with data, and an SPA navigation;
// prints one JSON line: every request to tacit, its status and CORS header.
// Usage: node umami.mjs <tacit base url> <port for the test page> <website id>
import { launch, serve } from "./lib.mjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [base, port, website] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const tracker = fs.readFileSync(path.join(here, "vendor/umami-tracker.js"));
const page = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>
<script defer src="/umami.js" data-website-id="${website}" data-host-url="${base}"></script></head>
<body><button id="signup" data-umami-event="Signup" data-umami-event-plan="pro">sign up</button></body></html>`;

const { server, origin } = await serve(port, page, { "/umami.js": ["text/javascript", tracker] });
const { browser, ctx } = await launch();
const sent = [];
try {
  const p = await ctx.newPage();
  p.on("response", (resp) => {
    const r = resp.request();
    if (!r.url().startsWith(base + "/api/send") || r.method() !== "POST") return;
    sent.push({ body: JSON.parse(r.postData() || "{}"), status: resp.status(),
                cors: resp.headers()["access-control-allow-origin"] || null });
  });
  await p.goto(origin + "/");
  await p.waitForFunction(() => window.umami, null, { timeout: 15000 });
  await p.waitForTimeout(500);
  await p.click("#signup");
  await p.waitForTimeout(300);
  await p.evaluate(() => window.umami.track("Purchase", { amount: 5, sku: "A-1" }));
  await p.waitForTimeout(300);
  await p.evaluate(() => history.pushState({}, "", "/next"));
  await p.waitForTimeout(1000);
  console.log(JSON.stringify({ origin, sent }));
} finally {
  await browser.close();
  server.close();
}
