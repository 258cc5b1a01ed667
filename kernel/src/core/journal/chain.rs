//! The journal file: JSON lines, each carrying the SHA-256 of the line before it, appended
//! under an exclusive lock so that two kernels on one notebook keep one valid chain.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a record's successor carries: SHA-256 of its line, without the newline.
pub fn hash_line(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// A line that is not a record: the tail of a write cut short (a kernel killed mid-write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// 1-based line number.
    pub line: usize,
}

/// The end of the chain: the last whole record's hash and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    hash: String,
    seq: u64,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            hash: GENESIS.to_string(),
            seq: 0,
        }
    }
}

pub struct ChainFile {
    path: PathBuf,
    file: File,
    /// The file's length after our last append: when it differs, another kernel appended
    /// and the head is read again.
    known_len: u64,
    head: Head,
    /// What one append writes, kept between appends (a big batch's record is ~600 KB).
    out: Vec<u8>,
}

/// What opening a journal found in it.
pub struct Opened {
    pub file: ChainFile,
    pub records: Vec<Value>,
    pub torn: Vec<Torn>,
}

fn parse_record(line: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(line).ok()?;
    v.get("seq")?.as_u64()?;
    v.get("prev")?.as_str()?;
    Some(v)
}

impl ChainFile {
    /// Opens (creating it and its folder) the journal at `path` and reads its records.
    pub fn open(path: &Path) -> io::Result<Opened> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        file.lock_shared()?;
        let mut bytes = Vec::new();
        let read = file.read_to_end(&mut bytes);
        file.unlock()?;
        read?;
        let mut records = Vec::new();
        let mut torn = Vec::new();
        let mut head = Head::default();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match parse_record(line) {
                Some(v) => {
                    head = Head {
                        hash: hash_line(line),
                        seq: v["seq"].as_u64().unwrap_or(0),
                    };
                    records.push(v);
                }
                None => torn.push(Torn { line: i + 1 }),
            }
        }
        Ok(Opened {
            file: ChainFile {
                path: path.to_path_buf(),
                file,
                known_len: bytes.len() as u64,
                head,
                out: Vec::new(),
            },
            records,
            torn,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends records (their bodies, `{"kind":…}`, one per line, numbered and chained here)
    /// in one write, under the lock, and returns the bytes written.
    pub fn append(&mut self, bodies: &[u8]) -> io::Result<usize> {
        self.file.lock()?;
        let written = self.append_locked(bodies);
        let unlocked = self.file.unlock();
        let written = written?;
        unlocked?;
        Ok(written)
    }

    fn append_locked(&mut self, bodies: &[u8]) -> io::Result<usize> {
        let len = self.file.metadata()?.len();
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let mut ends_with_newline = true;
        if len != self.known_len {
            let (head, newline) = read_head(&mut self.file, len)?;
            self.head = head;
            ends_with_newline = newline;
        } else if len > 0 {
            ends_with_newline = last_byte(&mut self.file, len)? == Some(b'\n');
        }
        if !ends_with_newline {
            // A torn last line ends here; the chain goes on from the last whole record.
            out.push(b'\n');
        }
        let mut head = self.head.clone();
        for body in bodies.split(|&b| b == b'\n').filter(|b| !b.is_empty()) {
            // `{"seq":N,` + the body's fields + `,"prev":"…"}`.
            let fields = body
                .strip_prefix(b"{")
                .and_then(|b| b.strip_suffix(b"}"))
                .ok_or_else(|| io::Error::other("a record body is not a JSON object"))?;
            let seq = head.seq + 1;
            let start = out.len();
            write!(out, "{{\"seq\":{seq},")?;
            out.extend_from_slice(fields);
            write!(out, ",\"prev\":\"{}\"}}", head.hash)?;
            head = Head {
                hash: hash_line(&out[start..]),
                seq,
            };
            out.push(b'\n');
        }
        let written = self.file.write_all(&out).and_then(|_| self.file.flush());
        let n = out.len();
        self.out = out;
        written?;
        self.head = head;
        self.known_len = len + n as u64;
        Ok(n)
    }
}

fn last_byte(file: &mut File, len: u64) -> io::Result<Option<u8>> {
    if len == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut b)?;
    Ok(Some(b[0]))
}

