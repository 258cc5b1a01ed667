//! The API the kernel core calls to run Python: every call is JSON in, JSON out.

use super::interpreter::{self, InterpreterError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use serde_json::{json, Value};
use std::ffi::CString;
use std::path::Path;

/// The Python half of the runtime, compiled into the binary and imported as `pysheets.*`.
const SOURCES: &[(&str, &str)] = &[
    ("pysheets", include_str!("py/__init__.py")),
    ("pysheets.display", include_str!("py/display.py")),
    ("pysheets.streams", include_str!("py/streams.py")),
    ("pysheets.magics", include_str!("py/magics.py")),
    ("pysheets.execution", include_str!("py/execution.py")),
    ("pysheets.introspect", include_str!("py/introspect.py")),
    ("pysheets.comm", include_str!("py/comm.py")),
    ("pysheets.sheet", include_str!("py/sheet.py")),
    ("pysheets.cells", include_str!("py/cells.py")),
    ("pysheets.mpl_backend", include_str!("py/mpl_backend.py")),
    ("pysheets.entry", include_str!("py/entry.py")),
];
const BOOTSTRAP: &str = include_str!("py/bootstrap.py");

/// What running one sheet cell gave.
pub enum CellRun {
    Ok {
        changed: bool,
        summary: String,
        /// Payloads (the pager) for the reply, when there are any.
        payload: Option<Value>,
        /// Out[n] as text, for the history.
        result_text: Option<String>,
        /// A small PNG (base64) when the value shows as a picture, for the grid.
        png: Option<String>,
    },
    /// The error as `{ename, evalue, traceback}` (already shown to the user).
    Failed(Value),
}

/// A sheet cell's Python object (`pysheets.cells.Cell`: its code, compiled code and value),
/// held by the kernel's record of the cell so that runs pass it rather than look it up.
#[derive(Debug)]
pub struct CellHandle(Py<PyAny>);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
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
    /// `pysheets.cells.run`, looked up once: it is called for every cell of every batch.
    run: std::sync::OnceLock<Py<PyAny>>,
    pub info: PythonInfo,
}

fn load(py: Python<'_>) -> PyResult<(Py<PyModule>, (String, String, String))> {
    let sources = PyDict::new(py);
    for (name, code) in SOURCES {
        sources.set_item(name, code)?;
    }
    let globals = PyDict::new(py);
    globals.set_item("SOURCES", sources)?;
    let bootstrap = CString::new(BOOTSTRAP).expect("bootstrap has no NUL");
    py.run(&bootstrap, Some(&globals), None)?;
    let entry = py.import("pysheets.entry")?;
    let info: (String, String, String) = entry.call_method0("setup")?.extract()?;
    Ok((entry.unbind(), info))
}

impl PythonRuntime {
    /// Starts CPython on this thread and loads the runtime; call once, from the thread that
    /// will run every cell.
    pub fn start(python: Option<&Path>) -> Result<Self, RuntimeError> {
        interpreter::start(python)?;
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

    /// Calls `pysheets.entry.<name>(*args)`, which returns a JSON string.
    fn call(&self, name: &str, args: impl for<'py> FnOnce(Python<'py>) -> Vec<Py<PyAny>>) -> Value {
        Python::attach(|py| {
            let args = pyo3::types::PyTuple::new(py, args(py)).expect("a tuple of objects");
            let result = self
                .entry
                .bind(py)
                .call_method1(name, args)
                .and_then(|r| r.extract::<String>());
            match result {
                Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
                Err(e) => self.failure(py, name, e),
            }
        })
    }

    /// Discards a SIGINT that arrived while idle, so it does not interrupt the next request.
    pub fn drain_signals(&self) {
        Python::attach(|py| {
            let _ = py.check_signals();
        });
    }

    pub fn execute(&self, request: &Value) -> Value {
        let text = request.to_string();
        self.call("execute_json", |py| {
            vec![text.into_pyobject(py).unwrap().into_any().unbind()]
        })
    }

    pub fn complete(&self, code: &str, cursor_pos: usize) -> Value {
        self.call("complete_json", |py| {
            vec![
                str_obj(py, code),
                cursor_pos.into_pyobject(py).unwrap().into_any().unbind(),
            ]
        })
    }

    pub fn inspect(&self, code: &str, cursor_pos: usize, detail_level: i64) -> Value {
        self.call("inspect_json", |py| {
            vec![
                str_obj(py, code),
                cursor_pos.into_pyobject(py).unwrap().into_any().unbind(),
                detail_level.into_pyobject(py).unwrap().into_any().unbind(),
            ]
        })
    }

