//! The durable spool: batches that could not be written to ClickHouse are
//! kept on disk under `<data_dir>/spool` as segment files (one batch each,
//! JSON lines, written to a temp name, fsynced, then renamed), and replayed
//! oldest first with the batch's original deduplication token, so a batch
//! that in fact reached ClickHouse before the error is not stored twice.
//! Rows here are already anonymous events: no raw identifiers.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::privacy::Event;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool {path}: corrupt segment: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("spool is full ({used} of {max} bytes)")]
    Full { used: u64, max: u64 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Segment {
    pub path: PathBuf,
    pub token: String,
    pub rows: Vec<Event>,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seq: u64,
}

impl Spool {
    pub fn open(dir: PathBuf, max_bytes: u64) -> Result<Self, SpoolError> {
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        // Leftover temp files are batches whose write never completed; their
        // rows are still in the batch that was being spooled, or were
        // acknowledged to nobody. Remove them.
        for e in fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
            if e.path().extension().is_some_and(|x| x == "tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(Self {
            dir,
            max_bytes,
            seq: 0,
        })
    }

    /// Segment files, oldest first.
    pub fn segments(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let mut v: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        v.sort();
        Ok(v)
    }

    pub fn bytes(&self) -> u64 {
        self.segments()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Persist one batch. Fails with `Full` rather than exceed the limit.
    pub fn write(
        &mut self,
        token: &str,
        rows: &[Event],
        now_ms: i64,
    ) -> Result<PathBuf, SpoolError> {
        let mut buf = Vec::with_capacity(rows.len() * 160 + 64);
        serde_json::to_writer(
            &mut buf,
            &serde_json::json!({ "token": token, "rows": rows.len() }),
        )
        .expect("header serializes");
        buf.push(b'\n');
        for r in rows {
            serde_json::to_writer(&mut buf, r).expect("event serializes");
            buf.push(b'\n');
        }
        let used = self.bytes();
        if used + buf.len() as u64 > self.max_bytes {
            return Err(SpoolError::Full {
                used,
                max: self.max_bytes,
            });
        }
        self.seq += 1;
        let name = format!("{now_ms:015}-{:06}-{}", self.seq, token);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let fin = self.dir.join(format!("{name}.seg"));
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&buf).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, &fin).map_err(io(&fin))?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(fin)
    }

    pub fn read(&self, path: &Path) -> Result<Segment, SpoolError> {
        let f = fs::File::open(path).map_err(io(path))?;
        let mut lines = BufReader::new(f).lines();
        let corrupt = |reason: String| SpoolError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let header = lines
            .next()
            .ok_or_else(|| corrupt("empty".into()))?
            .map_err(io(path))?;
        let header: serde_json::Value =
            serde_json::from_str(&header).map_err(|e| corrupt(e.to_string()))?;
        let token = header["token"]
            .as_str()
            .ok_or_else(|| corrupt("no token".into()))?
            .to_string();
        let expected = header["rows"].as_u64().unwrap_or(0) as usize;
        let mut rows = Vec::with_capacity(expected);
        for line in lines {
            let line = line.map_err(io(path))?;
            rows.push(serde_json::from_str(&line).map_err(|e| corrupt(e.to_string()))?);
        }
        if rows.len() != expected {
            return Err(corrupt(format!(
                "{} rows, header says {expected}",
                rows.len()
            )));
        }
        Ok(Segment {
            path: path.to_path_buf(),
            token,
            rows,
        })
    }

    pub fn remove(&self, path: &Path) -> Result<(), SpoolError> {
        fs::remove_file(path).map_err(io(path))
    }

    /// Move an unreadable segment aside so it neither blocks replay nor is lost.
    pub fn quarantine(&self, path: &Path) {
        let _ = fs::rename(path, path.with_extension("corrupt"));
    }
}
