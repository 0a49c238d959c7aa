//! `POST /api/import?site=S&from=FORMAT` on the admin listener: `tacit
//! import` for an uploaded file. Authorised by `Authorization: Bearer <key>`,
//! a key of the site's `import_keys_sha256` (never a query API key, which
//! only reads; 401 without a known
//! key, 403 for another site's key, 404 for a site not configured). The body
//! (the file as it is, gzipped or not; Plausible: its zip, or one CSV named by
//! `name=`) is streamed to a file of its own under
//! `<data_dir>/import-uploads/` (mode 0600; at most [`ImportApi::max_bytes`],
//! else 413), imported by the same code as the command, and deleted whatever
//! the outcome. Optional: `overlap=refuse|keep-live|replace`,
//! `max_bad_lines=N` (default 100), `name=` (the file name recorded). One
//! upload is imported at a time (409 while another runs). The answer is the
//! import's summary as JSON, or `{"error": "..."}` with a 4xx naming what
//! was wrong; the engine's words stay in the log, log-safe.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::commands::import::{self as imp, Format, ImportError, Options, Overlap};
use crate::config::api_keys::SiteKeys;
use crate::config::Config;
use crate::enrich::Enrichers;
use crate::http::resp::{self, Resp};
use crate::model::clock::SharedClock;
use crate::store::Store;

/// The default largest upload: 4 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// What the upload endpoint needs: the configuration (sites, policy), the
/// engine, the enrichers the collector loaded, the clock and the keys.
pub struct ImportApi {
    cfg: Config,
    store: Store,
    enrichers: Arc<Enrichers>,
    clock: SharedClock,
    keys: Vec<SiteKeys>,
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    running: tokio::sync::Semaphore,
}

fn error(status: StatusCode, msg: &str) -> Resp {
    let r = resp::body(
        status,
        "application/json",
        serde_json::json!({ "error": msg }).to_string(),
    );
    if status == StatusCode::UNAUTHORIZED {
        return resp::with(r, header::WWW_AUTHENTICATE, "Bearer");
    }
    r
}

/// A refusal before the body is read: its status and reason.
type Refused = (StatusCode, String);

/// The request's parameters, checked.
struct Params {
    opts: Options,
    name: String,
}

