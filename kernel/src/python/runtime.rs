//! The API the kernel core calls to run Python: one named method per entry point of
//! `pysheets_kernel.entry` / `pysheets_kernel.cells`. The sheet's calls are typed (`Result<T, PyCallError>`,
//! the analysis as an [`Analysis`]); the request handlers' calls (execute, complete, inspect, …)
//! pass the reply content through as JSON, since it goes to the client as it is.

use pyo3::prelude::*;
use pyo3::types::PyModule;
use serde_json::{json, Value};

/// What running one sheet cell gave, when its code did not raise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellRan {
    /// The value differs from the last run's (the early-cutoff rule of `cells.py`).
    pub changed: bool,
    /// The names the cell defines are bound to other objects than after its last run.
    /// Filled in with `changed` until the Python side reports it on its own.
    pub defs_changed: bool,
    pub summary: String,
    /// The value's type, with its length or shape when it has one (`list[3]`,
    /// `DataFrame[120×4]`): the journal's summary of a value.
    pub value_type: String,
    /// Payloads (the pager) for the reply, when there are any.
    pub payload: Option<Value>,
    /// Out[n] as text, for the history.
    pub result_text: Option<String>,
    /// A small PNG (base64) when the value shows as a picture, for the grid.
    pub png: Option<String>,
}

/// A Python exception as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyException {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl PyException {
    fn from_json(v: &Value) -> Self {
        PyException {
            ename: v["ename"].as_str().unwrap_or("Error").into(),
            evalue: v["evalue"].as_str().unwrap_or_default().into(),
            traceback: v["traceback"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|l| l.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn interrupt() -> Self {
        PyException {
            ename: "KeyboardInterrupt".into(),
            evalue: String::new(),
            traceback: vec!["KeyboardInterrupt".into()],
        }
    }
}

/// Why a call into Python gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyCallError {
    /// The call raised: the cell's own code (`run_cell`, already shown to the user by Python)
    /// or the kernel's Python code (`KernelError` with Python's traceback).
    #[error("{}: {}", .0.ename, .0.evalue)]
    Raised(PyException),
    /// A `KeyboardInterrupt` stopped it.
    #[error("KeyboardInterrupt")]
    Interrupted(PyException),
    /// Python answered something this side cannot read.
    #[error("pysheets_kernel.{call} answered something unexpected: {detail}")]
    BadReply { call: &'static str, detail: String },
}

impl PyCallError {
    /// The error as an exception for the user (`KernelError` for a bad reply).
    pub fn exception(&self) -> PyException {
        match self {
            PyCallError::Raised(e) | PyCallError::Interrupted(e) => e.clone(),
            PyCallError::BadReply { .. } => {
                let text = self.to_string();
                PyException {
                    ename: "KernelError".into(),
                    traceback: vec![text.clone()],
                    evalue: text,
                }
            }
        }
    }

    fn from_exception(e: PyException) -> Self {
        if e.ename == "KeyboardInterrupt" {
            PyCallError::Interrupted(e)
        } else {
            PyCallError::Raised(e)
        }
    }

    /// The JSON error reply the request handlers forward (what they got before calls were
    /// typed): a bad reply reads as `null`.
    fn to_reply(&self) -> Value {
        match self {
            PyCallError::BadReply { .. } => Value::Null,
            PyCallError::Raised(e) | PyCallError::Interrupted(e) => json!({
                "status": "error", "ename": e.ename, "evalue": e.evalue, "traceback": e.traceback
            }),
        }
    }
}

/// The static analysis of a cell's code (`pysheets_kernel.sheet.analyze`, through
/// `sheet_analyze_json`). Fields Python does not send are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct Analysis {
    pub reads_names: Vec<String>,
    pub reads_addresses: Vec<String>,
    pub defines: Vec<String>,
    pub maybe_defines: Vec<String>,
    pub mutates: Vec<String>,
    pub deferred_reads: Vec<String>,
    pub deferred_writes: Vec<String>,
    pub dynamic: bool,
    pub star_imports: Vec<String>,
    /// The address-shaped names the cell binds (`R2 = 0.91`): variables, unless a cell sits
    /// at that address.
    pub address_defines: Vec<String>,
    /// The first of `address_defines`, if any.
    pub assigns_address: Option<String>,
    /// Methods of the classes the cell defines that change their object (`deposit`).
    pub mutating_methods: Vec<String>,
    /// For each function the cell defines: the globals calling it may bind or change.
    pub function_writes: std::collections::BTreeMap<String, Vec<String>>,
    /// The names in `reads_names` that are builtins (`max`, `display`).
    pub reads_builtins: Vec<String>,
    /// "expr", "assign" or "none".
    pub value_kind: String,
    /// The cell evaluates the sheet's model in a copy (`sheet.what_if`, `sheet.goal_seek`,
    /// `%whatif`, `%goalseek`): its value depends on the code of the cells upstream of it,
    /// not only on their values, so early cutoff must not skip it.
    pub reads_model: bool,
    /// Why the code could not be analysed: `SyntaxError: …` (the cell still runs, and Python
    /// shows the error), or another failure (shown instead of running the cell).
    pub error: Option<String>,
}

impl Analysis {
    /// Whether the analysis failed because the code is not valid Python.
    pub fn is_syntax_error(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.starts_with("SyntaxError"))
    }
}

