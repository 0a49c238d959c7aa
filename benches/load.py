#!/usr/bin/env python3
"""tacit (write-ahead log on), tacit (durability = "memory") and nginx, side
by side, on this machine (`make bench-load`).

One run: the local ClickHouse, two tacit processes (release build, trusted
proxy 127.0.0.1 so X-Forwarded-For varies the client IP; one answers after
the fsync, one at once; separate databases and data dirs) and nginx
(empty_gif at /p.gif with a combined + X-Forwarded-For access log); drives
each with the same wrk Lua script of varied pixel and beacon hits, in turn,
for LOAD_ROUNDS rounds of LOAD_SECONDS each; prints per-round numbers and
medians, the log's fsync latency and rows per fsync; waits for both to
deliver and checks that ClickHouse holds every hit each accepted; then an
overload run against the logged tacit (LOAD_OVERLOAD_CONNS connections for
LOAD_OVERLOAD_SECONDS): it must answer no 503 while the disk allows, stay
up, keep memory bounded, and deliver every hit; the log's peak size and the
backlog's drain time are reported. All traffic goes to 127.0.0.1 and is
bounded in time. Results: benches/results/<date>-load.md. Exit 1 if a hit
is missing.
"""

import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CH_PORT = os.environ.get("CLICKHOUSE_DEV_PORT", "8123")
CH_URL = os.environ.get("CLICKHOUSE_URL") or f"http://127.0.0.1:{CH_PORT}"
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "3"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "15"))
CONNS = int(os.environ.get("LOAD_CONNS", "64"))
THREADS = int(os.environ.get("LOAD_THREADS", "2"))
OVER_CONNS = int(os.environ.get("LOAD_OVERLOAD_CONNS", "2000"))
OVER_SECONDS = int(os.environ.get("LOAD_OVERLOAD_SECONDS", "30"))
IO_THREADS = int(os.environ.get("LOAD_IO_THREADS", str(os.cpu_count() or 2)))
NGINX_PORT = 18090
# name → (hit port, admin port, database, durability)
TACITS = {
    "tacit": (18080, 18081, "tacit_load", "wal"),
    "tacit-memory": (18082, 18083, "tacit_load_mem", "memory"),
    "tacit-process": (18084, 18085, "tacit_load_proc", "process"),
}
try:
    CH_PID = int(open(os.path.join(ROOT, ".tacit/clickhouse-dev.pid")).read().strip())
    os.stat(f"/proc/{CH_PID}")
except (OSError, ValueError):
    CH_PID = 0


def log(*a):
    print(*a, flush=True)


def ch(sql):
    req = urllib.request.Request(CH_URL + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read().decode()


def get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def metrics(name="tacit"):
    _, text = get(f"http://127.0.0.1:{TACITS[name][1]}/metrics", timeout=10)
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def msum(m, prefix):
    return sum(v for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))


def proc_cpu(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) / 1024.0  # MiB
    return out


