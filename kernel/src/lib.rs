//! PySheets: a Jupyter kernel that turns a notebook into a live spreadsheet of Python.
//!
//! Layers (see ARCHITECTURE.md): `protocol` (wire, signing, sockets) and `sheet` (addresses,
//! dependency graph, recompute plans) know nothing of each other or of Python; `python` is the
//! only code touching CPython; `core` serves requests with all three. `extension` is the
//! Python extension module that starts everything, and `cli` its command line.

pub mod cli;
pub mod core;
mod extension;
pub mod install;
pub mod protocol;
pub mod python;
pub mod sheet;

// Messages are built on the Python thread and freed on the socket threads; glibc's malloc
// spent a quarter of the Python thread's time in a re-run batch on that (perf: _int_malloc,
// malloc_consolidate, unlink_chunk). Not under the fuzzer: AddressSanitizer must see every
// allocation.
#[cfg(not(fuzzing))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
