//! Wiring and lifecycle. `start` checks the schema, loads the salts, opens
//! the write-ahead log (recovering what an earlier run left), spawns the
//! writer, binds both listeners; `Running::shutdown` stops in order: stop
//! accepting and finish in-flight requests (each waits for its row to be
//! durable), then sync and close the log and let the writer deliver what
//! ClickHouse takes, then stop background jobs and the admin listener.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::beacon::{self, BeaconState};
use crate::config::Config;
use crate::enrich::{EnrichError, Enrichers};
use crate::http::server;
use crate::ingest::Pipeline;
use crate::model::backoff::{Backoff, Retry};
use crate::model::clock::{day_of, SharedClock};
use crate::privacy::Salts;
use crate::sink::{self, SinkTask};
use crate::store::{self, migrate};
use crate::telemetry::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("{0}")]
    Migrate(#[from] migrate::MigrateError),
    #[error("the database has {} pending migration(s) ({}); run `tacit migrate` or start with `tacit serve --migrate`", .0.len(), .0.join(", "))]
    Pending(Vec<String>),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("clickhouse: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Salt(#[from] crate::privacy::SaltError),
    #[error("{0}")]
    Enrich(#[from] EnrichError),
    #[error("{0}")]
    Log(#[from] sink::OpenError),
    #[error("{0}")]
    Budget(#[from] crate::export::budget::CheckError),
}

/// Connections the admin and partner listeners each serve at once.
const ADMIN_CONNECTIONS: usize = 256;

pub struct Options {
    /// Apply pending migrations instead of refusing to start.
    pub migrate: bool,
    /// How often salts are re-read (and tomorrow's made).
    pub salt_refresh: Duration,
    /// How often the days due are rolled up, their visits recomputed from
    /// their events (None: not in this process). Open days' visits are
    /// built live by the collectors.
    pub sessionize_every: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            migrate: false,
            salt_refresh: Duration::from_secs(60),
            sessionize_every: Some(Duration::from_secs(300)),
        }
    }
}

pub struct Running {
    pub beacon_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The partner export API's listener.
    pub partner_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub salts: Arc<Salts>,
    shutdown: watch::Sender<bool>,
    beacon_task: JoinHandle<()>,
    admin_task: JoinHandle<()>,
    admin_stop: watch::Sender<bool>,
    admin_state: Arc<AdminState>,
    sink_task: SinkTask,
    salt_task: JoinHandle<()>,
    session_task: Option<JoinHandle<()>>,
    session_stop: watch::Sender<bool>,
    fence_member: store::fence::Member,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { addr, source })
}

/// A listening socket on `addr` with SO_REUSEPORT, so several can share it.
fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.set_reuseport(true)?;
    sock.bind(addr)?;
    let l = sock.listen(4096)?;
    l.into_std()
}

/// Hits served by `n` threads, each with its own single-threaded runtime
/// and its own SO_REUSEPORT listener: the kernel spreads connections, and
/// a connection never moves between threads (the model nginx uses). The
/// returned task ends when every thread has drained.
fn spawn_io_threads(
    n: usize,
    first: TcpListener,
    state: Arc<BeaconState>,
    shutdown: watch::Receiver<bool>,
    limits: server::Limits,
) -> Result<JoinHandle<()>, AppError> {
    let addr = first.local_addr().map_err(|source| AppError::Bind {
        addr: "0.0.0.0:0".parse().expect("addr"),
        source,
    })?;
    // The others join the first on the port it got (port 0 resolves once).
    let mut listeners = Vec::with_capacity(n);
    listeners.push(
        first
            .into_std()
            .map_err(|source| AppError::Bind { addr, source })?,
    );
    for _ in 1..n {
        listeners.push(bind_reuseport(addr).map_err(|source| AppError::Bind { addr, source })?);
    }
    let mut done = Vec::with_capacity(n);
    for (i, l) in listeners.into_iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        done.push(rx);
        let state = state.clone();
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name(format!("tacit-io-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start an I/O thread");
                        return;
                    }
                };
                rt.block_on(async move {
                    state.sink.relay_here();
                    let _ = l.set_nonblocking(true);
                    match TcpListener::from_std(l) {
                        Ok(listener) => {
                            server::serve(
                                "beacon",
                                listener,
                                move |peer, req| beacon::handle(state.clone(), peer, req),
                                shutdown,
                                limits,
                            )
                            .await
                        }
                        Err(e) => tracing::error!(error = %e, "cannot register a listener"),
                    }
                });
                let _ = tx.send(());
            })
            .map_err(|source| AppError::Bind { addr, source })?;
    }
    Ok(tokio::spawn(async move {
        for rx in done {
            let _ = rx.await;
        }
    }))
}

