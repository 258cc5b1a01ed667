//! The journal: every change to the sheet, appended to a JSON Lines file per notebook, each
//! record chained to the one before it by SHA-256, so that an edited, removed or reordered
//! record is detected (`%sheet verify`, in `pysheets_kernel.audit`, which also answers `%history`,
//! `%explain`, `%asof` and `%diff` from this file).
//!
//! - `place` — where the file is (`PYSHEETS_JOURNAL`, the notebook's folder, the working
//!   directory) and who a request comes from;
//! - `record` — a record as written;
//! - `chain` — the file: reading it, appending under a lock, the hash chain.
//!
//! The sheet reports what a request changed ([`Report`]); [`Journal::record`] turns that into
//! records, and [`Journal::flush`] writes them once per request, before the reply.

mod chain;
mod place;
mod record;

pub use record::write_recomputed;

use super::live_sheet::{CellState, Edited, LiveSheet, Mode, Report};
use crate::sheet::Address;
use chain::ChainFile;
use place::{choose, os_user, user, Place};
use record::{addrs, round_ms, truncate, Addr, Kind, Record};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What the journal last recorded of a cell.
#[derive(Debug, Clone)]
struct Known {
    code: String,
    edited: Edited,
}

enum State {
    /// Opened on the first change, when the notebook's path is known (VS Code tells it with
    /// code it runs after start-up).
    Unopened,
    Off,
    Open(ChainFile),
    /// It could not be opened or written; the sheet works without it.
    Failed,
}

/// What a request changed, and when (who made it is given beside it).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub time: &'a str,
    /// The code of an execute_request that is a cell.
    pub code: Option<&'a str>,
    /// A `%sheet` command's text, when the request was one.
    pub command: Option<&'a str>,
    /// Its own error, when it failed.
    pub error: Option<String>,
    /// The sheet's mode before the request.
    pub mode_before: Mode,
}

pub struct Journal {
    state: State,
    setting: Option<String>,
    session_name: Option<String>,
    notebook: Option<String>,
    known: FxHashMap<Address, Known>,
    /// Record bodies not yet written, one per line.
    pending: Vec<u8>,
    /// Warnings for the output of the request being served (one each).
    warnings: Vec<String>,
    /// The path opened since [`Journal::take_opened`] last asked.
    opened: Option<PathBuf>,
    hub_user: Option<String>,
    os_user: String,
}

