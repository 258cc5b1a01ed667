//! What a request does to the sheet: execute a cell (address → analysis → dependencies →
//! record → plan → run), delete cells, recompute the stale ones (`%sheet run`).

use super::addressing::Placement;
use super::{CellError, CellRecord, CellRuntime, CellState, LiveSheet, Output, Report, Shown};
use crate::python::{Analysis, PyCallError};
use crate::sheet::{rewrite_ranges, sheet_position, Address, CellDeps, Position, Range};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What `A1:C4` becomes in code before Python sees it (see `pysheets_kernel/cells.py`).
const RANGE_CALL: &str = "__pysheets_range__";

/// A cell's dependencies for the graph, from the analysis of its code and the ranges the
/// rewrite found in it: the one place where the graph's view of a cell is made.
pub fn cell_deps(analysis: &Analysis, ranges: &[Range]) -> CellDeps {
    let reads_addresses: Vec<Address> = analysis
        .reads_addresses
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut reads_names = analysis.reads_names.clone();
    // `R2` read where no cell sits may be another cell's variable named R2.
    reads_names.extend(analysis.reads_addresses.iter().cloned());
    CellDeps {
        reads_addresses,
        reads_ranges: ranges.to_vec(),
        reads_names,
        defines: analysis.defines.clone(),
        maybe_defines: analysis.maybe_defines.clone(),
        mutates: analysis.mutates.clone(),
        deferred_reads: analysis.deferred_reads.clone(),
        reads_builtins: analysis.reads_builtins.clone(),
        dynamic: analysis.dynamic,
    }
}

/// The position of the cell at `address`: its index in the notebook's order when the frontend
/// told it and the cell's cellId is in it, else its place in sheet order.
fn position_in<C>(
    order: &HashMap<String, u64>,
    cells: &BTreeMap<Address, CellRecord<C>>,
    address: Address,
) -> Position {
    cells
        .get(&address)
        .and_then(|c| c.cell_id.as_ref())
        .and_then(|id| order.get(id))
        .copied()
        .unwrap_or_else(|| sheet_position(address))
}