/// Start tacit: the engine first (schema, retention, budget accounts,
/// funnels), then the salts, the purge fences, the write-ahead log and its
/// writer, the listeners, and the background jobs. Each step is a function
/// below, in this order.
pub async fn start(cfg: &Config, clock: SharedClock, opts: Options) -> Result<Running, AppError> {
    let db = prepare_store(cfg, &clock, opts.migrate).await?;
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich)?);
    let mut metrics = Metrics::default();
    if let Some(b) = &enrichers.bots {
        metrics.bot_pattern_errors = b.error_counter();
    }
    let metrics = Arc::new(metrics);
    let salts = Arc::new(Salts::new());
    let now = clock.now_ms();
    salts.sync(&db, day_of(now), now).await?;

    // Purge fences first: every writer below holds them.
    let (fences, fence_member) = start_fences(cfg, &db, &clock).await?;
    let (sink, sink_task) = sink::spawn(
        db.client().clone(),
        cfg.sink.clone(),
        &cfg.data_dir.join("wal"),
        metrics.clone(),
        clock.clone(),
        fences.clone(),
        sink::VisitIds::Stamped,
    )?;

    let beacon_listener = bind_reuseport(cfg.listen)
        .and_then(|l| {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        })
        .map_err(|source| AppError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let admin_listener = bind(cfg.admin_listen).await?;
    let partner_listener = bind(cfg.partner_listen).await?;
    let partner_addr = partner_listener.local_addr().expect("bound");
    let beacon_addr = beacon_listener.local_addr().expect("bound");
    let admin_addr = admin_listener.local_addr().expect("bound");

    let (shutdown, shutdown_rx) = watch::channel(false);
    // How far this collector's log is delivered, for settled exports.
    tokio::spawn(sink::watermark::run(
        db.client().clone(),
        cfg.data_dir.join("wal"),
        clock.clone(),
        shutdown_rx.clone(),
    ));
    let state = Arc::new(BeaconState {
        pipeline: Pipeline::new(cfg, enrichers.clone(), salts.clone(), clock.clone()),
        sink,
        metrics: metrics.clone(),
        max_body: cfg.max_body_bytes,
        body_timeout: cfg.body_timeout,
    });
    let io_threads = match cfg.io_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let beacon_task = spawn_io_threads(
        io_threads,
        beacon_listener,
        state,
        shutdown_rx.clone(),
        server::Limits {
            max_connections: cfg.max_connections,
            idle_timeout: cfg.idle_timeout,
            grace: cfg.shutdown_grace,
        },
    )?;

    let admin_state = Arc::new(AdminState {
        clickhouse: cfg.clickhouse.clone(),
        store: db.clone(),
        metrics: metrics.clone(),
        shutting_down: false.into(),
        writer: sink_task.health.clone(),
        clock: clock.clone(),
        stall_timeout: cfg.sink.stall_timeout,
        wal_max_bytes: cfg.sink.wal_max_bytes,
        query: Arc::new(query_api(cfg, db.clone(), clock.clone())),
        dashboard: Arc::new(admin::dashboard::Dashboard::new(cfg, clock.clone())),
        import: Arc::new(admin::import::ImportApi::new(
            cfg,
            db.clone(),
            enrichers,
            clock.clone(),
        )),
    });
    let exports = Arc::new(
        crate::admin::partner::ExportApi::new(
            cfg.exports.clone(),
            db.clone(),
            clock.clone(),
            cfg.policy.event_ttl_days as u64,
        )
        .with_fences(fences.clone()),
    );
    let (admin_stop, admin_task) = spawn_admin(
        cfg,
        admin_state.clone(),
        exports,
        admin_listener,
        partner_listener,
    );

    let (session_stop, session_rx) = watch::channel(false);
    let session_task = opts.sessionize_every.map(|every| {
        tokio::spawn(crate::analytics::rollup::run(
            db.clone(),
            clock.clone(),
            fences.clone(),
            session_rx,
            crate::analytics::rollup::Schedule {
                event_ttl_days: cfg.policy.event_ttl_days,
                delay: Duration::from_secs(cfg.policy.rollup_delay_minutes as u64 * 60),
            },
            every,
        ))
    });
    let salt_task = spawn_salt_refresher(salts.clone(), db, clock, opts.salt_refresh);

    tracing::info!(%beacon_addr, %admin_addr, %partner_addr, "tacit listening");
    Ok(Running {
        beacon_addr,
        admin_addr,
        partner_addr,
        metrics,
        salts,
        shutdown,
        beacon_task,
        admin_task,
        admin_stop,
        admin_state,
        sink_task,
        salt_task,
        session_task,
        session_stop,
        fence_member,
    })
}

