//! The sheet inside the kernel: which address each executed cell has, what state it is in, and
//! re-running what is downstream of a change (the graph and the order come from `crate::sheet`;
//! Python only runs one cell at a time).

use super::labels;
use crate::python::{bridge, CellHandle, CellRun, PythonRuntime};
use crate::sheet::{
    rewrite_ranges, sheet_position, Address, CellDeps, Outcome, Plan, Recompute, Sheet,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What `A1:C4` becomes in code before Python sees it (see `py/cells.py`).
const RANGE_CALL: &str = "__pysheets_range__";

#[derive(Debug, Clone, PartialEq)]
pub enum CellState {
    Ok,
    /// The cell raised: `ename: evalue`.
    Error(String),
    /// An upstream cell raised (or is on a cycle); the message says which and why.
    UpstreamError(Address, String),
    /// Lazy mode (or an interrupt) left it with its last value, not recomputed.
    Stale,
    /// The cell is on a circular reference.
    Cycle(String),
}

impl CellState {
    pub fn name(&self) -> &'static str {
        match self {
            CellState::Ok => "ok",
            CellState::Error(_) => "error",
            CellState::UpstreamError(..) => "upstream-error",
            CellState::Stale => "stale",
            CellState::Cycle(_) => "error",
        }
    }

    fn failed(&self) -> Option<String> {
        match self {
            CellState::Error(m) | CellState::Cycle(m) | CellState::UpstreamError(_, m) => {
                Some(m.clone())
            }
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct CellRecord {
    /// The code as the user wrote it.
    pub source: String,
    pub cell_id: Option<String>,
    pub title: String,
    pub lazy: bool,
    pub defines: Vec<String>,
    pub reads_addresses: Vec<Address>,
    pub state: CellState,
    pub summary: String,
    /// A small PNG (base64) of the value, when it shows as a picture.
    pub png: Option<String>,
    /// The cell's Python object, holding the code Python runs (ranges rewritten); None only if
    /// Python failed to make it.
    py: Option<CellHandle>,
    /// What calling each of this cell's functions may bind or change, for the cells that
    /// call them.
    function_writes: BTreeMap<String, Vec<String>>,
    /// The (name, definer) bindings Python last got for this cell, and the epoch they were
    /// given in: unchanged bindings are not sent again.
    bound: Vec<(String, Option<Address>)>,
    bound_epoch: u64,
}

/// A request's failure before or while running its own cell.
#[derive(Debug, Clone)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
    /// Already shown to the user as an `error` output.
    pub published: bool,
}

impl CellError {
    pub fn new(ename: &str, evalue: String) -> Self {
        CellError {
            ename: ename.into(),
            traceback: vec![format!("{ename}: {evalue}")],
            evalue,
            published: false,
        }
    }

    fn from_python(v: &Value) -> Self {
        CellError {
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
            published: true,
        }
    }

    pub fn publish(&mut self) {
        if self.published {
            return;
        }
        self.published = true;
        if let Some(b) = bridge::get() {
            b.publish(
                "error",
                json!({"ename": self.ename, "evalue": self.evalue, "traceback": self.traceback}),
            );
        }
    }
}

/// How the cell that a request executes shows its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// `display_data` with the address's display id (frontends with cells: it can be updated).
    Display,
    /// `execute_result` (console and other line-oriented clients).
    Result,
}

/// What a request did to the sheet, for the reply's metadata and the comm.
#[derive(Debug, Default)]
pub struct Report {
    pub address: Option<Address>,
    pub reran: Vec<Address>,
    pub stale: Vec<Address>,
    pub touched: BTreeSet<Address>,
    /// The executed cell's own outcome (payload, result text), when it ran.
    pub own: Option<Value>,
}

#[derive(Default)]
pub struct Reactive {
    pub sheet: Sheet,
    pub cells: BTreeMap<Address, CellRecord>,
    by_id: HashMap<String, Address>,
    pub lazy: bool,
    /// No cell in column A above this row is free (rows are 0-based).
    next_in_a: u32,
    /// Open comms of the `pysheets` target.
    pub comms: Vec<String>,
    /// Bumped whenever a cell's Python object is made or dropped, which invalidates every
    /// cell's bindings (they hold those objects).
    epoch: u64,
    /// Methods the notebook's classes define that change their object (`acct.deposit(…)`
    /// is then a change of `acct` in place, like `lst.append(…)`).
    mutating_methods: BTreeSet<String>,
    /// The notebook's order of cells (cellId → index), when the frontend tells it: names
    /// resolve in the order the user reads, not by address.
    notebook_order: HashMap<String, u64>,
}

impl Reactive {
    fn next_free_in_a(&mut self) -> Address {
        loop {
            let candidate = Address {
                col: 0,
                row: self.next_in_a,
            };
            if !self.cells.contains_key(&candidate) {
                return candidate;
            }
            self.next_in_a += 1;
        }
    }

    /// The address rules, in order: label, `pysheets.address` metadata, the cellId's address,
    /// the next free address down column A.
    fn choose_address(
        &mut self,
        code: &str,
        metadata: &Value,
    ) -> Result<(Address, String, bool), CellError> {
        let cell_id = metadata["cellId"].as_str();
        let label = labels::parse(code);
        let from_metadata = metadata["pysheets"]["address"]
            .as_str()
            .and_then(|a| a.parse::<Address>().ok());
        let (address, title, lazy) = match label {
            Some(l) => (l.address, l.title, l.lazy),
            None => {
                let address = from_metadata
                    .or_else(|| cell_id.and_then(|id| self.by_id.get(id).copied()))
                    .unwrap_or_else(|| self.next_free_in_a());
                (address, String::new(), false)
            }
        };
        if let (Some(holder), Some(id)) = (self.cells.get(&address), cell_id) {
            if let Some(other) = holder.cell_id.as_deref().filter(|other| *other != id) {
                return Err(CellError::new(
                    "AddressConflict",
                    format!(
                        "{address} is already the address of another cell (cellId {other}); \
                         pick another address or delete that cell"
                    ),
                ));
            }
        }
        Ok((address, title, lazy))
    }

    fn cell_json(&self, address: Address) -> Value {
        let Some(c) = self.cells.get(&address) else {
            return json!({"address": address.to_string(), "state": "deleted"});
        };
        let mut v = json!({
            "address": address.to_string(),
            "title": c.title,
            "cellId": c.cell_id,
            "state": c.state.name(),
            "value": c.summary,
            "reads": self.sheet.precedents(address).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "code": c.source,
            "lazy": c.lazy,
        });
        if let Some(message) = c.state.failed() {
            v["error"] = json!(message);
        }
        if let Some(png) = &c.png {
            v["png"] = json!(png);
        }
        v
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "mode": if self.lazy { "lazy" } else { "auto" },
            "cells": self.cells.keys().map(|&a| self.cell_json(a)).collect::<Vec<_>>(),
        })
    }

    fn failed_cells(&self) -> impl Iterator<Item = Address> + '_ {
        self.cells
            .iter()
            .filter(|(_, c)| c.state.failed().is_some())
            .map(|(&a, _)| a)
    }

    /// Cells in error, upstream error or on a cycle, for the reply's metadata.
    pub fn errors(&self) -> Vec<String> {
        self.failed_cells().map(|a| a.to_string()).collect()
    }

    /// Runs the code of an execute_request as the cell it addresses, then what is downstream.
    pub fn execute(
        &mut self,
        rt: &PythonRuntime,
        code: &str,
        metadata: &Value,
        execution_count: i64,
        report: &mut Report,
    ) -> Result<(), CellError> {
        let (address, title, lazy) = self.choose_address(code, metadata)?;
        report.address = Some(address);
        let cell_id = metadata["cellId"].as_str().map(String::from);
        let (rewritten, ranges) = rewrite_ranges(code, RANGE_CALL);
        let analysis = rt.sheet(
            "sheet_analyze_json",
            &json!({ "code": rewritten, "mutating_methods": self.mutating_methods }),
        );
        // A name shaped like an address is a variable, unless a cell sits at that address.
        let held = analysis["address_defines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .find(|t| {
                t.parse::<Address>()
                    .is_ok_and(|a| a != address && self.cells.contains_key(&a))
            });
        if let Some(target) = held {
            return Err(CellError::new(
                "AddressAssignment",
                format!(
                    "this cell ({address}) assigns to {target}, which is the address of a \
                     cell: a cell's value is set only by the cell at that address"
                ),
            ));
        }
        let strings = |key: &str| -> Vec<String> {
            analysis[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut reads_addresses: Vec<Address> = strings("reads_addresses")
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        for range in &ranges {
            reads_addresses.extend(range.addresses());
        }
        let mut reads_names = strings("reads_names");
        // `R2` read where no cell sits may be another cell's variable named R2.
        reads_names.extend(strings("reads_addresses"));
        self.mutating_methods.extend(strings("mutating_methods"));
        // Calling another cell's function that binds a global (`global g`) or changes one in
        // place makes this cell a new version of that name.
        let mut mutates = strings("mutates");
        for name in &reads_names {
            if let Some(definer) = self.sheet.definer_of(name, address) {
                if let Some(record) = self.cells.get(&definer).filter(|_| definer != address) {
                    if let Some(writes) = record.function_writes.get(name) {
                        mutates.extend(writes.iter().cloned());
                    }
                }
            }
        }
        let deps = CellDeps {
            reads_addresses: reads_addresses.clone(),
            reads_names,
            defines: strings("defines"),
            maybe_defines: strings("maybe_defines"),
            mutates,
            deferred_reads: strings("deferred_reads"),
            dynamic: analysis["dynamic"].as_bool().unwrap_or(false),
        };
        let dynamic = deps.dynamic;
        let changes: Vec<String> = deps
            .mutates
            .iter()
            .filter(|n| !deps.defines.contains(n))
            .cloned()
            .collect();
        let definitions = deps.definitions();

        // The cell moved (its label changed): its old address is deleted.
        if let Some(id) = &cell_id {
            if let Some(old) = self.by_id.get(id).copied().filter(|&old| old != address) {
                self.delete(rt, old, report);
            }
            self.by_id.insert(id.clone(), address);
        }
        if let Some(previous) = self.cells.get(&address) {
            // Console re-definition of a labeled address: the old holder loses it.
            if let Some(old_id) = previous
                .cell_id
                .clone()
                .filter(|o| Some(o) != cell_id.as_ref())
            {
                self.by_id.remove(&old_id);
            }
        }
        if !self.cells.contains_key(&address) {
            self.epoch += 1;
        }
        let py = rt.cell(
            &address.to_string(),
            &rewritten,
            &definitions,
            dynamic,
            &changes,
        );
        let dropped: Vec<String> = self
            .cells
            .get(&address)
            .map(|c| {
                c.defines
                    .iter()
                    .filter(|n| !definitions.contains(n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.cells.insert(
            address,
            CellRecord {
                source: code.to_string(),
                cell_id,
                title,
                lazy,
                defines: definitions.clone(),
                reads_addresses,
                state: CellState::Ok,
                summary: String::new(),
                png: None,
                py,
                function_writes: serde_json::from_value(analysis["function_writes"].clone())
                    .unwrap_or_default(),
                bound: Vec::new(),
                bound_epoch: 0,
            },
        );
        report.touched.insert(address);
        let shown = if metadata["cellId"].is_string() {
            Shown::Display
        } else {
            Shown::Result
        };
        let position = self
            .cells
            .get(&address)
            .and_then(|c| c.cell_id.as_ref())
            .and_then(|id| self.notebook_order.get(id))
            .copied()
            .unwrap_or_else(|| sheet_position(address));
        let set = self.sheet.set_cell_at(address, position, deps);
        // Names no cell defines any more leave the namespace, as in a fresh top-to-bottom run.
        let gone: Vec<&String> = dropped
            .iter()
            .filter(|n| self.sheet.definers(n).is_empty())
            .collect();
        if !gone.is_empty() {
            rt.sheet(
                "sheet_forget_json",
                &json!({"address": address.to_string(), "names": gone}),
            );
        }
        match set {
            Ok(plan) => self.run_plan(
                rt,
                &plan,
                Some((address, shown)),
                false,
                execution_count,
                report,
            ),
            Err(cycle) => {
                let message = cycle.to_string();
                self.mark_cycle(rt, &cycle.plan, &message, report);
                self.run_plan(rt, &cycle.plan, None, false, execution_count, report)?;
                if cycle.plan.cyclic.contains(&address) {
                    return Err(CellError::new("CycleError", message));
                }
                Err(CellError::new(
                    "UpstreamError",
                    format!("{address} depends on a circular reference: {message}"),
                ))
            }
        }
    }

    fn mark_cycle(&mut self, rt: &PythonRuntime, plan: &Plan, message: &str, report: &mut Report) {
        for &a in &plan.cyclic {
            self.set_state(rt, a, CellState::Cycle(message.to_string()), report);
        }
        for &a in &plan.blocked {
            let source = plan.cyclic.first().copied().unwrap_or(a);
            let state = CellState::UpstreamError(source, message.to_string());
            self.set_state(rt, a, state, report);
        }
    }

    /// Records a state that replaces the cell's shown value by a message.
    fn set_state(
        &mut self,
        rt: &PythonRuntime,
        address: Address,
        state: CellState,
        report: &mut Report,
    ) {
        let Some(cell) = self.cells.get_mut(&address) else {
            return;
        };
        let (text, kind, drop_value) = match &state {
            CellState::UpstreamError(source, message) => (
                format!("upstream error in {source}: {message}"),
                "error",
                true,
            ),
            CellState::Cycle(message) => (message.clone(), "error", true),
            CellState::Error(message) => (message.clone(), "error", true),
            CellState::Stale => (
                format!("stale: {} (run `%sheet run` to recompute)", cell.summary),
                "stale",
                false,
            ),
            CellState::Ok => (String::new(), "ok", false),
        };
        cell.state = state;
        report.touched.insert(address);
        rt.sheet(
            "sheet_mark_json",
            &json!({"address": address.to_string(), "text": text, "kind": kind,
                    "drop_value": drop_value}),
        );
    }

    /// The first precedent in a failed state (outside the batch being run), with its message.
    fn failed_precedent(&self, address: Address) -> Option<(Address, String)> {
        self.sheet.precedents(address).into_iter().find_map(|p| {
            let state = &self.cells.get(&p)?.state;
            match state {
                CellState::UpstreamError(source, message) => Some((*source, message.clone())),
                _ => state.failed().map(|m| (p, m)),
            }
        })
    }

    fn run_one(&mut self, rt: &PythonRuntime, address: Address, mode: &str, count: i64) -> CellRun {
        let cell = &self.cells[&address];
        let Some(handle) = &cell.py else {
            return CellRun::Failed(json!({"ename": "KernelError",
                "evalue": "this cell has no Python object", "traceback": []}));
        };
        // An empty address reads None, unless it is the name of another cell's variable.
        let empty: Vec<String> = cell
            .reads_addresses
            .iter()
            .filter(|a| !self.cells.contains_key(a))
            .map(|a| a.to_string())
            .filter(|a| self.sheet.definers(a).is_empty())
            .collect();
        let resolved = self.sheet.bindings(address);
        let unchanged = cell.bound_epoch == self.epoch
            && resolved
                .iter()
                .copied()
                .eq(cell.bound.iter().map(|(n, a)| (n.as_str(), *a)));
        if unchanged {
            return rt.run_cell(handle, mode, count, &empty, None);
        }
        let bind: Vec<(&str, Option<&CellHandle>)> = resolved
            .iter()
            .filter_map(|&(name, definer)| match definer {
                None => Some((name, None)),
                Some(d) => Some((name, Some(self.cells.get(&d)?.py.as_ref()?))),
            })
            .collect();
        let run = rt.run_cell(handle, mode, count, &empty, Some(&bind));
        let bound = resolved.iter().map(|&(n, a)| (n.to_string(), a)).collect();
        let cell = self
            .cells
            .get_mut(&address)
            .expect("the cell being run exists");
        cell.bound = bound;
        cell.bound_epoch = self.epoch;
        run
    }

    /// Runs `plan` in order with early cutoff. `edited` is the request's own cell (shown as a
    /// new output); every other cell updates its output in place, or goes stale when lazy.
    pub fn run_plan(
        &mut self,
        rt: &PythonRuntime,
        plan: &Plan,
        edited: Option<(Address, Shown)>,
        force: bool,
        count: i64,
        report: &mut Report,
    ) -> Result<(), CellError> {
        let started = std::time::Instant::now();
        // Failures inside the batch are Recompute's business; only a cell that was failed
        // before the batch needs each cell's precedents checked (skipped when there is none).
        let failed_before = self.failed_cells().next().is_some();
        // Re-run cells print nowhere; toggled only when the mode changes, not per cell.
        let mut muted = false;
        let mut recompute = Recompute::new(&self.sheet, plan);
        let mut own_error = None;
        let mut interrupted = false;
        while let Some(address) = recompute.next_cell() {
            let is_edited = edited.is_some_and(|(a, _)| a == address);
            let lazy = self.lazy || self.cells.get(&address).is_some_and(|c| c.lazy);
            if interrupted || (!is_edited && !force && lazy) {
                self.set_state(rt, address, CellState::Stale, report);
                report.stale.push(address);
                recompute.mark_changed(address);
                continue;
            }
            let failed_precedent = if failed_before {
                self.failed_precedent(address)
            } else {
                None
            };
            if let Some((source, message)) = failed_precedent {
                let mut error = CellError::new(
                    "UpstreamError",
                    format!("{address} reads {source}, which failed: {message}"),
                );
                if is_edited {
                    error.publish();
                    own_error = Some(error);
                }
                self.set_state(
                    rt,
                    address,
                    CellState::UpstreamError(source, message),
                    report,
                );
                recompute.mark_failed(address);
                continue;
            }
            let mode = match edited {
                Some((a, Shown::Display)) if a == address => "display",
                Some((a, Shown::Result)) if a == address => "result",
                _ => "update",
            };
            if muted != (mode == "update") {
                muted = mode == "update";
                if let Some(b) = bridge::get() {
                    b.set_streams_muted(muted);
                }
            }
            let outcome = self.run_one(rt, address, mode, count);
            report.touched.insert(address);
            if !is_edited {
                report.reran.push(address);
            }
            let failure = match outcome {
                CellRun::Ok {
                    changed,
                    summary,
                    payload,
                    result_text,
                    png,
                } => {
                    let cell = self.cells.get_mut(&address).expect("planned cells exist");
                    cell.state = CellState::Ok;
                    cell.summary = summary;
                    cell.png = png;
                    // The edited cell's code changed, so its readers re-run even when its
                    // value did not (a new `def f` evaluates to None both times).
                    if is_edited || changed {
                        recompute.mark_changed(address);
                    } else {
                        recompute.mark_unchanged(address);
                    }
                    if is_edited {
                        report.own = Some(json!({"payload": payload.unwrap_or(json!([])),
                                                 "result_text": result_text}));
                    }
                    None
                }
                CellRun::Failed(error) => Some(error),
            };
            if let Some(outcome) = failure {
                let error = CellError::from_python(&outcome);
                interrupted = error.ename == "KeyboardInterrupt";
                if interrupted && !is_edited {
                    // Stopped, not broken: it and what is below it keep their last values.
                    self.set_state(rt, address, CellState::Stale, report);
                    report.stale.push(address);
                    recompute.mark_changed(address);
                    continue;
                }
                let cell = self.cells.get_mut(&address).expect("planned cells exist");
                cell.state = CellState::Error(format!("{}: {}", error.ename, error.evalue));
                cell.summary = String::new();
                if interrupted {
                    recompute.mark_changed(address);
                } else {
                    recompute.mark_failed(address);
                }
                if is_edited {
                    own_error = Some(error);
                }
            }
        }
        if muted {
            if let Some(b) = bridge::get() {
                b.set_streams_muted(false);
            }
        }
        self.settle(rt);
        tracing::debug!(
            "ran a plan of {} cells in {:?}",
            plan.order.len(),
            started.elapsed()
        );
        let upstream: Vec<(Address, Address)> = recompute
            .outcomes()
            .filter_map(|(a, o)| match o {
                Outcome::UpstreamError(source) => Some((a, source)),
                _ => None,
            })
            .collect();
        for (address, source) in upstream {
            let message = self
                .cells
                .get(&source)
                .and_then(|c| c.state.failed())
                .unwrap_or_else(|| "failed".into());
            self.set_state(
                rt,
                address,
                CellState::UpstreamError(source, message),
                report,
            );
        }
        match own_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Leaves each name defined by several cells at its last definer's version: the
    /// namespace a top-to-bottom run would leave.
    fn settle(&self, rt: &PythonRuntime) {
        let last = self.sheet.final_bindings();
        if last.is_empty() {
            return;
        }
        let bind: Vec<(&str, &CellHandle)> = last
            .iter()
            .filter_map(|&(name, definer)| Some((name, self.cells.get(&definer)?.py.as_ref()?)))
            .collect();
        rt.settle(&bind);
    }

    /// Removes the cell at `address` (its value and names) and re-runs what read them.
    pub fn delete(&mut self, rt: &PythonRuntime, address: Address, report: &mut Report) {
        let Some(record) = self.cells.remove(&address) else {
            return;
        };
        self.epoch += 1;
        if let Some(id) = &record.cell_id {
            if self.by_id.get(id) == Some(&address) {
                self.by_id.remove(id);
            }
        }
        if address.col == 0 {
            self.next_in_a = self.next_in_a.min(address.row);
        }
        let plan = match self.sheet.remove_cell(address) {
            Ok(plan) => plan,
            Err(cycle) => cycle.plan,
        };
        // A name another cell still defines keeps that cell's value.
        let names: Vec<&String> = record
            .defines
            .iter()
            .filter(|n| self.sheet.definers(n).is_empty())
            .collect();
        rt.sheet(
            "sheet_delete_json",
            &json!({"address": address.to_string(), "names": names}),
        );
        report.touched.insert(address);
        let _ = self.run_plan(rt, &plan, None, false, 0, report);
    }

    /// The frontend's notebook order (cellIds, top to bottom). Cells whose names now resolve
    /// to other definitions go stale: what they show was computed from the old order.
    pub fn set_notebook_order(&mut self, rt: &PythonRuntime, ids: &[String], report: &mut Report) {
        self.notebook_order = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u64))
            .collect();
        let order = &self.notebook_order;
        let cells = &self.cells;
        let moved = self.sheet.set_positions(|a| {
            cells
                .get(&a)
                .and_then(|c| c.cell_id.as_ref())
                .and_then(|id| order.get(id))
                .copied()
                .unwrap_or_else(|| sheet_position(a))
        });
        for address in moved {
            self.set_state(rt, address, CellState::Stale, report);
            report.stale.push(address);
        }
    }

    pub fn delete_ids(&mut self, rt: &PythonRuntime, ids: &[String], report: &mut Report) {
        for id in ids {
            if let Some(address) = self.by_id.get(id).copied() {
                self.delete(rt, address, report);
            }
        }
    }

    /// `%sheet run`: recomputes every stale cell.
    pub fn run_stale(&mut self, rt: &PythonRuntime, count: i64, report: &mut Report) {
        let stale: Vec<Address> = self
            .cells
            .iter()
            .filter(|(_, c)| c.state == CellState::Stale)
            .map(|(&a, _)| a)
            .collect();
        let plan = self.sheet.plan(&stale);
        let _ = self.run_plan(rt, &plan, None, true, count, report);
    }

    /// The comm message for what a request changed.
    pub fn update_message(&self, report: &Report) -> Value {
        json!({
            "type": "update",
            "mode": if self.lazy { "lazy" } else { "auto" },
            "cells": report.touched.iter().map(|&a| self.cell_json(a)).collect::<Vec<_>>(),
        })
    }
}