/// The time now as the journal writes it: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// A journal configured from the environment; the file is opened on the first change.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        Journal {
            state: State::Unopened,
            setting: var("PYSHEETS_JOURNAL"),
            session_name: var("JPY_SESSION_NAME"),
            notebook: None,
            known: FxHashMap::default(),
            pending: Vec::new(),
            warnings: Vec::new(),
            opened: None,
            hub_user: var("JUPYTERHUB_USER"),
            os_user: os_user(),
        }
    }

    /// Who a request whose header says `username` comes from.
    pub fn user(&self, header_username: &str) -> String {
        user(header_username, self.hub_user.as_deref(), &self.os_user)
    }

    /// Whether the file still has to be chosen (then [`Journal::open`] is due).
    pub fn needs_opening(&self) -> bool {
        matches!(self.state, State::Unopened)
    }

    /// Opens the journal, `vscode_file` being the notebook VS Code names, if any; reads what
    /// it knows of each cell (its code, last editor, what it reads).
    pub fn open(&mut self, vscode_file: Option<&str>) {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let place = choose(
            self.setting.as_deref(),
            self.session_name.as_deref(),
            vscode_file,
            &cwd,
        );
        let (path, notebook) = match place {
            Place::Off => {
                self.state = State::Off;
                return;
            }
            Place::File { path, notebook } => (path, notebook),
        };
        self.notebook = notebook;
        match ChainFile::open(&path) {
            Ok(opened) => {
                for torn in &opened.torn {
                    self.warnings.push(format!(
                        "PySheets: line {} of the journal {} is not a whole record (a write \
                         cut short, as when a kernel is killed); it is skipped",
                        torn.line,
                        path.display()
                    ));
                }
                // One file may hold several notebooks' records (a PYSHEETS_JOURNAL shared
                // by them): only this notebook's say what its cells are.
                let ours = self.notebook.clone();
                let records = opened.records.iter();
                for r in records.filter(|r| r["notebook"].as_str() == ours.as_deref()) {
                    self.learn(r);
                }
                self.opened = Some(path);
                self.state = State::Open(opened.file);
            }
            Err(e) => self.fail(&path, &e),
        }
    }

    fn fail(&mut self, path: &Path, e: &std::io::Error) {
        self.warnings.push(format!(
            "PySheets: the journal {} cannot be written ({e}); changes to this sheet are not \
             being recorded",
            path.display()
        ));
        tracing::warn!("journal {}: {e}", path.display());
        self.state = State::Failed;
        self.pending.clear();
    }

    /// The notebook this kernel's records name, when known.
    pub fn notebook(&self) -> Option<&str> {
        self.notebook.as_deref()
    }

    /// Whether changes are being written.
    pub fn is_on(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// The file opened since the last call, once.
    pub fn take_opened(&mut self) -> Option<PathBuf> {
        self.opened.take()
    }

    /// Warnings to show in the output of the request being served.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// What a record read from the file says of a cell's code and editor.
    fn learn(&mut self, r: &Value) {
        let address = r["address"]
            .as_str()
            .and_then(|a| a.parse::<Address>().ok());
        let Some(address) = address else {
            return;
        };
        match r["kind"].as_str() {
            Some("edit") => {
                if let Some(code) = r["code"].as_str() {
                    let edited = Edited {
                        by: r["user"].as_str().unwrap_or("").to_string(),
                        at: r["time"].as_str().unwrap_or("").to_string(),
                    };
                    let code = code.to_string();
                    self.known.insert(address, Known { code, edited });
                }
            }
            Some("delete") => {
                self.known.remove(&address);
            }
            _ => {}
        }
    }

    /// Turns what a request by `user` did to the sheet into records (written by
    /// [`Journal::flush`]), and tells the sheet who last edited the cell it ran.
    pub fn record<C>(
        &mut self,
        sheet: &mut LiveSheet<C>,
        user: &str,
        req: &Request,
        report: &Report,
    ) {
        let rewired = sheet.sheet.take_rewired();
        // Deleted first: a request may delete a cell and run new code at its address.
        for (address, _) in &report.deleted {
            self.known.remove(address);
        }
        // The request's own cell, when its code became the cell at its address.
        let ran = match (report.address, req.code) {
            (Some(a), Some(code)) if sheet.cells.get(&a).is_some_and(|c| c.source == code) => {
                Some((
                    a,
                    code,
                    self.remember_editor(sheet, a, code, user, req.time),
                ))
            }
            _ => None,
        };
        if matches!(self.state, State::Off | State::Failed) {
            // No file, but the grid still shows who edited what in this session.
            sheet.journal_entries.clear();
            return;
        }
        let notebook = self.notebook.clone();
        let new = |kind| Record::new(kind, req.time, user, notebook.as_deref());
        for (address, cell_id) in &report.deleted {
            let mut r = new(Kind::Delete);
            r.address = Some(Addr(*address));
            r.cell = cell_id.as_deref();
            r.write_line(&mut self.pending, None);
        }
        let own = report.address;
        if let Some((address, code, edit)) = ran {
            let cell = &sheet.cells[&address];
            let mut r = new(if edit { Kind::Edit } else { Kind::Run });
            r.cell = cell.cell_id.as_deref();
            r.address = Some(Addr(address));
            if edit {
                r.title = Some(cell.title.as_str()).filter(|t| !t.is_empty());
                r.code = Some(code);
            }
            r.status = Some(cell.state.name());
            r.error = cell.state.failed();
            if cell.state == CellState::Ok {
                r.value_type = Some(&cell.value_type);
                r.value = Some(truncate(&cell.summary));
            }
            r.ms = Some(round_ms(cell.last_ms));
            r.reads = Some(addrs(&sheet.sheet.precedents(address)));
            r.write_line(&mut self.pending, None);
        } else if let (Some(address), Some(code)) = (own, req.code) {
            let mut r = new(Kind::Error);
            r.address = Some(Addr(address));
            r.code = Some(code);
            r.status = Some("error");
            r.error = req.error.clone();
            r.write_line(&mut self.pending, None);
        }
        if sheet.mode != req.mode_before {
            let mut r = new(Kind::Mode);
            r.mode = Some(sheet.mode.as_str());
            r.write_line(&mut self.pending, None);
        }
        // Cells that go stale with no request of the user's behind it: the order changed.
        let kind = match (own, req.code, req.command) {
            (None, None, None) => Kind::Order,
            _ => Kind::Recompute,
        };
        let mut r = new(kind);
        r.cause = own.map(|a| a.to_string()).or(req.command.map(String::from));
        recompute(sheet, report, &rewired, r, &mut self.pending);
        sheet.journal_entries.clear();
    }

    /// Whether running `code` at `address` is an edit (the journal last knew other code
    /// there); remembers the code and who last changed it, and tells the sheet.
    fn remember_editor<C>(
        &mut self,
        sheet: &mut LiveSheet<C>,
        address: Address,
        code: &str,
        user: &str,
        time: &str,
    ) -> bool {
        let same = self.known.get(&address).filter(|k| k.code == code);
        let edit = same.is_none();
        let edited = match same {
            Some(k) => k.edited.clone(),
            None => Edited {
                by: user.to_string(),
                at: time.to_string(),
            },
        };
        let code = code.to_string();
        sheet.set_edited(address, edited.clone());
        self.known.insert(address, Known { code, edited });
        edit
    }

    /// Writes what was recorded since the last flush, in one append: done before the reply,
    /// so an acknowledged change is on disk (in the OS's hands: it survives a killed kernel).
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let State::Open(file) = &mut self.state else {
            self.pending.clear();
            return;
        };
        match file.append(&self.pending) {
            Ok(_) => self.pending.clear(),
            Err(e) => {
                let path = file.path().to_path_buf();
                self.fail(&path, &e);
            }
        }
    }
}