/// The head of the chain in a file another kernel appended to: the last whole record, read
/// from the end in growing chunks; and whether the file ends with a newline.
fn read_head(file: &mut File, len: u64) -> io::Result<(Head, bool)> {
    let mut chunk = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(chunk);
        let mut bytes = vec![0u8; (len - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut bytes)?;
        let newline = bytes.last().is_none_or(|&b| b == b'\n');
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if start > 0 {
            // The first piece may be the end of a longer line.
            lines.remove(0);
        }
        // The last line that is a record (parsed once: it may be a 600 KB recompute).
        let last = lines.iter().rev().filter(|l| !l.is_empty()).find_map(|l| {
            let seq = parse_record(l)?["seq"].as_u64()?;
            Some((l, seq))
        });
        if let Some((line, seq)) = last {
            let head = Head {
                hash: hash_line(line),
                seq,
            };
            return Ok((head, newline));
        }
        if start == 0 {
            return Ok((Head::default(), newline));
        }
        chunk *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{Kind, Record};
    use super::*;

    fn rec(user: &str) -> Vec<u8> {
        let mut out = Vec::new();
        Record::new(Kind::Run, "2026-12-01T00:00:00.000Z", user, None).write_line(&mut out, None);
        out
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Each line's `prev` is the hash of the last whole record before it.
    fn chain_holds(path: &Path) -> bool {
        let mut prev = GENESIS.to_string();
        let mut seq = 0;
        for line in lines(path) {
            let Some(v) = parse_record(line.as_bytes()) else {
                continue;
            };
            if v["prev"] != prev.as_str() || v["seq"].as_u64() != Some(seq + 1) {
                return false;
            }
            prev = hash_line(line.as_bytes());
            seq += 1;
        }
        true
    }

    #[test]
    fn records_are_chained_and_numbered() {
        let dir = tempdir();
        let path = dir.join("j.jsonl");
        let mut f = ChainFile::open(&path).unwrap().file;
        f.append(&[rec("a"), rec("b")].concat()).unwrap();
        f.append(&rec("c")).unwrap();
        let all = lines(&path);
        assert_eq!(all.len(), 3);
        assert!(all[0].contains(GENESIS));
        assert!(chain_holds(&path));
        let reopened = ChainFile::open(&path).unwrap();
        assert_eq!(reopened.records.len(), 3);
        assert_eq!(reopened.file.head.seq, 3);
    }

    #[test]
    fn two_writers_keep_one_chain() {
        let dir = tempdir();
        let path = dir.join("j.jsonl");
        let mut one = ChainFile::open(&path).unwrap().file;
        let mut two = ChainFile::open(&path).unwrap().file;
        for i in 0..5 {
            one.append(&rec(&format!("one{i}"))).unwrap();
            two.append(&[rec(&format!("two{i}")), rec("x")].concat())
                .unwrap();
        }
        assert_eq!(lines(&path).len(), 15);
        assert!(chain_holds(&path));
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_chain_goes_on() {
        let dir = tempdir();
        let path = dir.join("j.jsonl");
        let mut f = ChainFile::open(&path).unwrap().file;
        f.append(&rec("a")).unwrap();
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(b"{\"seq\":2,\"kind\":\"ru").unwrap();
        let opened = ChainFile::open(&path).unwrap();
        assert_eq!(opened.torn, vec![Torn { line: 2 }]);
        assert_eq!(opened.records.len(), 1);
        let mut g = opened.file;
        g.append(&rec("b")).unwrap();
        // The other writer did not see the torn line: it reads the head again.
        f.append(&rec("c")).unwrap();
        let all = lines(&path);
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(chain_holds(&path));
        assert!(all[2].contains("\"seq\":2"));
        assert!(all[3].contains("\"seq\":3"));
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pysheets-chain-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
