//! The sheet inside the kernel: [`LiveSheet`], which address each executed cell has, what
//! state it is in, and re-running what is downstream of a change (the graph and the order come
//! from `crate::sheet`; Python only runs one cell at a time, through [`CellRuntime`]).
//!
//! - `addressing` — the address of an executed cell (label, metadata, cellId, next free in A);
//! - `edit` — what a request does to the sheet: execute a cell, delete cells, `%sheet run`
//!   (and [`cell_deps`], the one place a cell's dependencies are made from its analysis);
//! - `rerun` — running a plan: order, early cutoff, errors, cycles, lazy cells, interrupts,
//!   and the names each cell is bound to before it runs;
//! - `views` — cells as JSON (the `%sheet` output and the grid comm's messages);
//! - `grid_comm` — the open comms of the `pysheets` target;
//! - `runtime` — what the sheet needs of Python ([`CellRuntime`]) and of output ([`Output`]).

mod addressing;
mod edit;
mod grid_comm;
mod rerun;
mod runtime;
mod views;

// The fake runtime is shared with the tests of what drives a sheet (`core::replay`).
#[cfg(test)]
pub(crate) mod tests;

pub use edit::cell_deps;
pub use grid_comm::{GridComms, SHEET_TARGET};
pub use runtime::{CellRuntime, Output};

use crate::python::{PyCallError, PyException, RunMode};
use crate::sheet::{Address, Sheet};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub enum CellState {
    Ok,
    /// The cell raised: `ename: evalue`.
    Error(String),
    /// An upstream cell raised (or is on a cycle); the message says which and why.
    UpstreamError(Address, String),
    /// Lazy mode (or an interrupt) left it with its last value, not recomputed.
    Stale,
    /// The cell is on a circular reference.
    Cycle(String),
}

impl CellState {
    pub fn name(&self) -> &'static str {
        match self {
            CellState::Ok => "ok",
            CellState::Error(_) => "error",
            CellState::UpstreamError(..) => "upstream-error",
            CellState::Stale => "stale",
            CellState::Cycle(_) => "error",
        }
    }

    pub fn failed(&self) -> Option<String> {
        match self {
            CellState::Error(m) | CellState::Cycle(m) | CellState::UpstreamError(_, m) => {
                Some(m.clone())
            }
            _ => None,
        }
    }
}

/// Whether cells downstream of an edit re-run by themselves (`%sheet auto`) or go stale until
/// `%sheet run` (`%sheet lazy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Auto,
    Lazy,
}

impl Mode {
    /// The name in `%sheet`'s JSON, the comm's messages and `%sheet`'s text.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Lazy => "lazy",
        }
    }
}

/// How the cell that a request executes shows its value, and so how a request's own output
/// shows (a cell's value, `%sheet`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// `display_data` with the address's display id (frontends with cells: it can be updated;
    /// JupyterLab only updates display ids of `display_data`).
    Display,
    /// `execute_result` with `Out[n]` (console and other line-oriented clients).
    Result,
}

impl Shown {
    /// The rule: a request that names its notebook cell (`cellId`) comes from a frontend with
    /// cells.
    pub fn of_request(metadata: &Value) -> Self {
        if metadata["cellId"].is_string() {
            Shown::Display
        } else {
            Shown::Result
        }
    }

    /// How `pysheets_kernel.cells.run` shows the edited cell's value.
    pub fn run_mode(self) -> RunMode {
        match self {
            Shown::Display => RunMode::Display,
            Shown::Result => RunMode::Result,
        }
    }

    /// Publishes a request's own MIME bundle (not a cell's value: no display id).
    pub fn publish(self, out: &impl Output, data: Value, execution_count: i64) {
        match self {
            Shown::Display => out.publish("display_data", json!({"data": data, "metadata": {}})),
            Shown::Result => out.publish(
                "execute_result",
                json!({"execution_count": execution_count, "data": data, "metadata": {}}),
            ),
        }
    }
}

#[derive(Debug)]
pub struct CellRecord<C> {
    /// The code as the user wrote it.
    pub source: String,
    pub cell_id: Option<String>,
    pub title: String,
    pub lazy: bool,
    /// Its label's number format (Python format spec), applied by the runtime to numbers.
    pub format: Option<String>,
    pub defines: Vec<String>,
    pub reads_addresses: Vec<Address>,
    pub state: CellState,
    pub summary: String,
    /// The value's type with its length or shape (`list[3]`), for the journal.
    pub value_type: String,
    /// How long its last run took, in milliseconds.
    pub last_ms: f64,
    /// Who last changed its code, and when (from the journal; shown by the grid).
    pub edited: Option<Edited>,
    /// A small PNG (base64) of the value, when it shows as a picture.
    pub png: Option<String>,
    /// It evaluates the model (what-if, goal seek): it re-runs whenever a cell upstream of
    /// it re-runs, changed value or not (see `Analysis::reads_model`).
    pub reads_model: bool,
    /// The cell's object in the runtime, holding the code Python runs (ranges rewritten); None
    /// only if the runtime failed to make it.
    py: Option<C>,
    /// What calling each of this cell's functions may bind or change, for the cells that
    /// call them.
    function_writes: BTreeMap<String, Vec<String>>,
    /// The (name, definer) bindings the runtime last got for this cell, and the epoch they
    /// were given in: unchanged bindings are not sent again.
    bound: Vec<(String, Option<Address>)>,
    bound_epoch: u64,
}