class MemWatch(threading.Thread):
    """Peak anonymous RSS (the heap; the memory-mapped GeoIP file is RssFile)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_anon, self.peak_rss, self.stop = pid, 0.0, 0.0, False

    def run(self):
        while not self.stop:
            try:
                m = proc_mem(self.pid)
                self.peak_anon = max(self.peak_anon, m.get("RssAnon", 0))
                self.peak_rss = max(self.peak_rss, m.get("VmRSS", 0))
            except OSError:
                return
            time.sleep(0.2)


def nginx_pids(master):
    pids = [master]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(p))
            except OSError:
                pass
    return pids


def hits():
    """The same varied hits for both servers: pixel GETs and JSON beacons,
    user agents weighted as in npm `user-agents`, random public client IPs,
    Zipf paths, referrers and UTM tags; a few bots and DNT requests."""
    rnd = random.Random(7)
    agents = json.load(open(os.path.join(ROOT, ".tacit/vendor/user-agents.json")))
    uas = [a["userAgent"] for a in agents]
    weights = [a.get("weight", 1.0) for a in agents]
    bots = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
    ]
    paths = ["/", "/pricing", "/docs", "/docs/install", "/blog", "/blog/launch", "/about", "/signup",
             "/docs/api", "/careers"] + [f"/blog/post-{i}" for i in range(200)]
    refs = ["", "", "", "https://www.google.com/", "https://www.bing.com/search?q=x", "https://t.co/abc",
            "https://news.ycombinator.com/", "https://www.facebook.com/", "https://duckduckgo.com/"]
    utms = ["", "", "", "", "utm_source=newsletter&utm_medium=email&utm_campaign=nov",
            "utm_source=twitter&utm_medium=social", "gclid=abc123", "utm_campaign=launch"]
    langs = ["en-US,en;q=0.9", "de-DE,de;q=0.9", "fr-FR", "es-ES,es;q=0.8", "ja-JP"]
    reqs = []
    for i in range(4000):
        page = paths[min(int(rnd.paretovariate(1.2)) - 1, len(paths) - 1)]
        utm = rnd.choice(utms)
        url = f"https://example.com{page}" + (f"?{utm}" if utm else "")
        ip = f"{rnd.randint(11, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        ua = rnd.choice(bots) if rnd.random() < 0.02 else rnd.choices(uas, weights)[0]
        headers = {"User-Agent": ua, "X-Forwarded-For": ip, "Accept-Language": rnd.choice(langs)}
        if rnd.random() < 0.03:
            headers["DNT"] = "1"
        ref = rnd.choice(refs)
        if rnd.random() < 0.7:
            q = urllib.parse.urlencode({"n": "pageview", "d": "example.com", "u": url, "r": ref, "w": rnd.choice([390, 414, 768, 1280, 1440, 1920])})
            reqs.append(("GET", "/p.gif?" + q, headers, ""))
        else:
            body = {"n": rnd.choice(["pageview", "pageview", "signup", "download"]), "u": url, "r": ref,
                    "d": "example.com", "w": 1280}
            if body["n"] == "signup":
                body["p"] = {"plan": rnd.choice(["pro", "team"])}
            headers["Content-Type"] = "text/plain"
            reqs.append(("POST", "/api/event", headers, json.dumps(body)))
    return reqs


def raw_requests(path):
    """`hits()` as raw HTTP/1.1 requests, each behind its 4-byte length, for
    `benches/pace.rs` (the open-loop generator)."""
    with open(path, "wb") as f:
        for m, p, h, b in hits():
            body = b.encode()
            head = f"{m} {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
            if body:
                head += f"Content-Length: {len(body)}\r\n"
            req = (head + "\r\n").encode() + body
            f.write(len(req).to_bytes(4, "little") + req)


def lua_script(path):
    """`hits()` as a wrk script picking one at random per request."""
    reqs = hits()

    def lua_str(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    with open(path, "w") as f:
        f.write("local raw = {\n")
        for m, p, h, b in reqs:
            hs = ", ".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in h.items())
            f.write(f"  {{{lua_str(m)}, {lua_str(p)}, {{{hs}}}, {lua_str(b)}}},\n")
        f.write("}\n")
        f.write("""
local pool = {}
local n = 0
init = function(args)
  for i, r in ipairs(raw) do
    pool[i] = wrk.format(r[1], r[2], r[3], r[4] ~= "" and r[4] or nil)
  end
  n = #pool
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
request = function()
  return pool[math.random(n)]
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format('{"requests": %d, "duration_us": %d, "non2xx": %d, "connect_err": %d, "read_err": %d, "write_err": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "p999_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, non2xx, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.mean))
end
""")


def wrk(port, script, seconds, conns, threads=THREADS):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", script,
           f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not line:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line[-1])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["ok"] = r["requests"] - r["non2xx"]
    return r


def wait_http(url, secs=60):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            if get(url)[0] == 200:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def fsync_stats(m):
    """Mean and bucket-estimated p50/p99 of the log's fsync, in ms; rows per sync."""
    buckets = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), v)
                     for k, v in m.items() if k.startswith("tacit_wal_fsync_seconds_bucket") and "+Inf" not in k)
    count = m.get("tacit_wal_fsync_seconds_count", 0)
    total = m.get("tacit_wal_fsync_seconds_sum", 0)

    def q(p):
        for le, v in buckets:
            if count and v >= p * count:
                return le * 1000
        return float("inf")
    syncs = max(m.get("tacit_wal_syncs_total", 0), 1)
    return {"mean_ms": total / max(count, 1) * 1000, "p50_ms": q(0.5), "p99_ms": q(0.99),
            "rows_per_sync": m.get("tacit_wal_rows_total", 0) / syncs, "syncs": syncs}


