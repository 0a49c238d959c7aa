// Shared by the browser scripts: Debian's headless Chromium with a
// desktop Chrome's user agent ("HeadlessChrome" is, rightly, a bot to
// tacit), and a test page server on 127.0.0.1.
import { chromium } from "playwright-core";
import http from "node:http";

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const probe = await browser.newPage();
  const ua = (await probe.evaluate(() => navigator.userAgent)).replace("HeadlessChrome", "Chrome");
  await probe.close();
  const ctx = await browser.newContext({ userAgent: ua });
  // Links the pages follow open new tabs whose loads are stopped.
  await ctx.route("https://partner.example.org/**", (r) => r.abort());
  await ctx.route("**/files/**", (r) => r.abort());
  return { browser, ctx };
}

// Serve `files` (path → [content type, body]); anything else is `page`.
export async function serve(port, page, files = {}) {
  const server = http.createServer((req, res) => {
    const [type, body] = files[req.url] || ["text/html", page];
    res.writeHead(200, { "content-type": type });
    res.end(body);
  });
  await new Promise((r) => server.listen(Number(port), "127.0.0.1", r));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
