//! The `tacit` binary: parses the command line, loads config, and maps
//! library errors to exit codes (2: usage or config, 3: pending migrations,
//! 1: anything else).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tacit::config::{Config, RawConfig};
use tacit::model::clock::{Clock, SystemClock};

/// tacit: privacy-aware web analytics collector.
///
/// Config: --config FILE, else $TACIT_CONFIG, else ./tacit.toml if present,
/// else defaults; every key can be overridden with TACIT_<SECTION>_<KEY>.
#[derive(Debug, Parser)]
#[command(name = "tacit", version, disable_help_subcommand = true)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector (refuses pending migrations unless --migrate).
    Serve {
        /// Apply pending schema migrations first.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending schema migrations (idempotent).
    Migrate,
    /// Read hits as JSON lines on stdin, print what each becomes.
    Explain,
    /// Print what is collected, kept and shared, from the config.
    Policy {
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration and exit.
    CheckConfig,
    /// Release a partner export (recorded in the disclosure ledger).
    Export {
        #[arg(long, value_name = "ID")]
        partner: String,
        /// 2026-11, 2026-W47 or 2026-11-27, per the export's period.
        #[arg(long, value_name = "P")]
        period: String,
        /// The export's name, when the partner has several.
        #[arg(long, value_name = "NAME")]
        export: Option<String>,
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// What went to which third party in year N, from the ledger.
    Disclosures {
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1970..=9999))]
        year: i32,
        #[arg(long)]
        json: bool,
    },
    /// Remove one site's data from every table (and check the log holds
    /// none); recorded in `purges` and noted in the disclosure ledger.
    Purge {
        #[arg(long)]
        site: String,
        /// Only rows before this UTC day (YYYY-MM-DD).
        #[arg(long, value_name = "DAY")]
        before: Option<String>,
        /// Count what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Purge a site that is still configured (its new hits keep arriving).
        #[arg(long)]
        force: bool,
        /// Why, for the record (the controller's request).
        #[arg(long, default_value = "the data controller asked for removal")]
        reason: String,
        /// Remove only the site's imported days (`tacit import`).
        #[arg(long)]
        imports: bool,
    },
    /// Import past traffic from server access logs (a .gz file is read as
    /// such) or a Plausible CSV export; `--explain` prints what each log
    /// line becomes instead.
    Import(ImportArgs),
    /// Roll up the closed days that are due now (what `serve` does every
    /// five minutes), or recompute one closed day (`--day`).
    Rollup {
        #[arg(long, value_name = "YYYY-MM-DD")]
        day: Option<String>,
    },
    /// The recorded purges: the evidence for the data controller.
    Purges {
        #[arg(long)]
        json: bool,
    },
    /// Print the HTML to paste into a site's pages: the tracker script
    /// (with its integrity hash) and a <noscript> pixel.
    Snippet {
        /// A configured site.
        #[arg(long)]
        site: String,
        /// tacit's public address, as the site's visitors reach it
        /// (default: http://<server.listen>).
        #[arg(long, value_name = "URL")]
        base: Option<String>,
    },
    /// Print an email campaign's open pixel and a signed click link for
    /// one target (sites[].email_key signs it).
    EmailLink {
        /// A configured site with an email_key.
        #[arg(long)]
        site: String,
        /// The campaign's name (1-64 letters, digits, '.', '_', '-').
        #[arg(long)]
        campaign: String,
        /// A variant (A/B), if any.
        #[arg(long, default_value = "")]
        variant: String,
        /// The page the link leads to.
        #[arg(long, value_name = "URL")]
        to: String,
        /// tacit's public address (default: http://<server.listen>).
        #[arg(long, value_name = "URL")]
        base: Option<String>,
    },
    /// Rows ClickHouse refused as invalid, one file per day (kept for the
    /// event TTL): list them, re-send a day's rows, or delete a day's file.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// A configured site.
    #[arg(long)]
    site: String,
    /// nginx, apache, caddy, cloudfront (access logs), goatcounter (its CSV
    /// export), umami (its website_event CSV), or plausible (its CSV files
    /// or zip, one import together).
    #[arg(long, value_name = "FORMAT")]
    from: String,
    /// The log's format when not combined: nginx `log_format` syntax
    /// (nginx), `LogFormat` syntax (apache).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Stop (importing nothing of the file) after more malformed lines.
    #[arg(long, default_value_t = 100, value_name = "N")]
    max_bad_lines: u64,
    /// Days the site already collected live: refuse, keep-live or replace.
    #[arg(long, default_value = "refuse", value_name = "RULE")]
    overlap: String,
    /// Print the rules and what each line becomes; import nothing.
    #[arg(long)]
    explain: bool,
    /// Files to import, one import each (`-` with --explain: stdin).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum QuarantineAction {
    /// Per day file: rows, rows per site, refusal reasons (no row content).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-send a day's rows (each with a deduplication token: replaying
    /// twice stores once); rows that land leave the file.
    Replay {
        #[arg(value_name = "YYYY-MM-DD")]
        day: String,
    },
    /// Delete a day's file.
    Drop {
        #[arg(value_name = "YYYY-MM-DD")]
        day: String,
    },
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let (path, required) = match (path, std::env::var_os("TACIT_CONFIG")) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (PathBuf::from(p), true),
        (None, None) => (PathBuf::from("tacit.toml"), false),
    };
    let raw = RawConfig::load(&path, required, std::env::vars())?;
    let cfg = raw.validate()?;
    Ok(cfg)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tacit: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// A mistake in the command line or the configuration (exit code 2). The
