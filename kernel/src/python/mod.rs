//! The Python runtime: the only code that touches CPython (pyo3, FFI).
//!
//! CPython is the environment's own `python`, which loaded us as an extension module
//! (`extension/`). `bridge` holds the native functions that Python code calls back into
//! (publish, streams, stdin), `capture` puts pipes behind fd 1 and 2, and `runtime` is the
//! narrow API the kernel core calls (one method per call, typed results for the sheet's). This
//! layer knows nothing of the wire protocol: what Python publishes goes into a
//! [`bridge::Sink`] that the core hands to [`bridge::install`]. The Python half of the runtime
//! is the package `pysheets_kernel/` beside this file, which the wheel installs.

pub mod bridge;
pub mod capture;
pub mod runtime;

pub use runtime::{
    Analysis, CellHandle, CellRan, MarkKind, PyCallError, PyException, PythonRuntime, RunMode,
};

#[cfg(test)]
mod tests {
    /// The Python layer publishes into a sink the core gives it; it uses neither the wire
    /// protocol nor the core.
    #[test]
    fn the_python_layer_uses_neither_protocol_nor_core() {
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("bridge.rs", include_str!("bridge.rs")),
            ("capture.rs", include_str!("capture.rs")),
            ("runtime.rs", include_str!("runtime.rs")),
        ];
        for (file, text) in sources {
            for forbidden in ["crate::protocol", "crate::core"] {
                let uses = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//") && !l.contains("\"crate::"))
                    .any(|l| l.contains(forbidden));
                assert!(!uses, "python/{file} uses {forbidden}");
            }
        }
    }
}
