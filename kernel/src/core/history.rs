//! Input history, kept across restarts in `<jupyter data dir>/pysheets/history.jsonl`.
//!
//! Each kernel start is a new session number; each stored execute is `[session, line, input]`.
//! One JSON line per entry, appended as it happens, so a killed kernel loses nothing.

use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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

/// The whole lines in the last `max_bytes` of the file.
fn tail_text(path: &Path, max_bytes: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max_bytes);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    if start > 0 {
        // Cut in the middle of a line: start after it.
        let first = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..first);
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
            if let Some(last) = read_tail(p, 64 << 10).iter().map(|e| e.session).max() {
                session = last + 1;
            }
        }
        let file = path.and_then(|p| {
            std::fs::create_dir_all(p.parent()?).ok()?;
            OpenOptions::new().create(true).append(true).open(p).ok()
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
            let text = json!([entry.session, entry.line, entry.input, entry.output]).to_string();
            if let Err(e) = writeln!(file, "{text}") {
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
}