/// message is complete; it prints after `tacit: `.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// Every command, each in its own arm: a new command does not compile
/// until it is dispatched here.
fn run(cli: Cli) -> anyhow::Result<()> {
    let config = || load_config(cli.config.as_ref()).map_err(|e| Usage(format!("{e:#}")));
    match cli.command {
        Command::Version => {
            println!("tacit {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::CheckConfig => {
            config()?;
            println!("config ok");
            Ok(())
        }
        Command::Snippet { site, base } => snippet(&config()?, &site, base),
        Command::EmailLink {
            site,
            campaign,
            variant,
            to,
            base,
        } => email_link(&config()?, &site, &campaign, &variant, &to, base),
        Command::Policy { json } => policy(&config()?, json),
        Command::Explain => explain(&config()?),
        Command::Migrate => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(migrate(&cfg))
        }
        Command::Export {
            partner,
            period,
            export: name,
            out,
        } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(export(&cfg, &partner, &period, name.as_deref(), out))
        }
        Command::Disclosures { year, json } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(disclosures(&cfg, year, json))
        }
        Command::Serve { migrate } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(serve(&cfg, migrate))
        }
        Command::Purge {
            site,
            imports: true,
            ..
        } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(purge_imports(&cfg, &site))
        }
        Command::Purge {
            site,
            before,
            dry_run,
            force,
            reason,
            imports: false,
        } => {
            let cfg = config()?;
            let req = tacit::commands::purge::Request {
                site,
                before,
                reason,
                dry_run,
                force,
            };
            runtime(&cfg)?.block_on(purge(&cfg, &req))
        }
        Command::Import(args) => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(import(&cfg, args))
        }
        Command::Purges { json } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(purges(&cfg, json))
        }
        Command::Rollup { day } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(rollup(&cfg, day.as_deref()))
        }
        Command::Quarantine { action } => {
            let cfg = config()?;
            runtime(&cfg)?.block_on(quarantine(&cfg, action))
        }
    }
}

/// 2: usage or config, 3: pending migrations, 1: anything else.
fn exit_code(e: &anyhow::Error) -> u8 {
    use tacit::commands::purge::PurgeError;
    if e.downcast_ref::<Usage>().is_some() {
        return 2;
    }
    if let Some(tacit::app::AppError::Pending(_)) = e.downcast_ref::<tacit::app::AppError>() {
        return 3;
    }
    match e.downcast_ref::<PurgeError>() {
        Some(
            PurgeError::UnknownSite(_)
            | PurgeError::StillConfigured(_)
            | PurgeError::BadDay(_)
            | PurgeError::FutureDay(_),
        ) => 2,
        _ => 1,
    }
}

/// Logging set up, and the runtime of the commands that talk to the
/// database or serve.
fn runtime(cfg: &Config) -> anyhow::Result<tokio::runtime::Runtime> {
    tacit::telemetry::logging::init(cfg.log_format, &cfg.log_level, std::io::stderr);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")
}

