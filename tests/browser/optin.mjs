// A third-party page cannot flip the visitor's opt-out: Debian's headless
// Chromium opts out on tacit (a top-level visit), then loads a page on
// another site whose <img> requests tacit's /opt-in, then follows a link
// to /opt-in from that page (a top-level navigation, which may).
// Prints one JSON line with the statuses and the cookie after each step.
// Usage: node optin.mjs <tacit base url (127.0.0.1)> <port for the page>
import { launch, serve } from "./lib.mjs";

const [base, port] = process.argv.slice(2);
const page = `<!doctype html><html><body>
<img id="pix" src="${base}/opt-in" alt="">
<a id="go" href="${base}/opt-in">change my choice</a></body></html>`;
const { server } = await serve(port, page);
const other = `http://localhost:${port}`; // another site than 127.0.0.1
const { browser, ctx } = await launch();
const statuses = {};
try {
  const p = await ctx.newPage();
  p.on("response", (r) => { if (r.url().endsWith("/opt-in")) statuses[r.request().resourceType()] = r.status(); });
  const cookie = async () => ((await ctx.cookies(base)).find((c) => c.name === "tacit_optout") || {}).value || null;
  const out = await p.goto(base + "/opt-out");
  const afterOptOut = await cookie();
  await p.goto(other + "/");
  await p.waitForTimeout(500);
  const afterImg = await cookie();
  await Promise.all([p.waitForNavigation(), p.click("#go")]);
  const afterNav = await cookie();
  console.log(JSON.stringify({ optOutStatus: out.status(), afterOptOut, imgStatus: statuses.image ?? null,
                               afterImg, navStatus: statuses.document ?? null, afterNav }));
} finally {
  await browser.close();
  server.close();
}
