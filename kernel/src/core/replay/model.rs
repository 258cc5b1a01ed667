//! A sheet held in a process of its own, cell by cell: what `pysheets run`, the what-if
//! workers and goal seek drive from Python (`pysheets_kernel._native.Model`), and what a replay
//! runs its cells through. The same [`LiveSheet`] and rules as the kernel, without sockets.
//!
//! Besides executing cells in notebook order, a model can give some cells new code and
//! recompute what is downstream of them ([`Model::set`]), and forget the cells a set of
//! outputs does not need ([`Model::keep_upstream_of`]), after a deferred load
//! ([`Model::set_deferred`]) that ran nothing yet.

use super::document::ReplayCell;
use crate::core::labels;
use crate::core::live_sheet::{CellRuntime, LiveSheet, Mode, Output, Report};
use crate::core::sheet_view;
use crate::sheet::Address;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What executing one notebook cell did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// It is the cell at this address (its state is the sheet's, read when wanted: later
    /// cells may re-run it).
    InSheet(Address),
    /// Its request failed before it became a cell (it assigns to another cell's address, its
    /// analysis failed): this is the error, and where it would have gone.
    Refused(Option<Address>, String),
    /// An interrupt came earlier: it did not run (where it would have gone).
    NotRun(Option<Address>),
    /// A `%sheet` command (its error, if it had one), or a cell that has no address.
    Nothing(Option<String>),
}

/// A cellId for a cell given none: a frontend with cells always sends one, and the notebook
/// order is told in cellIds.
pub fn synthetic_id(index: usize) -> String {
    format!("pysheets-replay-{}", index + 1)
}

pub struct Model<R: CellRuntime> {
    pub rt: R,
    pub sheet: LiveSheet<R::Cell>,
    /// The execution count of the last request, as a kernel would number them.
    count: i64,
    interrupted: bool,
    mode_before_deferred: Mode,
}

impl<R: CellRuntime> Model<R> {
    pub fn new(rt: R) -> Self {
        Model {
            rt,
            sheet: LiveSheet::default(),
            count: 0,
            interrupted: false,
            mode_before_deferred: Mode::Auto,
        }
    }

    /// The notebook's order of cells (cellIds, top to bottom): names resolve in it.
    pub fn set_order(&mut self, ids: &[String]) {
        self.sheet
            .set_notebook_order(&self.rt, ids, &mut Report::default());
    }

    /// Whether an interrupt stopped a cell: nothing more runs.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Executes one notebook cell as a frontend with cells would (its cellId, its address in
    /// the metadata when given), then what is downstream. After an interrupt nothing runs.
    pub fn execute(&mut self, out: &impl Output, cell: &ReplayCell, cell_id: &str) -> Step {
        if self.interrupted {
            // Where it would have gone: its label wins over the given address, as in
            // `choose_address`.
            let address = labels::parse(&cell.code)
                .map(|l| l.address)
                .or(cell.address);
            return Step::NotRun(address);
        }
        self.count += 1;
        let mut report = Report::default();
        if sheet_view::is_command(&cell.code) {
            // `%sheet lazy` changes how the cells after it run, as in the kernel.
            let result = sheet_view::command(
                &mut self.sheet,
                &self.rt,
                out,
                &cell.code,
                self.count,
                &mut report,
            );
            self.interrupted = report.interrupted;
            return Step::Nothing(result.err());
        }
        let mut metadata = json!({"cellId": cell_id});
        if let Some(address) = cell.address {
            metadata["pysheets"] = json!({"address": address.to_string()});
        }
        let result = self.sheet.execute(
            &self.rt,
            out,
            &cell.code,
            &metadata,
            self.count,
            &mut report,
        );
        self.interrupted = report.interrupted;
        match (report.address, result) {
            (Some(a), _) if self.sheet.cells.contains_key(&a) => Step::InSheet(a),
            (Some(a), Err(e)) => Step::Refused(Some(a), format!("{}: {}", e.ename, e.evalue)),
            (Some(_), Ok(())) => Step::Nothing(None),
            // No address: the one it asks for is another cell's (`AddressConflict`).
            (None, Err(e)) => Step::Refused(None, format!("{}: {}", e.ename, e.evalue)),
            (None, Ok(())) => Step::Nothing(None),
        }
    }

