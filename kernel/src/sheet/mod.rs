//! The sheet engine: which cells to re-run, in which order, when one changes.
//!
//! Pure Rust (no Python, no sockets): the Python side analyses each cell's code
//! (with `ast`) into the addresses and names it reads and the names it defines,
//! and runs the cells; this module keeps the dependency graph and plans the
//! runs. The vocabulary is a build system's:
//!
//! * **Address** — a cell's key, `A1` … `XFD1048576` as in Excel
//!   ([`Address`], [`Range`] for `A1:C4`). Addresses order row-major; that
//!   *sheet order* is also what decides between several definitions of a name.
//! * **Ranges in code** — `A1:C4` is not Python, so before compiling a cell the
//!   kernel rewrites each range token into a call ([`rewrite_ranges`]); the
//!   exact rule (no spaces around the colon, strings and comments skipped,
//!   `{A1:B2}` is a range) is in the [`rewrite`] docs.
//! * **Dependency graph** — an edge `u → v` says "v reads u": an address read
//!   (even of an empty cell, so filling it later re-runs its readers) or a name
//!   read resolved to the cell defining it ([`Sheet::definer_of`]).
//! * **Dirty set** — when a cell changes, it and everything reachable from it
//!   is dirty; nothing else is. It is found by a DFS from the change, so the
//!   work is proportional to what is affected, not to the size of the sheet.
//! * **Topological order** — the dirty set is run upstream-first, each cell
//!   once, so a diamond `A1 → {B1, C1} → D1` runs `D1` once, after both
//!   ([`Plan::order`], ordered by Kahn's algorithm inside the dirty set only).
//! * **Cycle** — a circular reference cannot be ordered; its cells are
//!   reported ([`CycleError`], `circular reference: A1 → B1 → A1`), cells below
//!   it are blocked, the rest of the sheet runs normally.
//! * **Early cutoff** — a re-run cell whose value did not change need not
//!   re-run its dependents. Values live in Python, so the caller reports each
//!   outcome to a [`Recompute`], which skips cells none of whose inputs changed
//!   and marks cells below a failure as upstream errors.

pub mod address;
pub mod graph;
pub mod recompute;
pub mod rewrite;

pub use self::address::{Address, AddressError, Range, MAX_COLS, MAX_ROWS};
pub use self::graph::{sheet_position, CellDeps, CycleError, Plan, Position, Sheet};
pub use self::recompute::{Outcome, Recompute};
pub use self::rewrite::{is_address, rewrite_ranges, RangeError};
