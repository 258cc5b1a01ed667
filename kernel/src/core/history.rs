//! Input history, kept across restarts in `<jupyter data dir>/pysheets/history.jsonl`.
//!
//! Each kernel start is a new session number; each stored execute is `[session, line, input]`.
//! One JSON line per entry, appended as it happens, so a killed kernel loses nothing.

use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Past this size the file is cut down to its last `KEEP_BYTES` when a kernel starts, and only
/// that much is ever read: start-up must not grow with years of history (a 10 MB file once
/// cost 140 ms and 25 MB at every start).
const MAX_FILE_BYTES: u64 = 4 << 20;
const KEEP_BYTES: u64 = 2 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub session: i64,
    pub line: i64,
    pub input: String,
    /// text/plain of the execute_result, for `output=True` requests.
    pub output: Option<String>,
}

pub struct History {
    path: Option<PathBuf>,
    /// Read from the file on the first history_request, not at start-up.
    entries: Option<Vec<Entry>>,
    session: i64,
    file: Option<File>,
}

/// `$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter`, else `~/.local/share/jupyter`.
pub fn default_path() -> Option<PathBuf> {
    let data = std::env::var_os("JUPYTER_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("jupyter")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/jupyter"))
        })?;
    Some(data.join("pysheets").join("history.jsonl"))
}

fn parse_line(line: &str) -> Option<Entry> {
    let Ok(Value::Array(fields)) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    let [s, l, i, rest @ ..] = fields.as_slice() else {
        return None;
    };
    Some(Entry {
        session: s.as_i64()?,
        line: l.as_i64()?,
        input: i.as_str()?.to_string(),
        output: rest.first().and_then(Value::as_str).map(str::to_string),
    })
}

/// The start of the last line that ends in a newline, at or before `end` (0 when none does).
fn last_whole_line_start(file: &File, end: u64) -> u64 {
    let mut chunk_end = end;
    let mut seen_newline = false;
    while chunk_end > 0 {
        let start = chunk_end.saturating_sub(SCAN_BYTES);
        let Some(buf) = read_at(file, start, chunk_end - start) else {
            return 0;
        };
        for (i, &b) in buf.iter().enumerate().rev() {
            if b == b'\n' {
                if seen_newline {
                    return start + i as u64 + 1;
                }
                seen_newline = true;
            }
        }
        chunk_end = start;
    }
    0
}

fn read_at(file: &File, start: u64, len: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; usize::try_from(len).ok()?];
    file.read_exact_at(&mut buf, start).ok()?;
    Some(buf)
}