    /// Gives the cells at these addresses new code (same cellId, same address) and recomputes
    /// what is downstream of them, each cell once; returns the cells that ran. An address that
    /// holds no cell is an error, and nothing changes.
    pub fn set(
        &mut self,
        out: &impl Output,
        changes: &[(Address, String)],
    ) -> Result<Vec<Address>, String> {
        if let Some((a, _)) = changes
            .iter()
            .find(|(a, _)| !self.sheet.cells.contains_key(a))
        {
            return Err(format!("no cell at {a}"));
        }
        self.interrupted = false;
        let mut reran = BTreeSet::new();
        let mode = self.sheet.mode;
        // One change re-runs its downstream with early cutoff. Several would each re-run
        // what they share, so they are made lazily and the stale cells then run once.
        if changes.len() > 1 {
            self.sheet.mode = Mode::Lazy;
        }
        for (address, code) in changes {
            let cell_id = self.sheet.cells[address].cell_id.clone();
            let mut metadata = json!({"pysheets": {"address": address.to_string()}});
            if let Some(id) = cell_id {
                metadata["cellId"] = json!(id);
            }
            self.count += 1;
            let mut report = Report::default();
            let _ = self
                .sheet
                .execute(&self.rt, out, code, &metadata, self.count, &mut report);
            reran.insert(*address);
            reran.extend(report.reran);
            if report.interrupted {
                self.interrupted = true;
                break;
            }
        }
        if changes.len() > 1 {
            self.sheet.mode = mode;
            if !self.interrupted {
                let mut report = Report::default();
                self.sheet.run_stale(&self.rt, out, self.count, &mut report);
                reran.extend(report.reran);
                self.interrupted = report.interrupted;
            }
        }
        Ok(reran.into_iter().collect())
    }

    /// While deferred, executed cells are only recorded (they go stale); ending it runs every
    /// stale cell once, in dependency order. With [`Model::keep_upstream_of`] in between, a
    /// model for scenarios never runs what its outputs do not need.
    pub fn set_deferred(&mut self, out: &impl Output, on: bool) {
        if on == self.sheet.deferred {
            return;
        }
        self.sheet.deferred = on;
        if on {
            self.mode_before_deferred = self.sheet.mode;
            self.sheet.mode = Mode::Lazy;
        } else {
            self.sheet.mode = self.mode_before_deferred;
            let mut report = Report::default();
            self.count += 1;
            self.sheet.run_stale(&self.rt, out, self.count, &mut report);
            self.interrupted |= report.interrupted;
        }
    }

    /// Deletes every cell that none of `outputs` reads, directly or not: a model kept for
    /// scenarios then re-runs only what its outputs need.
    pub fn keep_upstream_of(&mut self, out: &impl Output, outputs: &[Address]) {
        let keep = self.upstream_of(outputs);
        let drop: Vec<Address> = self
            .sheet
            .cells
            .keys()
            .filter(|a| !keep.contains(a))
            .copied()
            .collect();
        for address in drop {
            self.sheet
                .delete(&self.rt, out, address, &mut Report::default());
        }
    }

