//! The dependency graph between cells: [`Sheet`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;
use std::ops::Bound::{Excluded, Included, Unbounded};

use petgraph::algo::kosaraju_scc;
use petgraph::graphmap::GraphMap;
use petgraph::Directed;
use petgraph::Direction::{Incoming, Outgoing};
use rustc_hash::{FxBuildHasher, FxHashMap as HashMap, FxHashSet as HashSet};
use thiserror::Error;

use super::address::{Address, Range, MAX_COLS};

/// petgraph's `DiGraphMap` with a fast hasher: addresses are two small integers, and SipHash
/// showed in profiles of 10,000-cell plans.
pub(super) type DiGraphMap<N, E> = GraphMap<N, E, Directed, FxBuildHasher>;

/// Where a cell sits in the order that decides which of several definitions of a name it
/// sees: "the cells before it". The kernel gives notebook positions when the frontend tells
/// it the notebook's order; otherwise [`sheet_position`] (row-major address order).
pub type Position = u64;

/// Sheet-order positions come after every notebook position: a cell the notebook does not
/// hold (typed in a console) counts as below the notebook.
const SHEET_ORDER_BASE: Position = 1 << 40;

/// The position of a cell that has no notebook position: its address in row-major order.
pub fn sheet_position(addr: Address) -> Position {
    SHEET_ORDER_BASE + ((addr.row as Position) << 14) + addr.col as Position
}

/// A cell in the indexes: ordered by position, then address (positions are unique in
/// practice; the address only makes the key total).
type Key = (Position, Address);

/// What a cell's code reads and defines, as found by the Python side (`ast`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellDeps {
    /// Every single address read, empty cells too. Order and repeats do not matter.
    pub reads_addresses: Vec<Address>,
    /// The ranges read (`A1:C4`), kept as rectangles: the cells inside one are its inputs,
    /// whenever they come or go, and an empty address inside costs nothing.
    pub reads_ranges: Vec<Range>,
    /// Global names read (not defined by the cell before being read).
    pub reads_names: Vec<String>,
    /// Global names the cell binds (assignments, `def`, `class`, `import`).
    pub defines: Vec<String>,
    /// Names among `defines` the cell may leave unbound at run time (under `if`, in a loop,
    /// in a `try`): where it does not bind them, they keep the previous definition's value,
    /// so the cell reads that definition.
    pub maybe_defines: Vec<String>,
    /// Names defined elsewhere that the cell may change in place (`df["c"] = …`,
    /// `lst.append(…)`, `rng.normal()`): the cell is a new version of each, made from the
    /// previous one.
    pub mutates: Vec<String>,
    /// Names read inside the functions (and lambdas, methods) the cell defines: a cell that
    /// calls them reads these names, resolved where the caller sits.
    pub deferred_reads: Vec<String>,
    /// Names among `reads_names` that are builtins (`max`, `sum`): a cell that defines one
    /// shadows it for the cells after it only, never for a reader before it.
    pub reads_builtins: Vec<String>,
    /// The cell may define names a static analysis cannot see (`globals()[…]`, `exec`): a
    /// name no cell defines is taken to come from the nearest such cell before its reader.
    pub dynamic: bool,
}

impl CellDeps {
    /// Sorted and without repeats, so that comparisons and diffs are simple.
    fn normalized(mut self) -> Self {
        for list in [
            &mut self.reads_names,
            &mut self.defines,
            &mut self.maybe_defines,
            &mut self.mutates,
            &mut self.deferred_reads,
            &mut self.reads_builtins,
        ] {
            list.sort();
            list.dedup();
        }
        self.reads_addresses.sort();
        self.reads_addresses.dedup();
        self.reads_ranges.sort();
        self.reads_ranges.dedup();
        self
    }

    /// Every name this cell makes a version of: what it binds and what it changes in place.
    /// Sorted, no repeats.
    pub fn definitions(&self) -> Vec<String> {
        let mut all: Vec<String> = self.defines.iter().chain(&self.mutates).cloned().collect();
        all.sort();
        all.dedup();
        all
    }

    /// Whether the cell's version of `name` starts from the previous one (it may not rebind
    /// it, or it changes it in place).
    fn updates(&self, name: &str) -> bool {
        let has = |list: &[String]| list.binary_search_by(|n| n.as_str().cmp(name)).is_ok();
        has(&self.mutates) || has(&self.maybe_defines)
    }

    fn mutates_name(&self, name: &str) -> bool {
        self.mutates
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }
}

/// A cell and the names it changes in place that its previous version did not.
type FirstChanges<'a> = Option<(Address, &'a [String])>;

/// The cells to (re)run after a change, in dependency order.
///
/// `roots` ∪ everything downstream of them makes the dirty set. Cells on a
/// circular reference cannot be ordered: they are in `cyclic`, and the cells
/// depending on them (which cannot run either) in `blocked`. Empty addresses are
/// never listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Cells that must run whatever their upstream cells produce: the edited
    /// cell, cells whose name resolution changed, readers of a deleted cell, and
    /// the definer of an object that a re-run would otherwise change twice
    /// (see [`Sheet::plan`]). Sorted. Some may be in `cyclic` or `blocked`
    /// rather than in `order`.
    pub roots: Vec<Address>,
    /// Runnable dirty cells in topological order (upstream before downstream,
    /// ties broken by position), each once.
    pub order: Vec<Address>,
    /// Dirty cells on a cycle (including self-references), sorted.
    pub cyclic: Vec<Address>,
    /// Dirty cells downstream of a cycle, sorted: they get an upstream error.
    pub blocked: Vec<Address>,
}

/// A circular reference among the cells affected by a change.
///
/// The sheet keeps every cell with all its edges (see [`Sheet::set_cell`]);
/// this error names one cycle and carries the full [`Plan`], whose `order`
/// lists the affected cells that can still run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("circular reference: {}", CyclePath(&self.cycle))]
pub struct CycleError {
    /// A shortest cycle, starting and ending at the same cell: `[A1, B1, A1]`.
    /// It goes through the changed cell when that cell is on a cycle.
    pub cycle: Vec<Address>,
    /// What to run, and which cells are on or below a cycle.
    pub plan: Plan,
}

/// Formats `[A1, B1, A1]` as `A1 → B1 → A1`. A long cycle keeps its first and last
/// [`CYCLE_ENDS`] cells around a count of the rest: every cell on it carries this message, so
/// it must not grow with the cycle (a 20,000-cell cycle would send 20,000 copies of its path).
struct CyclePath<'a>(&'a [Address]);

/// Cells shown at each end of an abbreviated cycle path.
const CYCLE_ENDS: usize = 4;

impl fmt::Display for CyclePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.0;
        let elided = if path.len() > 2 * CYCLE_ENDS + 1 {
            path.len() - 2 * CYCLE_ENDS
        } else {
            0
        };
        for (i, addr) in path.iter().enumerate() {
            if elided > 0 && i >= CYCLE_ENDS && i < path.len() - CYCLE_ENDS {
                if i == CYCLE_ENDS {
                    write!(f, " → … {elided} more cells …")?;
                }
                continue;
            }
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{addr}")?;
        }
        Ok(())
    }
}

/// A cell's recorded dependencies and how its names currently resolve.
#[derive(Debug, Clone)]
struct Cell {
    deps: CellDeps,
    pos: Position,
    /// Every name the cell reads when it runs (its own reads, the names it takes the
    /// previous version of, and what the functions it calls read), with the definer in use
    /// when some cell defines it.
    reads: BTreeMap<String, Option<Address>>,
}

impl Cell {
    fn key(&self, addr: Address) -> Key {
        (self.pos, addr)
    }
}

/// The sheet's dependency graph: which cell must re-run when another changes.
///
/// An edge `u → v` means "v reads something of u": an address (`v` reads `u`
/// even if `u` is empty) or a name defined by `u` (see [`Sheet::definer_of`]).
///
/// # Graph representation
///
/// A petgraph `DiGraphMap<Address, u32>`: nodes are the addresses themselves, so
/// there is no `Address ↔ NodeIndex` side table to keep in sync as cells come
/// and go (a `StableDiGraph` would need one), both edge directions are
/// available per node, and removing a node leaves the others untouched. The
/// edge weight counts the reasons for the edge (an address read plus a name
/// read, say), so one reason can go without dropping the edge. Nodes are the
/// cells plus the empty addresses that some cell reads; the latter only have
/// outgoing edges and are dropped once nobody reads them.
///
/// # Circular references
///
/// Edges always mirror what the cells declare; a cycle is never refused or
/// cut. Cells on a cycle are simply reported in [`Plan::cyclic`] (and their
/// dependents in [`Plan::blocked`]) by every plan that reaches them. Breaking
/// the cycle means editing a cell on it (or a definition it resolves to), and
/// the plan of that edit contains the rest of the former cycle, which then
/// runs again: no separate "error state" needs to be stored or retried. The
/// rest of the sheet is unaffected.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    graph: DiGraphMap<Address, u32>,
    cells: BTreeMap<Address, Cell>,
    /// name → cells defining it (binding or changing it), by position.
    definers: HashMap<String, BTreeSet<Key>>,
    /// name → cells reading it, by position.
    readers: HashMap<String, BTreeSet<Key>>,
    /// Names with more than one definer: the ones whose value depends on where one stands.
    multi: BTreeSet<String>,
    /// Cells that may define names invisibly ([`CellDeps::dynamic`]).
    dynamic: BTreeSet<Key>,
    /// How many cells change a name in place (the plan's object-chain rule costs nothing
    /// while there are none).
    mutators: usize,
    /// Cells whose precedents changed since [`Sheet::take_rewired`] last asked (the journal
    /// records what a cell reads only when that changes).
    rewired: rustc_hash::FxHashSet<Address>,
    /// The cells that read ranges. A range's edges come from the cells inside it, so a cell
    /// that appears or goes is checked against these readers' rectangles (few, in practice).
    range_readers: BTreeSet<Address>,
}

