//! Input history, kept across restarts in `<jupyter data dir>/pysheets/history.jsonl`.
//!
//! Each kernel start is a new session number; each stored execute is `[session, line, input]`.
//! One JSON line per entry, appended as it happens, so a killed kernel loses nothing.

use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub session: i64,
    pub line: i64,
    pub input: String,
    /// text/plain of the execute_result, for `output=True` requests.
    pub output: Option<String>,
}

pub struct History {
    entries: Vec<Entry>,
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

impl History {
    /// Loads earlier sessions from `path` (an unreadable or damaged file only costs history).
    pub fn open(path: Option<&Path>) -> History {
        let mut entries = Vec::new();
        if let Some(file) = path.and_then(|p| File::open(p).ok()) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                let Ok(Value::Array(fields)) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let [s, l, i, rest @ ..] = fields.as_slice() {
                    if let (Some(session), Some(line), Some(input)) =
                        (s.as_i64(), l.as_i64(), i.as_str())
                    {
                        entries.push(Entry {
                            session,
                            line,
                            input: input.to_string(),
                            output: rest.first().and_then(Value::as_str).map(str::to_string),
                        });
                    }
                }
            }
        }
        let session = entries.iter().map(|e| e.session).max().unwrap_or(0) + 1;
        let file = path.and_then(|p| {
            std::fs::create_dir_all(p.parent()?).ok()?;
            OpenOptions::new().create(true).append(true).open(p).ok()
        });
        History {
            entries,
            session,
            file,
        }
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
        self.entries.push(entry);
    }

    /// Answers a history_request's content with the reply's `history` list.
    pub fn query(&self, request: &Value) -> Vec<Value> {
        let n = request["n"].as_i64().unwrap_or(10).max(0) as usize;
        let picked: Vec<&Entry> = match request["hist_access_type"].as_str().unwrap_or("tail") {
            "range" => {
                let mut session = request["session"].as_i64().unwrap_or(0);
                if session <= 0 {
                    session += self.session;
                }
                let start = request["start"].as_i64().unwrap_or(0);
                let stop = request["stop"].as_i64();
                self.entries
                    .iter()
                    .filter(|e| e.session == session && e.line >= start)
                    .filter(|e| stop.is_none_or(|s| e.line < s))
                    .collect()
            }
            "search" => {
                let pattern = request["pattern"].as_str().unwrap_or("*");
                let unique = request["unique"].as_bool().unwrap_or(false);
                let mut hits: Vec<&Entry> = self
                    .entries
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
            _ => last(self.entries.iter().collect(), n),
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
        let h2 = History::open(Some(&path));
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
        let h = History::open(Some(&path));
        assert_eq!(h.session(), 4);
        assert_eq!(h.query(&json!({"n": 5})), vec![json!([3, 1, "ok"])]);
        std::fs::remove_file(path).unwrap();
    }
}