    pub fn is_complete(&self, code: &str) -> Value {
        self.call("is_complete_json", |py| vec![str_obj(py, code)])
    }

    /// A comm message for the Python side, with its binary buffers as `bytes`.
    pub fn comm(&self, msg_type: &str, message: &Value, buffers: &[bytes::Bytes]) -> Value {
        let text = message.to_string();
        self.call("comm_json", |py| {
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

    fn cells_function<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        py.import("pysheets.cells")?.getattr(name)
    }

    /// The Python side of the sheet cell at `address` with this code and these defined names
    /// (`pysheets.cells.cell`): the same object for as long as the address holds a cell.
    pub fn cell(
        &self,
        address: &str,
        code: &str,
        defines: &[String],
        dynamic: bool,
        changes: &[String],
    ) -> Option<CellHandle> {
        Python::attach(|py| {
            let mut interrupted = false;
            let mut made = Err(PyErr::new::<pyo3::exceptions::PyRuntimeError, _>(
                "not made",
            ));
            // An interrupt meant for the cell can land in this kernel code: make the object
            // anyway and pass the interrupt on to the cell's own code.
            for _ in 0..3 {
                made = self.cells_function(py, "cell").and_then(|f| {
                    f.call1((address, code, defines.to_vec(), dynamic, changes.to_vec()))
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
                Ok(obj) => Some(CellHandle(obj.unbind())),
                Err(e) => {
                    self.failure(py, "sheet_cell", e);
                    None
                }
            }
        })
    }

    /// Runs one sheet cell (`pysheets.cells.run`); the hot path of re-run batches, so its
    /// arguments and result cross as Python objects, not JSON. `empty` are the addresses it
    /// reads that hold no cell; `bind` (name, definer, or None for a name to unbind) is given
    /// only when it changed since the cell's last run.
    pub fn run_cell(
        &self,
        cell: &CellHandle,
        mode: &str,
        execution_count: i64,
        empty: &[String],
        bind: Option<&[(&str, Option<&CellHandle>)]>,
    ) -> CellRun {
        Python::attach(|py| {
            let result = (|| -> PyResult<CellRun> {
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
                    mode,
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
                // Success is `(changed, summary, payload | None, result_text | None, png)`;
                // a failure is the error dict.
                if let Ok((changed, summary, payload, result_text, png)) = out.extract::<(
                    bool,
                    String,
                    Bound<'_, PyAny>,
                    Option<String>,
                    Option<String>,
                )>() {
                    return Ok(CellRun::Ok {
                        changed,
                        summary,
                        payload: if payload.is_none() {
                            None
                        } else {
                            Some(super::bridge::py_to_json(&payload))
                        },
                        result_text,
                        png,
                    });
                }
                Ok(CellRun::Failed(super::bridge::py_to_json(&out)))
            })();
            result.unwrap_or_else(|e| CellRun::Failed(self.failure(py, "sheet_run", e)))
        })
    }

    /// After a batch, each name defined by several cells takes its last definer's version
    /// (`pysheets.cells.settle`).
    pub fn settle(&self, bind: &[(&str, &CellHandle)]) {
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
            if let Err(e) = result {
                self.failure(py, "sheet_settle", e);
            }
        })
    }

    fn failure(&self, py: Python<'_>, name: &str, e: PyErr) -> Value {
        if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
            // The interrupt hit the kernel's own code between cells: pass it on to the next
            // cell that runs, which is the one the user wants stopped.
            unsafe { pyo3::ffi::PyErr_SetInterrupt() };
            return json!({"status": "error", "ename": "KeyboardInterrupt", "evalue": "",
                          "traceback": ["KeyboardInterrupt"]});
        }
        let text = format_py_err(py, &e);
        tracing::error!("runtime call {name} failed: {text}");
        json!({"status": "error", "ename": "KernelError", "evalue": text, "traceback": [text]})
    }

    /// Calls one of the JSON entry points (`sheet_analyze_json`, `sheet_mark_json`, …).
    pub fn sheet(&self, entry: &str, request: &Value) -> Value {
        let text = request.to_string();
        self.call(entry, |py| vec![str_obj(py, &text)])
    }

    pub fn comm_info(&self, target_name: &str) -> Value {
        self.call("comm_info_json", |py| vec![str_obj(py, target_name)])
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
