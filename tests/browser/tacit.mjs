// tacit's own tracker, loaded with the snippet `tacit snippet` prints
// (integrity hash included), in Debian's headless Chromium: a page view, an
// SPA navigation, a custom event with props, an outbound click, a download,
// a form submission, and the engagement event when the tab is hidden.
// Prints one JSON line: the hits the browser sent to tacit.
// Usage: node tacit.mjs <tacit base url> <port for the test page> <snippet html>
import { launch, serve } from "./lib.mjs";

const [base, port, snippet] = process.argv.slice(2);
const page = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${snippet}</head>
<body style="height:3000px">
<a id="out" href="https://partner.example.org/offer" target="_blank">partner</a>
<a id="file" href="/files/price-list.pdf" target="_blank">price list</a>
<form id="order" onsubmit="event.preventDefault()"><button id="send">send</button></form>
</body></html>`;
const { server, origin } = await serve(port, page);
const { browser, ctx } = await launch();
const sent = [];
const failed = [];
try {
  const p = await ctx.newPage();
  p.on("request", (r) => { if (r.url().startsWith(base + "/api/event")) sent.push(JSON.parse(r.postData() || "{}")); });
  p.on("requestfailed", (r) => { if (r.url().startsWith(base)) failed.push(r.url() + " " + (r.failure() || {}).errorText); });
  await p.goto(origin + "/");
  await p.waitForFunction(() => typeof window.tacit === "function", null, { timeout: 15000 });
  await p.evaluate(() => window.tacit("Signup", { props: { plan: "pro" } }));
  await p.evaluate(() => history.pushState({}, "", "/next"));
  await p.click("#out", { noWaitAfter: true }).catch(() => {});
  await p.waitForTimeout(200);
  await p.click("#file", { noWaitAfter: true }).catch(() => {});
  await p.waitForTimeout(200);
  await p.click("#send");
  await p.evaluate(() => window.scrollTo(0, 1500));
  await p.waitForTimeout(1200);
  await p.evaluate(() => {
    Object.defineProperty(document, "hidden", { value: true, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await p.waitForTimeout(800);
  const cookies = await ctx.cookies();
  const storage = await p.evaluate(() => localStorage.length + sessionStorage.length);
  console.log(JSON.stringify({ origin, sent, failed, cookies: cookies.length, storage }));
} finally {
  await browser.close();
  server.close();
}
