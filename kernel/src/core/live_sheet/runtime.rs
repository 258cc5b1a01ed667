//! What the sheet needs of Python, [`CellRuntime`], and of output, [`Output`]: implemented by
//! `python::PythonRuntime` and the bridge in the kernel, by fakes in the unit tests. Generic
//! (static dispatch): a re-run batch calls `run_cell` once per cell.

use crate::python::bridge::Bridge;
use crate::python::{Analysis, CellHandle, CellRan, MarkKind, PyCallError, PythonRuntime, RunMode};
use crate::sheet::Address;
use serde_json::Value;

/// What a cell run binds before it starts: (name, the definer whose version it sees, or None
/// for a name that must be unbound).
pub type Bindings<'a, C> = [(&'a str, Option<&'a C>)];

/// The calls the sheet makes into Python.
pub trait CellRuntime {
    /// A cell's object in the runtime: kept in the cell's record and handed back to every run
    /// (and to the runs of its readers, which bind names to it).
    type Cell;

    /// The static analysis of a cell's code (ranges already rewritten); `mutating_methods`
    /// are the methods of the notebook's classes that change their object.
    fn analyze(&self, code: &str, mutating_methods: &[&str]) -> Result<Analysis, PyCallError>;

    /// The cell at `address` with this code and these defined names; `dynamic` when it may
    /// define names invisibly, `changes` the names it only changes in place, `format` the
    /// number format of its label (`:.1%` gives `.1%`).
    fn make_cell(
        &self,
        address: Address,
        code: &str,
        defines: &[String],
        dynamic: bool,
        changes: &[String],
        format: Option<&str>,
    ) -> Result<Self::Cell, PyCallError>;

    /// Runs a cell: `empty` are the addresses it reads that hold no cell, `bind` the
    /// (name, definer) pairs of the names it must see as the cells before it left them (no
    /// definer: unbound), given only when they changed since its last run. A cell whose code
    /// raised is `Err(Raised)` (or `Interrupted`), already shown.
    fn run_cell(
        &self,
        cell: &Self::Cell,
        mode: RunMode,
        execution_count: i64,
        empty: &[String],
        bind: Option<&Bindings<Self::Cell>>,
    ) -> Result<CellRan, PyCallError>;

    /// After a batch: each name takes its definer's version (the last definer of each name
    /// defined more than once), the namespace a top-to-bottom run leaves.
    fn settle(&self, bind: &[(&str, &Self::Cell)]) -> Result<(), PyCallError>;

    /// `names` leave the namespace: the cell at `address` stopped defining them and no other
    /// cell defines them.
    fn forget(&self, address: Address, names: &[&str]) -> Result<(), PyCallError>;

    /// Shows `text` instead of the cell's value; `drop_value` also forgets the value.
    fn mark_cell(
        &self,
        address: Address,
        text: &str,
        kind: MarkKind,
        drop_value: bool,
    ) -> Result<(), PyCallError>;

    /// Forgets the cell at `address`, and the names it alone defined.
    fn delete_cell(&self, address: Address, names: &[&str]) -> Result<(), PyCallError>;
}

impl CellRuntime for PythonRuntime {
    type Cell = CellHandle;

    fn analyze(&self, code: &str, mutating_methods: &[&str]) -> Result<Analysis, PyCallError> {
        PythonRuntime::analyze(self, code, mutating_methods)
    }

    fn make_cell(
        &self,
        address: Address,
        code: &str,
        defines: &[String],
        dynamic: bool,
        changes: &[String],
        format: Option<&str>,
    ) -> Result<CellHandle, PyCallError> {
        self.cell(
            &address.to_string(),
            code,
            defines,
            dynamic,
            changes,
            format,
        )
    }

    #[inline]
    fn run_cell(
        &self,
        cell: &CellHandle,
        mode: RunMode,
        execution_count: i64,
        empty: &[String],
        bind: Option<&[(&str, Option<&CellHandle>)]>,
    ) -> Result<CellRan, PyCallError> {
        PythonRuntime::run_cell(self, cell, mode, execution_count, empty, bind)
    }

    fn settle(&self, bind: &[(&str, &CellHandle)]) -> Result<(), PyCallError> {
        PythonRuntime::settle(self, bind)
    }

    fn forget(&self, address: Address, names: &[&str]) -> Result<(), PyCallError> {
        PythonRuntime::forget(self, &address.to_string(), names)
    }

    fn mark_cell(
        &self,
        address: Address,
        text: &str,
        kind: MarkKind,
        drop_value: bool,
    ) -> Result<(), PyCallError> {
        PythonRuntime::mark_cell(self, &address.to_string(), text, kind, drop_value)
    }

    fn delete_cell(&self, address: Address, names: &[&str]) -> Result<(), PyCallError> {
        PythonRuntime::delete_cell(self, &address.to_string(), names)
    }
}

/// A borrowed runtime is one too: a replay borrows the kernel's, a model owns its own.
impl<T: CellRuntime> CellRuntime for &T {
    type Cell = T::Cell;

    fn analyze(&self, code: &str, mutating_methods: &[&str]) -> Result<Analysis, PyCallError> {
        (**self).analyze(code, mutating_methods)
    }

    fn make_cell(
        &self,
        address: Address,
        code: &str,
        defines: &[String],
        dynamic: bool,
        changes: &[String],
        format: Option<&str>,
    ) -> Result<Self::Cell, PyCallError> {
        (**self).make_cell(address, code, defines, dynamic, changes, format)
    }

    #[inline]
    fn run_cell(
        &self,
        cell: &Self::Cell,
        mode: RunMode,
        execution_count: i64,
        empty: &[String],
        bind: Option<&Bindings<Self::Cell>>,
    ) -> Result<CellRan, PyCallError> {
        (**self).run_cell(cell, mode, execution_count, empty, bind)
    }

    fn settle(&self, bind: &[(&str, &Self::Cell)]) -> Result<(), PyCallError> {
        (**self).settle(bind)
    }

    fn forget(&self, address: Address, names: &[&str]) -> Result<(), PyCallError> {
        (**self).forget(address, names)
    }

    fn mark_cell(
        &self,
        address: Address,
        text: &str,
        kind: MarkKind,
        drop_value: bool,
    ) -> Result<(), PyCallError> {
        (**self).mark_cell(address, text, kind, drop_value)
    }

    fn delete_cell(&self, address: Address, names: &[&str]) -> Result<(), PyCallError> {
        (**self).delete_cell(address, names)
    }
}

/// Where the sheet's own messages go (a request's error, `%sheet`'s output), in order with
/// what Python published, and whether re-run cells' prints are dropped.
pub trait Output {
    fn publish(&self, msg_type: &str, content: Value);
    fn mute_streams(&self, muted: bool);
    /// A long recompute: `done` of `total` cells of the plan went by, `running` runs now; the
    /// last call of a batch has `running` None (the batch ended, done or interrupted).
    fn progress(&self, _done: usize, _total: usize, _running: Option<Address>) {}
}

/// The kernel's output: the bridge, when one is installed (it always is in a running kernel).
impl Output for Option<&Bridge> {
    fn publish(&self, msg_type: &str, content: Value) {
        if let Some(b) = self {
            b.publish(msg_type, content);
        }
    }

    fn mute_streams(&self, muted: bool) {
        if let Some(b) = self {
            b.set_streams_muted(muted);
        }
    }
}
