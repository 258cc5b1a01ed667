//! `pysheets replay`: evaluates a set of cells headless, with the kernel's own sheet
//! and Python, and writes their states and values as one JSON document. No sockets and no
//! client: the cells come on stdin, the result goes to stdout.
//!
//! It is what a later `pysheets run NB.ipynb` builds on, and what `%asof` runs in a separate
//! process to evaluate the sheet as its code stood at an earlier time; so it takes cells and
//! gives states and values, and knows nothing of notebooks or history.
//!
//! - `document` — the input, read strictly (exit status 2 when it is not one);
//! - `evaluate` — the cells through a [`LiveSheet`](super::live_sheet::LiveSheet), and the
//!   result from its `cell_json`;
//! - `model` — a sheet driven cell by cell (`pysheets run`, what-if workers, goal seek):
//!   execute, give cells new code and recompute, keep what some outputs need, order;
//! - `sink` — where Python's output goes without a frontend (and what it recorded);
//! - `stdio` — fd 1 kept for the result, cells' fd-level output sent to stderr.

mod document;
mod evaluate;
mod model;
mod sink;
mod stdio;

pub use document::{parse, ReplayCell};
pub use evaluate::evaluate;
pub use model::{synthetic_id, Model, Step};
pub use sink::{ReplaySink, NO_INPUT};

use super::{interrupt, launch};
use crate::python::{bridge, PythonRuntime};
use std::io::{Read, Write};
use std::sync::Arc;

fn fail(status: u8, message: impl std::fmt::Display) -> u8 {
    eprintln!("pysheets replay: {message}");
    status
}

/// Reads the cells on stdin, evaluates them in this process's Python, writes the result on
/// stdout. Exit status 0 when the result was written (failed cells are in it), 1 when the
/// runtime cannot load, 2 when stdin is not a document.
pub fn run() -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        return fail(2, format!("cannot read the input on stdin: {e}"));
    }
    let cells = match parse(&text) {
        Ok(cells) => cells,
        Err(e) => return fail(2, e),
    };
    // Before any cell: Python's own sys.__stdout__ writes to fd 1, stderr from here on.
    let mut result = match stdio::keep_stdout_for_result() {
        Ok(file) => file,
        Err(e) => return fail(1, format!("cannot keep stdout for the result: {e}")),
    };
    if let Err(e) = stdio::stdin_from_null() {
        return fail(1, format!("cannot point stdin at /dev/null: {e}"));
    }
    launch::init_logging();
    // The stream flusher must not take the SIGINT meant for the cell running on this thread.
    interrupt::set_sigint_blocked(true);
    bridge::install(Arc::new(ReplaySink::default()));
    interrupt::set_sigint_blocked(false);
    let runtime = match PythonRuntime::start() {
        Ok(rt) => rt,
        Err(e) => return fail(1, e),
    };
    let document = evaluate(&runtime, &bridge::get(), &cells);
    if let Some(b) = bridge::get() {
        b.flush();
    }
    // C code's buffered stdio goes where fd 1 points now (stderr), not after the result.
    unsafe { libc::fflush(std::ptr::null_mut()) };
    let written = result
        .write_all(document.as_bytes())
        .and_then(|()| result.write_all(b"\n"))
        .and_then(|()| result.flush());
    match written {
        Ok(()) => 0,
        Err(e) => fail(1, format!("cannot write the result on stdout: {e}")),
    }
}
