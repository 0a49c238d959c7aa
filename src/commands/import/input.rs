//! Reading an import's file: its bytes counted for the progress line, a
//! gzipped file (by its magic, whatever its name) decompressed as it is
//! read, and its SHA-256 (what makes a re-import of the same file a no-op).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::ImportError;

/// Counts the bytes read from the file (before decompression).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// The file's lines, gunzipped when it starts with the gzip magic.
pub fn open(path: &Path, counter: Arc<AtomicU64>) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut f = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let counted = Counting {
        inner: f,
        n: counter,
    };
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(BufReader::new(counted)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, counted))
    })
}

/// SHA-256 of the file's bytes, as stored.
pub fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
/// A file's text, gunzipped when it starts with the gzip magic.
pub fn open_plain(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    open(path, Arc::new(AtomicU64::new(0)))
}

pub fn io_err(file: &str) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        file: file.to_string(),
        source,
    }
}
