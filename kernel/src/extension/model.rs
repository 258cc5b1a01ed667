//! `pysheets_kernel._native.Model`: a sheet held in this process, driven from Python, for
//! `pysheets run`, `pysheets export`, the what-if workers and goal seek (their Python is
//! `pysheets_kernel.headless` and `pysheets_kernel.scenarios`). It wraps
//! [`replay::Model`] with the kernel's own Python runtime, so cells run by the kernel's rules
//! in this interpreter's `__main__`.
//!
//! One per process: the cells of a sheet share Python's namespace, and the bridge's output
//! goes to one sink. A process that runs a kernel cannot make one (that would run cells in the
//! user's namespace).

use crate::core::replay::{self, ReplayCell, ReplaySink, Step};
use crate::core::{interrupt, labels};
use crate::python::{bridge, PythonRuntime};
use crate::sheet::Address;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The address the label on the first line of `code` gives its cell (`# @B3 title`), by the
/// kernel's grammar, or None.
#[pyfunction]
pub fn label_address(code: &str) -> Option<String> {
    labels::parse(code).map(|l| l.address.to_string())
}

static MADE: AtomicBool = AtomicBool::new(false);

fn address(text: &str) -> PyResult<Address> {
    text.parse()
        .map_err(|e| PyValueError::new_err(format!("{text:?} is not a cell address: {e}")))
}

#[pyclass(unsendable, module = "pysheets_kernel._native")]
pub struct Model {
    inner: replay::Model<PythonRuntime>,
    sink: Arc<ReplaySink>,
}

#[pymethods]
impl Model {
    #[new]
    fn new() -> PyResult<Self> {
        if bridge::get().is_some() && !MADE.load(Ordering::SeqCst) {
            return Err(PyRuntimeError::new_err(
                "a kernel runs in this process: a model runs in a process of its own \
                 (pysheets run, or the what-if workers)",
            ));
        }
        if MADE.swap(true, Ordering::SeqCst) {
            return Err(PyRuntimeError::new_err(
                "this process holds a model already: a model's cells use the process's \
                 namespace, so there is one per process",
            ));
        }
        let sink = Arc::new(ReplaySink::default());
        // The stream flusher must not take the SIGINT meant for the cell running here.
        interrupt::set_sigint_blocked(true);
        bridge::install(sink.clone());
        interrupt::set_sigint_blocked(false);
        let rt = PythonRuntime::start().map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(Model {
            inner: replay::Model::new(rt),
            sink,
        })
    }

    /// The notebook's order of cells (cellIds, top to bottom; None for a cell without one):
    /// names resolve in it. Returns the ids used, made up where None was given, as a replay
    /// makes them.
    fn set_order(&mut self, ids: Vec<Option<String>>) -> Vec<String> {
        let ids: Vec<String> = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| id.unwrap_or_else(|| replay::synthetic_id(i)))
            .collect();
        self.inner.set_order(&ids);
        ids
    }

    /// Executes one notebook cell; returns `(kind, address, error)`, kind one of "cell",
    /// "refused", "not-run", "nothing".
    #[pyo3(signature = (code, cell_id, address=None))]
    fn execute(
        &mut self,
        code: String,
        cell_id: String,
        address: Option<String>,
    ) -> PyResult<(&'static str, Option<String>, Option<String>)> {
        let cell = ReplayCell {
            address: address.as_deref().map(self::address).transpose()?,
            code,
            cell_id: Some(cell_id.clone()),
        };
        let step = self.inner.execute(&bridge::get(), &cell, &cell_id);
        let text = |a: Option<Address>| a.map(|a| a.to_string());
        Ok(match step {
            Step::InSheet(a) => ("cell", Some(a.to_string()), None),
            Step::Refused(a, error) => ("refused", text(a), Some(error)),
            Step::NotRun(a) => ("not-run", text(a), None),
            Step::Nothing(error) => ("nothing", None, error),
        })
    }

    /// Gives cells new code (`[(address, code)]`) and recomputes what is downstream of them;
    /// returns the addresses that ran. KeyError when an address holds no cell.
    fn set(&mut self, changes: Vec<(String, String)>) -> PyResult<Vec<String>> {
        let changes = changes
            .into_iter()
            .map(|(a, code)| Ok((address(&a)?, code)))
            .collect::<PyResult<Vec<_>>>()?;
        let ran = self
            .inner
            .set(&bridge::get(), &changes)
            .map_err(PyKeyError::new_err)?;
        Ok(ran.iter().map(Address::to_string).collect())
    }

    /// While deferred, executed cells are recorded, not run; ending it runs them (the stale
    /// cells) once, in dependency order.
    fn defer(&mut self, on: bool) {
        self.inner.set_deferred(&bridge::get(), on);
    }

    /// Deletes the cells that none of `outputs` reads, directly or not.
    fn keep_upstream_of(&mut self, outputs: Vec<String>) -> PyResult<()> {
        let outputs = outputs
            .iter()
            .map(|a| address(a))
            .collect::<PyResult<Vec<_>>>()?;
        self.inner.keep_upstream_of(&bridge::get(), &outputs);
        Ok(())
    }

    /// `outputs` and every address they read, directly or not, in sheet order.
    fn upstream_of(&self, outputs: Vec<String>) -> PyResult<Vec<String>> {
        let outputs = outputs
            .iter()
            .map(|a| address(a))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(self
            .inner
            .upstream_of(&outputs)
            .iter()
            .map(Address::to_string)
            .collect())
    }

    /// The cell as the sheet shows it, as JSON text (`%sheet`'s fields), or None.
    fn cell(&self, address: &str) -> PyResult<Option<String>> {
        Ok(self
            .inner
            .cell(self::address(address)?)
            .map(|v| v.to_string()))
    }

    /// Whether an interrupt stopped a cell (nothing more runs until `set`).
    fn interrupted(&self) -> bool {
        self.inner.interrupted()
    }

    /// Whether the cells' prints are also written to stderr (they are by default).
    fn echo(&self, on: bool) {
        self.sink.set_quiet(!on);
    }

    /// Whether what Python publishes is kept for `take_outputs`.
    fn record(&self, on: bool) {
        self.sink.set_recording(on);
    }

    /// The messages published since the last call, `[(msg_type, content JSON)]`, buffered
    /// prints included.
    fn take_outputs(&self) -> Vec<(String, String)> {
        if let Some(b) = bridge::get() {
            b.flush();
        }
        self.sink.take()
    }
}
