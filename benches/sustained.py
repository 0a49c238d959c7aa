#!/usr/bin/env python3
"""Sustained rate: tacit (write-ahead log on) and nginx under the same
paced load, step by step (`make bench-sustained`).

Each step offers a fixed rate: SUSTAINED_CONNS connections, each sending
its next hit a fixed delay after the previous answer (wrk's Lua `delay()`;
neither wrk2 nor oha is installed here, so the pacing is closed-loop: a
slow answer delays that connection's next request, and the achieved rate
is reported beside the offered one). The hits are `make bench-load`'s.
tacit sustains a step when it answers no 503 (no non-2xx), achieves at
least 95% of nginx's rate at that step, and its p99 is at most 1.5x
nginx's. The result is the highest step tacit sustains, as a ratio to the
highest step nginx sustains (achieving 90% of the offered rate). All
traffic goes to 127.0.0.1 and is bounded in time. Results:
benches/results/<date>-sustained.md.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the same hits, wrk runner and servers' settings)

ROOT = load.ROOT
CONNS = int(os.environ.get("SUSTAINED_CONNS", "200"))
SECONDS = int(os.environ.get("SUSTAINED_SECONDS", "10"))
DELAYS_MS = [int(d) for d in os.environ.get("SUSTAINED_DELAYS_MS", "40,20,13,10,8,7,6,5,4").split(",")]
TACIT_PORT, ADMIN_PORT, DB = 18180, 18181, "tacit_sustained"
NGINX_PORT = 18190


def paced(base, delay_ms, path):
    shutil.copy(base, path)
    with open(path, "a") as f:
        f.write(f"\ndelay = function() return {delay_ms} end\n")


def main():
    os.chdir(ROOT)
    work = tempfile.mkdtemp(prefix="tacit-sustained-")
    base = os.path.join(work, "hits.lua")
    load.lua_script(base)
    load.ch(f"DROP DATABASE IF EXISTS {DB} SYNC")
    cfg = os.path.join(work, "tacit.toml")
    load.tacit_config(cfg, TACIT_PORT, ADMIN_PORT, f"{work}/tacit", DB, sink='durability = "wal"',
                      server="rate_limit_per_second = 0")
    tacit = load.start_tacit(cfg, os.path.join(work, "tacit.log"))
    ngx = load.start_nginx(work, NGINX_PORT)
    rows = []
    try:
        load.wait_http(f"http://127.0.0.1:{ADMIN_PORT}/readyz")
        for port in (TACIT_PORT, NGINX_PORT):
            load.wrk(port, base, 3, 64)
        for d in DELAYS_MS:
            script = os.path.join(work, f"paced-{d}.lua")
            paced(base, d, script)
            offered = CONNS * 1000.0 / d
            step = {"delay": d, "offered": offered}
            for name, port in (("tacit", TACIT_PORT), ("nginx", NGINX_PORT)):
                r = load.wrk(port, script, SECONDS, CONNS)
                step[name] = r
                load.log(f"offered {offered:7.0f}/s {name:6}: {r['rps']:8.0f} req/s  p99 {r['p99_us'] / 1000:6.2f} ms  "
                         f"non-2xx {r['non2xx']}")
                time.sleep(1)
            rows.append(step)
    finally:
        tacit.send_signal(2)
        ngx.send_signal(3)
        for p in (tacit, ngx):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()

    def tacit_ok(s):
        t, n = s["tacit"], s["nginx"]
        return t["non2xx"] == 0 and t["rps"] >= 0.95 * n["rps"] and t["p99_us"] <= 1.5 * n["p99_us"]

    def tacit_ok_2ms(s):
        t, n = s["tacit"], s["nginx"]
        return t["non2xx"] == 0 and t["rps"] >= 0.95 * n["rps"] and t["p99_us"] <= n["p99_us"] + 2000

    def nginx_ok(s):
        return s["nginx"]["non2xx"] == 0 and s["nginx"]["rps"] >= 0.9 * s["offered"]

    best = lambda ok, who: max((s[who]["rps"] for s in rows if ok(s)), default=0.0)  # noqa: E731
    n_best = best(nginx_ok, "nginx")
    t_best = best(tacit_ok, "tacit")
    t_best2 = best(tacit_ok_2ms, "tacit")
    lines = [
        f"# Sustained rate: tacit (write-ahead log) and nginx under paced load ({date.today().isoformat()})",
        "",
        f"`make bench-sustained` on this machine ({os.cpu_count()} cores shared by wrk, tacit, nginx and ClickHouse): "
        f"{CONNS} connections, each sending its next hit a fixed delay after the previous answer (wrk `delay()`; "
        f"closed-loop pacing, as neither wrk2 nor oha is installed), {SECONDS} s per step and server; "
        "`make bench-load`'s hits.",
        "",
        "| offered req/s | tacit req/s | tacit p99 ms | tacit non-2xx | nginx req/s | nginx p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for s in rows:
        t, n = s["tacit"], s["nginx"]
        lines.append(f"| {s['offered']:.0f} | {t['rps']:.0f} | {t['p99_us'] / 1000:.2f} | {t['non2xx']} | "
                     f"{n['rps']:.0f} | {n['p99_us'] / 1000:.2f} |")
    lines += [
        "",
        f"- Highest step nginx sustains (≥ 90% of the offered rate, no errors): {n_best:.0f} req/s.",
        f"- Highest step tacit sustains (no non-2xx, ≥ 95% of nginx's rate, p99 ≤ 1.5× nginx's): {t_best:.0f} req/s, "
        f"**ratio {t_best / max(n_best, 1):.2f}** (target ≥ 0.8).",
        f"- With p99 allowed nginx's + 2 ms instead (the log's fsync alone is about 0.5 ms): {t_best2:.0f} req/s, "
        f"ratio {t_best2 / max(n_best, 1):.2f}.",
        "",
    ]
    text = "\n".join(lines)
    load.log("\n" + text)
    with open(os.path.join(ROOT, f"benches/results/{date.today().isoformat()}-sustained.md"), "w") as f:
        f.write(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
