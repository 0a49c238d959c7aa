//! The `tacit` binary: parses the command line, loads config, and maps
//! library errors to exit codes (2: usage or config, 3: pending migrations,
//! 1: anything else).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tacit::model::clock::{Clock, SystemClock};
use tacit::config::{Config, RawConfig};

const USAGE: &str = "\
tacit: privacy-aware web analytics collector

Usage: tacit [--config FILE] <command> [options]

Commands:
  serve [--migrate]   run the collector (refuses pending migrations unless --migrate)
  migrate             apply pending schema migrations (idempotent)
  explain             read hits as JSON lines on stdin, print what each becomes
  policy [--json]     print what is collected, kept and shared, from the config
  check-config        validate the configuration and exit
  export --partner ID --period P [--export NAME] [--out FILE]
                      release a partner export (recorded in the disclosure ledger)
  disclosures --year N [--json]
                      what went to which third party in year N, from the ledger
  version             print the version

Config: FILE, else $TACIT_CONFIG, else ./tacit.toml if present, else defaults;
every key can be overridden with TACIT_<SECTION>_<KEY>.";

struct Args {
    config: Option<PathBuf>,
    command: String,
    migrate: bool,
    json: bool,
    partner: Option<String>,
    period: Option<String>,
    export: Option<String>,
    out: Option<PathBuf>,
    year: Option<i32>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut args = Args {
        config: None,
        command: String::new(),
        migrate: false,
        json: false,
        partner: None,
        period: None,
        export: None,
        out: None,
        year: None,
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" | "-c" => {
                args.config = Some(it.next().ok_or("--config needs a file")?.into())
            }
            "--migrate" => args.migrate = true,
            "--partner" => args.partner = Some(it.next().ok_or("--partner needs an id")?),
            "--period" => args.period = Some(it.next().ok_or("--period needs a period")?),
            "--export" => args.export = Some(it.next().ok_or("--export needs a name")?),
            "--out" | "-o" => args.out = Some(it.next().ok_or("--out needs a file")?.into()),
            "--year" => {
                let y = it.next().ok_or("--year needs a year")?;
                args.year = Some(
                    y.parse()
                        .ok()
                        .filter(|y| (1970..=9999).contains(y))
                        .ok_or(format!("--year: not a year: {y:?}"))?,
                )
            }
            "--json" => args.json = true,
            "-h" | "--help" | "help" => args.command = "help".into(),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if args.command.is_empty() => args.command = s.into(),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    if args.command.is_empty() {
        args.command = "help".into();
    }
    Ok(args)
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let (path, required) = match (&args.config, std::env::var_os("TACIT_CONFIG")) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (PathBuf::from(p), true),
        (None, None) => (PathBuf::from("tacit.toml"), false),
    };
    let raw = RawConfig::load(&path, required, std::env::vars())?;
    Ok(raw.validate()?)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tacit: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match args.command.as_str() {
        "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "version" => {
            println!("tacit {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "serve" | "migrate" | "check-config" | "explain" | "policy" => {}
        "export" if args.partner.is_none() || args.period.is_none() => {
            eprintln!("tacit: export needs --partner ID and --period P\n\n{USAGE}");
            return ExitCode::from(2);
        }
        "disclosures" if args.year.is_none() => {
            eprintln!("tacit: disclosures needs --year N\n\n{USAGE}");
            return ExitCode::from(2);
        }
        "export" | "disclosures" => {}
        other => {
            eprintln!("tacit: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let cfg = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tacit: {e:#}");
            return ExitCode::from(2);
        }
    };
    match args.command.as_str() {
        "check-config" => {
            println!("config ok");
            return ExitCode::SUCCESS;
        }
        "policy" => {
            if args.json {
                println!("{:#}", tacit::notice::json(&cfg));
            } else {
                print!("{}", tacit::notice::markdown(&cfg));
            }
            return ExitCode::SUCCESS;
        }
        "explain" => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            return match tacit::explain::run(&cfg, Arc::new(SystemClock), stdin, stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tacit: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    tacit::logging::init(cfg.log_format, &cfg.log_level, std::io::stderr);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tacit: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match args.command.as_str() {
            "migrate" => migrate(&cfg).await,
            "export" => export(&cfg, &args).await,
            "disclosures" => disclosures(&cfg, args.year.unwrap_or(0), args.json).await,
            _ => serve(&cfg, args.migrate).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<tacit::app::AppError>() {
                Some(tacit::app::AppError::Pending(_)) => 3,
                _ => 1,
            };
            eprintln!("tacit: {e:#}");
            ExitCode::from(code)
        }
    }
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

async fn export(cfg: &Config, args: &Args) -> anyhow::Result<()> {
    use rand::SeedableRng;
    let partner = args.partner.as_deref().unwrap_or_default();
    let spec = tacit::export::find(&cfg.exports, partner, args.export.as_deref())?;
    let client = tacit::store::client(&cfg.clickhouse);
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let released = tacit::export::release(
        &client,
        spec,
        args.period.as_deref().unwrap_or_default(),
        SystemClock.now_ms(),
        cfg.policy.event_ttl_days as u64,
        tacit::export::Channel::Cli,
        &mut rng,
    )
    .await?;
    let out = args
        .out
        .clone()
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
