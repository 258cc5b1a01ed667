//! Architecture invariants (ARCHITECTURE.md), each kept true by a test here.
//!
//! The tests read the sources under `kernel/src` and look at what each layer names: other
//! layers of this crate (`crate::protocol::…`, `super::super::sheet::…`, `use crate::{…}`) and
//! the crates of `Cargo.toml`'s `[dependencies]` (`pyo3::…`). Comments and string literals are
//! skipped, so a doc comment that mentions another layer is not a dependency. A failure names
//! each offending file and line.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The crate's top-level modules that are layers.
const LAYERS: [&str; 4] = ["core", "protocol", "python", "sheet"];

/// One thing a source file names: a layer of this crate or an external crate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A top-level module of this crate (`crate::protocol` → `protocol`).
    Module(String),
    /// A dependency from Cargo.toml (`pyo3::prelude` → `pyo3`).
    Crate(String),
}

/// Where a source file names a [`Target`].
#[derive(Debug, Clone)]
struct Use {
    target: Target,
    /// `src/python/bridge.rs`, relative to `kernel/`.
    file: String,
    line: usize,
    text: String,
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kernel/{}:{}: {}", self.file, self.line, self.text)
    }
}

fn kernel_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The names of `[dependencies]` in kernel/Cargo.toml, as Rust spells them (`rustc_hash`).
fn dependencies() -> BTreeSet<String> {
    let toml = fs::read_to_string(kernel_dir().join("Cargo.toml")).expect("kernel/Cargo.toml");
    let mut in_deps = false;
    let mut names = BTreeSet::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps {
            if let Some((name, _)) = line.split_once('=') {
                names.insert(name.trim().replace('-', "_"));
            }
        }
    }
    assert!(
        names.contains("pyo3"),
        "no pyo3 in [dependencies]: {names:?}"
    );
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every use of a layer or a dependency in every source file under kernel/src.
fn all_uses() -> Vec<Use> {
    let src = kernel_dir().join("src");
    let deps = dependencies();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 10, "too few sources under {}", src.display());
    let mut uses = Vec::new();
    for path in files {
        let code = fs::read_to_string(&path).expect("a source file");
        let rel = path.strip_prefix(kernel_dir()).expect("under kernel/");
        let file = rel.to_string_lossy().replace('\\', "/");
        let module = module_path(path.strip_prefix(&src).expect("under src/"));
        let lines: Vec<&str> = code.lines().collect();
        for (target, line) in references(&code, &module, &deps) {
            uses.push(Use {
                target,
                file: file.clone(),
                line,
                text: lines.get(line - 1).map_or("", |l| l.trim()).to_string(),
            });
        }
    }
    uses
}

/// The module path of a file relative to src: `python/bridge.rs` → `[python, bridge]`,
/// `python/mod.rs` → `[python]`, `lib.rs` → `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The layer a file belongs to (`python` for `src/python/bridge.rs`), if any.
fn layer_of(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("src/")?;
    let (dir, _) = rest.split_once('/')?;
    LAYERS.contains(&dir).then_some(dir)
}

