//! PySheets: a Jupyter kernel that turns a notebook into a live spreadsheet of Python.
//!
//! Layers (see ARCHITECTURE.md): `protocol` (wire, signing, sockets) and `sheet` (addresses,
//! dependency graph, recompute plans) know nothing of each other or of Python; `python` is the
//! only code touching CPython; `core` serves requests with all three.

pub mod core;
pub mod install;
pub mod protocol;
pub mod python;
pub mod sheet;