impl Sheet {
    /// An empty sheet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `addr` holds a cell.
    pub fn contains(&self, addr: Address) -> bool {
        self.cells.contains_key(&addr)
    }

    /// The dependencies recorded for the cell at `addr` (sorted, no repeats).
    pub fn cell(&self, addr: Address) -> Option<&CellDeps> {
        self.cells.get(&addr).map(|c| &c.deps)
    }

    /// The position of the cell at `addr` (its sheet position when it holds no cell).
    pub fn position(&self, addr: Address) -> Position {
        self.cells
            .get(&addr)
            .map_or_else(|| sheet_position(addr), |c| c.pos)
    }

    /// Whether the precedents of `addr` changed since [`Sheet::take_rewired`] last asked.
    pub fn is_rewired(&self, addr: Address) -> bool {
        self.rewired.contains(&addr)
    }

    /// The cells whose precedents changed since the last call.
    pub fn take_rewired(&mut self) -> rustc_hash::FxHashSet<Address> {
        std::mem::take(&mut self.rewired)
    }

    /// The underlying graph, for the scheduler.
    pub(super) fn graph(&self) -> &DiGraphMap<Address, u32> {
        &self.graph
    }

    /// The addresses holding cells, in sheet order.
    pub fn cells(&self) -> impl Iterator<Item = Address> + '_ {
        self.cells.keys().copied()
    }

    /// [`Sheet::set_cell_at`] keeping the cell's position, or at its sheet position for a new
    /// cell.
    pub fn set_cell(&mut self, addr: Address, deps: CellDeps) -> Result<Plan, CycleError> {
        let pos = self.position(addr);
        self.set_cell_at(addr, pos, deps)
    }

    /// Inserts the cell at `addr` (at position `pos`) or replaces its dependencies, and
    /// returns the plan of what to run: `addr` itself, its downstream cells, and the cells
    /// whose name resolution changed because `addr` now defines (or no longer defines) a
    /// name, all in dependency order.
    ///
    /// If some of those cells are on a circular reference (`A1` reading `B1`
    /// reading `A1`, or a cell reading its own address) the result is a
    /// [`CycleError`] naming one cycle, preferably through `addr`. The cell is
    /// recorded anyway, with all its edges; the error's plan still lists the
    /// affected cells that can run.
    pub fn set_cell_at(
        &mut self,
        addr: Address,
        pos: Position,
        deps: CellDeps,
    ) -> Result<Plan, CycleError> {
        let deps = deps.normalized();
        let old = self.detach(addr);
        let mut roots = vec![addr];
        let was_dynamic = old.as_ref().is_some_and(|c| c.deps.dynamic);
        let exports_changed = old
            .as_ref()
            .is_some_and(|c| c.deps.deferred_reads != deps.deferred_reads);
        let is_dynamic = deps.dynamic;
        let new_defs = deps.definitions();
        if !deps.mutates.is_empty() {
            self.mutators += 1;
        }
        // Recorded before the readers re-resolve, so they see what its functions read.
        self.cells.insert(
            addr,
            Cell {
                deps,
                pos,
                reads: BTreeMap::new(),
            },
        );
        self.graph.add_node(addr);
        if old.is_none() {
            // A new cell is an input of every range around it.
            for reader in self.range_readers_of(addr) {
                self.add_reason(addr, reader);
            }
        }
        if is_dynamic {
            self.dynamic.insert((pos, addr));
        }
        let old_defs = old.as_ref().map(|c| (c.deps.definitions(), c.pos));
        self.update_definitions(addr, old_defs, Some((&new_defs, pos)), &mut roots);
        if exports_changed {
            // Callers of its functions read other names now.
            for reader in self.dependents(addr) {
                self.reresolve(reader, &mut roots);
            }
        }
        if was_dynamic != is_dynamic {
            self.reresolve_all(&mut roots);
        }
        self.reresolve(addr, &mut roots);
        let reads_addresses = self.cells[&addr].deps.reads_addresses.clone();
        for read in reads_addresses {
            self.add_reason(read, addr);
        }
        let inside: Vec<Address> = self.cells[&addr]
            .deps
            .reads_ranges
            .iter()
            .flat_map(|range| self.cells_in(range))
            .collect();
        for cell in inside {
            self.add_reason(cell, addr);
        }
        if !self.cells[&addr].deps.reads_ranges.is_empty() {
            self.range_readers.insert(addr);
        }
        roots.sort();
        roots.dedup();
        // A name the cell's previous version did not change in place (a new cell's, say)
        // carries no change of its own to undo: it runs on the object as the cells before it
        // left it, as a top-to-bottom run does, instead of re-running the object's chain.
        let first_changes: Vec<String> = self.cells[&addr]
            .deps
            .mutates
            .iter()
            .filter(|n| !old.as_ref().is_some_and(|c| c.deps.mutates_name(n)))
            .cloned()
            .collect();
        self.checked_plan(&roots, Some(addr), Some((addr, &first_changes)))
    }

    /// Deletes the cell at `addr`: its definitions go away, so readers of those
    /// names switch to another definer (or to none), and readers of the address
    /// now read an empty cell. Returns the plan for those cells (`addr` itself is
    /// not in it). Deleting can also create or break a circular reference, since
    /// name readers may switch to another definer. Deleting an empty address is
    /// a no-op with an empty plan.
    pub fn remove_cell(&mut self, addr: Address) -> Result<Plan, CycleError> {
        let Some(old) = self.detach(addr) else {
            return Ok(Plan::default());
        };
        let mut roots = vec![addr];
        // Its readers re-resolve while it is still a node, then it goes.
        self.update_definitions(
            addr,
            Some((old.deps.definitions(), old.pos)),
            None,
            &mut roots,
        );
        if old.deps.dynamic {
            self.reresolve_all(&mut roots);
        }
        roots.sort();
        roots.dedup();
        // The plan needs the edges to the readers of the ranges around it; then they go,
        // since an empty address inside a range is no input.
        let plan = self.checked_plan(&roots, None, None);
        for reader in self.range_readers_of(addr) {
            self.remove_reason(addr, reader);
        }
        self.drop_if_unused(addr);
        plan
    }

    /// The cells inside `range`, in sheet order. Walks the cells of its rows only.
    fn cells_in(&self, range: &Range) -> Vec<Address> {
        let first = Address {
            col: 0,
            row: range.start.row,
        };
        let last = Address {
            col: MAX_COLS - 1,
            row: range.end.row,
        };
        self.cells
            .range(first..=last)
            .map(|(&a, _)| a)
            .filter(|&a| range.contains(a))
            .collect()
    }

    /// The readers of ranges containing `addr`, once per such range (each is one reason for
    /// the edge).
    fn range_readers_of(&self, addr: Address) -> Vec<Address> {
        let mut out = Vec::new();
        for &reader in &self.range_readers {
            let ranges = &self.cells[&reader].deps.reads_ranges;
            let n = ranges.iter().filter(|r| r.contains(addr)).count();
            out.extend(std::iter::repeat_n(reader, n));
        }
        out
    }

    /// The ranges the cell at `addr` reads.
    pub fn ranges_read(&self, addr: Address) -> &[Range] {
        self.cells
            .get(&addr)
            .map_or(&[], |cell| cell.deps.reads_ranges.as_slice())
    }

    /// Moves cells to new positions (`pos_of` gives each cell's), re-resolving every name.
    /// Returns the cells whose resolution changed: what they show was computed from other
    /// definitions than the ones they now read.
    pub fn set_positions(&mut self, pos_of: impl Fn(Address) -> Position) -> Vec<Address> {
        let mut moved = false;
        for (&addr, cell) in self.cells.iter_mut() {
            let pos = pos_of(addr);
            moved |= cell.pos != pos;
            cell.pos = pos;
        }
        if !moved {
            return Vec::new();
        }
        self.definers.clear();
        self.dynamic.clear();
        self.multi.clear();
        for (&addr, cell) in &self.cells {
            for name in cell.deps.definitions() {
                self.definers
                    .entry(name)
                    .or_default()
                    .insert((cell.pos, addr));
            }
            if cell.deps.dynamic {
                self.dynamic.insert((cell.pos, addr));
            }
        }
        for (name, defs) in &self.definers {
            if defs.len() > 1 {
                self.multi.insert(name.clone());
            }
        }
        self.readers.clear();
        for (&addr, cell) in &self.cells {
            for name in cell.reads.keys() {
                self.readers
                    .entry(name.clone())
                    .or_default()
                    .insert((cell.pos, addr));
            }
        }
        let mut roots = Vec::new();
        self.reresolve_all(&mut roots);
        roots.sort();
        roots.dedup();
        roots
    }

    /// Which cell's definition of `name` the cell at `reader` uses, if any.
    ///
    /// Rule: among the cells defining `name` other than `reader` itself, the
    /// nearest one *before* `reader` (by position: notebook order when the
    /// kernel knows it, else row-major sheet order); if there is none before it,
    /// the last one. So a cell that reads and rebinds a name (`df = df.dropna()`)
    /// sees the previous definition, never its own. `None` when no other cell
    /// defines `name` (then it is a builtin, a kernel global, or a `NameError`
    /// at run time), unless a cell before `reader` may define names dynamically.
    pub fn definer_of(&self, name: &str, reader: Address) -> Option<Address> {
        self.find_definer(name, (self.position(reader), reader), false)
    }

    fn find_definer(&self, name: &str, reader: Key, before_only: bool) -> Option<Address> {
        let found = self.definers.get(name).and_then(|defs| {
            defs.range(..reader).next_back().or_else(|| {
                if before_only {
                    None
                } else {
                    defs.iter().rev().find(|&&(_, d)| d != reader.1)
                }
            })
        });
        found
            .or_else(|| self.dynamic.range(..reader).next_back())
            .map(|&(_, d)| d)
    }

    /// For each name the cell at `addr` reads that another cell defines: the definer in use
    /// ([`Sheet::definer_of`]), by name. Kept up to date as cells come and go.
    pub fn resolved(&self, addr: Address) -> impl Iterator<Item = (&str, Address)> + Clone {
        self.cells.get(&addr).into_iter().flat_map(|c| {
            c.reads
                .iter()
                .filter_map(|(n, d)| d.map(|d| (n.as_str(), d)))
        })
    }

    /// Every name whose value the cell at `addr` must see as the cells before it left it,
    /// with the definer whose version that is: the names it reads ([`Sheet::resolved`]),
    /// every name defined more than once, at its nearest definer before the cell (a
    /// function the cell calls may read any of them), and, with no definer (`None`: the name
    /// is unbound), the names it may define when no cell before it does. Sorted by name.
    pub fn bindings(&self, addr: Address) -> Vec<(&str, Option<Address>)> {
        let Some(cell) = self.cells.get(&addr) else {
            return Vec::new();
        };
        // A name read with no definer before it, that some cell binds, is unbound here (or
        // the builtin of that name), as in a top-to-bottom run. (A name cells only change in
        // place was made outside the sheet: it stays.)
        let mut out: Vec<(&str, Option<Address>)> = cell
            .reads
            .iter()
            .filter(|(name, d)| d.is_some() || self.some_cell_binds(name))
            .map(|(n, &d)| (n.as_str(), d))
            .collect();
        let key = cell.key(addr);
        let before = |name: &str| {
            self.definers
                .get(name)
                .and_then(|defs| defs.range(..key).next_back())
                .map(|&(_, d)| d)
        };
        // What it binds starts as the cells before it left it: unbound when none defines
        // it, so a cell that fails before binding a name leaves it as a fresh run would.
        for name in &cell.deps.defines {
            if !cell.reads.contains_key(name) {
                out.push((name.as_str(), before(name)));
            }
        }
        for name in &self.multi {
            if cell.reads.contains_key(name) || cell.deps.defines.contains(name) {
                continue;
            }
            if let Some(d) = before(name) {
                out.push((name.as_str(), Some(d)));
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    fn some_cell_binds(&self, name: &str) -> bool {
        self.definers.get(name).is_some_and(|defs| {
            defs.iter()
                .any(|(_, d)| self.cells[d].deps.defines.iter().any(|n| n == name))
        })
    }

    /// Where each name defined more than once stands after every cell has run in order: its
    /// last definer. What the namespace must hold after a batch.
    pub fn final_bindings(&self) -> Vec<(&str, Address)> {
        self.multi
            .iter()
            .filter_map(|name| {
                let &(_, d) = self.definers[name].last()?;
                Some((name.as_str(), d))
            })
            .collect()
    }

    /// The names the cell at `addr` reads that several cells define, each with the definer
    /// it uses: the choices a reader must be able to see. Sorted by name.
    pub fn chosen_definers(&self, addr: Address) -> Vec<(&str, Address)> {
        self.resolved(addr)
            .filter(|(name, _)| self.multi.contains(*name))
            .collect()
    }

    /// Whether some cell defines `name` (binds it or changes it in place).
    pub fn is_defined(&self, name: &str) -> bool {
        self.definers.contains_key(name)
    }

    /// The cells defining `name`, by position.
    pub fn definers(&self, name: &str) -> Vec<Address> {
        self.definers
            .get(name)
            .map(|d| d.iter().map(|&(_, a)| a).collect())
            .unwrap_or_default()
    }

    /// Direct precedents of `addr`: the addresses it reads (empty ones
    /// included) and the definers of the names it reads. Sorted.
    pub fn precedents(&self, addr: Address) -> Vec<Address> {
        self.sorted_neighbors(addr, Incoming)
    }

    /// Direct dependents of `addr` (a cell or an empty address): the cells
    /// reading it or a name it defines. Sorted.
    pub fn dependents(&self, addr: Address) -> Vec<Address> {
        let mut out = self.sorted_neighbors(addr, Outgoing);
        if !self.cells.contains_key(&addr) {
            // An empty address has no edges from the ranges around it; their readers read it.
            out.extend(self.range_readers_of(addr));
            out.sort();
            out.dedup();
        }
        out
    }

    /// Every cell depending on `addr`, directly or not, each once, `addr`
    /// excluded, upstream before downstream. The cells that cannot be ordered
    /// because of a cycle come last, in sheet order (use [`Sheet::plan`] to
    /// tell them apart). Costs O(affected cells and their edges), whatever the
    /// size of the sheet.
    pub fn downstream(&self, addr: Address) -> Vec<Address> {
        self.downstream_of_many(&[addr])
    }

    /// Like [`Sheet::downstream`] for several changed addresses at once: every
    /// cell depending on at least one of them, each once, in dependency order.
    /// The given addresses themselves are not listed (use [`Sheet::plan`] for
    /// the ordered dirty set including them).
    pub fn downstream_of_many(&self, changed: &[Address]) -> Vec<Address> {
        let plan = self.plan(changed);
        let changed: HashSet<Address> = changed.iter().copied().collect();
        let mut cells = plan.order;
        let mut unordered = plan.cyclic;
        unordered.extend(plan.blocked);
        unordered.sort();
        cells.extend(unordered);
        cells.retain(|c| !changed.contains(c));
        cells
    }

    /// The dirty set of `changed` in dependency order: the changed cells and
    /// everything downstream, see [`Plan`]. A changed empty address makes its
    /// readers roots.
    ///
    /// Object chains: a cell that changes an object in place (`lst.append(3)`) must not
    /// re-run on top of its own last change, and a cell that reads an object some later
    /// cell changes in place must not see that later change. So when such a cell is dirty,
    /// the cell that made the object (the nearest definer before it that binds the name
    /// outright) becomes a root too, and the chain re-runs from a fresh object.
    ///
    /// Cost: a DFS from `changed` collects the affected set, then Kahn's
    /// algorithm orders it with in-degrees counted inside the set only, so the
    /// work is O(affected cells and their edges · log), never a whole-graph
    /// topological sort. Cycles (rare) add an SCC pass over the leftovers.
    pub fn plan(&self, changed: &[Address]) -> Plan {
        self.plan_with(changed, None)
    }

    /// [`Sheet::plan`], where the cell in `first_changes` changes those names in place for
    /// the first time: it has no own change of them to undo.
    fn plan_with(&self, changed: &[Address], first_changes: FirstChanges<'_>) -> Plan {
        let mut roots = BTreeSet::new();
        for &addr in changed {
            if self.cells.contains_key(&addr) {
                roots.insert(addr);
            } else {
                roots.extend(self.dependents(addr));
            }
        }

        // Affected set: everything reachable from the roots, closed under object chains.
        let mut affected: HashSet<Address> = HashSet::default();
        let mut stack: Vec<Address> = roots.iter().copied().collect();
        loop {
            let mut reached = Vec::new();
            while let Some(u) = stack.pop() {
                if !affected.insert(u) {
                    continue;
                }
                reached.push(u);
                stack.extend(self.graph.neighbors_directed(u, Outgoing));
            }
            if self.mutators == 0 {
                break;
            }
            for u in reached {
                let first = match first_changes {
                    Some((cell, names)) if cell == u => names,
                    _ => &[],
                };
                for origin in self.chain_origins(u, first) {
                    if !affected.contains(&origin) && roots.insert(origin) {
                        stack.push(origin);
                    }
                }
            }
            if stack.is_empty() {
                break;
            }
        }

        // Kahn's algorithm restricted to the affected set. Every successor of an
        // affected node is affected, so counting out-edges counts exactly the
        // in-set in-degrees (a self-loop counts, so such a cell never gets ready).
        let mut indegree: HashMap<Address, usize> = affected.iter().map(|&a| (a, 0)).collect();
        for &u in &affected {
            for v in self.graph.neighbors_directed(u, Outgoing) {
                *indegree.get_mut(&v).expect("successor is affected") += 1;
            }
        }
        let mut ready: BinaryHeap<Reverse<Key>> = indegree
            .iter()
            .filter(|&(_, &d)| d == 0)
            .map(|(&a, _)| Reverse((self.position(a), a)))
            .collect();
        let mut order = Vec::with_capacity(affected.len());
        while let Some(Reverse((_, u))) = ready.pop() {
            order.push(u);
            for v in self.graph.neighbors_directed(u, Outgoing) {
                let d = indegree.get_mut(&v).expect("successor is affected");
                *d -= 1;
                if *d == 0 {
                    ready.push(Reverse((self.position(v), v)));
                }
            }
        }

        let (cyclic, blocked) = if order.len() == affected.len() {
            (Vec::new(), Vec::new())
        } else {
            let ordered: HashSet<Address> = order.iter().copied().collect();
            let leftover: BTreeSet<Address> = affected.difference(&ordered).copied().collect();
            self.split_cyclic(&leftover)
        };
        Plan {
            roots: roots.into_iter().collect(),
            order,
            cyclic,
            blocked,
        }
    }

    /// The cells that made the objects which re-running `addr` would see changed by
    /// another run: for each name it changes in place, and each name it reads that a later
    /// cell changes in place, the nearest definer before it that binds the name outright.
    fn chain_origins(&self, addr: Address, first_changes: &[String]) -> Vec<Address> {
        let Some(cell) = self.cells.get(&addr) else {
            return Vec::new();
        };
        let key = cell.key(addr);
        let mut out = Vec::new();
        for name in cell.reads.keys() {
            let Some(defs) = self.definers.get(name) else {
                continue;
            };
            let changed_later = defs
                .range((Excluded(key), Unbounded))
                .next()
                .is_some_and(|&(_, next)| self.cells[&next].deps.mutates_name(name));
            let own_change = cell.deps.mutates_name(name) && !first_changes.contains(name);
            if !(own_change || changed_later) {
                continue;
            }
            let origin = defs
                .range(..key)
                .rev()
                .find(|&&(_, d)| !self.cells[&d].deps.updates(name));
            if let Some(&(_, origin)) = origin {
                out.push(origin);
            }
        }
        out
    }

    /// A shortest cycle through `addr`, as `[addr, …, addr]`, if `addr` is on
    /// one. Costs O(downstream of `addr`).
    pub fn cycle_through(&self, addr: Address) -> Option<Vec<Address>> {
        self.shortest_cycle(addr, |_| true)
    }

    /// Removes the cell's incoming edges and index entries (but not its definitions, which
    /// [`Sheet::update_definitions`] moves); returns its record.
    fn detach(&mut self, addr: Address) -> Option<Cell> {
        let old = self.cells.remove(&addr)?;
        self.range_readers.remove(&addr);
        let key = old.key(addr);
        for name in old.reads.keys() {
            remove_from_index(&mut self.readers, name, key);
        }
        self.dynamic.remove(&key);
        if !old.deps.mutates.is_empty() {
            self.mutators -= 1;
        }
        // Every incoming edge of a cell is one of its own reads, so all of them
        // go. Dropping the node and restoring its outgoing edges costs
        // O(sum of the neighbours' degrees), where removing edges one by one
        // would cost O(in-degree²) for a cell reading a large range.
        let sources: Vec<Address> = self.graph.neighbors_directed(addr, Incoming).collect();
        if !sources.is_empty() {
            let outgoing: Vec<(Address, u32)> = self
                .graph
                .edges(addr)
                .filter(|&(_, target, _)| target != addr)
                .map(|(_, target, &w)| (target, w))
                .collect();
            self.graph.remove_node(addr);
            self.graph.add_node(addr);
            for (target, w) in outgoing {
                self.graph.add_edge(addr, target, w);
            }
            for source in sources {
                self.drop_if_unused(source);
            }
        }
        Some(old)
    }

    /// Applies the change of `addr`'s definitions (names and position) from `old` to
    /// `new`, re-resolving the affected readers and adding them to `roots`.
    fn update_definitions(
        &mut self,
        addr: Address,
        old: Option<(Vec<String>, Position)>,
        new: Option<(&[String], Position)>,
        roots: &mut Vec<Address>,
    ) {
        let (old_names, old_pos) = old.unwrap_or_default();
        let (new_names, new_pos) = new.unwrap_or((&[], 0));
        let moved = old_pos != new_pos;
        for name in old_names.iter().filter(|n| moved || !new_names.contains(n)) {
            let key = (old_pos, addr);
            let switching = self.readers_resolving_to(name, key);
            remove_from_index(&mut self.definers, name, key);
            self.note_definers(name);
            for reader in switching {
                self.reresolve(reader, roots);
            }
        }
        for name in new_names.iter().filter(|n| moved || !old_names.contains(n)) {
            let key = (new_pos, addr);
            self.definers.entry(name.clone()).or_default().insert(key);
            self.note_definers(name);
            for reader in self.readers_resolving_to(name, key) {
                self.reresolve(reader, roots);
            }
        }
    }

    fn note_definers(&mut self, name: &str) {
        if self.definers.get(name).is_some_and(|d| d.len() > 1) {
            if !self.multi.contains(name) {
                self.multi.insert(name.to_string());
            }
        } else {
            self.multi.remove(name);
        }
    }

    /// The readers of `name` whose resolution may change when `definer` (one of its
    /// definers) starts or stops defining it. Found with two range queries, so it costs
    /// O(log n + their number), not O(readers of `name`).
    fn readers_resolving_to(&self, name: &str, definer: Key) -> Vec<Address> {
        let (Some(readers), Some(defs)) = (self.readers.get(name), self.definers.get(name)) else {
            return Vec::new();
        };
        // Readers after `definer` up to and including the next definer (which
        // does not see itself).
        let after = match defs.range((Excluded(definer), Unbounded)).next() {
            Some(&next) => readers.range((Excluded(definer), Included(next))),
            None => readers.range((Excluded(definer), Unbounded)),
        };
        let mut found: Vec<Address> = after.map(|&(_, r)| r).collect();
        // If `definer` is the last one, it is also the wrap-around choice of the
        // readers with no other definer before them: those up to the first.
        if defs.last() == Some(&definer) {
            let first = *defs.first().expect("non-empty");
            found.extend(
                readers
                    .range(..=first)
                    .map(|&(_, r)| r)
                    .filter(|&r| r != definer.1),
            );
        }
        found
    }

    /// What the cell at `addr` reads when it runs, each name with its definer: its own
    /// reads (nearest definer before, else the last), the names it takes the previous
    /// version of (nearest definer before only), and, for each definer it uses, what that
    /// definer's functions read (resolved here, where the call happens).
    fn compute_reads(&self, addr: Address) -> BTreeMap<String, Option<Address>> {
        let cell = &self.cells[&addr];
        let key = cell.key(addr);
        let deps = &cell.deps;
        let mut out: BTreeMap<String, Option<Address>> = BTreeMap::new();
        let mut queue: Vec<(&str, bool)> = Vec::new();
        for name in deps
            .maybe_defines
            .iter()
            .chain(&deps.mutates)
            .chain(&deps.reads_builtins)
        {
            queue.push((name, true));
        }
        for name in &deps.reads_names {
            queue.push((name, false));
        }
        // Prior-only names come first in `queue` order of resolution: pop from the back,
        // so push them last.
        queue.reverse();
        while let Some((name, before_only)) = queue.pop() {
            if out.contains_key(name) {
                continue;
            }
            let definer = self.find_definer(name, key, before_only);
            out.insert(name.to_string(), definer);
            let Some(d) = definer.filter(|&d| d != addr) else {
                continue;
            };
            if let Some(def_cell) = self.cells.get(&d) {
                for read in &def_cell.deps.deferred_reads {
                    if !out.contains_key(read) {
                        queue.push((read, false));
                    }
                }
            }
        }
        out
    }

    /// Recomputes what the cell at `addr` reads, moving the edges whose definer changed;
    /// the cell goes to `roots` when any did.
    fn reresolve(&mut self, addr: Address, roots: &mut Vec<Address>) {
        if !self.cells.contains_key(&addr) {
            return;
        }
        let new = self.compute_reads(addr);
        let cell = self.cells.get_mut(&addr).expect("checked above");
        if new == cell.reads {
            return;
        }
        let key = cell.key(addr);
        let old = std::mem::take(&mut cell.reads);
        for (name, &was) in &old {
            let now = new.get(name);
            if now == Some(&was) {
                continue;
            }
            if let Some(was) = was {
                self.remove_reason(was, addr);
            }
            if now.is_none() {
                remove_from_index(&mut self.readers, name, key);
            }
        }
        for (name, &now) in &new {
            let was = old.get(name);
            if was == Some(&now) {
                continue;
            }
            if let Some(now) = now {
                self.add_reason(now, addr);
            }
            if was.is_none() {
                self.readers.entry(name.clone()).or_default().insert(key);
            }
        }
        self.cells.get_mut(&addr).expect("checked above").reads = new;
        roots.push(addr);
    }

    fn reresolve_all(&mut self, roots: &mut Vec<Address>) {
        let all: Vec<Address> = self.cells.keys().copied().collect();
        for addr in all {
            self.reresolve(addr, roots);
        }
    }

    fn add_reason(&mut self, from: Address, to: Address) {
        match self.graph.edge_weight_mut(from, to) {
            Some(w) => *w += 1,
            None => {
                self.graph.add_edge(from, to, 1);
                self.rewired.insert(to);
            }
        }
    }

    fn remove_reason(&mut self, from: Address, to: Address) {
        if let Some(w) = self.graph.edge_weight_mut(from, to) {
            *w -= 1;
            if *w == 0 {
                self.graph.remove_edge(from, to);
                self.rewired.insert(to);
                self.drop_if_unused(from);
            }
        }
    }

    /// Drops the node of an empty address nobody reads any more.
    fn drop_if_unused(&mut self, addr: Address) {
        if !self.cells.contains_key(&addr)
            && self
                .graph
                .neighbors_directed(addr, Outgoing)
                .next()
                .is_none()
        {
            self.graph.remove_node(addr);
        }
    }

    fn sorted_neighbors(&self, addr: Address, dir: petgraph::Direction) -> Vec<Address> {
        let mut v: Vec<Address> = self.graph.neighbors_directed(addr, dir).collect();
        v.sort();
        v
    }

    /// Plan for `roots`, as a `CycleError` if it meets a cycle. The named cycle
    /// goes through `prefer` when possible.
    fn checked_plan(
        &self,
        roots: &[Address],
        prefer: Option<Address>,
        first_changes: FirstChanges<'_>,
    ) -> Result<Plan, CycleError> {
        let plan = self.plan_with(roots, first_changes);
        if plan.cyclic.is_empty() {
            return Ok(plan);
        }
        let start = prefer
            .filter(|p| plan.cyclic.binary_search(p).is_ok())
            .unwrap_or(plan.cyclic[0]);
        let on_cycle: HashSet<Address> = plan.cyclic.iter().copied().collect();
        let cycle = self
            .shortest_cycle(start, |a| on_cycle.contains(&a))
            .expect("a cyclic cell is on a cycle");
        Err(CycleError { cycle, plan })
    }
    /// Splits the cells Kahn's algorithm could not order into those on a cycle
    /// (non-trivial strongly connected component, or self-loop) and those
    /// merely downstream of one. Both sorted.
    fn split_cyclic(&self, leftover: &BTreeSet<Address>) -> (Vec<Address>, Vec<Address>) {
        let mut sub: DiGraphMap<Address, ()> = DiGraphMap::default();
        for &u in leftover {
            sub.add_node(u);
            for v in self.graph.neighbors_directed(u, Outgoing) {
                if leftover.contains(&v) {
                    sub.add_edge(u, v, ());
                }
            }
        }
        let mut cyclic = Vec::new();
        // Kosaraju rather than Tarjan: petgraph's Tarjan recurses, and a long
        // cycle would overflow the stack.
        for scc in kosaraju_scc(&sub) {
            if scc.len() > 1 || sub.contains_edge(scc[0], scc[0]) {
                cyclic.extend(scc);
            }
        }
        cyclic.sort();
        let blocked = leftover
            .iter()
            .filter(|a| cyclic.binary_search(a).is_err())
            .copied()
            .collect();
        (cyclic, blocked)
    }

    /// BFS from `start` back to itself through nodes satisfying `allowed`,
    /// visiting successors in sheet order so the answer is deterministic.
    fn shortest_cycle(
        &self,
        start: Address,
        allowed: impl Fn(Address) -> bool,
    ) -> Option<Vec<Address>> {
        let mut parent: HashMap<Address, Address> = HashMap::default();
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for v in self.sorted_neighbors(u, Outgoing) {
                if v == start {
                    let mut path = vec![start];
                    let mut at = u;
                    while at != start {
                        path.push(at);
                        at = parent[&at];
                    }
                    path.push(start);
                    path.reverse();
                    return Some(path);
                }
                if allowed(v) && !parent.contains_key(&v) {
                    parent.insert(v, u);
                    queue.push_back(v);
                }
            }
        }
        None
    }
}

fn remove_from_index(index: &mut HashMap<String, BTreeSet<Key>>, name: &str, key: Key) {
    if let Some(set) = index.get_mut(name) {
        set.remove(&key);
        if set.is_empty() {
            index.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn list(v: &[&str]) -> Vec<Address> {
        v.iter().map(|s| a(s)).collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A cell reading `reads` (addresses and `X1:Y2` ranges) and names, defining names.
    fn deps(reads: &[&str], reads_names: &[&str], defines: &[&str]) -> CellDeps {
        let mut reads_addresses = Vec::new();
        let mut reads_ranges = Vec::new();
        for r in reads {
            match r.parse::<Range>() {
                Ok(range) => reads_ranges.push(range),
                Err(_) => reads_addresses.push(a(r)),
            }
        }
        CellDeps {
            reads_addresses,
            reads_ranges,
            reads_names: names(reads_names),
            defines: names(defines),
            ..Default::default()
        }
    }

    fn reads(r: &[&str]) -> CellDeps {
        deps(r, &[], &[])
    }

    fn set(sheet: &mut Sheet, at: &str, d: CellDeps) -> Vec<Address> {
        sheet.set_cell(a(at), d).expect("no cycle").order
    }

    fn col_a(row: u32) -> Address {
        Address { col: 0, row }
    }

    #[test]
    fn chain_of_10000() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", reads(&[]));
        for row in 1..10_000 {
            let plan = sheet
                .set_cell(
                    col_a(row),
                    CellDeps {
                        reads_addresses: vec![col_a(row - 1)],
                        ..Default::default()
                    },
                )
                .unwrap();
            assert_eq!(plan.order, vec![col_a(row)]);
        }
        let expected: Vec<Address> = (1..10_000).map(col_a).collect();
        assert_eq!(sheet.downstream(col_a(0)), expected);
        assert_eq!(sheet.downstream(col_a(4_999)), expected[4_999..].to_vec());
        assert_eq!(sheet.downstream(col_a(9_999)), vec![]);
        // Re-setting the head plans the whole chain, head first.
        let plan = sheet.set_cell(col_a(0), reads(&[])).unwrap();
        assert_eq!(plan.order.len(), 10_000);
        assert_eq!(plan.order[0], col_a(0));
        assert_eq!(plan.order[1..], expected[..]);
        assert_eq!(plan.roots, vec![col_a(0)]);
    }

    #[test]
    fn chain_of_10000_through_names() {
        // A1: v0 = 1, A2: v1 = v0 + 1, …
        let mut sheet = Sheet::new();
        for row in 0..10_000u32 {
            let reads_names = if row == 0 {
                vec![]
            } else {
                vec![format!("v{}", row - 1)]
            };
            let d = CellDeps {
                reads_names,
                defines: vec![format!("v{row}")],
                ..Default::default()
            };
            sheet.set_cell(col_a(row), d).unwrap();
        }
        assert_eq!(
            sheet.downstream(col_a(0)),
            (1..10_000).map(col_a).collect::<Vec<_>>()
        );
    }

    #[test]
    fn fan_out_of_10000() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["df"]));
        let leaves: Vec<Address> = (0..10_000).map(|row| Address { col: 1, row }).collect();
        for (i, &leaf) in leaves.iter().enumerate() {
            // Half read the head's address, half its name.
            let d = if i % 2 == 0 {
                reads(&["A1"])
            } else {
                deps(&[], &["df"], &[])
            };
            assert_eq!(sheet.set_cell(leaf, d).unwrap().order, vec![leaf]);
        }
        // All ready together: sheet order.
        assert_eq!(sheet.downstream(a("A1")), leaves);
        assert_eq!(sheet.dependents(a("A1")), leaves);
        // And a fan-in below them runs last, once.
        let sink = a("C1");
        let d = CellDeps {
            reads_addresses: leaves.clone(),
            ..Default::default()
        };
        sheet.set_cell(sink, d).unwrap();
        let down = sheet.downstream(a("A1"));
        assert_eq!(down.len(), 10_001);
        assert_eq!(down.last(), Some(&sink));
        // Editing one leaf re-runs the leaf and the sink only.
        assert_eq!(set(&mut sheet, "B77", reads(&["A1"])), list(&["B77", "C1"]));
        // Replacing the sink (10,000 incoming edges) and deleting it work too.
        assert_eq!(set(&mut sheet, "C1", reads(&["B1"])), list(&["C1"]));
        assert_eq!(sheet.precedents(sink), list(&["B1"]));
        assert_eq!(sheet.remove_cell(sink).unwrap().order, vec![]);
        assert_eq!(sheet.downstream(a("A1")), leaves);
    }

    #[test]
    fn diamond_runs_each_once() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["x"]));
        set(&mut sheet, "B1", deps(&[], &["x"], &["y"]));
        set(&mut sheet, "C1", reads(&["A1"]));
        set(&mut sheet, "D1", deps(&["C1"], &["y"], &[]));
        assert_eq!(sheet.downstream(a("A1")), list(&["B1", "C1", "D1"]));
        assert_eq!(
            set(&mut sheet, "A1", deps(&[], &[], &["x"])),
            list(&["A1", "B1", "C1", "D1"])
        );
        assert_eq!(sheet.precedents(a("D1")), list(&["B1", "C1"]));
        assert_eq!(sheet.dependents(a("A1")), list(&["B1", "C1"]));
        assert_eq!(
            sheet.downstream_of_many(&list(&["B1", "C1"])),
            list(&["D1"])
        );
        assert_eq!(
            sheet.downstream_of_many(&list(&["A1", "B1"])),
            list(&["C1", "D1"])
        );
        assert_eq!(
            sheet.plan(&list(&["C1", "B1"])).order,
            list(&["B1", "C1", "D1"])
        );
    }

    #[test]
    fn cycle_is_reported_with_its_path() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", reads(&["C1"]));
        set(&mut sheet, "B1", reads(&["A1"]));
        set(&mut sheet, "D1", reads(&["B1"]));
        set(&mut sheet, "E1", reads(&[]));
        let err = sheet.set_cell(a("C1"), reads(&["B1"])).unwrap_err();
        assert_eq!(err.to_string(), "circular reference: C1 → A1 → B1 → C1");
        assert_eq!(err.cycle, list(&["C1", "A1", "B1", "C1"]));
        assert_eq!(err.plan.cyclic, list(&["A1", "B1", "C1"]));
        assert_eq!(err.plan.blocked, list(&["D1"]));
        assert_eq!(err.plan.order, vec![]);
        // Recorded, with its edges; the rest of the sheet is unaffected.
        assert!(sheet.contains(a("C1")));
        assert_eq!(sheet.precedents(a("C1")), list(&["B1"]));
        assert_eq!(set(&mut sheet, "E1", reads(&[])), list(&["E1"]));
        assert_eq!(
            sheet.cycle_through(a("B1")),
            Some(list(&["B1", "C1", "A1", "B1"]))
        );
        assert_eq!(sheet.cycle_through(a("D1")), None);
        // downstream still lists every dependent once; unorderable ones last.
        assert_eq!(sheet.downstream(a("A1")), list(&["B1", "C1", "D1"]));
        // Editing any cell on it reaches the others: once broken, all re-run.
        let err = sheet.set_cell(a("A1"), reads(&["C1"])).unwrap_err();
        assert_eq!(err.to_string(), "circular reference: A1 → B1 → C1 → A1");
        assert_eq!(
            set(&mut sheet, "A1", reads(&[])),
            list(&["A1", "B1", "C1", "D1"])
        );
        assert_eq!(sheet.cycle_through(a("B1")), None);
    }

    #[test]
    fn cycle_through_names() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&["E1"], &["y"], &["x"]));
        let err = sheet
            .set_cell(a("B1"), deps(&[], &["x"], &["y"]))
            .unwrap_err();
        assert_eq!(err.to_string(), "circular reference: B1 → A1 → B1");
        // A change feeding into an existing cycle reports that cycle, and still
        // plans what can run.
        let err = sheet.set_cell(a("E1"), reads(&[])).unwrap_err();
        assert_eq!(err.cycle, list(&["A1", "B1", "A1"]));
        assert_eq!(err.plan.order, list(&["E1"]));
        assert_eq!(err.plan.cyclic, list(&["A1", "B1"]));
        // A new last definer of y takes over A1's read (A1 has no definer of y
        // before it), which breaks the cycle: both re-run.
        assert_eq!(
            set(&mut sheet, "D1", deps(&[], &[], &["y"])),
            list(&["D1", "A1", "B1"])
        );
        assert_eq!(sheet.definer_of("y", a("A1")), Some(a("D1")));
    }

    #[test]
    fn a_long_cycle_has_a_short_message() {
        let n = 20_000;
        let mut sheet = Sheet::new();
        // Built from the end, so that only the last cell closes the cycle (and nothing
        // before it re-runs a chain).
        for row in (1..n).rev() {
            let next = if row + 1 == n { 0 } else { row + 1 };
            set(
                &mut sheet,
                &col_a(row).to_string(),
                reads(&[&col_a(next).to_string()]),
            );
        }
        let err = sheet.set_cell(col_a(0), reads(&["A2"])).unwrap_err();
        assert_eq!(err.cycle.len(), n as usize + 1);
        assert_eq!(err.plan.cyclic.len(), n as usize);
        assert_eq!(
            err.to_string(),
            "circular reference: A1 → A20000 → A19999 → A19998 → … 19993 more cells … → A4 → A3 → \
             A2 → A1"
        );
        // Nine cells is the longest path shown whole.
        let nine: Vec<Address> = (0..8).map(col_a).chain([col_a(0)]).collect();
        assert_eq!(
            CyclePath(&nine).to_string(),
            "A1 → A2 → A3 → A4 → A5 → A6 → A7 → A8 → A1"
        );
        let ten: Vec<Address> = (0..9).map(col_a).chain([col_a(0)]).collect();
        assert_eq!(
            CyclePath(&ten).to_string(),
            "A1 → A2 → A3 → A4 → … 2 more cells … → A7 → A8 → A9 → A1"
        );
    }

    #[test]
    fn self_reference() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "B1", reads(&["A1"]));
        let err = sheet.set_cell(a("A1"), reads(&["A1"])).unwrap_err();
        assert_eq!(err.to_string(), "circular reference: A1 → A1");
        assert_eq!(err.plan.cyclic, list(&["A1"]));
        assert_eq!(err.plan.blocked, list(&["B1"]));
        // Through a range containing the cell itself.
        let err = sheet.set_cell(a("A2"), reads(&["A1:A3"])).unwrap_err();
        assert_eq!(err.to_string(), "circular reference: A2 → A2");
        assert_eq!(err.plan.blocked, vec![]);
        // Fixed: runs again, with its dependents.
        assert_eq!(set(&mut sheet, "A2", reads(&["A1"])), list(&["A2"]));
        assert_eq!(set(&mut sheet, "A1", reads(&[])), list(&["A1", "B1", "A2"]));
        assert_eq!(sheet.precedents(a("A2")), list(&["A1"]));
        assert_eq!(sheet.dependents(a("A3")), vec![]);
    }

    #[test]
    fn names_with_two_definers() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A2", deps(&[], &[], &["x"]));
        set(&mut sheet, "A4", deps(&[], &[], &["x"]));
        set(&mut sheet, "A1", deps(&[], &["x"], &[]));
        set(&mut sheet, "A3", deps(&[], &["x"], &[]));
        set(&mut sheet, "A5", deps(&[], &["x"], &[]));
        // Nearest definer before the reader; none before → the last one.
        assert_eq!(sheet.definer_of("x", a("A3")), Some(a("A2")));
        assert_eq!(sheet.definer_of("x", a("A5")), Some(a("A4")));
        assert_eq!(sheet.definer_of("x", a("A1")), Some(a("A4")));
        assert_eq!(
            sheet.definer_of("x", a("B2")),
            Some(a("A2")),
            "same row, after A2"
        );
        assert_eq!(sheet.definer_of("nope", a("A3")), None);
        assert_eq!(sheet.definers("x"), list(&["A2", "A4"]));
        assert_eq!(sheet.dependents(a("A2")), list(&["A3"]));
        assert_eq!(sheet.dependents(a("A4")), list(&["A1", "A5"]));

        // A new definer between A2 and A3 takes over A3 only.
        let plan = sheet.set_cell(a("B2"), deps(&[], &[], &["x"])).unwrap();
        assert_eq!(plan.roots, list(&["B2", "A3"]));
        assert_eq!(plan.order, list(&["B2", "A3"]));
        assert_eq!(sheet.precedents(a("A3")), list(&["B2"]));
        // A new last definer takes over the tail and the wrap-around readers.
        let plan = sheet.set_cell(a("A9"), deps(&[], &[], &["x"])).unwrap();
        assert_eq!(plan.order, list(&["A9", "A1"]));
        assert_eq!(sheet.definer_of("x", a("A1")), Some(a("A9")));
        assert_eq!(sheet.definer_of("x", a("A5")), Some(a("A4")));
        // B2 stops defining x: A3 goes back to A2.
        let plan = sheet.set_cell(a("B2"), deps(&[], &[], &["y"])).unwrap();
        assert_eq!(plan.order, list(&["B2", "A3"]));
        assert_eq!(sheet.definer_of("x", a("A3")), Some(a("A2")));
        // A reader that stops reading x no longer depends on the definer.
        assert_eq!(set(&mut sheet, "A5", deps(&[], &["y"], &[])), list(&["A5"]));
        assert_eq!(sheet.dependents(a("A4")), vec![]);
        assert_eq!(sheet.precedents(a("A5")), list(&["B2"]));
    }

    #[test]
    fn rebinding_uses_the_previous_definition() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["df"])); // df = load()
        set(&mut sheet, "A2", deps(&[], &["df"], &["df"])); // df = df.dropna()
        set(&mut sheet, "A3", deps(&[], &["df"], &[])); // df.plot()
        assert_eq!(sheet.definer_of("df", a("A2")), Some(a("A1")));
        assert_eq!(sheet.definer_of("df", a("A3")), Some(a("A2")));
        assert_eq!(sheet.downstream(a("A1")), list(&["A2", "A3"]));
        assert_eq!(sheet.precedents(a("A3")), list(&["A2"]));
        // Alone, a rebinding cell depends on nothing, and is no cycle.
        let mut alone = Sheet::new();
        assert_eq!(
            set(&mut alone, "A2", deps(&[], &["df"], &["df"])),
            list(&["A2"])
        );
        assert_eq!(alone.definer_of("df", a("A2")), None);
        // With only a later definer, it wraps around to it.
        set(&mut alone, "A7", deps(&[], &[], &["df"]));
        assert_eq!(alone.definer_of("df", a("A2")), Some(a("A7")));
        assert_eq!(alone.downstream(a("A7")), list(&["A2"]));
        // Two rebinding cells in a row chain, no cycle.
        set(&mut alone, "A3", deps(&[], &["df"], &["df"]));
        assert_eq!(alone.definer_of("df", a("A3")), Some(a("A2")));
        assert_eq!(alone.downstream(a("A7")), list(&["A2", "A3"]));
    }

    #[test]
    fn deleted_cell() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["x"]));
        set(&mut sheet, "A3", deps(&[], &[], &["x"]));
        set(&mut sheet, "B1", reads(&["A1"]));
        set(&mut sheet, "C1", deps(&[], &["x"], &[]));
        set(&mut sheet, "C2", reads(&["C1"]));
        let plan = sheet.remove_cell(a("A1")).unwrap();
        assert_eq!(plan.roots, list(&["B1", "C1"]));
        assert_eq!(plan.order, list(&["B1", "C1", "C2"]));
        assert!(!sheet.contains(a("A1")));
        assert_eq!(sheet.definers("x"), list(&["A3"]));
        assert_eq!(sheet.definer_of("x", a("C1")), Some(a("A3")));
        // B1 now reads an empty address, and refilling it re-runs B1.
        assert_eq!(sheet.precedents(a("B1")), list(&["A1"]));
        assert_eq!(set(&mut sheet, "A1", reads(&[])), list(&["A1", "B1"]));
        // The last definer goes: its readers get a NameError at run time.
        assert_eq!(
            sheet.remove_cell(a("A3")).unwrap().order,
            list(&["C1", "C2"])
        );
        assert_eq!(sheet.definer_of("x", a("C1")), None);
        assert_eq!(sheet.precedents(a("C1")), vec![]);
        // Deleting nothing plans nothing.
        assert_eq!(sheet.remove_cell(a("Z9")), Ok(Plan::default()));
        // Deleting a leaf nobody reads forgets it entirely.
        assert_eq!(sheet.remove_cell(a("C2")), Ok(Plan::default()));
        assert!(!sheet.graph.contains_node(a("C2")));
    }

    #[test]
    fn deleting_can_create_a_cycle_through_names() {
        // B1 reads x from A1; C1 also defines x and reads B1. Without A1, B1's
        // x wraps around to C1, the last definer: B1 → C1 → B1.
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["x"]));
        set(&mut sheet, "B1", deps(&[], &["x"], &[]));
        set(&mut sheet, "C1", deps(&["B1"], &[], &["x"]));
        let err = sheet.remove_cell(a("A1")).unwrap_err();
        assert_eq!(err.to_string(), "circular reference: B1 → C1 → B1");
        // Putting A1 back breaks it.
        assert_eq!(
            set(&mut sheet, "A1", deps(&[], &[], &["x"])),
            list(&["A1", "B1", "C1"])
        );
    }

    #[test]
    fn empty_address_filling() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "B1", reads(&["A1"]));
        set(&mut sheet, "C1", reads(&["A1:A3"]));
        assert_eq!(sheet.precedents(a("B1")), list(&["A1"]));
        assert_eq!(sheet.dependents(a("A1")), list(&["B1", "C1"]));
        assert_eq!(sheet.downstream(a("A2")), list(&["C1"]));
        // The dirty set of an empty address is its readers, as roots.
        let plan = sheet.plan(&list(&["A2"]));
        assert_eq!(
            (plan.roots.clone(), plan.order),
            (list(&["C1"]), list(&["C1"]))
        );
        assert_eq!(set(&mut sheet, "A1", reads(&[])), list(&["A1", "B1", "C1"]));
        assert_eq!(set(&mut sheet, "A3", reads(&[])), list(&["A3", "C1"]));
        // Once nobody reads an empty address, it leaves the graph.
        set(&mut sheet, "C1", reads(&["A1"]));
        assert!(!sheet.graph.contains_node(a("A2")));
        assert!(sheet.graph.contains_node(a("A3")), "a cell stays");
        set(&mut sheet, "B1", reads(&[]));
        sheet.remove_cell(a("A1")).unwrap();
        assert!(sheet.graph.contains_node(a("A1")), "C1 still reads it");
        sheet.remove_cell(a("C1")).unwrap();
        assert!(!sheet.graph.contains_node(a("A1")));
    }

    #[test]
    fn an_edge_with_two_reasons_survives_losing_one() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["x"]));
        set(&mut sheet, "B1", deps(&["A1", "A1"], &["x", "x"], &[]));
        assert_eq!(sheet.cell(a("B1")).unwrap(), &deps(&["A1"], &["x"], &[]));
        assert_eq!(
            set(&mut sheet, "A1", deps(&[], &[], &[])),
            list(&["A1", "B1"])
        );
        assert_eq!(sheet.precedents(a("B1")), list(&["A1"]));
        set(&mut sheet, "B1", reads(&[]));
        assert_eq!(sheet.dependents(a("A1")), vec![]);
    }

    /// Tiny deterministic PRNG (xorshift) for the model test.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random edits on a small sheet; after each, the incremental graph must
    /// equal one rebuilt from scratch by the rules, and plans must be valid.
    fn with(d: CellDeps, f: impl FnOnce(&mut CellDeps)) -> CellDeps {
        let mut d = d;
        f(&mut d);
        d
    }

    #[test]
    fn notebook_positions_decide_the_nearest_definer() {
        // `ox = 1` (A1), `oy = ox * 2` (A2); a cell inserted between them in the notebook
        // takes A3 but sits at position 1.
        let mut sheet = Sheet::new();
        sheet
            .set_cell_at(a("A1"), 0, deps(&[], &[], &["ox"]))
            .unwrap();
        sheet
            .set_cell_at(a("A2"), 2, deps(&[], &["ox"], &["oy"]))
            .unwrap();
        let plan = sheet
            .set_cell_at(a("A3"), 1, deps(&[], &[], &["ox"]))
            .unwrap();
        assert_eq!(plan.order, list(&["A3", "A2"]));
        assert_eq!(sheet.definer_of("ox", a("A2")), Some(a("A3")));
        // Moving A3 below A2 gives A2 back its first definer.
        let moved = sheet.set_positions(|addr| match addr.row {
            0 => 0,
            1 => 1,
            _ => 2,
        });
        assert_eq!(moved, list(&["A2"]));
        assert_eq!(sheet.definer_of("ox", a("A2")), Some(a("A1")));
        // Without notebook positions a cell sits below every notebook cell.
        assert!(sheet_position(a("A1")) > 1 << 39);
    }

    #[test]
    fn a_maybe_definition_reads_the_previous_one_only() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["speed"]));
        set(&mut sheet, "A2", deps(&[], &[], &["mode"]));
        // `if mode == "fast": speed = 10`
        let maybe = with(deps(&[], &["mode"], &["speed"]), |d| {
            d.maybe_defines = names(&["speed"])
        });
        set(&mut sheet, "A3", maybe);
        set(&mut sheet, "A4", deps(&[], &["speed"], &[]));
        assert_eq!(sheet.precedents(a("A3")), list(&["A1", "A2"]));
        assert_eq!(sheet.downstream(a("A1")), list(&["A3", "A4"]));
        // With no definer before it, it reads none (no wrap-around to a later one).
        let mut alone = Sheet::new();
        let maybe = with(deps(&[], &[], &["v"]), |d| d.maybe_defines = names(&["v"]));
        set(&mut alone, "A1", maybe);
        set(&mut alone, "A2", deps(&[], &[], &["v"]));
        assert_eq!(alone.precedents(a("A1")), vec![]);
        // ... and starts with the name unbound, as a top-to-bottom run does.
        assert_eq!(alone.bindings(a("A1")), vec![("v", None)]);
    }

    #[test]
    fn a_change_in_place_reruns_from_the_object_s_maker() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["lst"])); // lst = [1]
        set(&mut sheet, "A2", deps(&[], &["lst"], &[])); // first = lst[0]
        let append = with(deps(&[], &["lst"], &[]), |d| d.mutates = names(&["lst"]));
        set(&mut sheet, "A3", append.clone()); // lst.append(2)
        set(&mut sheet, "A4", deps(&[], &["lst"], &[])); // len(lst)
        assert_eq!(sheet.definer_of("lst", a("A4")), Some(a("A3")));
        // Re-running the append starts from a fresh list made by A1.
        let plan = sheet.set_cell(a("A3"), append).unwrap();
        assert_eq!(plan.roots, list(&["A1", "A3"]));
        assert_eq!(plan.order, list(&["A1", "A2", "A3", "A4"]));
        // A reader before the change needs a fresh object too.
        assert_eq!(
            sheet.plan(&[a("A2")]).order,
            list(&["A1", "A2", "A3", "A4"])
        );
        // A reader after every change does not.
        assert_eq!(sheet.plan(&[a("A4")]).order, list(&["A4"]));
    }

    #[test]
    fn a_first_change_in_place_runs_on_the_object_as_the_cells_before_left_it() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["lst"])); // lst = []
        set(&mut sheet, "A2", deps(&[], &["lst"], &[])); // len(lst)
        let append = with(deps(&[], &["lst"], &[]), |d| d.mutates = names(&["lst"]));
        // A new cell at the end: a top-to-bottom run appends to the list A1 made and A2
        // read, so nothing before it re-runs (its side effects would repeat).
        let plan = sheet.set_cell(a("A3"), append.clone()).unwrap();
        assert_eq!(plan.order, list(&["A3"]));
        // Once it has changed the list, re-running it must not change it twice.
        let plan = sheet.set_cell(a("A3"), append.clone()).unwrap();
        assert_eq!(plan.order, list(&["A1", "A2", "A3"]));
        // A new change placed before it (B2 sits between A2 and A3) must not see A3's.
        let plan = sheet.set_cell(a("B2"), append.clone()).unwrap();
        assert_eq!(plan.order, list(&["A1", "A2", "B2", "A3"]));
        // A cell that read the list and now changes it has no change of its own to undo.
        set(&mut sheet, "A4", deps(&[], &["lst"], &[]));
        let plan = sheet.set_cell(a("A4"), append).unwrap();
        assert_eq!(plan.order, list(&["A4"]));
    }

    #[test]
    fn a_caller_reads_what_the_function_reads_where_it_is_called() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["rate"]));
        let price = with(deps(&[], &["rate"], &["price"]), |d| {
            d.deferred_reads = names(&["rate"])
        });
        set(&mut sheet, "A2", price);
        set(&mut sheet, "A3", deps(&[], &[], &["rate"]));
        set(&mut sheet, "A4", deps(&[], &["price"], &[]));
        assert_eq!(sheet.precedents(a("A4")), list(&["A2", "A3"]));
        let plan = sheet.set_cell(a("A3"), deps(&[], &[], &["rate"])).unwrap();
        assert_eq!(plan.order, list(&["A3", "A4"]));
        // What the function reads changes: its callers follow.
        let price = with(deps(&[], &[], &["price"]), |d| {
            d.deferred_reads = names(&["tax"])
        });
        set(&mut sheet, "A2", price);
        set(&mut sheet, "B1", deps(&[], &[], &["tax"]));
        assert_eq!(sheet.precedents(a("A4")), list(&["B1", "A2"]));
    }

    #[test]
    fn bindings_give_every_name_defined_twice_as_the_cells_before_left_it() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", deps(&[], &[], &["x"]));
        set(&mut sheet, "A2", deps(&[], &["x"], &["y"]));
        set(&mut sheet, "A3", deps(&[], &[], &["x"]));
        set(&mut sheet, "A4", deps(&[], &["show"], &[]));
        assert_eq!(
            sheet.bindings(a("A2")),
            vec![("x", Some(a("A1"))), ("y", None)]
        );
        assert_eq!(sheet.bindings(a("A4")), vec![("x", Some(a("A3")))]);
        // A1 and A3 start with x as the cells before them left it.
        assert_eq!(sheet.bindings(a("A1")), vec![("x", None)]);
        assert_eq!(sheet.bindings(a("A3")), vec![("x", Some(a("A1")))]);
        assert_eq!(sheet.final_bindings(), vec![("x", a("A3"))]);
        assert_eq!(sheet.chosen_definers(a("A4")), vec![]);
        assert_eq!(sheet.chosen_definers(a("A2")), vec![("x", a("A1"))]);
    }

    #[test]
    fn a_builtin_s_name_defined_later_does_not_shadow_it_for_a_reader_before() {
        // `max(...)` (A1), then `max = 10` (A2), then `max * 2` (A3).
        let mut sheet = Sheet::new();
        let builtin = |d: CellDeps| with(d, |d| d.reads_builtins = names(&["max"]));
        set(&mut sheet, "A1", builtin(deps(&[], &["max"], &["top"])));
        set(&mut sheet, "A2", deps(&[], &[], &["max"]));
        set(&mut sheet, "A3", builtin(deps(&[], &["max"], &[])));
        assert_eq!(
            sheet.definer_of("max", a("A1")),
            Some(a("A2")),
            "the sheet rule"
        );
        assert_eq!(sheet.precedents(a("A1")), vec![]);
        assert_eq!(sheet.precedents(a("A3")), list(&["A2"]));
        // A1 runs with the builtin: the later `max` is unbound for it.
        assert!(sheet.bindings(a("A1")).contains(&("max", None)));
    }

    #[test]
    fn a_dynamic_cell_defines_what_no_cell_defines() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A2", deps(&[], &["made"], &[]));
        let exec = with(deps(&[], &[], &[]), |d| d.dynamic = true);
        let plan = sheet.set_cell(a("A1"), exec).unwrap();
        assert_eq!(plan.order, list(&["A1", "A2"]));
        assert_eq!(sheet.definer_of("made", a("A2")), Some(a("A1")));
        set(&mut sheet, "A1", deps(&[], &[], &[]));
        assert_eq!(sheet.definer_of("made", a("A2")), None);
    }

    #[test]
    fn matches_a_from_scratch_model() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut sheet = Sheet::new();
        let cells: Vec<Address> = (0..4)
            .flat_map(|row| (0..3).map(move |col| Address { col, row }))
            .collect();
        let pool = ["x", "y", "z"];
        let (mut cycles, mut switches) = (0, 0);
        for _ in 0..3_000 {
            let at = cells[rng.below(cells.len() as u64) as usize];
            let before: Vec<Address> = sheet.cells().collect();
            let result = if rng.below(5) == 0 {
                sheet.remove_cell(at)
            } else {
                let mut pick = |n| -> Vec<String> {
                    pool.iter()
                        .filter(|_| rng.below(n) == 0)
                        .map(|s| s.to_string())
                        .collect()
                };
                let (reads_names, defines) = (pick(3), pick(3));
                let reads_addresses = (0..rng.below(3))
                    .map(|_| cells[rng.below(12) as usize])
                    .collect();
                let reads_ranges = (0..rng.below(2))
                    .map(|_| {
                        let mut corner = || cells[rng.below(12) as usize];
                        Range::new(corner(), corner())
                    })
                    .collect();
                sheet.set_cell(
                    at,
                    CellDeps {
                        reads_addresses,
                        reads_ranges,
                        reads_names,
                        defines,
                        ..Default::default()
                    },
                )
            };
            let plan = match result {
                Ok(plan) => plan,
                Err(e) => {
                    cycles += 1;
                    assert_eq!(e.cycle.first(), e.cycle.last());
                    for pair in e.cycle.windows(2) {
                        assert!(sheet.graph.contains_edge(pair[0], pair[1]));
                    }
                    e.plan
                }
            };
            check_against_model(&sheet);
            check_plan(&sheet, &plan, at, &before);
            switches += plan.roots.iter().filter(|&&r| r != at).count();
        }
        // The run did exercise cycles and definer switches.
        assert!(
            cycles > 100 && switches > 100,
            "{cycles} cycles, {switches} switches"
        );
    }

    /// A range kept as a rectangle plans exactly what the same range spelled out address by
    /// address plans (the old representation), over random edits, deletions and cycles.
    #[test]
    fn ranges_plan_as_their_addresses_would() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let (mut rect, mut spelled) = (Sheet::new(), Sheet::new());
        let cells: Vec<Address> = (0..5)
            .flat_map(|row| (0..4).map(move |col| Address { col, row }))
            .collect();
        let mut ranged_plans = 0;
        for _ in 0..4_000 {
            let at = cells[rng.below(cells.len() as u64) as usize];
            let (r1, r2) = if rng.below(5) == 0 {
                (rect.remove_cell(at), spelled.remove_cell(at))
            } else {
                let reads_addresses: Vec<Address> = (0..rng.below(2))
                    .map(|_| cells[rng.below(20) as usize])
                    .collect();
                let reads_ranges: Vec<Range> = (0..rng.below(3))
                    .map(|_| {
                        let mut corner = || cells[rng.below(20) as usize];
                        Range::new(corner(), corner())
                    })
                    .collect();
                ranged_plans += usize::from(!reads_ranges.is_empty());
                let mut all = reads_addresses.clone();
                all.extend(reads_ranges.iter().flat_map(|r| r.addresses()));
                let names = if rng.below(3) == 0 {
                    names(&["x"])
                } else {
                    vec![]
                };
                let defines = if rng.below(4) == 0 {
                    names_of("x")
                } else {
                    vec![]
                };
                let mk = |reads_addresses, reads_ranges| CellDeps {
                    reads_addresses,
                    reads_ranges,
                    reads_names: names.clone(),
                    defines: defines.clone(),
                    ..Default::default()
                };
                (
                    rect.set_cell(at, mk(reads_addresses, reads_ranges)),
                    spelled.set_cell(at, mk(all, vec![])),
                )
            };
            let plan = |r: Result<Plan, CycleError>| match r {
                Ok(p) => (p, None),
                Err(e) => (e.plan, Some(e.cycle.len())),
            };
            assert_eq!(plan(r1), plan(r2), "after a change at {at}");
            for &c in &cells {
                if rect.contains(c) {
                    let direct = &rect.cells[&c].deps.reads_addresses;
                    assert_eq!(
                        rect.precedents(c),
                        spelled_cells(&spelled, c, direct),
                        "{c}"
                    );
                }
                assert_eq!(rect.dependents(c), spelled.dependents(c), "{c}");
            }
        }
        assert!(ranged_plans > 1_000, "{ranged_plans}");
    }

    fn names_of(name: &str) -> Vec<String> {
        vec![name.to_string()]
    }

    /// The precedents of `c` that hold cells or are among its `direct` (single address)
    /// reads: what a spelled-out range adds beyond them (empty addresses) is what the
    /// rectangle leaves out.
    fn spelled_cells(sheet: &Sheet, c: Address, direct: &[Address]) -> Vec<Address> {
        sheet
            .precedents(c)
            .into_iter()
            .filter(|&p| sheet.contains(p) || direct.contains(&p))
            .collect()
    }

    #[test]
    fn a_whole_sheet_range_costs_what_its_cells_cost() {
        let mut sheet = Sheet::new();
        set(&mut sheet, "A1", reads(&[]));
        set(&mut sheet, "ZZ50000", reads(&[]));
        let plan = set(&mut sheet, "C1", reads(&["A2:XFD1048576"]));
        assert_eq!(plan, list(&["C1"]));
        assert_eq!(sheet.precedents(a("C1")), list(&["ZZ50000"]));
        assert!(
            sheet.graph.node_count() <= 5,
            "{}",
            sheet.graph.node_count()
        );
        // A new cell inside re-runs the reader; deleting it does too, and leaves no node.
        assert_eq!(set(&mut sheet, "Q7", reads(&[])), list(&["Q7", "C1"]));
        let plan = sheet.remove_cell(a("Q7")).unwrap();
        assert_eq!(plan.order, list(&["C1"]));
        assert!(!sheet.graph.contains_node(a("Q7")));
        assert_eq!(
            sheet.ranges_read(a("C1")),
            &["A2:XFD1048576".parse().unwrap()]
        );
        // A cell reading the whole sheet is inside its own range: a self-reference, reported
        // at once, the graph still small.
        let err = sheet
            .set_cell(a("B1"), reads(&["A1:XFD1048576"]))
            .unwrap_err();
        assert_eq!(err.cycle, list(&["B1", "B1"]));
        assert!(
            sheet.graph.node_count() <= 5,
            "{}",
            sheet.graph.node_count()
        );
    }

    fn check_against_model(sheet: &Sheet) {
        let mut expected: BTreeMap<(Address, Address), u32> = BTreeMap::new();
        for (&v, cell) in &sheet.cells {
            for &u in &cell.deps.reads_addresses {
                *expected.entry((u, v)).or_default() += 1;
            }
            // A range's inputs are the cells inside it, nothing else.
            for range in &cell.deps.reads_ranges {
                for (&u, _) in sheet.cells.iter().filter(|(&u, _)| range.contains(u)) {
                    *expected.entry((u, v)).or_default() += 1;
                }
            }
            for name in &cell.deps.reads_names {
                let defs: Vec<Address> = sheet
                    .cells
                    .iter()
                    .filter(|&(&d, c)| d != v && c.deps.defines.contains(name))
                    .map(|(&d, _)| d)
                    .collect();
                let definer = defs.iter().rev().find(|&&d| d < v).or(defs.last());
                assert_eq!(sheet.definer_of(name, v), definer.copied());
                assert_eq!(cell.reads.get(name).copied().flatten().as_ref(), definer);
                if let Some(&d) = definer {
                    *expected.entry((d, v)).or_default() += 1;
                }
            }
        }
        let actual: BTreeMap<(Address, Address), u32> = sheet
            .graph
            .all_edges()
            .map(|(u, v, &w)| ((u, v), w))
            .collect();
        assert_eq!(actual, expected);
        for node in sheet.graph.nodes() {
            assert!(
                sheet.contains(node)
                    || sheet
                        .graph
                        .neighbors_directed(node, Outgoing)
                        .next()
                        .is_some(),
                "stale empty node {node}"
            );
        }
    }

    fn check_plan(sheet: &Sheet, plan: &Plan, at: Address, before: &[Address]) {
        let mut all: Vec<Address> = plan
            .order
            .iter()
            .chain(&plan.cyclic)
            .chain(&plan.blocked)
            .copied()
            .collect();
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "each cell once");
        assert!(all.iter().all(|&c| sheet.contains(c)));
        if sheet.contains(at) {
            assert!(all.contains(&at));
        } else if before.contains(&at) {
            // Deleted: its former address readers are in the plan.
            for reader in sheet.dependents(at) {
                assert!(all.contains(&reader));
            }
        }
        let pos: HashMap<Address, usize> = plan
            .order
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i))
            .collect();
        for (&u, &iu) in &pos {
            for v in sheet.graph.neighbors_directed(u, Outgoing) {
                assert!(all.contains(&v), "closed under successors");
                if let Some(&iv) = pos.get(&v) {
                    assert!(iu < iv, "{u} before {v}");
                }
            }
        }
        for &c in &plan.cyclic {
            assert!(sheet.cycle_through(c).is_some(), "{c} is on a cycle");
        }
        for &c in &plan.blocked {
            assert!(
                sheet.cycle_through(c).is_none(),
                "{c} is only below a cycle"
            );
        }
    }
}
