//! Test harness pieces beyond the database and HTTP helpers of `common`:
//! a ClickHouse proxy that fails on demand, the `tacit` binary as a child
//! process, and the headless-browser scripts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

// ------------------------------------------------------------------ proxy

/// A TCP proxy in front of ClickHouse that can fail on demand: refuse
/// service, hang (accept and never answer), or let an `events` insert
/// through and then lose the reply.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    lose_replies: Arc<AtomicU64>,
    /// Replies lost so far (inserts that committed unknown to the writer).
    pub lost: Arc<AtomicU64>,
    generation: watch::Sender<u64>,
}

/// The writer's insert into `events` (the query is in the URL).
fn is_events_insert(chunk: &[u8]) -> bool {
    let has = |pat: &[u8]| chunk.windows(pat.len()).any(|w| w == pat);
    has(b"INSERT%20INTO%20events%20") || has(b"INSERT+INTO+events+") || has(b"INSERT INTO events ")
}

impl Proxy {
    pub async fn start(target: &str) -> Self {
        let target: SocketAddr = {
            let u = url::Url::parse(target).unwrap();
            let host = u.host_str().unwrap().to_string();
            let port = u.port_or_known_default().unwrap();
            let found = tokio::net::lookup_host((host.as_str(), port))
                .await
                .unwrap()
                .next()
                .unwrap();
            found
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let hang = Arc::new(AtomicBool::new(false));
        let lose_replies = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let (generation, gen_rx) = watch::channel(0u64);
        let (up2, hang2, lose2, lost2) =
            (up.clone(), hang.clone(), lose_replies.clone(), lost.clone());
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut gen = gen_rx.clone();
                gen.borrow_and_update();
                // `down` sets the flag before it bumps the generation: seen
                // here after the bump, it is already down.
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                if hang2.load(Ordering::SeqCst) {
                    // Hold the connection open and say nothing.
                    tokio::spawn(async move {
                        let _held = inbound;
                        let _ = gen.changed().await;
                    });
                    continue;
                }
                let (lose, lost) = (lose2.clone(), lost2.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = pump(inbound, outbound, lose, lost) => {}
                        _ = gen.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            up,
            hang,
            lose_replies,
            lost,
            generation,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut every open connection and refuse new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
        self.hang.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Cut open connections; accept new ones and never answer them.
    pub fn hang(&self) {
        self.hang.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forward the next `n` inserts into `events`, then drop each
    /// connection when ClickHouse answers, before the reply reaches tacit.
    pub fn lose_replies(&self, n: u64) {
        self.lose_replies.store(n, Ordering::SeqCst);
    }
}

/// Copy both ways; when armed by an `events` insert, swallow the reply.
async fn pump(mut a: TcpStream, mut b: TcpStream, lose: Arc<AtomicU64>, lost: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut ba, mut bb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    let mut armed = false;
    loop {
        tokio::select! {
            r = a.read(&mut ba) => {
                let Ok(n) = r else { return };
                if n == 0 { return }
                if !armed && is_events_insert(&ba[..n]) {
                    armed = lose
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                        .is_ok();
                }
                if b.write_all(&ba[..n]).await.is_err() { return }
            }
            r = b.read(&mut bb) => {
                let Ok(n) = r else { return };
                if n == 0 { return }
                if armed {
                    // ClickHouse answered: the insert is done. Lose it.
                    lost.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                if a.write_all(&bb[..n]).await.is_err() { return }
            }
        }
    }
}

// ------------------------------------------------------------ the binary

/// A child process killed when dropped (a failing test leaves none behind).
pub struct Child(pub std::process::Child);

impl std::ops::Deref for Child {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Child {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The `tacit` binary serving with the config file at `cfg`, JSON logs on
/// stderr: the child, its beacon address, and its log lines.
pub fn spawn_tacit(
    cfg: &std::path::Path,
) -> (Child, SocketAddr, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = Child(
        crate::support::tacit_command()
            .args(["--config", cfg.to_str().unwrap(), "serve", "--migrate"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("tacit logs its address");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if let Some(a) = v["beacon_addr"].as_str() {
                break a.parse().unwrap();
            }
        }
    };
    (child, addr, rx)
}

// -------------------------------------------------------------- browser

/// A free port for a test page (its origin must be configured before
/// tacit starts, so the page server binds it later). Taken below the
/// kernel's ephemeral range (32768 and up), where every port-0 listener
/// and outgoing connection of the other tests lands, so none of them can
/// take it in between.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((seed + n * 104_729) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Run `tests/browser/<script>` with `args`; its last stdout line, parsed.
pub async fn browser(script: &'static str, args: Vec<String>) -> (serde_json::Value, String) {
    let path = format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(path)
            .args(args)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs (scripts/setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    (report, stdout)
}