/// How a sheet cell's output shows a message instead of its value (`cells.show_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Ok,
    Error,
    Stale,
}

impl MarkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Ok => "ok",
            MarkKind::Error => "error",
            MarkKind::Stale => "stale",
        }
    }
}

/// How `run_cell` shows the cell's value: a new `display_data` (frontends with cells), an
/// `execute_result` (console), or in place (`update_display_data`, a re-run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Display,
    Result,
    Update,
}

impl RunMode {
    /// The mode string of `pysheets_kernel.cells.run`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Display => "display",
            RunMode::Result => "result",
            RunMode::Update => "update",
        }
    }
}

/// A sheet cell's Python object (`pysheets_kernel.cells.Cell`: its code, compiled code and value),
/// held by the kernel's record of the cell so that runs pass it rather than look it up.
#[derive(Debug)]
pub struct CellHandle(Py<PyAny>);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the kernel's Python runtime failed to load: {0}")]
    Load(String),
}

/// Facts about the interpreter, for kernel_info and for checking the environment.
#[derive(Debug, Clone)]
pub struct PythonInfo {
    pub version: String,
    pub prefix: String,
    pub executable: String,
}

pub struct PythonRuntime {
    entry: Py<PyModule>,
    /// `pysheets_kernel.cells.run`, looked up once: it is called for every cell of every batch.
    run: std::sync::OnceLock<Py<PyAny>>,
    pub info: PythonInfo,
}

/// The Python half of the runtime is the package beside this file (`pysheets_kernel/`), which
/// the wheel installs with this module: imported from disk, its bytecode cached by Python.
fn load(py: Python<'_>) -> PyResult<(Py<PyModule>, (String, String, String))> {
    let entry = py.import("pysheets_kernel.entry")?;
    let info: (String, String, String) = entry.call_method0("setup")?.extract()?;
    Ok((entry.unbind(), info))
}

impl PythonRuntime {
    /// Loads the runtime into the Python that loaded this module; call once, from the thread
    /// that will run every cell (Python's main thread, the one KeyboardInterrupt lands on).
    pub fn start() -> Result<Self, RuntimeError> {
        let (entry, info) =
            Python::attach(|py| load(py).map_err(|e| RuntimeError::Load(format_py_err(py, &e))))?;
        let (version, prefix, executable) = info;
        Ok(PythonRuntime {
            entry,
            run: std::sync::OnceLock::new(),
            info: PythonInfo {
                version,
                prefix,
                executable,
            },
        })
    }