/// `code` with comments and string and char literals blanked out (newlines kept, so line
/// numbers stay right).
fn strip_comments_and_strings(code: &str) -> String {
    let c: Vec<char> = code.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && next == Some('*') {
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(next, Some('"' | '#'))
        {
            // A raw string r"…" / r#"…"# (or br"…"); anything else starting with r is a name.
            let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
            let quote = i + 1 + hashes;
            if c.get(quote) != Some(&'"') {
                i += 1;
                continue;
            }
            let mut j = quote + 1;
            while j < c.len() {
                if c[j] == '"' && (j + 1..=j + hashes).all(|k| c.get(k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), or else a lifetime ('a).
            if next == Some('\\') {
                let end = (i + 2..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
                blank(&mut out, i, end + 1);
                i = end + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                blank(&mut out, i, i + 3);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Punct(char),
}

fn tokens(code: &str) -> Vec<(Token, usize)> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let end = (i..c.len())
                .find(|&j| !(c[j].is_alphanumeric() || c[j] == '_'))
                .unwrap_or(c.len());
            out.push((Token::Ident(c[i..end].iter().collect()), line));
            i = end;
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Token::Path, line));
            i += 2;
        } else {
            out.push((Token::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// The layers and dependencies `code` names, with their lines. `module` is the file's module
/// path (`[python, bridge]`), to resolve `super::`.
fn references(code: &str, module: &[String], deps: &BTreeSet<String>) -> Vec<(Target, usize)> {
    let toks = tokens(&strip_comments_and_strings(code));
    let ident = |k: usize| match toks.get(k) {
        Some((Token::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |k: usize, t: &Token| toks.get(k).is_some_and(|(tok, _)| tok == t);
    let mut found = Vec::new();
    // Inline modules (`mod tests {`): (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut k = 0;
    while k < toks.len() {
        let line = toks[k].1;
        match &toks[k].0 {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(name), true) = (ident(k + 1), is(k + 2, &Token::Punct('{'))) {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            Token::Ident(word)
                if k == 0 || !(is(k - 1, &Token::Path) || is(k - 1, &Token::Punct('.'))) =>
            {
                let mut here: Vec<String> = module.to_vec();
                here.extend(inline.iter().map(|(name, _)| name.clone()));
                // The module a path starts from, and the index of its next segment.
                let start: Option<(Vec<String>, usize)> = match word.as_str() {
                    "crate" if is(k + 1, &Token::Path) => Some((Vec::new(), k + 2)),
                    "super" => {
                        let mut j = k;
                        while ident(j) == Some("super") && is(j + 1, &Token::Path) {
                            here.pop();
                            j += 2;
                        }
                        (j > k).then_some((here, j))
                    }
                    dep if deps.contains(dep) && is(k + 1, &Token::Path) => {
                        found.push((Target::Crate(dep.to_string()), line));
                        None
                    }
                    _ => None,
                };
                if let Some((base, next)) = start {
                    let tops = match base.first() {
                        Some(top) => vec![top.clone()],
                        None => first_segments(&toks, next),
                    };
                    for top in tops {
                        if LAYERS.contains(&top.as_str()) {
                            found.push((Target::Module(top), line));
                        }
                    }
                }
            }
            _ => {}
        }
        k += 1;
    }
    found
}

/// The first path segment at `k` (`protocol` in `protocol::wire`), or of each item of a use
/// group there (`{sheet::Address, protocol}` → `sheet`, `protocol`).
fn first_segments(toks: &[(Token, usize)], k: usize) -> Vec<String> {
    match toks.get(k) {
        Some((Token::Ident(s), _)) => vec![s.clone()],
        Some((Token::Punct('{'), _)) => {
            let mut out = Vec::new();
            let (mut depth, mut start) = (0, true);
            for (tok, _) in &toks[k + 1..] {
                match tok {
                    Token::Punct('{') => depth += 1,
                    Token::Punct('}') if depth == 0 => break,
                    Token::Punct('}') => depth -= 1,
                    Token::Punct(',') if depth == 0 => start = true,
                    Token::Ident(s) if start && depth == 0 => {
                        out.push(s.clone());
                        start = false;
                    }
                    _ => start = false,
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Fails, naming each offending file and line, if any use in `uses` breaks the invariant.
fn check(invariant: &str, offending: Vec<Use>) {
    assert!(
        offending.is_empty(),
        "Architecture invariant broken: {invariant}\n{}",
        offending
            .iter()
            .map(|u| format!("  {u}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Uses by files of `layer` of any of the layers `forbidden`.
fn layer_uses(layer: &str, forbidden: &[&str]) -> Vec<Use> {
    all_uses()
        .into_iter()
        .filter(|u| layer_of(&u.file) == Some(layer))
        .filter(|u| matches!(&u.target, Target::Module(m) if forbidden.contains(&m.as_str())))
        .collect()
}

#[test]
fn sheet_uses_only_petgraph_thiserror_and_rustc_hash() {
    let allowed = ["petgraph", "thiserror", "rustc_hash"];
    check(
        "`sheet/` is pure Rust: of the dependencies it uses only petgraph, thiserror and \
         rustc_hash (no pyo3, zmq, serde_json, tokio)",
        all_uses()
            .into_iter()
            .filter(|u| layer_of(&u.file) == Some("sheet"))
            .filter(|u| matches!(&u.target, Target::Crate(c) if !allowed.contains(&c.as_str())))
            .collect(),
    );
}

#[test]
fn sheet_uses_no_other_layer() {
    check(
        "`sheet/` uses nothing of `core/`, `python/` or `protocol/`",
        layer_uses("sheet", &["core", "python", "protocol"]),
    );
}

#[test]
fn protocol_uses_no_other_layer() {
    check(
        "`protocol/` uses nothing of `sheet/`, `python/` or `core/`",
        layer_uses("protocol", &["sheet", "python", "core"]),
    );
}

#[test]
fn python_uses_nothing_of_core() {
    check(
        "`python/` uses nothing of `core/`",
        layer_uses("python", &["core"]),
    );
}

#[test]
fn python_uses_nothing_of_protocol() {
    check(
        "`python/` uses nothing of `protocol/` (it publishes through a sink `core/` gives it)",
        layer_uses("python", &["protocol"]),
    );
}

/// `extension/` is the crate's entry point (what `main.rs` is to a binary): the extension
/// module's init, `main`, which hands the command line to `cli`, and the `Model` class that
/// Python drives a headless sheet with.
#[test]
fn only_python_and_the_entry_point_use_pyo3() {
    check(
        "only `python/` and `extension/` use pyo3",
        all_uses()
            .into_iter()
            .filter(|u| u.target == Target::Crate("pyo3".into()))
            .filter(|u| {
                layer_of(&u.file) != Some("python") && !u.file.starts_with("src/extension/")
            })
            .collect(),
    );
}

/// The checks above pass vacuously if the scanner sees nothing: it must see the edges that
/// are meant to exist.
#[test]
fn the_scanner_sees_the_edges_that_exist() {
    let uses = all_uses();
    let seen = |layer: &str, target: Target| {
        uses.iter()
            .any(|u| layer_of(&u.file) == Some(layer) && u.target == target)
    };
    for layer in ["protocol", "python", "sheet"] {
        assert!(
            seen("core", Target::Module(layer.into())),
            "core/ → {layer}/ not seen"
        );
    }
    assert!(seen("python", Target::Crate("pyo3".into())));
    assert!(seen("protocol", Target::Crate("zmq".into())));
    assert!(seen("sheet", Target::Crate("petgraph".into())));
}

#[test]
fn the_scanner_reads_paths_groups_super_and_skips_comments_and_strings() {
    let deps: BTreeSet<String> = ["pyo3", "serde_json"].map(String::from).into();
    let module = ["sheet".to_string(), "graph".to_string()];
    let code = r##"
use crate::{protocol::wire, sheet::Address};
// use crate::core::x;
/* crate::python /* nested */ crate::core */
let s = "crate::core::x and pyo3::y";
let r = r#"crate::python "quoted""#;
let c = '"'; let l: &'static str = "";
fn f() { super::super::core::thing(); super::address::Range; }
mod tests { use super::super::python; }
let v = pyo3::prelude::x; let w = a.serde_json::b; let pyo3 = 1;
"##;
    let got: Vec<(Target, usize)> = references(code, &module, &deps);
    let m = |s: &str, line| (Target::Module(s.into()), line);
    assert_eq!(
        got,
        vec![
            m("protocol", 2),
            m("sheet", 2),
            m("core", 8),
            m("sheet", 8),
            m("sheet", 9),
            (Target::Crate("pyo3".into()), 10),
        ]
    );
}
