//! The Python runtime: the only code that touches CPython (pyo3, FFI).
//!
//! `interpreter` starts CPython in the right environment, `bridge` is the native module that
//! Python code calls back into (publish, streams, stdin), `capture` puts pipes behind fd 1 and 2,
//! and `runtime` is the narrow API the kernel core calls (one method per call, typed results for the
//! sheet's). This layer knows nothing of the wire protocol: what Python publishes goes into a
//! [`bridge::Sink`] that the core hands to [`bridge::install`]. The Python half of
//! the runtime lives in `py/` and is compiled into the binary.

pub mod bridge;
pub mod capture;
pub mod interpreter;
pub mod runtime;

pub use runtime::{
    Analysis, CellHandle, CellRan, MarkKind, PyCallError, PyException, PythonRuntime, RunMode,
};