/// The engine, ready: the schema current (migrated with `migrate`, or
/// refused), the tables' TTLs following the policy, no configuration that
/// would reset a privacy-budget account, the configured funnels mirrored.
async fn prepare_store(
    cfg: &Config,
    clock: &SharedClock,
    migrate: bool,
) -> Result<store::Store, AppError> {
    let pending = migrate::pending(&cfg.clickhouse).await?;
    if !pending.is_empty() {
        if !migrate {
            return Err(AppError::Pending(
                pending.iter().map(|m| m.name.to_string()).collect(),
            ));
        }
        let applied = migrate::migrate(&cfg.clickhouse, clock.now_ms()).await?;
        tracing::info!(count = applied.len(), "applied migrations");
    }
    // One handle to the engine for the whole process.
    let db = store::Store::new(&cfg.clickhouse);
    let changed = store::apply_retention(&db, &cfg.policy).await?;
    if !changed.is_empty() {
        tracing::info!(tables = ?changed, "retention changed to follow the policy");
    }
    crate::export::budget::check_accounts(
        &db,
        &cfg.exports,
        clock.now_ms(),
        cfg.policy.event_ttl_days as u64,
    )
    .await?;
    let funnels: Vec<crate::analytics::rollup::FunnelDef> = cfg
        .funnels
        .iter()
        .flat_map(|f| {
            f.sites.iter().map(|s| crate::analytics::rollup::FunnelDef {
                site: s.clone(),
                name: f.name.clone(),
                steps: f.steps.clone(),
            })
        })
        .collect();
    if crate::analytics::rollup::sync_funnels(&db, &funnels).await? {
        tracing::info!(count = funnels.len(), "funnel definitions updated");
    }
    Ok(db)
}

/// Join the purge fences as a member. Applying a new fence also removes
/// the site's rows from this collector's quarantine.
async fn start_fences(
    cfg: &Config,
    db: &store::Store,
    clock: &SharedClock,
) -> Result<(store::fence::Fences, store::fence::Member), AppError> {
    let quarantine_dir = cfg.data_dir.join("wal");
    let quarantine_clock = clock.clone();
    let on_apply: store::fence::OnApply = Arc::new(move |f: &store::fence::Fence| {
        let today = day_of(quarantine_clock.now_ms());
        match sink::quarantine::purge_site(&quarantine_dir, &f.site, f.cutoff_ms, today) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                "purge fence: quarantined rows of the site removed"
            ),
            Err(e) => tracing::warn!(error = %e, "purge fence: cannot clean the quarantine"),
        }
    });
    let started = store::fence::start(
        db.client().clone(),
        db.database(),
        clock.clone(),
        Some(on_apply),
    )
    .await
    .map_err(store::StoreError)?;
    Ok(started)
}