    /// `outputs` and every address they read, directly or not (empty ones included).
    pub fn upstream_of(&self, outputs: &[Address]) -> BTreeSet<Address> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Address> = outputs.to_vec();
        while let Some(a) = todo.pop() {
            if seen.insert(a) {
                todo.extend(self.sheet.sheet.precedents(a));
            }
        }
        seen
    }

    /// One cell as the sheet shows it (`cell_json`), or None when no cell is there.
    pub fn cell(&self, address: Address) -> Option<Value> {
        self.sheet
            .cells
            .contains_key(&address)
            .then(|| self.sheet.cell_json(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live_sheet::tests::{Fake, FakeOutput};

    fn model(list: &[(&str, &str)]) -> Model<Fake> {
        let mut m = Model::new(Fake::default());
        load(&mut m, list);
        m
    }

    /// Executes `list` (address, code) in order, each landing at its address.
    fn load(m: &mut Model<Fake>, list: &[(&str, &str)]) {
        let ids: Vec<String> = (0..list.len()).map(synthetic_id).collect();
        m.set_order(&ids);
        for (i, (address, code)) in list.iter().enumerate() {
            let cell = ReplayCell {
                address: Some(address.parse().unwrap()),
                code: code.to_string(),
                cell_id: None,
            };
            let step = m.execute(&FakeOutput::default(), &cell, &ids[i]);
            assert_eq!(step, Step::InSheet(address.parse().unwrap()));
        }
    }

    fn value(m: &Model<Fake>, a: &str) -> Value {
        m.cell(a.parse().unwrap()).unwrap()["value"].clone()
    }

    fn addresses(list: &[&str]) -> Vec<Address> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn set_recomputes_only_what_is_downstream_and_keeps_the_cells_id() {
        let mut m = model(&[
            ("A1", "1"),
            ("A2", "2"),
            ("B1", "A1 * 10"),
            ("B2", "A2 + 1"),
        ]);
        m.rt.runs(); // drains the runs so far
        let reran = m
            .set(
                &FakeOutput::default(),
                &[(addresses(&["A1"])[0], "5".into())],
            )
            .unwrap();
        assert_eq!(reran, addresses(&["A1", "B1"]));
        assert_eq!(m.rt.runs()[..], ["A1", "B1"], "B2 is not downstream");
        assert_eq!(value(&m, "B1"), "50");
        assert_eq!(value(&m, "B2"), "3");
        assert_eq!(
            m.cell(addresses(&["A1"])[0]).unwrap()["cellId"],
            synthetic_id(0)
        );
    }

    #[test]
    fn several_changes_run_their_shared_downstream_once() {
        let mut m = model(&[
            ("A1", "1"),
            ("A2", "2"),
            ("B1", "A1 + A2"),
            ("C1", "B1 * 2"),
        ]);
        m.rt.runs();
        let changes = [
            (addresses(&["A1"])[0], "10".to_string()),
            (addresses(&["A2"])[0], "20".to_string()),
        ];
        m.set(&FakeOutput::default(), &changes).unwrap();
        let mut ran = m.rt.runs();
        ran.sort();
        assert_eq!(ran, ["A1", "A2", "B1", "C1"], "each cell once");
        assert_eq!(value(&m, "C1"), "60");
        assert_eq!(m.sheet.mode, Mode::Auto, "the mode is given back");
    }

    #[test]
    fn set_refuses_an_address_without_a_cell_and_changes_nothing() {
        let mut m = model(&[("A1", "1"), ("B1", "A1 + 1")]);
        let changes = [
            (addresses(&["A1"])[0], "7".to_string()),
            (addresses(&["Z9"])[0], "1".to_string()),
        ];
        let err = m.set(&FakeOutput::default(), &changes).unwrap_err();
        assert_eq!(err, "no cell at Z9");
        assert_eq!(value(&m, "B1"), "2");
    }

    #[test]
    fn keep_upstream_of_drops_what_the_outputs_do_not_read() {
        let mut m = model(&[
            ("A1", "1"),
            ("A2", "2"),
            ("B1", "A1 * 10"),
            ("B2", "A2 + 1"),
            ("C1", "B1 + 1"),
        ]);
        assert_eq!(
            m.upstream_of(&addresses(&["C1"]))
                .into_iter()
                .collect::<Vec<_>>(),
            addresses(&["A1", "B1", "C1"])
        );
        m.keep_upstream_of(&FakeOutput::default(), &addresses(&["B1"]));
        assert_eq!(
            m.sheet.cells.keys().copied().collect::<Vec<_>>(),
            addresses(&["A1", "B1"])
        );
        m.rt.runs();
        m.set(
            &FakeOutput::default(),
            &[(addresses(&["A1"])[0], "3".into())],
        )
        .unwrap();
        assert_eq!(m.rt.runs()[..], ["A1", "B1"]);
    }

    #[test]
    fn a_deferred_load_runs_only_what_is_kept() {
        let mut m = Model::new(Fake::default());
        m.set_deferred(&FakeOutput::default(), true);
        load(
            &mut m,
            &[
                ("B1", "A1 * 10"),
                ("A1", "4"),
                ("C1", "B1 + 1"),
                ("D1", "7"),
            ],
        );
        assert!(m.rt.runs().is_empty(), "nothing ran while deferred");
        m.keep_upstream_of(&FakeOutput::default(), &addresses(&["B1"]));
        m.set_deferred(&FakeOutput::default(), false);
        assert_eq!(
            m.rt.runs(),
            ["A1", "B1"],
            "in dependency order, C1 and D1 dropped"
        );
        assert_eq!(value(&m, "B1"), "40");
        assert_eq!(m.sheet.mode, Mode::Auto);
    }
}