fn snippet(cfg: &Config, site: &str, base: Option<String>) -> anyhow::Result<()> {
    if !cfg.sites.iter().any(|s| s.domain == *site) {
        return Err(Usage(format!(
            "snippet: {site:?} is not a configured site ([[sites]] domain)"
        ))
        .into());
    }
    let base = base.unwrap_or_else(|| format!("http://{}", cfg.listen));
    print!("{}", tacit::beacon::script::snippet(&base, site));
    Ok(())
}

fn email_link(
    cfg: &Config,
    site: &str,
    campaign: &str,
    variant: &str,
    to: &str,
    base: Option<String>,
) -> anyhow::Result<()> {
    let Some(key) = cfg
        .sites
        .iter()
        .find(|s| s.domain == *site)
        .and_then(|s| s.email_key.as_ref())
    else {
        return Err(Usage(format!("email-link: {site:?} is not a configured site with an email_key ([[sites]] email_key, or TACIT_EMAIL_KEY_<SITE>)")).into());
    };
    let base = base.unwrap_or_else(|| format!("http://{}", cfg.listen));
    let (open, click) =
        tacit::beacon::email::links(&base, site, key.expose(), campaign, variant, to)
            .map_err(|e| Usage(format!("email-link: {e}")))?;
    println!(
        "open pixel: <img src=\"{}\" width=\"1\" height=\"1\" alt=\"\">",
        open.replace('&', "&amp;")
    );
    println!("click link: {click}");
    Ok(())
}

fn policy(cfg: &Config, json: bool) -> anyhow::Result<()> {
    let tables = live_tables(cfg);
    if json {
        let mut v = tacit::commands::notice::json(cfg);
        v["tables"] = match &tables {
            Ok(t) => serde_json::to_value(t).unwrap_or_default(),
            Err(e) => serde_json::json!({ "unavailable": e }),
        };
        println!("{v:#}");
    } else {
        print!("{}", tacit::commands::notice::markdown(cfg));
        match &tables {
            Ok(t) => print!("\n{}", tacit::store::tiers::markdown(t)),
            Err(e) => print!(
                "\n## Tables, from the live schema\n\nNot available: {e}. Run `tacit policy` where the database is reachable to list every table, its tier, its TTL and what it holds.\n"
            ),
        }
    }
    Ok(())
}

fn explain(cfg: &Config) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    tacit::commands::explain::run(cfg, Arc::new(SystemClock), stdin, stdout)
        // The error's own line, as before (not its chain of sources).
        .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    let applied = tacit::store::migrate::migrate(&cfg.clickhouse, SystemClock.now_ms())
        .await
        .with_context(|| {
            format!(
                "migrating database {:?} at {}",
                cfg.clickhouse.database, cfg.clickhouse.url
            )
        })?;
    if applied.is_empty() {
        println!("schema is current; nothing to apply");
    } else {
        for name in &applied {
            println!("applied {name}");
        }
    }
    Ok(())
}

async fn export(
    cfg: &Config,
    partner: &str,
    period: &str,
    name: Option<&str>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    use rand::TryRngCore;
    let spec = tacit::export::find(&cfg.exports, partner, name)?;
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let client = store.client();
    tacit::export::budget::check_accounts(
        &store,
        &cfg.exports,
        SystemClock.now_ms(),
        cfg.policy.event_ttl_days as u64,
    )
    .await?;
    // Not a collector: the purge fences in force now keep their rows out.
    let fenced = tacit::store::fence::Applied::of(
        tacit::store::fence::active(client, SystemClock.now_ms()).await?,
        store.database(),
    )
    .store(&store);
    // Noise from the operating system's generator, draw by draw.
    let mut rng = rand::rngs::OsRng.unwrap_err();
    let released = tacit::export::release(
        &fenced,
        spec,
        period,
        SystemClock.now_ms(),
        cfg.policy.event_ttl_days as u64,
        tacit::export::ReleaseChannel::Cli,
        &mut rng,
    )
    .await?;
    let out = out
        .unwrap_or_else(|| PathBuf::from(tacit::export::file_name(spec, &released.summary.period)));
    std::fs::write(&out, &released.bytes).with_context(|| format!("writing {}", out.display()))?;
    println!("{} -> {}", released.summary, out.display());
    Ok(())
}

