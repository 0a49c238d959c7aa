//! A real SIGKILL under load, repeated at random points: every hit that was
//! answered 2xx lands exactly once after restarts on the same data dir.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use crate::support::Rng;

const KILLS: usize = 6;
const CLIENTS: usize = 16;

/// Send hits with unique paths until `stop`; return the paths answered 202.
async fn load(addr: std::net::SocketAddr, round: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (stop, acked) = (stop.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let path = format!("/kill/{round}/{c}/{i}");
                i += 1;
                let body = format!(
                    r#"{{"n":"pageview","u":"https://example.com{path}","d":"example.com"}}"#
                );
                let sent = tokio::time::timeout(
                    Duration::from_secs(5),
                    try_http(
                        hyper::Method::POST,
                        &format!("http://{addr}/api/event"),
                        &[("user-agent", BROWSER_UA), ("content-type", "text/plain")],
                        body.into_bytes(),
                    ),
                )
                .await;
                match sent {
                    Ok(Ok((202, _, _))) => acked.lock().unwrap().push(path),
                    // Killed mid-request: the connection fails; not acknowledged.
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let v = acked.lock().unwrap().clone();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_hit() {
    sigkill_rounds("sigkill", "wal", KILLS).await;
}

/// `durability = "process"` answers before the sync: a killed process
/// still loses nothing it answered (the kernel holds the written rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_process_durability_loses_no_acknowledged_hit() {
    sigkill_rounds("sigkill_process", "process", 4).await;
}

async fn sigkill_rounds(name: &str, durability: &str, kills: usize) {
    let db = TestDb::new(name);
    let cfg_path = db.dir.join("tacit.toml");
    // A fixed port, so clients reconnect to the restarted process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:0\"\npartner_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nrate_limit_per_second = 0\n\
             [clickhouse]\nurl = {:?}\ndatabase = {:?}\n[sink]\nflush_interval_ms = 200\nbatch_rows = 2000\ndurability = {durability:?}\n\
             [log]\nformat = \"json\"\n[[sites]]\ndomain = \"example.com\"\n",
            db.dir.to_string_lossy(),
            db.url,
            db.name
        ),
    )
    .unwrap();
    let mut rng = Rng(0x5eed_cafe ^ std::process::id() as u64);
    let mut acked: Vec<String> = Vec::new();
    for round in 0..kills {
        let (mut child, addr, _logs) = spawn_tacit(&cfg_path);
        let stop = Arc::new(AtomicBool::new(false));
        let gen = tokio::spawn(load(addr, round, stop.clone()));
        // A random point: early (replaying the last round's log), or late.
        tokio::time::sleep(Duration::from_millis(200 + rng.below(1300))).await;
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        stop.store(true, Ordering::SeqCst);
        let got = gen.await.unwrap();
        assert!(!got.is_empty(), "round {round}: some hits were answered");
        acked.extend(got);
    }
    // A last, clean run delivers what the log still holds.
    let (child, _addr, _logs) = spawn_tacit(&cfg_path);
    let want: HashSet<&String> = acked.iter().collect();
    assert_eq!(want.len(), acked.len());
    wait_until(
        &format!("all {} acknowledged hits to land", acked.len()),
        60,
        async || db.count("events").await >= acked.len() as u64,
    )
    .await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    assert!(child.wait().unwrap().success());
    let stored: Vec<String> = db
        .client()
        .query("SELECT pathname FROM events")
        .fetch_all()
        .await
        .unwrap();
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "no hit stored twice");
    let missing: Vec<&&String> = want.iter().filter(|p| !distinct.contains(**p)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged hits lost, e.g. {:?}",
        missing.len(),
        want.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    eprintln!(
        "sigkill ({durability}): {kills} kills, {} hits acknowledged, {} stored (the rest were logged but never answered)",
        want.len(),
        stored.len()
    );
}