impl<C> LiveSheet<C> {
    /// Runs the code of an execute_request as the cell it addresses, then what is downstream.
    pub fn execute<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        out: &impl Output,
        code: &str,
        metadata: &Value,
        execution_count: i64,
        report: &mut Report,
    ) -> Result<(), CellError> {
        let Placement {
            address,
            title,
            lazy,
            format,
        } = self.choose_address(code, metadata)?;
        report.address = Some(address);
        let cell_id = metadata["cellId"].as_str().map(String::from);
        let (rewritten, ranges) = rewrite_ranges(code, RANGE_CALL)
            .map_err(|e| CellError::new("RangeError", e.to_string()))?;
        // Without its analysis a cell would be recorded as reading nothing: a wrong sheet.
        // A syntax error is the exception: the cell runs and Python shows the SyntaxError.
        let known: Vec<&str> = self.mutating_methods.iter().map(String::as_str).collect();
        let analysis = rt.analyze(&rewritten, &known).map_err(|e| {
            report.interrupted |= matches!(e, PyCallError::Interrupted(_));
            CellError::of_call(&e)
        })?;
        if let Some(error) = analysis.error.as_ref() {
            if !analysis.is_syntax_error() {
                return Err(CellError::new(
                    "AnalysisError",
                    format!("the dependencies of {address} could not be found: {error}"),
                ));
            }
        }
        // A name shaped like an address (`R2 = 0.91`) is a variable, unless a cell sits at
        // that address: then the cell wins.
        let held = analysis.address_defines.iter().find(|t| {
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
        self.mutating_methods
            .extend(analysis.mutating_methods.iter().cloned());
        let mut deps = cell_deps(&analysis, &ranges);
        // Calling another cell's function that binds a global (`global g`) or changes one in
        // place makes this cell a new version of that name.
        let mut inherited = Vec::new();
        for name in &deps.reads_names {
            let Some(definer) = self.sheet.definer_of(name, address) else {
                continue;
            };
            if let Some(record) = self.cells.get(&definer).filter(|_| definer != address) {
                if let Some(writes) = record.function_writes.get(name) {
                    inherited.extend(writes.iter().cloned());
                }
            }
        }
        deps.mutates.extend(inherited);
        let definitions = deps.definitions();
        let changes: Vec<String> = deps
            .mutates
            .iter()
            .filter(|n| !deps.defines.contains(n))
            .cloned()
            .collect();

        // The cell moved (its label changed): its old address is deleted.
        if let Some(old) = cell_id.as_ref().and_then(|id| self.moved_from(id, address)) {
            self.delete(rt, out, old, report);
        }
        self.claim(address, cell_id.as_ref());
        if !self.cells.contains_key(&address) {
            self.epoch += 1;
        }
        let py = rt
            .make_cell(
                address,
                &rewritten,
                &definitions,
                deps.dynamic,
                &changes,
                format.as_deref(),
            )
            .map_err(|e| tracing::error!("the cell {address} has no Python object: {e}"))
            .ok();
        // The same cell's code changed or not, its last editor stays until the journal says.
        let edited = self.cells.get(&address).and_then(|c| c.edited.clone());
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
        let was_reader = self.cells.get(&address).is_some_and(|c| c.reads_model);
        self.model_readers =
            self.model_readers + usize::from(analysis.reads_model) - usize::from(was_reader);
        self.cells.insert(
            address,
            CellRecord {
                source: code.to_string(),
                cell_id,
                title,
                lazy,
                format,
                defines: definitions,
                reads_addresses: deps.reads_addresses.clone(),
                state: CellState::Ok,
                summary: String::new(),
                value_type: String::new(),
                last_ms: 0.0,
                edited,
                png: None,
                reads_model: analysis.reads_model,
                py,
                function_writes: analysis.function_writes.clone(),
                bound: Vec::new(),
                bound_epoch: 0,
            },
        );
        report.touched.insert(address);
        // A deferred cell is recorded, not run: in lazy mode it goes stale like its readers.
        let edited = (!self.deferred).then(|| (address, Shown::of_request(metadata)));
        let position = self.position_of(address);
        let set = self.sheet.set_cell_at(address, position, deps);
        // Names no cell defines any more leave the namespace, as in a fresh top-to-bottom run.
        let gone: Vec<&str> = dropped
            .iter()
            .filter(|n| !self.sheet.is_defined(n))
            .map(String::as_str)
            .collect();
        if !gone.is_empty() {
            if let Err(e) = rt.forget(address, &gone) {
                tracing::warn!("removing the names {address} no longer defines failed: {e}");
            }
        }
        match set {
            Ok(plan) => self.run_plan(rt, out, &plan, edited, false, execution_count, report),
            Err(cycle) => {
                let message = cycle.to_string();
                self.mark_cycle(rt, &cycle.plan, &message, report);
                let plan = &cycle.plan;
                if plan.cyclic.contains(&address) {
                    self.run_plan(rt, out, plan, None, false, execution_count, report)?;
                    return Err(CellError::new("CycleError", message));
                }
                if plan.blocked.contains(&address) {
                    self.run_plan(rt, out, plan, None, false, execution_count, report)?;
                    return Err(CellError::new(
                        "UpstreamError",
                        format!("{address} depends on a circular reference: {message}"),
                    ));
                }
                // The edit made (or left) a cycle elsewhere, say by changing which cell
                // defines a name: this cell runs and shows its value as any edited cell.
                self.run_plan(rt, out, plan, edited, false, execution_count, report)
            }
        }
    }

    /// Removes the cell at `address` (its value and names) and re-runs what read them.
    pub fn delete<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        out: &impl Output,
        address: Address,
        report: &mut Report,
    ) {
        let Some(record) = self.cells.remove(&address) else {
            return;
        };
        self.model_readers -= usize::from(record.reads_model);
        self.epoch += 1;
        self.release(address, record.cell_id.as_ref());
        report.deleted.push((address, record.cell_id.clone()));
        let plan = match self.sheet.remove_cell(address) {
            Ok(plan) => plan,
            Err(cycle) => cycle.plan,
        };
        // A name another cell still defines keeps that cell's value.
        let names: Vec<&str> = record
            .defines
            .iter()
            .filter(|n| !self.sheet.is_defined(n))
            .map(String::as_str)
            .collect();
        if let Err(e) = rt.delete_cell(address, &names) {
            tracing::warn!("forgetting the cell {address} in Python failed: {e}");
        }
        report.touched.insert(address);
        let _ = self.run_plan(rt, out, &plan, None, false, 0, report);
    }

    /// Where the cell at `address` sits among the others: its notebook position when the
    /// frontend told the notebook's order, else its place in sheet order.
    fn position_of(&self, address: Address) -> Position {
        position_in(&self.notebook_order, &self.cells, address)
    }

    /// The frontend's notebook order (cellIds, top to bottom). Cells whose names now resolve
    /// to other definitions go stale: what they show was computed from the old order.
    pub fn set_notebook_order<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        ids: &[String],
        report: &mut Report,
    ) {
        self.notebook_order = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u64))
            .collect();
        let (order, cells) = (&self.notebook_order, &self.cells);
        let moved = self.sheet.set_positions(|a| position_in(order, cells, a));
        for address in moved {
            self.set_state(rt, address, CellState::Stale, report);
            report.stale.push(address);
        }
    }

    /// Deletes the cells with these cellIds (`deletedCells` in a request's metadata).
    pub fn delete_ids<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        out: &impl Output,
        ids: &[String],
        report: &mut Report,
    ) {
        for id in ids {
            if let Some(address) = self.address_of(id) {
                self.delete(rt, out, address, report);
            }
        }
    }

    /// `%sheet run`: recomputes every stale cell.
    pub fn run_stale<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        out: &impl Output,
        count: i64,
        report: &mut Report,
    ) {
        let stale: Vec<Address> = self
            .cells
            .iter()
            .filter(|(_, c)| c.state == CellState::Stale)
            .map(|(&a, _)| a)
            .collect();
        let plan = self.sheet.plan(&stale);
        let _ = self.run_plan(rt, out, &plan, None, true, count, report);
    }
}
