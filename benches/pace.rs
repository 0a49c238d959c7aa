//! An open-loop, constant-rate HTTP/1.1 load generator for
//! `make bench-sustained` (the role of wrk2 or `oha -q`, neither installed
//! here): each of `conns` keep-alive connections sends at its share of
//! `rate`, on a fixed schedule, for `seconds`. A request's latency counts
//! from when it was due, not when it was sent, whenever it was late
//! because its connection was still waiting for the previous answer (the
//! server's fault: no coordinated omission). When the connection was idle
//! and only the generator's timer woke late, it counts from the send.
//!
//! `cargo bench --bench pace -- ADDR RATE SECONDS CONNS REQUESTS_FILE`
//! where the file holds raw requests, each behind its length as a 4-byte
//! little-endian number (written by `benches/load.py`). Prints one JSON
//! line: requests, non2xx, errors, duration_us and latency percentiles.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Default)]
struct Tally {
    lat_us: Vec<u32>,
    non2xx: u64,
    errors: u64,
    /// Requests not sent because the schedule ran past the end.
    behind: u64,
}

fn requests(path: &str) -> Vec<Vec<u8>> {
    let raw = std::fs::read(path).expect("requests file");
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= raw.len() {
        let n = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        out.push(raw[at + 4..at + 4 + n].to_vec());
        at += 4 + n;
    }
    assert!(!out.is_empty(), "no requests in {path}");
    out
}

/// Read one response; its status. Bodies are sized by Content-Length
/// (tacit and nginx answer pixels and 202s that way).
async fn response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let want = end + 4 + len;
            while buf.len() < want {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connection(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    first: Instant,
    interval: Duration,
    end: Instant,
    seed: usize,
) -> Tally {
    let mut t = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    let mut done_at = first;
    let mut i: u32 = 0;
    loop {
        let due = first + interval * i;
        i += 1;
        if due >= end {
            break;
        }
        let busy = done_at > due;
        if !busy {
            tokio::time::sleep_until(due.into()).await;
        }
        let sent = Instant::now();
        let start = if busy { due } else { sent };
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    t.errors += 1;
                    done_at = Instant::now();
                    continue;
                }
            }
        }
        let s = stream.as_mut().unwrap();
        let req = &reqs[(seed + i as usize * 7919) % reqs.len()];
        let got = match s.write_all(req).await {
            Ok(()) => response(s, &mut buf).await,
            Err(e) => Err(e),
        };
        done_at = Instant::now();
        match got {
            Ok(status) => {
                t.lat_us
                    .push((done_at - start).as_micros().min(u32::MAX as u128) as u32);
                if !(200..300).contains(&status) {
                    t.non2xx += 1;
                }
            }
            Err(_) => {
                t.errors += 1;
                stream = None;
            }
        }
    }
    // Requests still due when the time ran out (the server fell behind).
    let mut j = i;
    while first + interval * j < end {
        t.behind += 1;
        j += 1;
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        // `cargo test --benches` runs every bench once without arguments.
        eprintln!("pace: no target given, nothing to run (make bench-sustained runs it)");
        return;
    }
    let [addr, rate, secs, conns, file] = args.as_slice() else {
        eprintln!("usage: pace ADDR RATE SECONDS CONNS REQUESTS_FILE");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR");
    let rate: f64 = rate.parse().expect("RATE");
    let secs: f64 = secs.parse().expect("SECONDS");
    let conns: usize = conns.parse().expect("CONNS");
    let reqs = Arc::new(requests(file));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let per_conn = Duration::from_secs_f64(conns as f64 / rate);
    let tallies = rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(50);
        let end = start + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for c in 0..conns {
            // Spread the connections' schedules over one interval.
            let first = start + per_conn.mul_f64(c as f64 / conns as f64);
            let reqs = reqs.clone();
            tasks.push(tokio::spawn(connection(
                addr, reqs, first, per_conn, end, c,
            )));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        (out, start.elapsed())
    });
    let (tallies, took) = tallies;
    let mut lat: Vec<u32> = tallies
        .iter()
        .flat_map(|t| t.lat_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    println!(
        "{{\"requests\": {}, \"non2xx\": {}, \"errors\": {}, \"behind\": {}, \"duration_us\": {}, \
         \"p50_us\": {}, \"p90_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}}}",
        lat.len(),
        sum(|t| t.non2xx),
        sum(|t| t.errors),
        sum(|t| t.behind),
        took.min(Duration::from_secs_f64(secs)).as_micros(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        lat.last().copied().unwrap_or(0)
    );
}
