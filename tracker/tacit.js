// tacit's tracker: page views (also single-page apps), outbound links,
// downloads, form submissions, custom events, engagement. No cookies, no
// storage, no identifiers. Sends Plausible-compatible hits to /api/event.
(function(w, d, l, n) {
  var s = d.currentScript, a = function(k) { return s && s.getAttribute("data-" + k) },
    api = a("api") || new URL(s.src).origin + "/api/event", dom = a("domain") || l.hostname,
    ext = (a("extensions") || "pdf,zip,dmg,exe,csv,xlsx,docx,mp4").split(","),
    last, t0 = Date.now(), eng = 0, sd = 0, page;
  if (!a("allow-local") && /^(localhost|127\.|\[::1\])/.test(l.hostname) ||
      !a("allow-automation") && n.webdriver) return;
  function send(e, o) {
    o = o || {};
    var b = {n: e, u: o.u || l.href, d: dom, r: d.referrer || null, w: w.innerWidth};
    if (o.props) b.p = o.props;
    if (o.revenue) b.$ = o.revenue;
    if (o.sd != null) { b.sd = o.sd; b.e = o.e }
    if (a("hash")) b.h = 1;
    n.sendBeacon(api, new Blob([JSON.stringify(b)], {type: "text/plain"}))
  }
  function depth() {
    var h = d.documentElement.scrollHeight, v = w.scrollY + w.innerHeight;
    return Math.min(100, Math.round(v / h * 100))
  }
  function engage() {
    if (!page) return;
    eng += Date.now() - t0; t0 = Date.now();
    if (eng > 999 || sd) send("engagement", {u: page, sd: sd, e: eng});
    eng = 0
  }
  function pv() {
    var p = l.pathname + (a("hash") ? l.hash : "");
    if (p === last) return;
    engage(); last = p; page = l.href; sd = depth(); t0 = Date.now();
    send("pageview")
  }
  var h = w.history, ps = h.pushState;
  h.pushState = function() { ps.apply(h, arguments); pv() };
  w.addEventListener("popstate", pv);
  w.addEventListener("hashchange", pv);
  w.addEventListener("pageshow", function(e) { if (e.persisted) { last = 0; pv() } });
  w.addEventListener("scroll", function() { sd = Math.max(sd, depth()) }, {passive: true});
  d.addEventListener("visibilitychange", function() { d.hidden ? engage() : t0 = Date.now() });
  d.addEventListener("click", function(e) {
    var t = e.target.closest && e.target.closest("a[href]");
    if (!t) return;
    var u = t.href.split(/[?#]/)[0];
    if (ext.indexOf(u.split(".").pop().toLowerCase()) >= 0) send("File Download", {props: {url: u}});
    else if (t.host && t.host !== l.host) send("Outbound Link: Click", {props: {url: t.href}})
  }, true);
  d.addEventListener("submit", function(e) { send("Form: Submission", {props: {form: e.target.id || e.target.name || ""}}) }, true);
  w.tacit = function(e, o) { send(e, o) };
  pv()
})(window, document, location, navigator);
