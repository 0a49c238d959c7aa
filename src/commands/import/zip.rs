//! Just enough of the zip format to read Plausible's export archive: the
//! central directory (at the end of the file) lists each entry's name,
//! method, size and where its local header is; an entry is read in place,
//! stored (method 0, what Plausible writes) or deflated (method 8, what
//! re-zipping tools write), streamed, never whole in memory. Zip64 and
//! encrypted archives are refused.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// One entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    method: u16,
    header_offset: u64,
    size: u64,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("zip: {what}"))
}

/// Whether the file starts like a zip archive.
pub fn is_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == [b'P', b'K', 3, 4]
}

/// The entries of an archive, from its central directory.
pub fn entries(path: &Path) -> std::io::Result<Vec<Entry>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let tail = len.min(65_557);
    f.seek(SeekFrom::Start(len - tail))?;
    let mut buf = vec![0u8; tail as usize];
    f.read_exact(&mut buf)?;
    let eocd = (0..buf.len().saturating_sub(21))
        .rev()
        .find(|&i| buf[i..i + 4] == [b'P', b'K', 5, 6])
        .ok_or_else(|| bad("no end of central directory"))?;
    let count = u16_at(&buf, eocd + 10) as usize;
    let dir_size = u32_at(&buf, eocd + 12) as u64;
    let dir_offset = u32_at(&buf, eocd + 16) as u64;
    if dir_offset == 0xFFFF_FFFF || count == 0xFFFF {
        return Err(bad("zip64 archives are not read; unzip it first"));
    }
    f.seek(SeekFrom::Start(dir_offset))?;
    let mut dir = vec![0u8; dir_size as usize];
    f.read_exact(&mut dir)?;
    let mut out = Vec::with_capacity(count);
    let mut i = 0;
    for _ in 0..count {
        if dir.len() < i + 46 || dir[i..i + 4] != [b'P', b'K', 1, 2] {
            return Err(bad("a damaged central directory"));
        }
        let flags = u16_at(&dir, i + 8);
        let method = u16_at(&dir, i + 10);
        let size = u32_at(&dir, i + 20) as u64;
        let (n, e, c) = (
            u16_at(&dir, i + 28) as usize,
            u16_at(&dir, i + 30) as usize,
            u16_at(&dir, i + 32) as usize,
        );
        let header_offset = u32_at(&dir, i + 42) as u64;
        if flags & 1 != 0 {
            return Err(bad("encrypted entries are not read"));
        }
        if size == 0xFFFF_FFFF || header_offset == 0xFFFF_FFFF {
            return Err(bad("zip64 archives are not read; unzip it first"));
        }
        let name = String::from_utf8_lossy(
            dir.get(i + 46..i + 46 + n)
                .ok_or_else(|| bad("a damaged name"))?,
        )
        .into_owned();
        out.push(Entry {
            name,
            method,
            header_offset,
            size,
        });
        i += 46 + n + e + c;
    }
    Ok(out)
}

/// The entry's content, decompressed, as a stream.
pub fn open(path: &Path, entry: &Entry) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(entry.header_offset))?;
    let mut h = [0u8; 30];
    f.read_exact(&mut h)?;
    if h[..4] != [b'P', b'K', 3, 4] {
        return Err(bad("an entry's local header is missing"));
    }
    let skip = u16_at(&h, 26) as i64 + u16_at(&h, 28) as i64;
    f.seek(SeekFrom::Current(skip))?;
    let data = BufReader::new(f).take(entry.size);
    Ok(match entry.method {
        0 => Box::new(BufReader::new(data)),
        8 => Box::new(BufReader::new(flate2::bufread::DeflateDecoder::new(data))),
        _ => {
            return Err(bad(
                "an entry is compressed with a method other than stored or deflate",
            ))
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stored archive of `files` (names and contents), with data
    /// descriptors as streaming writers (Plausible's) make them.
    pub(crate) fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut dir = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            let crc = crc32(data);
            let local = |v: &mut Vec<u8>, sizes: bool| {
                v.extend_from_slice(&[b'P', b'K', 3, 4, 20, 0]);
                v.extend_from_slice(&(if sizes { 0u16 } else { 8 }).to_le_bytes());
                v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
                for x in if sizes {
                    [crc, data.len() as u32, data.len() as u32]
                } else {
                    [0, 0, 0]
                } {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                v.extend_from_slice(&0u16.to_le_bytes());
                v.extend_from_slice(name.as_bytes());
            };
            local(&mut out, false);
            out.extend_from_slice(data);
            out.extend_from_slice(&[b'P', b'K', 7, 8]);
            for x in [crc, data.len() as u32, data.len() as u32] {
                out.extend_from_slice(&x.to_le_bytes());
            }
            dir.extend_from_slice(&[b'P', b'K', 1, 2, 20, 0, 20, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
            for x in [crc, data.len() as u32, data.len() as u32] {
                dir.extend_from_slice(&x.to_le_bytes());
            }
            dir.extend_from_slice(&(name.len() as u16).to_le_bytes());
            dir.extend_from_slice(&[0; 12]);
            dir.extend_from_slice(&offset.to_le_bytes());
            dir.extend_from_slice(name.as_bytes());
        }
        let dir_offset = out.len() as u32;
        out.extend_from_slice(&dir);
        out.extend_from_slice(&[b'P', b'K', 5, 6, 0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(&dir_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn stored_entries_are_listed_and_read() {
        let dir = std::env::temp_dir().join(format!("tacit-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("export.zip");
        std::fs::write(
            &path,
            stored_zip(&[
                ("imported_visitors.csv", b"date,visitors\n"),
                ("pages.csv", b"x\n"),
            ]),
        )
        .unwrap();
        assert!(is_zip(&path));
        let e = entries(&path).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "pages.csv");
        let mut text = String::new();
        open(&path, &e[0])
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "date,visitors\n");
        std::fs::write(&path, b"PK\x03\x04 not really").unwrap();
        assert!(entries(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