async fn disclosures(cfg: &Config, year: i32, json: bool) -> anyhow::Result<()> {
    let client = tacit::store::client(&cfg.clickhouse);
    let rows = tacit::export::ledger::for_year(&client, year)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "reading the disclosure ledger: {}",
                tacit::store::log_safe(&e)
            )
        })?;
    let report = tacit::export::ledger::report(year, &rows);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", tacit::export::ledger::markdown(&report));
    }
    Ok(())
}

async fn purge(cfg: &Config, req: &tacit::commands::purge::Request) -> anyhow::Result<()> {
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let outcome = tacit::commands::purge::run(
        cfg,
        &store,
        req,
        SystemClock.now_ms(),
        std::time::Duration::from_secs(60),
    )
    .await?;
    print!("{}", tacit::commands::purge::describe(&outcome));
    Ok(())
}

async fn import(cfg: &Config, args: ImportArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    use tacit::commands::import::{self as imp, Format, Overlap};
    let opts = imp::Options {
        format: Format::parse(&args.from).ok_or_else(|| {
            anyhow::anyhow!("--from: {:?} is not one of {}", args.from, Format::names())
        })?,
        overlap: Overlap::parse(&args.overlap).ok_or_else(|| {
            anyhow::anyhow!(
                "--overlap: {:?} is not refuse, keep-live or replace",
                args.overlap
            )
        })?,
        site: args.site,
        log_format: args.log_format,
        max_bad_lines: args.max_bad_lines,
    };
    let now = SystemClock.now_ms();
    if args.explain {
        let mut out = std::io::stdout().lock();
        for f in &args.files {
            if f.as_os_str() == "-" {
                imp::explain(cfg, &opts, now, std::io::stdin().lock(), &mut out)?;
            } else {
                let input = std::io::BufReader::new(std::fs::File::open(f)?);
                imp::explain(cfg, &opts, now, input, &mut out)?;
            }
        }
        return Ok(());
    }
    let store = tacit::store::Store::new(&cfg.clickhouse);
    if opts.format == Format::Plausible {
        let s = imp::import_plausible(cfg, &store, &args.files, &opts, now).await?;
        print!("{}", s.describe());
        return Ok(());
    }
    let enrichers = Arc::new(tacit::enrich::Enrichers::load(&cfg.enrich)?);
    let tty = std::io::stderr().is_terminal();
    for f in &args.files {
        let mut progress = |p: imp::Progress| {
            if tty {
                let rate = p.lines as f64 / p.seconds.max(1e-9);
                let done = p.bytes_read as f64 / p.bytes_total.max(1) as f64;
                let eta = p.seconds * (1.0 - done) / done.max(1e-9);
                eprint!(
                    "\r{} lines, {rate:.0} lines/s, {:.0}%, ETA {eta:.0} s   ",
                    p.lines,
                    100.0 * done
                );
            }
        };
        let summary =
            imp::import_file(cfg, &store, enrichers.clone(), f, &opts, now, &mut progress).await;
        if tty {
            eprintln!();
        }
        print!("{}", summary?.describe());
    }
    Ok(())
}

async fn purge_imports(cfg: &Config, site: &str) -> anyhow::Result<()> {
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let days = tacit::commands::import::purge(&store, site).await?;
    println!("{site}: removed the imported data of {} day(s)", days.len());
    Ok(())
}

async fn rollup(cfg: &Config, day: Option<&str>) -> anyhow::Result<()> {
    use tacit::model::clock::format_day;
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let now = SystemClock.now_ms();
    let schedule = tacit::analytics::rollup::Schedule {
        event_ttl_days: cfg.policy.event_ttl_days,
        delay: std::time::Duration::from_secs(cfg.policy.rollup_delay_minutes as u64 * 60),
    };
    let days = match day {
        Some(d) => {
            let n = jiff::civil::Date::strptime("%Y-%m-%d", d)
                .map(tacit::model::clock::day_of_date)
                .map_err(|_| anyhow::anyhow!("--day: not a day (YYYY-MM-DD): {d:?}"))?;
            if !schedule.candidates(now).contains(&n) {
                anyhow::bail!(
                    "--day {d}: only closed days the event tier still holds can be rolled up ({} to {})",
                    format_day(*schedule.candidates(now).start()),
                    format_day(*schedule.candidates(now).end())
                );
            }
            tacit::analytics::rollup::rollup_day(&store, n, now as u64)
                .await
                .map_err(|e| anyhow::anyhow!("rollup: {e}"))?;
            vec![n]
        }
        None => tacit::analytics::rollup::run_once(&store, schedule, now)
            .await
            .map_err(|e| anyhow::anyhow!("rollup: {e}"))?,
    };
    if days.is_empty() {
        println!("no closed day is due");
    }
    for d in days {
        println!("rolled up {}", format_day(d));
    }
    Ok(())
}

