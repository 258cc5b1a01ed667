//! The extension module `pysheets_kernel._native`: the one entry point into the crate, as a
//! binary's `main` would be. `python -m pysheets_kernel` and the `pysheets` command call
//! [`main`]; the runtime's Python code calls the bridge's functions, registered here too, and
//! `pysheets run` and the what-if workers drive a headless sheet through [`model::Model`].
//!
//! Being loaded by the environment's own `python` is what makes the kernel relocatable: that
//! interpreter already knows its prefix, its venv and its packages, and the module links no
//! libpython (see ARCHITECTURE.md, "Packaging").

mod model;

use crate::cli::{self, Host, Outcome};
use crate::python::bridge;
use pyo3::prelude::*;
use std::path::PathBuf;

/// Runs the command line `argv` (program name first) and returns its exit status. The GIL is
/// released for the whole run: the kernel takes it back on this thread for each cell.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    let sys = py.import("sys")?;
    let host = Host {
        executable: PathBuf::from(sys.getattr("executable")?.extract::<String>()?),
        prefix: PathBuf::from(sys.getattr("prefix")?.extract::<String>()?),
    };
    match py.detach(|| cli::run(argv, &host)) {
        Outcome::Exit(status) => Ok(status),
        // Commands written in Python (`run`, `export`, the what-if worker) get their parsed
        // arguments as JSON, so the one command line stays clap's.
        Outcome::Python { module, args } => py
            .import(module)?
            .call_method1("main", (args.to_string(),))?
            .extract::<u8>(),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(model::label_address, m)?)?;
    bridge::add_functions(m)
}
