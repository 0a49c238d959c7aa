//! The HTTP/1.1 accept loop shared by the beacon and admin listeners, with
//! graceful shutdown: stop accepting, let in-flight requests finish (up to a
//! grace period), then return.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use super::resp::Resp;
use crate::model::backoff::{Backoff, Retry};

/// Connections beyond the cap are answered this and closed.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\ntoo many connections\r\n";

/// Decrements the open-connection count when its connection ends.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What one listener allows each connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; one more gets a short `503` and is closed.
    pub max_connections: usize,
    /// A connection with no request in progress (idle between keep-alive
    /// requests, or still sending its request line and headers) is closed
    /// after this long.
    pub idle_timeout: Duration,
    /// In-flight requests may take this long at shutdown.
    pub grace: Duration,
}

/// Serve `listener` until `shutdown` within `limits`.
pub async fn serve<F, Fut>(
    name: &'static str,
    listener: TcpListener,
    handler: F,
    mut shutdown: watch::Receiver<bool>,
    limits: Limits,
) where
    F: Fn(SocketAddr, Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper starts this timer whenever the connection waits for a
        // request head, so it is the idle keep-alive timeout as well.
        .header_read_timeout(Some(limits.idle_timeout))
        .keep_alive(true);
    let mut accept_errors: u64 = 0;
    // Accept fails when the process is out of descriptors: wait for some to
    // close, longer while it keeps failing.
    let mut accept_retry = Retry::new(
        Backoff::new(Duration::from_millis(20), Duration::from_secs(1)),
        StdRng::from_os_rng(),
    );
    let open = Arc::new(AtomicUsize::new(0));
    let mut refused: u64 = 0;
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (stream, peer) = match r {
                    Ok(x) => {
                        accept_retry.reset();
                        x
                    }
                    Err(e) => {
                        accept_errors += 1;
                        if accept_errors.is_power_of_two() {
                            tracing::warn!(listener = name, error = %e, count = accept_errors, "accept failed");
                        }
                        tokio::time::sleep(accept_retry.next_delay()).await;
                        continue;
                    }
                };
                if open.load(Ordering::Relaxed) >= limits.max_connections {
                    refused += 1;
                    if refused.is_power_of_two() {
                        tracing::warn!(listener = name, count = refused, "connection cap reached; refusing");
                    }
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        let mut s = stream;
                        let _ = tokio::time::timeout(Duration::from_secs(1), s.write_all(FULL)).await;
                    });
                    continue;
                }
                open.fetch_add(1, Ordering::Relaxed);
                let guard = Open(open.clone());
                let _ = stream.set_nodelay(true);
                let h = handler.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let h = h.clone();
                    async move { Ok::<_, Infallible>(h(peer, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                let fut = graceful.watch(conn);
                tokio::spawn(async move {
                    let _guard = guard;
                    let _ = fut.await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.grace) => {
            tracing::warn!(listener = name, "grace period over; closing remaining connections");
        }
    }
}
