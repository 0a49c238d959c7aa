#!/usr/bin/env python3
"""Normal hits while another client sends 300 KB user agents
(`make bench-hostile`).

One tacit (release build, write-ahead log on, trusted proxy 127.0.0.1 so
X-Forwarded-For varies the client network and the hostile hits pass the
per-network rate limit and reach parsing). wrk drives the same varied hits
as `make bench-load`; in each round three phases of HOSTILE_SECONDS run in
turn:

- `alone`: wrk only (the baseline);
- `short`: wrk plus a paced sender of HOSTILE_RATE hits/s with ordinary
  agents (what the sender itself costs on this 2-core machine);
- `hostile`: wrk plus the same sender with 300 KB agents.

The target (issue 11): wrk's throughput in `hostile` stays within 20% of
`alone`. The 300 KB hits must be answered like any other (2xx) and their
agents cut to 1 KiB before parsing. All traffic goes to 127.0.0.1 and is
bounded in time. Results: benches/results/<date>-hostile-ua.md.
"""

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load as L  # noqa: E402

SECONDS = int(os.environ.get("HOSTILE_SECONDS", "10"))
ROUNDS = int(os.environ.get("HOSTILE_ROUNDS", "3"))
RATE = int(os.environ.get("HOSTILE_RATE", "500"))
UA_BYTES = int(os.environ.get("HOSTILE_UA_BYTES", str(300 * 1024)))
CONNS = int(os.environ.get("HOSTILE_CONNS", "32"))
PORT, ADMIN, DB = 18180, 18181, "tacit_hostile"


class Sender(threading.Thread):
    """RATE hits per second over 4 keep-alive connections, each a beacon
    with its own client address and an agent of `ua_bytes`."""

    def __init__(self, ua_bytes):
        super().__init__(daemon=True)
        self.ua_bytes, self.stop, self.sent, self.ok, self.other = ua_bytes, False, 0, 0, {}
        self.sent_bytes = 0

    def request(self, rnd):
        base = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 "
        ua = base + "".join(rnd.choice("abcdefghij") for _ in range(32))
        ua += "x" * max(0, self.ua_bytes - len(ua))
        body = '{"n":"pageview","u":"https://example.com/hostile","d":"example.com"}'
        ip = f"{rnd.randint(11, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.7"
        return (f"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {ua}\r\n"
                f"X-Forwarded-For: {ip}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}").encode()

    def run(self):
        rnd = random.Random(11)
        socks = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(4)]
        start = time.monotonic()
        i = 0
        while not self.stop:
            due = start + i / RATE
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            s = socks[i % len(socks)]
            req = self.request(rnd)
            s.sendall(req)
            self.sent += 1
            self.sent_bytes += len(req)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("tacit closed a hostile connection")
                head += chunk
            status = head.split(b" ", 2)[1].decode()
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            rest = head.split(b"\r\n\r\n", 1)[1]
            while len(rest) < length:
                rest += s.recv(4096)
            if status.startswith("2"):
                self.ok += 1
            else:
                self.other[status] = self.other.get(status, 0) + 1
            i += 1
        self.elapsed = time.monotonic() - start
        for s in socks:
            s.close()


def phase(script, ua_bytes):
    sender = Sender(ua_bytes) if ua_bytes else None
    if sender:
        sender.start()
        time.sleep(0.3)
    r = L.wrk(PORT, script, SECONDS, CONNS)
    if sender:
        sender.stop = True
        sender.join(timeout=30)
        r["sender_rate"] = sender.sent / sender.elapsed
        r["sender_mbps"] = sender.sent_bytes / sender.elapsed / 1e6
        r["sender_ok"], r["sender_other"] = sender.ok, sender.other
    return r