impl ImportApi {
    pub fn new(cfg: &Config, store: Store, enrichers: Arc<Enrichers>, clock: SharedClock) -> Self {
        Self {
            keys: cfg.api_keys.clone(),
            cfg: cfg.clone(),
            store,
            enrichers,
            clock,
            max_bytes: DEFAULT_MAX_BYTES,
            running: tokio::sync::Semaphore::new(1),
        }
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Resp {
        if req.method() != Method::POST {
            return error(StatusCode::METHOD_NOT_ALLOWED, "POST the file to import");
        }
        let p = match self.params(req.uri().query().unwrap_or("")) {
            Ok(p) => p,
            Err((status, why)) => return error(status, &why),
        };
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err((status, why)) = self.authorise(auth, &p.opts.site) {
            return error(status, &why);
        }
        let too_big = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > self.max_bytes);
        if too_big {
            return self.too_large();
        }
        let Ok(_permit) = self.running.try_acquire() else {
            return error(StatusCode::CONFLICT, "another import is running");
        };
        let upload = match Upload::new(&self.cfg.data_dir, &p.name) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "import upload: cannot create the upload file");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot store the upload");
            }
        };
        match upload.receive(req.into_body(), self.max_bytes).await {
            Ok(0) => return error(StatusCode::BAD_REQUEST, "empty body: POST the file"),
            Ok(_) => {}
            Err(Received::TooLarge) => return self.too_large(),
            Err(Received::Body) => {
                return error(StatusCode::BAD_REQUEST, "the body could not be read")
            }
            Err(Received::Disk(e)) => {
                tracing::warn!(error = %e, "import upload: cannot write the upload file");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot store the upload");
            }
        }
        let now = self.clock.now_ms();
        let result = if p.opts.format == Format::Plausible {
            imp::import_plausible(
                &self.cfg,
                &self.store,
                std::slice::from_ref(&upload.file),
                &p.opts,
                now,
            )
            .await
        } else {
            imp::import_file(
                &self.cfg,
                &self.store,
                self.enrichers.clone(),
                &upload.file,
                &p.opts,
                now,
                &mut |_| {},
            )
            .await
        };
        drop(upload);
        match result {
            Ok(s) => resp::body(
                StatusCode::OK,
                "application/json",
                serde_json::to_string(&s).expect("a summary serializes"),
            ),
            Err(e) => failed(&e),
        }
    }

    fn too_large(&self) -> Resp {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the file is larger than {} bytes", self.max_bytes),
        )
    }

    fn params(&self, query: &str) -> Result<Params, Refused> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        let mut site = None;
        let (mut from, mut overlap, mut max_bad, mut name) = (None, None, None, None);
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "site" => site = Some(v.into_owned()),
                "from" => from = Some(v.into_owned()),
                "overlap" => overlap = Some(v.into_owned()),
                "max_bad_lines" => max_bad = Some(v.into_owned()),
                "name" => name = Some(v.into_owned()),
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        let site = site.ok_or_else(|| bad("site= is required".into()))?;
        let Some(domain) = self
            .cfg
            .sites
            .iter()
            .find(|s| s.domain.eq_ignore_ascii_case(site.trim()))
            .map(|s| s.domain.clone())
        else {
            return Err((StatusCode::NOT_FOUND, "site not found".into()));
        };
        let from = from.ok_or_else(|| bad(format!("from= is required: {}", Format::names())))?;
        let format = Format::parse(&from)
            .ok_or_else(|| bad(format!("from: not one of {}", Format::names())))?;
        let overlap = match overlap.as_deref() {
            None => Overlap::Refuse,
            Some(o) => Overlap::parse(o)
                .ok_or_else(|| bad("overlap: not refuse, keep-live or replace".into()))?,
        };
        let max_bad_lines = match max_bad {
            None => 100,
            Some(n) => n
                .parse()
                .map_err(|_| bad("max_bad_lines: not a number".into()))?,
        };
        let name = name
            .filter(|n| {
                !n.starts_with('.')
                    && n.len() <= 100
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            })
            .unwrap_or_else(|| format!("upload.{}", format.as_str()));
        Ok(Params {
            opts: Options {
                site: domain,
                format,
                log_format: None,
                max_bad_lines,
                overlap,
            },
            name,
        })
    }

    /// A key of the site: 401 without a known key, 403 for another site's.
    fn authorise(&self, auth: Option<&str>, site: &str) -> Result<(), Refused> {
        let key = auth
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| (StatusCode::UNAUTHORIZED, "missing API key".into()))?;
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let owner = self.keys.iter().find(|s| {
            s.import_sha256
                .iter()
                .fold(false, |hit, h| hit | ct_eq(h, &digest))
        });
        match owner {
            None => Err((StatusCode::UNAUTHORIZED, "invalid API key".into())),
            Some(s) if !s.site.eq_ignore_ascii_case(site) => Err((
                StatusCode::FORBIDDEN,
                "this API key is for another site".into(),
            )),
            Some(_) => Ok(()),
        }
    }
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut d = 0u8;
    for i in 0..32 {
        d |= std::hint::black_box(a[i] ^ b[i]);
    }
    d == 0
}

/// An import's error as an answer: what the user can fix is a 4xx with
/// the reason (which never quotes the file); the engine's is a 503.
fn failed(e: &ImportError) -> Resp {
    let status = match e {
        ImportError::UnknownSite(_) => StatusCode::NOT_FOUND,
        ImportError::LiveOverlap { .. } => StatusCode::CONFLICT,
        ImportError::Store(_) => {
            tracing::warn!(error = %e, "import upload: the engine failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the engine failed; nothing was imported",
            );
        }
        ImportError::Io { .. } | ImportError::Enrich(_) => {
            tracing::warn!(error = %e, "import upload: failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the import failed; nothing was imported",
            );
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    error(status, &e.to_string())
}

/// Why a body was not received.
enum Received {
    TooLarge,
    Body,
    Disk(std::io::Error),
}

/// An upload's own directory and file, removed when dropped.
struct Upload {
    dir: PathBuf,
    file: PathBuf,
}

impl Upload {
    fn new(data_dir: &Path, name: &str) -> std::io::Result<Self> {
        let root = data_dir.join("import-uploads");
        std::fs::create_dir_all(&root)?;
        let dir = root.join(format!("{:016x}", rand::random::<u64>()));
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir)?;
        Ok(Self {
            file: dir.join(name),
            dir,
        })
    }

    /// Stream the body to the file; the bytes written.
    async fn receive(&self, mut body: Incoming, max: u64) -> Result<u64, Received> {
        let mut opts = tokio::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let mut f = opts.open(&self.file).await.map_err(Received::Disk)?;
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Received::Body)?;
            if let Ok(data) = frame.into_data() {
                n += data.len() as u64;
                if n > max {
                    return Err(Received::TooLarge);
                }
                f.write_all(&data).await.map_err(Received::Disk)?;
            }
        }
        f.flush().await.map_err(Received::Disk)?;
        Ok(n)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