def drained(name):
    m = metrics(name)
    return m.get("tacit_wal_unacked_rows", 1) == 0 and \
        msum(m, "tacit_rows_written_total") >= msum(m, "tacit_hits_accepted_total") + msum(m, "tacit_hits_unanswered_total")


def wait_drained(name, secs=180):
    deadline = time.time() + secs
    while time.time() < deadline:
        if drained(name):
            return True
        time.sleep(0.2)
    return False


def tacit_config(path, port, admin, data_dir, db, sink="", server=""):
    """A bench tacit's configuration: hits on `port`, X-Forwarded-For from
    127.0.0.1 believed, its own database and data dir."""
    with open(path, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
partner_listen = "127.0.0.1:0"
trusted_proxies = ["127.0.0.1/32"]
data_dir = "{data_dir}"
io_threads = {IO_THREADS}
{server}
[clickhouse]
url = "{CH_URL}"
database = "{db}"
[sink]
{sink}
[log]
level = "warn"
[[sites]]
domain = "example.com"
""")


def start_tacit(cfg, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACIT_")}
    out = open(log_path, "w")
    return subprocess.Popen([os.path.join(ROOT, "target/release/tacit"), "--config", cfg, "serve", "--migrate"],
                            stdout=out, stderr=out, env=env)


def start_nginx(work, port):
    """nginx answering like tacit (empty_gif at /p.gif, 202 at /api/event)
    and writing an access log with X-Forwarded-For, as a proxy would."""
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  log_format combined_xff '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                          '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
  access_log {work}/access.log combined_xff;
  keepalive_requests 1000000;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  server {{
    listen 127.0.0.1:{port} reuseport;
    location = /p.gif {{ empty_gif; }}
    location = /api/event {{ return 202; }}
  }}
}}
""")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen([nginx_bin, "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def main():
    os.chdir(ROOT)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except Exception as e:  # noqa: BLE001
        log("cannot raise the open-file limit:", e)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"bench-load: {tool} missing; run scripts/setup --load")
    work = tempfile.mkdtemp(prefix="tacit-load-")
    script = os.path.join(work, "hits.lua")
    lua_script(script)

    procs = {}
    for name, (port, admin, db, durability) in TACITS.items():
        ch(f"DROP DATABASE IF EXISTS {db} SYNC")
        cfg = os.path.join(work, f"{name}.toml")
        tacit_config(cfg, port, admin, f"{work}/{name}", db,
                     sink=f'durability = "{durability}"\n{os.environ.get("LOAD_TACIT_SINK", "")}')
        procs[name] = start_tacit(cfg, os.path.join(work, f"{name}.log"))
    ngx = start_nginx(work, NGINX_PORT)
    servers = [(n, TACITS[n][0]) for n in TACITS] + [("nginx", NGINX_PORT)]
    results = {n: [] for n, _ in servers}
    acct = {}
    ok = True
    try:
        for name in TACITS:
            wait_http(f"http://127.0.0.1:{TACITS[name][1]}/readyz")
        time.sleep(0.5)
        # Warm-up: caches, connections, JIT of the Lua script.
        for _, port in servers:
            wrk(port, script, 3, CONNS)
        for name in TACITS:
            wait_drained(name)
        mem = MemWatch(procs["tacit"].pid)
        mem.start()
        m0 = {n: metrics(n) for n in TACITS}
        for rnd in range(ROUNDS):
            for name, port in servers:
                pids = [procs[name].pid] if name in procs else nginx_pids(ngx.pid)
                cpu0 = sum(proc_cpu(p) for p in pids)
                ch0 = proc_cpu(CH_PID) if CH_PID else 0.0
                rows0 = msum(metrics(name), "tacit_rows_written_total") if name in TACITS else 0
                r = wrk(port, script, SECONDS, CONNS)
                cpu1 = sum(proc_cpu(p) for p in pids)
                r["cpu_s_per_1k"] = (cpu1 - cpu0) / max(r["requests"], 1) * 1000
                r["ch_cpu_s"] = (proc_cpu(CH_PID) - ch0) if CH_PID else 0.0
                r["ch_us_per_row"] = 0.0
                results[name].append(r)
                log(f"round {rnd + 1} {name:12}: {r['rps']:9.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
                    f"p99 {r['p99_us'] / 1000:6.2f} ms  p99.9 {r['p999_us'] / 1000:6.2f} ms  non-2xx {r['non2xx']}  "
                    f"errors {r['connect_err'] + r['read_err'] + r['write_err'] + r['timeout']}  "
                    f"cpu {r['cpu_s_per_1k'] * 1000:.1f} ms/1k hits, ClickHouse {r['ch_cpu_s']:.1f} s")
                if name in TACITS:
                    # Each tacit delivers its backlog before the next turn,
                    # so no round pays for another's inserts.
                    wait_drained(name)
                    # The engine's CPU per stored row: from the round's start
                    # until every row of it is in (inserts and merges since).
                    rows = msum(metrics(name), "tacit_rows_written_total") - rows0
                    if CH_PID and rows > 0:
                        r["ch_us_per_row"] = (proc_cpu(CH_PID) - ch0) / rows * 1e6
                        log(f"            engine: {r['ch_us_per_row']:.2f} µs of CPU per stored row ({rows:.0f} rows)")
        mem.stop = True
        peak_steady = proc_mem(procs["tacit"].pid)
        fs = fsync_stats({k: v - m0["tacit"].get(k, 0) for k, v in metrics("tacit").items()})

        # Every accepted hit is in ClickHouse (the policy's drops are counted).
        for name in TACITS:
            if not wait_drained(name):
                log(f"FAIL: {name} did not deliver its log in time")
                ok = False
            m = metrics(name)
            # A client that leaves while its row syncs gets no answer; the
            # row is stored all the same and counted as unanswered.
            accepted = int(msum(m, "tacit_hits_accepted_total") + msum(m, "tacit_hits_unanswered_total"))
            rows = int(ch(f"SELECT count() FROM {TACITS[name][2]}.events").strip())
            refused = int(msum(m, "tacit_log_full_total") + msum(m, "tacit_wal_write_failed_total"))
            acct[name] = {"accepted": accepted, "rows": rows, "dropped": int(msum(m, "tacit_hits_dropped_total")),
                          "refused": refused,
                          "answered": sum(r["ok"] for r in results[name])}
            log(f"accounting {name}: {accepted} accepted, {rows} rows in ClickHouse, {refused} refused with 503")
            if accepted != rows:
                log(f"FAIL: {name}: {accepted - rows} accepted hits are not in ClickHouse")
                ok = False

        # Overload on the logged tacit: the log absorbs what ClickHouse cannot take now.
        before = metrics("tacit")
        rows_before = acct["tacit"]["rows"]
        health = {"ok": 0, "fail": 0, "peak_log": 0.0, "peak_unacked": 0.0}

        def poll():
            end = time.time() + OVER_SECONDS
            while time.time() < end:
                try:
                    s, _ = get(f"http://127.0.0.1:{TACITS['tacit'][1]}/healthz", timeout=2)
                    health["ok" if s == 200 else "fail"] += 1
                    m = metrics("tacit")
                    health["peak_log"] = max(health["peak_log"], m.get("tacit_wal_bytes", 0))
                    health["peak_unacked"] = max(health["peak_unacked"], m.get("tacit_wal_unacked_rows", 0))
                except Exception:
                    health["fail"] += 1
                time.sleep(0.5)

        hp = threading.Thread(target=poll, daemon=True)
        mem2 = MemWatch(procs["tacit"].pid)
        mem2.start()
        hp.start()
        over = wrk(TACITS["tacit"][0], script, OVER_SECONDS, OVER_CONNS)
        load_end = time.time()
        hp.join()
        mem2.stop = True
        alive = procs["tacit"].poll() is None
        backlog = metrics("tacit").get("tacit_wal_unacked_rows", 0)
        drained_ok = wait_drained("tacit", 300)
        drain_s = time.time() - load_end
        after = metrics("tacit")
        d = lambda k: int(msum(after, k) - msum(before, k))  # noqa: E731
        o_acc = d("tacit_hits_accepted_total") + d("tacit_hits_unanswered_total")
        o_drop = d("tacit_hits_dropped_total")
        o_503 = d("tacit_log_full_total") + d("tacit_wal_write_failed_total")
        o_rej = d("tacit_hits_rejected_total")
        rows2 = int(ch(f"SELECT count() FROM {TACITS['tacit'][2]}.events").strip())
        stored_delta = rows2 - rows_before
        log(f"overload {OVER_CONNS} conns {OVER_SECONDS}s: {over['rps']:.0f} req/s, {over['requests']} answered, "
            f"non-2xx {over['non2xx']} ({o_503} refused by the log), p99 {over['p99_us'] / 1000:.1f} ms; alive {alive}; "
            f"healthz {health['ok']} ok / {health['fail']} failed; peak RSS {mem2.peak_rss:.0f} MiB; "
            f"log peak {health['peak_log'] / 2**20:.1f} MiB, {health['peak_unacked']:.0f} rows waiting at most, "
            f"{backlog:.0f} when the load stopped, drained in {drain_s:.1f} s")
        over_ok = alive and health["fail"] == 0 and stored_delta == o_acc and o_rej == 0 and drained_ok and o_503 == 0
        if not over_ok:
            ok = False
            log("FAIL: overload run refused hits, lost hits, health checks, or the process")
    finally:
        for p in list(procs.values()) + [ngx]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(procs.values()) + [ngx]:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    w_rps, m_rps, n_rps = med("tacit", "rps"), med("tacit-memory", "rps"), med("nginx", "rps")
    w_p99, m_p99, n_p99 = med("tacit", "p99_us"), med("tacit-memory", "p99_us"), med("nginx", "p99_us")
    lines = [
        f"# Load: tacit with the write-ahead log (`wal`, `process`), tacit `durability = \"memory\"`, nginx empty_gif ({date.today().isoformat()})",
        "",
        f"`make bench-load` on this machine ({os.cpu_count()} cores shared by wrk, both tacits, nginx and ClickHouse). "
        f"tacit `io_threads = {IO_THREADS}`; wrk {THREADS} threads, {CONNS} connections, {ROUNDS} rounds × {SECONDS} s each, in turn "
        "(each tacit delivers its backlog before the next turn); "
        "the same Lua script of 4,000 varied pixel (70%) and beacon (30%) hits, weighted real user agents, "
        "random client IPs via X-Forwarded-For, 2% bots, 3% DNT.",
        "",
        "| round | server | req/s | p50 ms | p99 ms | p99.9 ms | non-2xx | CPU ms / 1k hits | ClickHouse CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i in range(ROUNDS):
        for name, _ in servers:
            r = results[name][i]
            lines.append(f"| {i + 1} | {name} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | "
                         f"{r['p999_us'] / 1000:.2f} | {r['non2xx']} | {r['cpu_s_per_1k'] * 1000:.1f} | {r['ch_cpu_s']:.1f} |")
    for name, _ in servers:
        lines.append(f"| median | {name} | {med(name, 'rps'):.0f} | {med(name, 'p50_us') / 1000:.2f} | "
                     f"{med(name, 'p99_us') / 1000:.2f} | {med(name, 'p999_us') / 1000:.2f} | "
                     f"{int(med(name, 'non2xx'))} | {med(name, 'cpu_s_per_1k') * 1000:.1f} | {med(name, 'ch_cpu_s'):.1f} |")
    lines += [
        "",
        f"- Log on vs `memory`: throughput **{w_rps / m_rps:.2f}×** (target ≥ 0.9), p99 **{(w_p99 - m_p99) / 1000:+.2f} ms** (target ≤ +2 ms).",
        f"- The log's fsync during the rounds: mean {fs['mean_ms']:.2f} ms, p50 ≤ {fs['p50_ms']:.2f} ms, p99 ≤ {fs['p99_ms']:.2f} ms "
        f"(histogram buckets); {fs['syncs']:.0f} syncs, **{fs['rows_per_sync']:.1f} rows per fsync**.",
        f"- tacit (log) vs nginx: throughput {w_rps / n_rps:.2f}, p99 {w_p99 / n_p99:.2f}×; "
        f"CPU per 1k hits **{med('tacit', 'cpu_s_per_1k') / med('nginx', 'cpu_s_per_1k'):.2f}×** nginx's "
        f"(`memory`: {med('tacit-memory', 'cpu_s_per_1k') / med('nginx', 'cpu_s_per_1k'):.2f}×; target ≤ 1.3×).",
        f"- tacit `durability = \"process\"` (each row written to the log before its answer, synced every second) vs nginx: "
        f"throughput {med('tacit-process', 'rps') / n_rps:.2f}, p99 {med('tacit-process', 'p99_us') / n_p99:.2f}×; "
        f"CPU per 1k hits **{med('tacit-process', 'cpu_s_per_1k') / med('nginx', 'cpu_s_per_1k'):.2f}×** nginx's.",
        f"- Engine CPU per stored row, from each round's start until its rows are in (inserts, merges, the background jobs of that time): "
        f"median **{med('tacit', 'ch_us_per_row'):.2f} µs** (log), {med('tacit-memory', 'ch_us_per_row'):.2f} µs (`memory`); target ≤ 3 µs.",
        f"- tacit (log) peak RSS during the rounds: {mem.peak_rss:.0f} MiB (anonymous {mem.peak_anon:.0f} MiB). VmHWM {peak_steady.get('VmHWM', 0):.0f} MiB.",
    ]
    for name in TACITS:
        a = acct.get(name, {})
        lines.append(f"- Accounting, {name}: {a.get('accepted')} hits accepted for storage (answered, or logged before the client left) = {a.get('rows')} rows in ClickHouse; "
                     f"{a.get('dropped')} dropped by policy (bots, DNT), counted; {a.get('refused')} refused with 503.")
    lines += [
        f"- Overload of the logged tacit, {OVER_CONNS} connections for {OVER_SECONDS} s: {over['rps']:.0f} req/s, p99 {over['p99_us'] / 1000:.1f} ms, "
        f"non-2xx {over['non2xx']}, of which **{o_503} refused by the log** (503); alive: {alive}; /healthz {health['ok']} ok, {health['fail']} failed; "
        f"peak RSS {mem2.peak_rss:.0f} MiB (anonymous {mem2.peak_anon:.0f} MiB). "
        f"The log peaked at **{health['peak_log'] / 2**20:.1f} MiB** ({health['peak_unacked']:.0f} rows waiting for ClickHouse at most, "
        f"{backlog:.0f} when the load stopped); the backlog drained in **{drain_s:.1f} s**. "
        f"Accounting: {o_acc} accepted = {stored_delta} new rows; {o_drop} dropped by policy; {o_rej} rejected.",
        "",
    ]
    text = "\n".join(lines)
    log("\n" + text)
    os.makedirs(os.path.join(ROOT, "benches/results"), exist_ok=True)
    with open(os.path.join(ROOT, f"benches/results/{date.today().isoformat()}-load.md"), "w") as f:
        f.write(text)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
