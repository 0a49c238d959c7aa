#!/usr/bin/env python3
"""Sustained rate: tacit (write-ahead log on) and nginx under the same
constant-rate load, step by step (`make bench-sustained`).

Each step offers a fixed rate with `benches/pace.rs`, an open-loop
generator (the role of wrk2 or `oha -q`): SUSTAINED_CONNS keep-alive
connections each send on a fixed schedule, and a request that had to wait
for its connection counts its latency from when it was due. The hits are
`make bench-load`'s. Three servers take every step in turn: nginx (writing
its access log, no sync), tacit with `durability = "wal"` (each answer
waits for an fdatasync) and tacit with `durability = "process"` (each
answer waits for the log write; synced every second).

A server sustains a step when it answers every request 2xx without a
connection error and completes at least 97% of the offered rate; tacit
must also keep its p99 at most 1.5x nginx's at that step. The result is
the highest step each tacit sustains, as a ratio to the highest step nginx
sustains. All traffic goes to 127.0.0.1 and is bounded in time. Results:
benches/results/<date>-sustained.md.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the same hits and the servers' settings)

ROOT = load.ROOT
CONNS = int(os.environ.get("SUSTAINED_CONNS", "200"))
SECONDS = int(os.environ.get("SUSTAINED_SECONDS", "10"))
RATES = [int(r) for r in os.environ.get(
    "SUSTAINED_RATES", "2000,5000,10000,15000,20000,25000,30000,35000,40000").split(",")]
NGINX_PORT = 18190
TACITS = [("tacit wal", "wal", 18180, 18181), ("tacit process", "process", 18182, 18183)]


def pace(port, rate, requests):
    cmd = ["cargo", "bench", "-q", "--bench", "pace", "--", f"127.0.0.1:{port}", str(rate), str(SECONDS),
           str(CONNS), requests]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 120, cwd=ROOT)
    line = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not line:
        raise RuntimeError(f"pace failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line[-1])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main():
    os.chdir(ROOT)
    subprocess.run(["cargo", "bench", "--bench", "pace", "--no-run"], check=True, cwd=ROOT)
    work = tempfile.mkdtemp(prefix="tacit-sustained-")
    requests = os.path.join(work, "hits.bin")
    load.raw_requests(requests)
    procs, servers = [], [("nginx", NGINX_PORT)]
    try:
        for name, durability, port, admin in TACITS:
            db = "tacit_sustained_" + durability
            load.ch(f"DROP DATABASE IF EXISTS {db} SYNC")
            cfg = os.path.join(work, f"{durability}.toml")
            load.tacit_config(cfg, port, admin, f"{work}/{durability}", db, sink=f'durability = "{durability}"',
                              server="rate_limit_per_second = 0")
            procs.append(load.start_tacit(cfg, os.path.join(work, f"{durability}.log")))
            load.wait_http(f"http://127.0.0.1:{admin}/readyz")
            servers.append((name, port))
        procs.append(load.start_nginx(work, NGINX_PORT))
        time.sleep(1)
        for _, port in servers:  # warm-up
            pace(port, 2000, requests)
        rows = []
        for rate in RATES:
            step = {"offered": rate}
            for name, port in servers:
                r = pace(port, rate, requests)
                step[name] = r
                load.log(f"offered {rate:6}/s {name:14}: {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
                         f"p99 {r['p99_us'] / 1000:6.2f} ms  non-2xx {r['non2xx']}  errors {r['errors']}")
                time.sleep(1)
            rows.append(step)
    finally:
        for p in procs:
            p.send_signal(2 if p is not procs[-1] else 3)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()

    def completes(r, offered):
        return r["non2xx"] == 0 and r["errors"] == 0 and r["rps"] >= 0.97 * offered

    def sustains(name, s):
        ok = completes(s[name], s["offered"])
        if name != "nginx":
            ok = ok and s[name]["p99_us"] <= 1.5 * s["nginx"]["p99_us"]
        return ok

    best = {name: max((s["offered"] for s in rows if sustains(name, s)), default=0) for name, _ in servers}
    # The stricter reading: the highest step with every step below it sustained too.
    floor = {}
    for name, _ in servers:
        floor[name] = 0
        for s in rows:
            if not sustains(name, s):
                break
            floor[name] = s["offered"]
    lines = [
        f"# Sustained rate: tacit and nginx under constant-rate load ({date.today().isoformat()})",
        "",
        f"`make bench-sustained` on this machine ({os.cpu_count()} cores shared by the generator, both tacits, nginx "
        f"and ClickHouse): `benches/pace.rs`, open loop, {CONNS} connections on fixed schedules, latency from when "
        f"each request was due; {SECONDS} s per step and server; `make bench-load`'s hits.",
        "",
        "| offered req/s | server | req/s | p50 ms | p99 ms | p99.9 ms | non-2xx | errors | sustained |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        for name, _ in servers:
            r = s[name]
            lines.append(f"| {s['offered']} | {name} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} | "
                         f"{r['p99_us'] / 1000:.2f} | {r['p999_us'] / 1000:.2f} | {r['non2xx']} | {r['errors']} | "
                         f"{'yes' if sustains(name, s) else 'no'} |")
    n_best = max(best["nginx"], 1)
    lines += ["", f"- nginx sustains up to {best['nginx']} req/s (no error, ≥ 97% of the offered rate)."]
    for name, _ in servers[1:]:
        lines.append(f"- {name} sustains up to {best[name]} req/s (also p99 ≤ 1.5× nginx's): "
                     f"**ratio {best[name] / n_best:.2f}** (target ≥ 0.8); every step up to {floor[name]} req/s: "
                     f"ratio {floor[name] / n_best:.2f}.")
    lines.append("")
    text = "\n".join(lines)
    load.log("\n" + text)
    with open(os.path.join(ROOT, f"benches/results/{date.today().isoformat()}-sustained.md"), "w") as f:
        f.write(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