def main():
    os.chdir(L.ROOT)
    work = tempfile.mkdtemp(prefix="tacit-hostile-")
    script = os.path.join(work, "hits.lua")
    L.lua_script(script)
    L.ch(f"DROP DATABASE IF EXISTS {DB} SYNC")
    cfg = os.path.join(work, "tacit.toml")
    L.tacit_config(cfg, PORT, ADMIN, f"{work}/data", DB)
    proc = L.start_tacit(cfg, os.path.join(work, "tacit.log"))
    rows = {"alone": [], "short": [], "hostile": []}
    try:
        L.wait_http(f"http://127.0.0.1:{ADMIN}/readyz")
        L.wrk(PORT, script, 3, CONNS)
        for rnd in range(ROUNDS):
            for name, ua in (("alone", 0), ("short", 120), ("hostile", UA_BYTES)):
                r = phase(script, ua)
                rows[name].append(r)
                extra = ""
                if "sender_rate" in r:
                    extra = (f", sender {r['sender_rate']:.0f}/s ({r['sender_mbps']:.0f} MB/s), "
                             f"{r['sender_ok']} 2xx, other {r['sender_other']}")
                L.log(f"round {rnd + 1} {name}: wrk {r['rps']:.0f} req/s, p99 {r['p99_us'] / 1000:.1f} ms, "
                      f"non-2xx {r['non2xx']}{extra}")
        cpu = L.proc_cpu(proc.pid)
        mem = L.proc_mem(proc.pid)
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()

    def med(name, key):
        return statistics.median(r[key] for r in rows[name])

    alone, short, hostile = med("alone", "rps"), med("short", "rps"), med("hostile", "rps")
    ratio = hostile / alone
    lines = [
        f"# Normal hits beside 300 KB user agents ({date.today().isoformat()})",
        "",
        f"`make bench-hostile` on this machine ({os.cpu_count()} cores shared by wrk, the sender, tacit and "
        f"ClickHouse). tacit release build, write-ahead log on, `io_threads = {L.IO_THREADS}`; wrk "
        f"{L.THREADS} threads, {CONNS} connections, the varied hits of `make bench-load`; a paced sender of "
        f"{RATE} beacons/s over 4 keep-alive connections, each from its own client network; {ROUNDS} rounds "
        f"of three {SECONDS} s phases in turn. Medians:",
        "",
        "| phase | wrk req/s | wrk p99 ms | sender hits/s | sender MB/s | sender answers |",
        "|---|---|---|---|---|---|",
    ]
    for name in rows:
        rs = rows[name]
        sender = "—"
        if "sender_rate" in rs[0]:
            ok = sum(r["sender_ok"] for r in rs)
            other = {}
            for r in rs:
                for k, v in r["sender_other"].items():
                    other[k] = other.get(k, 0) + v
            sender = f"{ok} 2xx" + (f", {other}" if other else "")
        lines.append(
            f"| {name} | {med(name, 'rps'):.0f} | {med(name, 'p99_us') / 1000:.1f} | "
            f"{statistics.median(r['sender_rate'] for r in rs) if 'sender_rate' in rs[0] else 0:.0f} | "
            f"{statistics.median(r['sender_mbps'] for r in rs) if 'sender_mbps' in rs[0] else 0:.0f} | {sender} |")
    lines += [
        "",
        f"- hostile / alone: **{ratio:.2f}** (target ≥ 0.80: {'met' if ratio >= 0.8 else 'missed'}); "
        f"hostile / short: {hostile / short:.2f} (the agent's length alone, with the sender's own cost on "
        "this machine taken out).",
        f"- tacit CPU over the whole run: {cpu:.1f} s; peak RSS {mem.get('VmHWM', 0):.0f} MiB.",
        "",
    ]
    text = "\n".join(lines)
    L.log(text)
    os.makedirs(os.path.join(L.ROOT, "benches/results"), exist_ok=True)
    with open(os.path.join(L.ROOT, f"benches/results/{date.today().isoformat()}-hostile-ua.md"), "w") as f:
        f.write(text)
    sys.exit(0 if ratio >= 0.8 else 1)


if __name__ == "__main__":
    main()