/// The query API's state: the store, the clock, the sites and their keys,
/// and what the policy keeps.
fn query_api(
    cfg: &Config,
    store: crate::store::Store,
    clock: crate::model::clock::SharedClock,
) -> admin::query::QueryApi {
    use crate::config::LocationRule;
    admin::query::QueryApi::new(
        store,
        clock,
        cfg.sites
            .iter()
            .map(|s| (s.domain.clone(), s.allowed_properties.clone()))
            .collect(),
        cfg.api_keys.clone(),
        admin::query::Policy {
            event_ttl_days: cfg.policy.event_ttl_days,
            aggregate_ttl_months: cfg.policy.aggregate_ttl_months,
            keeps_region: matches!(
                cfg.policy.location,
                LocationRule::Region | LocationRule::City
            ),
            keeps_city: matches!(cfg.policy.location, LocationRule::City),
        },
    )
    .with_umami_ids(
        cfg.sites
            .iter()
            .filter_map(|s| s.umami_website_id.clone().map(|u| (u, s.domain.clone())))
            .collect(),
    )
}

/// The admin and partner listeners, stopped together by the returned
/// sender. The admin listener outlives the beacon one: `Running::shutdown`
/// stops it last, so `/readyz` answers "shutting down" while hits drain.
fn spawn_admin(
    cfg: &Config,
    admin_state: Arc<AdminState>,
    exports: Arc<crate::admin::partner::ExportApi>,
    admin_listener: TcpListener,
    partner_listener: TcpListener,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let limits = server::Limits {
        max_connections: ADMIN_CONNECTIONS,
        idle_timeout: cfg.idle_timeout,
        grace: Duration::from_secs(2),
    };
    let (admin_stop, admin_rx) = watch::channel(false);
    let partner_state = admin_state.clone();
    let admin_inner = tokio::spawn(server::serve(
        "admin",
        admin_listener,
        move |_peer, req| admin::handle(admin_state.clone(), req),
        admin_rx,
        limits,
    ));
    let partner_inner = tokio::spawn(server::serve(
        "partner",
        partner_listener,
        move |_peer, req| admin::partner(exports.clone(), partner_state.clone(), req),
        admin_stop.subscribe(),
        limits,
    ));
    let task = tokio::spawn(async move {
        let _ = admin_inner.await;
        let _ = partner_inner.await;
    });
    (admin_stop, task)
}

/// Every `every`, re-read the salts (and make tomorrow's); a failure keeps
/// the current ones and is logged.
fn spawn_salt_refresher(
    salts: Arc<Salts>,
    db: store::Store,
    clock: SharedClock,
    every: Duration,
) -> JoinHandle<()> {
    // A failed refresh is tried again sooner (backing off from 1 s), never
    // later than the next regular refresh.
    let mut retry = Retry::new(
        Backoff::new(Duration::from_secs(1).min(every), every),
        StdRng::from_os_rng(),
    );
    tokio::spawn(async move {
        let mut wait = every;
        loop {
            tokio::time::sleep(wait).await;
            let now = clock.now_ms();
            wait = match salts.sync(&db, day_of(now), now).await {
                Ok(()) => {
                    retry.reset();
                    every
                }
                Err(e) => {
                    tracing::warn!(error = %e, "salt refresh failed; keeping current salts");
                    retry.next_delay()
                }
            };
        }
    })
}

impl Running {
    /// Stop in order; returns when every accepted hit is in ClickHouse or
    /// synced in the log for the next start.
    pub async fn shutdown(self) {
        tracing::info!("shutting down: no new connections");
        self.admin_state
            .shutting_down
            .store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        let _ = self.beacon_task.await;
        tracing::info!("listeners closed; flushing");
        self.sink_task.shutdown().await;
        self.salt_task.abort();
        // Visits and rollups stop between statements: a statement already
        // sent finishes (aborting would leave it running in the engine).
        let _ = self.session_stop.send(true);
        if let Some(t) = self.session_task {
            let _ = t.await;
        }
        let _ = self.admin_stop.send(true);
        let _ = self.admin_task.await;
        // Last: every writer holding the fences (the log's writer, visits,
        // rollups, partner releases) has stopped.
        self.fence_member.leave().await;
        tracing::info!("shutdown complete");
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}