    /// Calls `pysheets_kernel.entry.<name>(*args)`, which returns a JSON string.
    fn call(
        &self,
        name: &'static str,
        args: impl for<'py> FnOnce(Python<'py>) -> Vec<Py<PyAny>>,
    ) -> Result<Value, PyCallError> {
        self.call_passing_interrupt(name, args, true)
    }

    /// [`PythonRuntime::call`]; `pass_on` says whether an interrupt that lands in this call is
    /// passed on to the next code that runs (the cell the user meant), or only reported.
    fn call_passing_interrupt(
        &self,
        name: &'static str,
        args: impl for<'py> FnOnce(Python<'py>) -> Vec<Py<PyAny>>,
        pass_on: bool,
    ) -> Result<Value, PyCallError> {
        Python::attach(|py| {
            let args = pyo3::types::PyTuple::new(py, args(py)).expect("a tuple of objects");
            let result = self
                .entry
                .bind(py)
                .call_method1(name, args)
                .and_then(|r| r.extract::<String>());
            match result {
                Ok(text) => serde_json::from_str(&text).map_err(|e| PyCallError::BadReply {
                    call: name,
                    detail: e.to_string(),
                }),
                Err(e)
                    if !pass_on
                        && e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) =>
                {
                    Err(PyCallError::Interrupted(PyException::interrupt()))
                }
                Err(e) => Err(self.failure(py, name, e)),
            }
        })
    }

    /// [`PythonRuntime::call`] for a request handler, whose reply content is the JSON itself.
    fn call_reply(
        &self,
        name: &'static str,
        args: impl for<'py> FnOnce(Python<'py>) -> Vec<Py<PyAny>>,
    ) -> Value {
        self.call(name, args).unwrap_or_else(|e| e.to_reply())
    }

    /// Calls a `pysheets_kernel.entry` function that takes one JSON request and answers `null`.
    fn call_json_unit(&self, name: &'static str, request: &Value) -> Result<(), PyCallError> {
        let text = request.to_string();
        self.call(name, |py| vec![str_obj(py, &text)]).map(drop)
    }

    /// Discards a SIGINT that arrived while idle, so it does not interrupt the next request.
    pub fn drain_signals(&self) {
        Python::attach(|py| {
            let _ = py.check_signals();
        });
    }

    pub fn execute(&self, request: &Value) -> Value {
        let text = request.to_string();
        self.call_reply("execute_json", |py| {
            vec![text.into_pyobject(py).unwrap().into_any().unbind()]
        })
    }

    pub fn complete(&self, code: &str, cursor_pos: usize) -> Value {
        self.call_reply("complete_json", |py| {
            vec![
                str_obj(py, code),
                cursor_pos.into_pyobject(py).unwrap().into_any().unbind(),
            ]
        })
    }

    pub fn inspect(&self, code: &str, cursor_pos: usize, detail_level: i64) -> Value {
        self.call_reply("inspect_json", |py| {
            vec![
                str_obj(py, code),
                cursor_pos.into_pyobject(py).unwrap().into_any().unbind(),
                detail_level.into_pyobject(py).unwrap().into_any().unbind(),
            ]
        })
    }

    pub fn is_complete(&self, code: &str) -> Value {
        self.call_reply("is_complete_json", |py| vec![str_obj(py, code)])
    }

    /// A comm message for the Python side, with its binary buffers as `bytes`.
    pub fn comm(&self, msg_type: &str, message: &Value, buffers: &[bytes::Bytes]) -> Value {
        let text = message.to_string();
        self.call_reply("comm_json", |py| {
            let buffers = buffers
                .iter()
                .map(|b| pyo3::types::PyBytes::new(py, b))
                .collect::<Vec<_>>();
            vec![
                str_obj(py, msg_type),
                str_obj(py, &text),
                pyo3::types::PyList::new(py, buffers)
                    .expect("a list of bytes")
                    .into_any()
                    .unbind(),
            ]
        })
    }

    pub fn comm_info(&self, target_name: &str) -> Value {
        self.call_reply("comm_info_json", |py| vec![str_obj(py, target_name)])
    }

    /// The notebook VS Code names in `__vsc_ipynb_file__`, if its start-up code set it.
    pub fn vscode_notebook_file(&self) -> Option<String> {
        let reply = self.call("audit_vscode_file_json", |_| vec![]).ok()?;
        reply.as_str().map(String::from)
    }

    /// Tells `pysheets_kernel.audit` where the journal is and how to start a replay
    /// (`{"journal": path, "kernel": exe, "python": path}`).
    pub fn audit_configure(&self, config: &Value) -> Result<(), PyCallError> {
        self.call_json_unit("audit_configure_json", config)
    }

    /// `%sheet verify`: the journal's chain checked, as a MIME bundle.
    pub fn audit_verify(&self) -> Result<Value, PyCallError> {
        self.call("audit_verify_json", |_| vec![])
    }

    /// The explain tree of the cell at `address` for the grid: `{"html", "text"}` or
    /// `{"error"}`.
    pub fn audit_explain(&self, address: &str) -> Result<Value, PyCallError> {
        self.call("audit_explain_json", |py| vec![str_obj(py, address)])
    }

    /// The values of an execute_request's `user_expressions` (`{name: {status, data, …}}`).
    pub fn user_expressions(&self, expressions: &Value) -> Result<Value, PyCallError> {
        let text = expressions.to_string();
        self.call("user_expressions_json", |py| vec![str_obj(py, &text)])
    }

    /// The static analysis of a cell's code (ranges already rewritten). An interrupt that
    /// lands here is the cell's error (the cell does not run), so it is not passed on.
    pub fn analyze(&self, code: &str, mutating_methods: &[&str]) -> Result<Analysis, PyCallError> {
        let text = json!({ "code": code, "mutating_methods": mutating_methods }).to_string();
        let reply = self.call_passing_interrupt(
            "sheet_analyze_json",
            |py| vec![str_obj(py, &text)],
            false,
        )?;
        serde_json::from_value(reply).map_err(|e| PyCallError::BadReply {
            call: "sheet_analyze_json",
            detail: e.to_string(),
        })
    }

    /// Shows `text` in the output of the cell at `address` instead of its value (an error, an
    /// upstream error, stale); `drop_value` also forgets its value, so that nothing reads it.
    pub fn mark_cell(
        &self,
        address: &str,
        text: &str,
        kind: MarkKind,
        drop_value: bool,
    ) -> Result<(), PyCallError> {
        self.call_json_unit(
            "sheet_mark_json",
            &json!({"address": address, "text": text, "kind": kind.as_str(),
                    "drop_value": drop_value}),
        )
    }

    /// Forgets the cell at `address`: its Python object, its value, and `names` (the names it
    /// defined that no other cell defines).
    pub fn delete_cell(&self, address: &str, names: &[&str]) -> Result<(), PyCallError> {
        self.call_json_unit(
            "sheet_delete_json",
            &json!({"address": address, "names": names}),
        )
    }

    fn cells_function<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        py.import("pysheets_kernel.cells")?.getattr(name)
    }

    /// The Python side of the sheet cell at `address` with this code, these defined names and
    /// this number format (`pysheets_kernel.cells.cell`): the same object for as long as the address holds a cell.
    pub fn cell(
        &self,
        address: &str,
        code: &str,
        defines: &[String],
        dynamic: bool,
        changes: &[String],
        format: Option<&str>,
    ) -> Result<CellHandle, PyCallError> {
        Python::attach(|py| {
            let mut interrupted = false;
            let mut made = Err(PyErr::new::<pyo3::exceptions::PyRuntimeError, _>(
                "not made",
            ));
            // An interrupt meant for the cell can land in this kernel code: make the object
            // anyway and pass the interrupt on to the cell's own code.
            for _ in 0..3 {
                made = self.cells_function(py, "cell").and_then(|f| {
                    f.call1((
                        address,
                        code,
                        defines.to_vec(),
                        dynamic,
                        changes.to_vec(),
                        format,
                    ))
                });
                match &made {
                    Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => {
                        interrupted = true;
                    }
                    _ => break,
                }
            }
            if interrupted {
                unsafe { pyo3::ffi::PyErr_SetInterrupt() };
            }
            match made {
                Ok(obj) => Ok(CellHandle(obj.unbind())),
                Err(e) => Err(self.failure(py, "sheet_cell", e)),
            }
        })
    }

    /// Runs one sheet cell (`pysheets_kernel.cells.run`); the hot path of re-run batches, so its
    /// arguments and result cross as Python objects, not JSON. `empty` are the addresses it
    /// reads that hold no cell; `bind` (name, definer, or None for a name to unbind) is given
    /// only when it changed since the cell's last run. The error of a cell that raised has
    /// been shown by Python already.
    pub fn run_cell(
        &self,
        cell: &CellHandle,
        mode: RunMode,
        execution_count: i64,
        empty: &[String],
        bind: Option<&[(&str, Option<&CellHandle>)]>,
    ) -> Result<CellRan, PyCallError> {
        Python::attach(|py| {
            let result = (|| -> PyResult<Result<CellRan, PyCallError>> {
                let bind = match bind {
                    None => py.None().into_bound(py),
                    Some(pairs) => {
                        let items = pairs
                            .iter()
                            .map(|(name, definer)| {
                                let definer = match definer {
                                    Some(d) => d.0.clone_ref(py),
                                    None => py.None(),
                                };
                                (*name, definer)
                            })
                            .collect::<Vec<_>>();
                        pyo3::types::PyTuple::new(py, items)?.into_any()
                    }
                };
                let args = (
                    cell.0.bind(py),
                    mode.as_str(),
                    execution_count,
                    pyo3::types::PyTuple::new(py, empty)?,
                    bind,
                );
                let run = match self.run.get() {
                    Some(run) => run.bind(py).clone(),
                    None => {
                        let run = self.cells_function(py, "run")?;
                        let _ = self.run.set(run.clone().unbind());
                        run
                    }
                };
                let out = run.call1(args)?;
                // Success is `(changed, summary, payload | None, result_text | None, png,
                // value_type)`; a failure is the error dict.
                if let Ok((changed, summary, payload, result_text, png, value_type)) = out
                    .extract::<(
                        bool,
                        String,
                        Bound<'_, PyAny>,
                        Option<String>,
                        Option<String>,
                        String,
                    )>()
                {
                    return Ok(Ok(CellRan {
                        changed,
                        // Until `cells.run` reports it: a changed value is all that is known.
                        defs_changed: changed,
                        summary,
                        payload: if payload.is_none() {
                            None
                        } else {
                            Some(super::bridge::py_to_json(&payload))
                        },
                        result_text,
                        png,
                        value_type,
                    }));
                }
                let error = PyException::from_json(&super::bridge::py_to_json(&out));
                Ok(Err(PyCallError::from_exception(error)))
            })();
            result.unwrap_or_else(|e| Err(self.failure(py, "sheet_run", e)))
        })
    }

    /// After a batch, each name defined by several cells takes its last definer's version
    /// (`pysheets_kernel.cells.settle`).
    pub fn settle(&self, bind: &[(&str, &CellHandle)]) -> Result<(), PyCallError> {
        Python::attach(|py| {
            let result = (|| -> PyResult<()> {
                let items = bind
                    .iter()
                    .map(|(name, definer)| (*name, definer.0.clone_ref(py)))
                    .collect::<Vec<_>>();
                let items = pyo3::types::PyTuple::new(py, items)?;
                self.cells_function(py, "settle")?.call1((items,))?;
                Ok(())
            })();
            result.map_err(|e| self.failure(py, "sheet_settle", e))
        })
    }

    /// `names` leave the namespace: the cell at `address` no longer defines them and no other
    /// cell does (a reader's NameError says where they went).
    pub fn forget(&self, address: &str, names: &[&str]) -> Result<(), PyCallError> {
        self.call_json_unit(
            "sheet_forget_json",
            &json!({"address": address, "names": names}),
        )
    }

    fn failure(&self, py: Python<'_>, name: &str, e: PyErr) -> PyCallError {
        if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
            // The interrupt hit the kernel's own code between cells: pass it on to the next
            // cell that runs, which is the one the user wants stopped.
            unsafe { pyo3::ffi::PyErr_SetInterrupt() };
            return PyCallError::Interrupted(PyException::interrupt());
        }
        let text = format_py_err(py, &e);
        tracing::error!("runtime call {name} failed: {text}");
        PyCallError::Raised(PyException {
            ename: "KernelError".into(),
            evalue: text.clone(),
            traceback: vec![text],
        })
    }
}

fn str_obj(py: Python<'_>, s: &str) -> Py<PyAny> {
    pyo3::types::PyString::new(py, s).into_any().unbind()
}

fn format_py_err(py: Python<'_>, err: &PyErr) -> String {
    let tb = err
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .unwrap_or_default();
    format!("{tb}{err}")
}
