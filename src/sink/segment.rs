//! Log segments on disk: their names, the scan that recovers whole records
//! after a crash (cutting a torn tail), and the creation of a new one.
//! `log.rs` appends to them; the writer and the purge read them. The
//! writer's reads go through the `async` functions here, which do the
//! file work on a blocking thread (`spawn_blocking`), not on its runtime.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::log::{LogError, Pos};
use super::record::{self, HEADER};

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The file name of a segment.
pub fn segment_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{seg:016x}.wal"))
}

/// Segment ids present in `dir`, ascending.
pub fn segment_ids(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut ids: Vec<u64> = fs::read_dir(dir)
        .map_err(io(dir))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            let hex = name.strip_suffix(".wal")?;
            (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok())?
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Run `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// The length of segment `seg` of `dir`.
pub async fn len(dir: &Path, seg: u64) -> std::io::Result<u64> {
    let p = segment_path(dir, seg);
    blocking(move || fs::metadata(&p).map(|m| m.len())).await
}

/// The first segment of `dir` after `seg`, if any.
pub async fn next_after(dir: &Path, seg: u64) -> std::io::Result<Option<u64>> {
    let dir = dir.to_path_buf();
    blocking(move || {
        let ids = segment_ids(&dir).map_err(std::io::Error::other)?;
        Ok(ids.into_iter().find(|&id| id > seg))
    })
    .await
}

/// Read `len` bytes of segment `seg` of `dir` at `at` into the start of
/// `buf` (at least `len` long), which is handed back to be reused.
pub async fn read_exact(
    dir: &Path,
    seg: u64,
    at: u64,
    mut buf: Vec<u8>,
    len: usize,
) -> (Vec<u8>, std::io::Result<()>) {
    let p = segment_path(dir, seg);
    let task = tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::FileExt;
        let r = File::open(&p).and_then(|f| f.read_exact_at(&mut buf[..len], at));
        (buf, r)
    });
    match task.await {
        Ok(done) => done,
        Err(e) => (Vec::new(), Err(std::io::Error::other(e))),
    }
}

/// Delete every segment of `dir` before `active` whose rows are all before
/// `acked`; returns the bytes freed. On a blocking thread.
pub async fn delete_acked(dir: &Path, active: u64, acked: Pos) -> u64 {
    let dir = dir.to_path_buf();
    blocking(move || {
        let mut freed = 0;
        let Ok(ids) = segment_ids(&dir) else {
            return Ok(0);
        };
        for id in ids.into_iter().filter(|&id| id < active) {
            let p = segment_path(&dir, id);
            let len = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            let done = id < acked.seg || (id == acked.seg && acked.off >= len);
            if done && fs::remove_file(&p).is_ok() {
                freed += len;
            }
        }
        Ok(freed)
    })
    .await
    .unwrap_or(0)
}

/// Visit, in log order, the site and time of each row in the log under
/// `dir` that ClickHouse has not acknowledged (after the cursor); stop
/// when `visit` returns false. A segment deleted meanwhile was delivered.
/// (The purge and the watermark report read the log through this.)
pub fn each_unacked(dir: &Path, mut visit: impl FnMut(&[u8], i64) -> bool) -> Result<(), LogError> {
    if !dir.exists() {
        return Ok(());
    }
    let acked = super::cursor::read(&dir.join("cursor")).map(|s| s.acked);
    for id in segment_ids(dir)? {
        let mut at = HEADER as usize;
        match acked {
            Some(a) if id < a.seg => continue,
            Some(a) if id == a.seg => at = at.max(a.off as usize),
            _ => {}
        }
        let Ok(bytes) = fs::read(segment_path(dir, id)) else {
            continue;
        };
        while let Some(rest) = bytes.get(at..) {
            let record::Next::Record(payload, used) = record::next(rest) else {
                break;
            };
            if let Some((site, ts)) = crate::sink::row::site_and_ts(payload) {
                if !visit(site, ts) {
                    return Ok(());
                }
            }
            at += used;
        }
    }
    Ok(())
}

/// Whole records at or after `from` in the segments of `dir` (the rows a
/// restarted writer still has to deliver).
pub fn count_from(dir: &Path, from: Pos) -> Result<u64, LogError> {
    let mut n = 0;
    for id in segment_ids(dir)?.into_iter().filter(|&id| id >= from.seg) {
        let p = segment_path(dir, id);
        let bytes = fs::read(&p).map_err(io(&p))?;
        let start = if id == from.seg { from.off } else { HEADER } as usize;
        if let Some(tail) = bytes.get(start.max(HEADER as usize)..) {
            n += record::valid_prefix(tail).1;
        }
    }
    Ok(n)
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// What opening the log found.
#[derive(Debug, Default, Clone)]
pub struct Recovered {
    /// Whole records found in the existing segments.
    pub records: u64,
    /// Bytes cut off torn or damaged tails.
    pub discarded_bytes: u64,
    /// The first segment still holding records (the writer starts there).
    pub first: Option<u64>,
}

/// Scan one segment: keep its whole records, cut the rest off.
pub(super) fn recover_segment(path: &Path) -> Result<(u64, u64), LogError> {
    let bytes = fs::read(path).map_err(io(path))?;
    if !record::valid_header(&bytes) {
        // Created but never given its header: holds nothing.
        fs::remove_file(path).map_err(io(path))?;
        return Ok((0, bytes.len() as u64));
    }
    let (valid, n) = record::valid_prefix(&bytes[HEADER as usize..]);
    let end = HEADER + valid as u64;
    let discarded = bytes.len() as u64 - end;
    if discarded > 0 {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        f.set_len(end).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    Ok((n, discarded))
}

pub(super) fn new_segment(path: &Path) -> Result<File, LogError> {
    let mut f = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    f.write_all(&record::header()).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(f)
}
