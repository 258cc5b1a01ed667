//! What a request does to the sheet: execute a cell (address → analysis → dependencies →
//! record → plan → run), delete cells, recompute the stale ones (`%sheet run`).

use super::addressing::Placement;
use super::{CellError, CellRecord, CellRuntime, CellState, LiveSheet, Output, Report, Shown};
use crate::python::Analysis;
use crate::sheet::{rewrite_ranges, Address, CellDeps, Range};
use serde_json::Value;

/// What `A1:C4` becomes in code before Python sees it (see `py/cells.py`).
const RANGE_CALL: &str = "__pysheets_range__";

/// A cell's dependencies for the graph, from the analysis of its code and the ranges the
/// rewrite found in it: the one place where the graph's view of a cell is made.
pub fn cell_deps(analysis: &Analysis, ranges: &[Range]) -> CellDeps {
    let mut reads_addresses: Vec<Address> = analysis
        .reads_addresses
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    for range in ranges {
        reads_addresses.extend(range.addresses());
    }
    CellDeps {
        reads_addresses,
        reads_names: analysis.reads_names.clone(),
        defines: analysis.defines.clone(),
    }
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
        } = self.choose_address(code, metadata)?;
        report.address = Some(address);
        let cell_id = metadata["cellId"].as_str().map(String::from);
        let (rewritten, ranges) = rewrite_ranges(code, RANGE_CALL);
        // Without its analysis a cell would be recorded as reading nothing: a wrong sheet.
        // A syntax error is the exception: the cell runs and Python shows the SyntaxError.
        let analysis = rt.analyze(&rewritten).map_err(|e| CellError::of_call(&e))?;
        if let Some(error) = analysis.error.as_ref() {
            if !analysis.is_syntax_error() {
                return Err(CellError::new(
                    "AnalysisError",
                    format!("the dependencies of {address} could not be found: {error}"),
                ));
            }
        }
        if let Some(target) = &analysis.assigns_address {
            return Err(CellError::new(
                "AddressAssignment",
                format!(
                    "this cell ({address}) assigns to {target}: a cell's value is set only by \
                     the cell at that address"
                ),
            ));
        }
        let deps = cell_deps(&analysis, &ranges);

        // The cell moved (its label changed): its old address is deleted.
        if let Some(old) = cell_id.as_ref().and_then(|id| self.moved_from(id, address)) {
            self.delete(rt, out, old, report);
        }
        self.claim(address, cell_id.as_ref());
        if !self.cells.contains_key(&address) {
            self.epoch += 1;
        }
        let py = rt
            .make_cell(address, &rewritten, &deps.defines)
            .map_err(|e| tracing::error!("the cell {address} has no Python object: {e}"))
            .ok();
        self.cells.insert(
            address,
            CellRecord {
                source: code.to_string(),
                cell_id,
                title,
                lazy,
                defines: deps.defines.clone(),
                reads_addresses: deps.reads_addresses.clone(),
                state: CellState::Ok,
                summary: String::new(),
                png: None,
                py,
                bound: Vec::new(),
                bound_epoch: 0,
            },
        );
        report.touched.insert(address);
        let edited = Some((address, Shown::of_request(metadata)));
        match self.sheet.set_cell(address, deps) {
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
        self.epoch += 1;
        self.release(address, record.cell_id.as_ref());
        let plan = match self.sheet.remove_cell(address) {
            Ok(plan) => plan,
            Err(cycle) => cycle.plan,
        };
        // A name another cell still defines keeps that cell's value.
        let names: Vec<&str> = record
            .defines
            .iter()
            .filter(|n| self.sheet.definers(n).is_empty())
            .map(String::as_str)
            .collect();
        if let Err(e) = rt.delete_cell(address, &names) {
            tracing::warn!("forgetting the cell {address} in Python failed: {e}");
        }
        report.touched.insert(address);
        let _ = self.run_plan(rt, out, &plan, None, false, 0, report);
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