/// The whole lines in the last `max_bytes` of the file; the last whole line when it alone is
/// longer than that (a compacted file must still say which session was last).
fn tail_text(path: &Path, max_bytes: u64) -> String {
    let Ok(file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max_bytes);
    let Some(mut bytes) = read_at(&file, start, len - start) else {
        return String::new();
    };
    if start > 0 {
        // Cut in the middle of a line: start after it, when a whole line follows.
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) if bytes[i + 1..].contains(&b'\n') => {
                bytes.drain(..=i);
            }
            _ => {
                let line = last_whole_line_start(&file, len);
                bytes = read_at(&file, line, len - line).unwrap_or_default();
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The entries in the last `max_bytes` of the file (a damaged line is skipped).
fn read_tail(path: &Path, max_bytes: u64) -> Vec<Entry> {
    tail_text(path, max_bytes)
        .lines()
        .filter_map(parse_line)
        .collect()
}

/// The session of an entry from the start of its line (`[3,12,"…`): the line itself may be
/// megabytes long, or cut short by a killed kernel.
fn session_of_prefix(prefix: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(prefix)
        .or_else(|e| std::str::from_utf8(&prefix[..e.valid_up_to()]))
        .ok()?;
    let mut fields = text.strip_prefix('[')?.splitn(3, ',');
    let session = fields.next()?.trim().parse().ok()?;
    fields.next()?.trim().parse::<i64>().ok()?;
    fields
        .next()?
        .trim_start()
        .starts_with('"')
        .then_some(session)
}

/// The latest session in the file: the highest among the lines in its last [`SCAN_BYTES`]
/// (two kernels interleave their entries), or, when no line starts there (a last entry
/// longer than that), the first one found further back.
fn last_session(path: &Path) -> Option<i64> {
    let file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut best: Option<i64> = None;
    let mut end = len;
    while end > 0 && best.is_none() {
        let start = end.saturating_sub(SCAN_BYTES);
        let buf = read_at(&file, start, end - start)?;
        let starts = buf
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .map(|(i, _)| start + i as u64 + 1)
            .chain((start == 0).then_some(0));
        for line in starts.filter(|&line| line < len) {
            let offset = (line - start) as usize;
            let prefix = if offset + PREFIX_BYTES <= buf.len() {
                Some(buf[offset..offset + PREFIX_BYTES].to_vec())
            } else {
                read_at(&file, line, PREFIX_BYTES.min((len - line) as usize) as u64)
            };
            if let Some(session) = prefix.as_deref().and_then(session_of_prefix) {
                best = Some(best.map_or(session, |b| b.max(session)));
            }
        }
        end = start;
    }
    best
}

/// How much of the file's end is looked at for the last session.
const SCAN_BYTES: u64 = 64 << 10;
/// Enough of a line's start to hold `[session,line,"`.
const PREFIX_BYTES: usize = 48;

/// Whether the file ends in the middle of a line (a kernel killed while appending): the
/// next entry must start on a line of its own, or both are lost.
fn ends_in_a_torn_line(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    len > 0 && read_at(&file, len - 1, 1).is_some_and(|b| b != b"\n")
}

fn compact(path: &Path) {
    let kept = tail_text(path, KEEP_BYTES);
    let tmp = path.with_extension("jsonl.tmp");
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, kept.as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!("history: cannot compact {}: {e}", path.display());
    }
}

impl History {
    /// Opens the history file; an unreadable or damaged file only costs history.
    pub fn open(path: Option<&Path>) -> History {
        let mut session = 1;
        if let Some(p) = path {
            if std::fs::metadata(p).is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
                compact(p);
            }
            // Sessions only grow, so the last lines hold the latest one.
            if let Some(last) = last_session(p) {
                session = last + 1;
            }
        }
        let file = path.and_then(|p| {
            std::fs::create_dir_all(p.parent()?).ok()?;
            let torn = ends_in_a_torn_line(p);
            let mut file = OpenOptions::new().create(true).append(true).open(p).ok()?;
            if torn {
                if let Err(e) = file.write_all(b"\n") {
                    tracing::warn!("history: cannot end a torn line: {e}");
                }
            }
            Some(file)
        });
        History {
            path: path.map(Path::to_path_buf),
            entries: if path.is_some() {
                None
            } else {
                Some(Vec::new())
            },
            session,
            file,
        }
    }

    fn entries(&mut self) -> &mut Vec<Entry> {
        let path = self.path.clone();
        self.entries.get_or_insert_with(|| {
            path.map(|p| read_tail(&p, MAX_FILE_BYTES))
                .unwrap_or_default()
        })
    }

    #[cfg(test)]
    pub fn session(&self) -> i64 {
        self.session
    }

    pub fn store(&mut self, line: i64, input: &str, output: Option<&str>) {
        let entry = Entry {
            session: self.session,
            line,
            input: input.to_string(),
            output: output.map(str::to_string),
        };
        if let Some(file) = self.file.as_mut() {
            let mut text =
                json!([entry.session, entry.line, entry.input, entry.output]).to_string();
            text.push('\n');
            // One write: another kernel appending to the same file cannot come in between.
            if let Err(e) = file.write_all(text.as_bytes()) {
                tracing::warn!("history: cannot append: {e}");
            }
        }
        // Not loaded yet: the entry is in the file, where the first query will read it.
        if let Some(entries) = self.entries.as_mut() {
            entries.push(entry);
        }
    }

    /// Answers a history_request's content with the reply's `history` list.
    pub fn query(&mut self, request: &Value) -> Vec<Value> {
        let current = self.session;
        let entries = self.entries();
        let n = request["n"].as_i64().unwrap_or(10).max(0) as usize;
        let picked: Vec<&Entry> = match request["hist_access_type"].as_str().unwrap_or("tail") {
            "range" => {
                let mut session = request["session"].as_i64().unwrap_or(0);
                if session <= 0 {
                    session += current;
                }
                let start = request["start"].as_i64().unwrap_or(0);
                let stop = request["stop"].as_i64();
                entries
                    .iter()
                    .filter(|e| e.session == session && e.line >= start)
                    .filter(|e| stop.is_none_or(|s| e.line < s))
                    .collect()
            }
            "search" => {
                let pattern = request["pattern"].as_str().unwrap_or("*");
                let unique = request["unique"].as_bool().unwrap_or(false);
                let mut hits: Vec<&Entry> = entries
                    .iter()
                    .filter(|e| glob_match(pattern, &e.input))
                    .collect();
                if unique {
                    let mut seen = std::collections::HashSet::new();
                    let mut kept: Vec<&Entry> = hits
                        .into_iter()
                        .rev()
                        .filter(|e| seen.insert(e.input.as_str()))
                        .collect();
                    kept.reverse();
                    hits = kept;
                }
                last(hits, n)
            }
            _ => last(entries.iter().collect(), n),
        };
        let with_output = request["output"].as_bool().unwrap_or(false);
        picked
            .into_iter()
            .map(|e| {
                if with_output {
                    json!([e.session, e.line, [e.input, e.output]])
                } else {
                    json!([e.session, e.line, e.input])
                }
            })
            .collect()
    }
}