/// Who last changed a cell's code, and when (RFC 3339, UTC, milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub by: String,
    pub at: String,
}

/// A request's failure before or while running its own cell.
#[derive(Debug, Clone)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
    /// Already shown to the user as an `error` output.
    pub published: bool,
}

impl CellError {
    pub fn new(ename: &str, evalue: String) -> Self {
        CellError {
            ename: ename.into(),
            traceback: vec![format!("{ename}: {evalue}")],
            evalue,
            published: false,
        }
    }

    /// A cell's own error, which Python has shown already.
    fn shown(e: PyException) -> Self {
        CellError {
            ename: e.ename,
            evalue: e.evalue,
            traceback: e.traceback,
            published: true,
        }
    }

    /// A call into Python that failed for the kernel's own code, not yet shown.
    fn of_call(e: &PyCallError) -> Self {
        let e = e.exception();
        CellError {
            ename: e.ename,
            evalue: e.evalue,
            traceback: e.traceback,
            published: false,
        }
    }

    pub fn publish(&mut self, out: &impl Output) {
        if self.published {
            return;
        }
        self.published = true;
        out.publish(
            "error",
            json!({"ename": self.ename, "evalue": self.evalue, "traceback": self.traceback}),
        );
    }
}

/// What the executed cell's own run gave, for the reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnRun {
    /// Payloads (the pager), `[]` when there are none.
    pub payload: Value,
    /// Out[n] as text, for the history.
    pub result_text: Option<String>,
}

/// What a request did to the sheet, for the reply's metadata and the comm.
#[derive(Debug, Default)]
pub struct Report {
    pub address: Option<Address>,
    pub reran: Vec<Address>,
    pub stale: Vec<Address>,
    pub touched: BTreeSet<Address>,
    /// Re-run cells whose value and definitions came out the same (early cutoff).
    pub unchanged: Vec<Address>,
    /// Cells marked failed without running (upstream errors, cycles).
    pub marked_failed: Vec<Address>,
    /// Cells removed, with their cellIds.
    pub deleted: Vec<(Address, Option<String>)>,
    /// The executed cell's own outcome, when it ran.
    pub own: Option<OwnRun>,
    /// A cell of the request was interrupted (what was left of its batch went stale): a
    /// caller running cells one after another stops there, as Run All does.
    pub interrupted: bool,
}

/// The sheet in the kernel: the dependency graph and, per address, the record of the cell
/// that holds it (`C` is the runtime's cell object).
pub struct LiveSheet<C> {
    pub sheet: Sheet,
    pub cells: BTreeMap<Address, CellRecord<C>>,
    by_id: HashMap<String, Address>,
    pub mode: Mode,
    /// No cell in column A above this row is free (rows are 0-based).
    next_in_a: u32,
    /// Bumped whenever a cell's runtime object is made or dropped, which invalidates every
    /// cell's bindings (they hold those objects).
    epoch: u64,
    /// Methods the notebook's classes define that change their object (`acct.deposit(…)`
    /// is then a change of `acct` in place, like `lst.append(…)`).
    mutating_methods: BTreeSet<String>,
    /// The notebook's order of cells (cellId → index), when the frontend tells it: names
    /// resolve in the order the user reads, not by address.
    notebook_order: HashMap<String, u64>,
    /// Executed cells are recorded and go stale instead of running (with `Mode::Lazy`): a
    /// model loads a notebook this way, drops what its outputs do not need, then runs the rest.
    pub deferred: bool,
    /// How many cells evaluate the model (`reads_model`): a batch looks for them only when
    /// there are some.
    model_readers: usize,
    /// Whether a journal records what re-runs do (then `run_plan` writes its entries).
    pub journaling: bool,
    /// The journal's entries for the re-run cells (not the request's own), written as they
    /// ran, until the journal takes them; kept between requests so a big batch does not
    /// allocate (and fault in) its buffer each time.
    pub journal_entries: Vec<u8>,
    /// A batch running longer than this shows its progress ([`Output::progress`]).
    pub progress_after: std::time::Duration,
}

/// How long a recompute runs before it shows progress, and how often it shows it then.
pub const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl<C> Default for LiveSheet<C> {
    fn default() -> Self {
        LiveSheet {
            sheet: Sheet::default(),
            cells: BTreeMap::new(),
            by_id: HashMap::new(),
            mode: Mode::Auto,
            next_in_a: 0,
            epoch: 0,
            mutating_methods: BTreeSet::new(),
            notebook_order: HashMap::new(),
            deferred: false,
            model_readers: 0,
            journaling: false,
            journal_entries: Vec::new(),
            progress_after: PROGRESS_AFTER,
        }
    }
}

impl<C> LiveSheet<C> {
    fn failed_cells(&self) -> impl Iterator<Item = Address> + '_ {
        self.cells
            .iter()
            .filter(|(_, c)| c.state.failed().is_some())
            .map(|(&a, _)| a)
    }

    /// Cells in error, upstream error or on a cycle, for the reply's metadata.
    pub fn errors(&self) -> Vec<String> {
        self.failed_cells().map(|a| a.to_string()).collect()
    }

    /// Records who last changed the code of the cell at `address` (the journal knows).
    pub fn set_edited(&mut self, address: Address, edited: Edited) {
        if let Some(cell) = self.cells.get_mut(&address) {
            cell.edited = Some(edited);
        }
    }
}