/// The cells a request re-ran or left stale, other than its own: one record, written to `out`
/// when there are any. The re-run loop wrote the entries of the cells it ran
/// ([`LiveSheet::journal_entries`]); cells marked failed without running are added here. What
/// a cell reads is written only when it changed (`rewired`).
fn recompute<C>(
    sheet: &LiveSheet<C>,
    report: &Report,
    rewired: &FxHashSet<Address>,
    mut r: Record,
    out: &mut Vec<u8>,
) {
    let mut entries = Vec::new();
    let mut marked = FxHashSet::default();
    for &address in &report.marked_failed {
        let Some(cell) = sheet.cells.get(&address) else {
            continue;
        };
        let Some(error) = cell.state.failed() else {
            continue;
        };
        if Some(address) == report.address || !marked.insert(address) {
            continue;
        }
        let reads = rewired
            .contains(&address)
            .then(|| sheet.sheet.precedents(address));
        let failed = Some((cell.state.name(), error.as_str()));
        write_recomputed(&mut entries, address, "", "", 0.0, failed, reads.as_deref());
    }
    let mut same = report.unchanged.clone();
    same.retain(|&a| Some(a) != report.address);
    let mut stale: Vec<Address> = report.stale.clone();
    stale.sort_unstable();
    stale.dedup();
    stale.retain(|a| {
        sheet
            .cells
            .get(a)
            .is_some_and(|c| c.state == CellState::Stale)
    });
    let ran = &sheet.journal_entries;
    if ran.is_empty() && entries.is_empty() && same.is_empty() && stale.is_empty() {
        return;
    }
    r.same = (!same.is_empty()).then(|| addrs(&same));
    r.stale = (!stale.is_empty()).then(|| addrs(&stale));
    if entries.is_empty() {
        r.write_line(out, Some(ran));
    } else {
        let mut all = ran.clone();
        all.extend_from_slice(&entries);
        r.write_line(out, Some(&all));
    }
}