fn last(mut entries: Vec<&Entry>, n: usize) -> Vec<&Entry> {
    let skip = entries.len().saturating_sub(n);
    entries.drain(..skip);
    entries
}

/// Shell-style glob with `*` and `?`, as IPython's history search takes.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("pysheets-hist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn sessions_survive_a_restart() {
        let path = temp_file("restart");
        let mut h = History::open(Some(&path));
        assert_eq!(h.session(), 1);
        h.store(1, "a = 1", None);
        h.store(2, "a", Some("1"));
        let mut h2 = History::open(Some(&path));
        assert_eq!(h2.session(), 2);
        let tail = h2.query(&json!({"hist_access_type": "tail", "n": 1}));
        assert_eq!(tail, vec![json!([1, 2, "a"])]);
        let with_output = h2.query(&json!({"hist_access_type": "tail", "n": 1, "output": true}));
        assert_eq!(with_output, vec![json!([1, 2, ["a", "1"]])]);
        let range = h2.query(&json!({"hist_access_type": "range", "session": -1, "start": 1}));
        assert_eq!(range.len(), 2);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn search_with_globs_and_unique() {
        let mut h = History::open(None);
        for (i, code) in ["x = 1", "print(x)", "x = 1", "y = 2"].iter().enumerate() {
            h.store(i as i64 + 1, code, None);
        }
        let all = h.query(&json!({"hist_access_type": "search", "pattern": "x*", "n": 10}));
        assert_eq!(all.len(), 2);
        let unique = h.query(&json!({"hist_access_type": "search", "pattern": "*=*",
                                     "unique": true, "n": 10}));
        assert_eq!(unique, vec![json!([1, 3, "x = 1"]), json!([1, 4, "y = 2"])]);
        assert!(glob_match("pr?nt(*)", "print(x)"));
        assert!(!glob_match("pr?nt", "print(x)"));
    }

    #[test]
    fn a_damaged_file_is_skipped_line_by_line() {
        let path = temp_file("damaged");
        std::fs::write(&path, "not json\n[3, 1, \"ok\"]\n[1,2]\n").unwrap();
        let mut h = History::open(Some(&path));
        assert_eq!(h.session(), 4);
        assert_eq!(h.query(&json!({"n": 5})), vec![json!([3, 1, "ok"])]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_large_file_is_cut_to_its_tail_and_read_lazily() {
        let path = temp_file("large");
        let mut text = String::new();
        let padding = "x".repeat(200);
        let mut n = 0;
        while text.len() as u64 <= MAX_FILE_BYTES {
            n += 1;
            text.push_str(&json!([n / 1000 + 1, n, format!("{padding}{n}")]).to_string());
            text.push('\n');
        }
        std::fs::write(&path, &text).unwrap();
        let mut h = History::open(Some(&path));
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= KEEP_BYTES, "not compacted: {size} bytes");
        assert_eq!(h.session(), n / 1000 + 2);
        assert!(h.entries.is_none(), "read before any query");
        h.store(1, "new", None);
        let tail = h.query(&json!({"hist_access_type": "tail", "n": 2}));
        assert_eq!(tail[0][2], json!(format!("{padding}{n}")));
        assert_eq!(tail[1], json!([n / 1000 + 2, 1, "new"]));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_last_entry_over_64_kb_does_not_reuse_its_session() {
        let path = temp_file("long-last");
        let long = "y".repeat(200 << 10);
        let text = format!(
            "{}\n{}\n",
            json!([6, 1, "short", null]),
            json!([7, 1, long, null])
        );
        std::fs::write(&path, text).unwrap();
        let mut h = History::open(Some(&path));
        assert_eq!(h.session(), 8);
        let tail = h.query(&json!({"hist_access_type": "tail", "n": 1}));
        assert_eq!(tail, vec![json!([7, 1, long])]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn interleaved_sessions_of_two_kernels_give_the_highest() {
        let path = temp_file("interleaved");
        std::fs::write(
            &path,
            "[4,1,\"a\",null]\n[5,1,\"b\",null]\n[4,2,\"c\",null]\n",
        )
        .unwrap();
        assert_eq!(History::open(Some(&path)).session(), 6);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_entry() {
        let path = temp_file("torn");
        std::fs::write(&path, "[1,1,\"a = 1\",null]\n[1,2,\"cut sho").unwrap();
        let mut h = History::open(Some(&path));
        assert_eq!(h.session(), 2, "the torn line's session counts");
        h.store(1, "next", None);
        h.store(2, "after", None);
        let mut h2 = History::open(Some(&path));
        assert_eq!(h2.session(), 3);
        let all = h2.query(&json!({"hist_access_type": "tail", "n": 10}));
        assert_eq!(
            all,
            vec![
                json!([1, 1, "a = 1"]),
                json!([2, 1, "next"]),
                json!([2, 2, "after"])
            ]
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn compacting_keeps_a_last_entry_longer_than_what_is_kept() {
        let path = temp_file("huge-last");
        let mut text = String::new();
        for n in 0..20_000 {
            text.push_str(&json!([3, n, "x".repeat(100), null]).to_string());
            text.push('\n');
        }
        let huge = "z".repeat(KEEP_BYTES as usize + 1000);
        text.push_str(&json!([4, 1, huge, null]).to_string());
        text.push('\n');
        assert!(text.len() as u64 > MAX_FILE_BYTES);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(History::open(Some(&path)).session(), 5);
        // Compacted, and a kernel that stored nothing still leaves the last session behind.
        assert!(std::fs::metadata(&path).unwrap().len() < MAX_FILE_BYTES);
        let mut h = History::open(Some(&path));
        assert_eq!(h.session(), 5);
        assert_eq!(h.query(&json!({"n": 1}))[0][2], json!(huge));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_session_is_read_from_the_start_of_a_line() {
        assert_eq!(session_of_prefix(b"[12,3,\"print(1)"), Some(12));
        assert_eq!(session_of_prefix(b"[3, 1, \"ok\"]"), Some(3));
        assert_eq!(session_of_prefix(b"[1,2]"), None);
        assert_eq!(session_of_prefix(b"not json"), None);
        assert_eq!(
            session_of_prefix("[9,1,\"é".as_bytes().split_last().unwrap().1),
            Some(9)
        );
    }
}