async fn purges(cfg: &Config, json: bool) -> anyhow::Result<()> {
    let client = tacit::store::client(&cfg.clickhouse);
    let rows = tacit::commands::purge::recorded(&client)
        .await
        .map_err(|e| anyhow::anyhow!("reading purges: {}", tacit::store::log_safe(&e)))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in rows {
        let rows: Vec<String> = r.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        println!(
            "{} {}: {} (requested {}, completed {}); reason: {}; rows: {}{}",
            r.site,
            if r.before.is_empty() {
                "all rows".to_string()
            } else {
                format!("rows before {}", r.before)
            },
            r.status,
            r.requested,
            if r.completed.is_empty() {
                "-"
            } else {
                &r.completed
            },
            r.reason,
            rows.join(", "),
            if r.tables_left.is_empty() {
                String::new()
            } else {
                format!("; left: {}", r.tables_left.join(", "))
            }
        );
    }
    Ok(())
}

async fn quarantine(cfg: &Config, action: QuarantineAction) -> anyhow::Result<()> {
    use tacit::sink::quarantine as q;
    let wal = cfg.data_dir.join("wal");
    let today = tacit::model::clock::day_of(SystemClock.now_ms());
    match action {
        QuarantineAction::List { json } => {
            let files = q::list(&wal, today)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&files)?);
                return Ok(());
            }
            if files.is_empty() {
                println!("the quarantine is empty ({})", q::dir(&wal).display());
            }
            for f in files {
                let sites: Vec<String> = f.sites.iter().map(|(s, n)| format!("{s} {n}")).collect();
                println!(
                    "{}: {} row(s), {} bytes, deleted after {} days; sites: {}",
                    f.day,
                    f.rows,
                    f.bytes,
                    cfg.policy.event_ttl_days,
                    sites.join(", ")
                );
                for (reason, n) in &f.reasons {
                    let reason = if reason.is_empty() {
                        "(reason not recorded)"
                    } else {
                        reason
                    };
                    println!("  {n} refused: {reason}");
                }
            }
        }
        QuarantineAction::Replay { day } => {
            let client = tacit::store::client(&cfg.clickhouse);
            let now = SystemClock.now_ms();
            let r = q::replay(&client, &wal, &day, now, cfg.sink.insert_timeout).await?;
            println!(
                "{day}: {} row(s) stored, {} refused again (kept in the file), {} of a purged range dropped",
                r.stored, r.refused, r.fenced
            );
        }
        QuarantineAction::Drop { day } => {
            let n = q::drop_day(&wal, &day, today)?;
            println!("{day}: deleted, {n} row(s)");
        }
    }
    Ok(())
}

async fn serve(cfg: &Config, migrate: bool) -> anyhow::Result<()> {
    let opts = tacit::app::Options {
        migrate,
        ..Default::default()
    };
    let running = tacit::app::start(cfg, Arc::new(SystemClock), opts).await?;
    tacit::app::signal().await;
    running.shutdown().await;
    Ok(())
}

/// The tables as the database has them, for `tacit policy` (a short wait:
/// the notice itself needs no database).
fn live_tables(cfg: &Config) -> Result<Vec<tacit::store::tiers::LiveTable>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = tacit::store::client(&cfg.clickhouse);
        tacit::store::timed(
            std::time::Duration::from_secs(3),
            tacit::store::tiers::live(&client, &cfg.clickhouse.database),
        )
        .await
        .map_err(|e| format!("{} ({})", cfg.clickhouse.url, tacit::store::log_safe(&e)))
    })
}
