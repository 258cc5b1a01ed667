//! Running a [`Plan`] with early cutoff and error propagation: [`Recompute`].

use rustc_hash::FxHashMap as HashMap;

use petgraph::Direction::Incoming;

use super::address::Address;
use super::graph::{Plan, Sheet};

/// What happened to a cell of a [`Recompute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Not decided yet (not reached, or handed out and not reported).
    Pending,
    /// Ran and produced a new value: its dependents run.
    Changed,
    /// Ran and produced the same value as before: early cutoff, dependents
    /// that have no other changed input are skipped.
    Unchanged,
    /// Ran and raised.
    Failed,
    /// Not run: none of its inputs in this recompute changed.
    Skipped,
    /// Not run: the given cell upstream failed.
    UpstreamError(Address),
}

/// Walks a [`Plan`]'s runnable cells in order, deciding for each whether it
/// must run, from what the caller reports about the cells before it.
///
/// Values live in Python, so the caller compares them; this only applies the
/// rules:
///
/// * roots ([`Plan::roots`]) always run;
/// * any other cell runs if at least one of its inputs in this recompute is
///   [`Outcome::Changed`], and is [`Outcome::Skipped`] otherwise (all inputs
///   unchanged or skipped) — early cutoff;
/// * a cell with an input that failed (or is itself in upstream error) is
///   [`Outcome::UpstreamError`] with the failing cell's address, and does not
///   run.
///
/// ```ignore
/// let plan = sheet.set_cell(addr, deps)?;
/// let mut batch = Recompute::new(&sheet, &plan);
/// while let Some(cell) = batch.next_cell() {
///     match run(cell) {
///         Ok(true) => batch.mark_changed(cell),
///         Ok(false) => batch.mark_unchanged(cell),
///         Err(_) => batch.mark_failed(cell),
///     }
/// }
/// ```
///
/// Cycle-bound cells (`plan.cyclic`, `plan.blocked`) are not part of it: the
/// caller reports them as errors directly. For a lazy mode, the caller can
/// mark every cell of `plan.order` stale instead of running a `Recompute`.
#[derive(Debug, Clone)]
pub struct Recompute {
    order: Vec<Address>,
    index: HashMap<Address, usize>,
    /// Per cell (by position): positions of its inputs within the batch.
    inputs: Vec<Vec<usize>>,
    is_root: Vec<bool>,
    outcomes: Vec<Outcome>,
    /// Position of the next cell to consider.
    cursor: usize,
    /// Position of the cell last handed out, until it is reported.
    running: Option<usize>,
}

impl Recompute {
    /// A recompute of `plan`, which must come from `sheet` unchanged since.
    /// Costs O(planned cells and their incoming edges).
    pub fn new(sheet: &Sheet, plan: &Plan) -> Self {
        let order = plan.order.clone();
        let index: HashMap<Address, usize> =
            order.iter().enumerate().map(|(i, &a)| (a, i)).collect();
        let inputs = order
            .iter()
            .map(|&cell| {
                sheet
                    .graph()
                    .neighbors_directed(cell, Incoming)
                    .filter_map(|p| index.get(&p).copied())
                    .filter(|&i| order[i] != cell)
                    .collect::<Vec<_>>()
            })
            .map(|mut inputs| {
                inputs.sort_unstable();
                inputs
            })
            .collect();
        let mut is_root = vec![false; order.len()];
        for root in &plan.roots {
            if let Some(&i) = index.get(root) {
                is_root[i] = true;
            }
        }
        Recompute {
            outcomes: vec![Outcome::Pending; order.len()],
            order,
            index,
            inputs,
            is_root,
            cursor: 0,
            running: None,
        }
    }

    /// The next cell to run, or `None` when done. Cells that need not run on
    /// the way are marked skipped or upstream-error. A cell handed out earlier
    /// and not reported counts as [`Outcome::Changed`].
    pub fn next_cell(&mut self) -> Option<Address> {
        if let Some(i) = self.running.take() {
            if self.outcomes[i] == Outcome::Pending {
                self.outcomes[i] = Outcome::Changed;
            }
        }
        while self.cursor < self.order.len() {
            let i = self.cursor;
            self.cursor += 1;
            if self.outcomes[i] != Outcome::Pending {
                continue; // already marked upstream-error by `mark_failed`
            }
            if let Some(source) = self.failed_input(i) {
                self.outcomes[i] = Outcome::UpstreamError(source);
                continue;
            }
            let any_changed = self.inputs[i]
                .iter()
                .any(|&p| self.outcomes[p] == Outcome::Changed);
            if self.is_root[i] || any_changed {
                self.running = Some(i);
                return Some(self.order[i]);
            }
            self.outcomes[i] = Outcome::Skipped;
        }
        None
    }

    /// Reports that `cell` ran and its value changed. Returns whether `cell`
    /// was waiting for a report (handed out by [`Recompute::next_cell`]).
    pub fn mark_changed(&mut self, cell: Address) -> bool {
        self.report(cell, Outcome::Changed)
    }

    /// Reports that `cell` ran and its value did not change: its dependents
    /// are pruned unless another of their inputs changed.
    pub fn mark_unchanged(&mut self, cell: Address) -> bool {
        self.report(cell, Outcome::Unchanged)
    }

    /// Reports that `cell` failed. Every cell downstream of it in this
    /// recompute is marked [`Outcome::UpstreamError`] right away and will not
    /// be handed out.
    pub fn mark_failed(&mut self, cell: Address) -> bool {
        if !self.report(cell, Outcome::Failed) {
            return false;
        }
        let from = self.index[&cell];
        for i in from + 1..self.order.len() {
            if self.outcomes[i] == Outcome::Pending {
                if let Some(source) = self.failed_input(i) {
                    self.outcomes[i] = Outcome::UpstreamError(source);
                }
            }
        }
        true
    }

    /// The outcome of `cell`, or `None` if it is not in this recompute.
    pub fn outcome(&self, cell: Address) -> Option<Outcome> {
        self.index.get(&cell).map(|&i| self.outcomes[i])
    }

    /// Every cell of the recompute with its outcome, in run order.
    pub fn outcomes(&self) -> impl Iterator<Item = (Address, Outcome)> + '_ {
        self.order
            .iter()
            .copied()
            .zip(self.outcomes.iter().copied())
    }

    /// Whether every cell has an outcome.
    pub fn is_done(&self) -> bool {
        self.outcomes.iter().all(|&o| o != Outcome::Pending)
    }

    fn report(&mut self, cell: Address, outcome: Outcome) -> bool {
        match self.index.get(&cell) {
            Some(&i) if self.running == Some(i) => {
                self.outcomes[i] = outcome;
                self.running = None;
                true
            }
            _ => false,
        }
    }

    /// The failing cell behind the first input of position `i` that failed or
    /// is in upstream error.
    fn failed_input(&self, i: usize) -> Option<Address> {
        self.inputs[i].iter().find_map(|&p| match self.outcomes[p] {
            Outcome::Failed => Some(self.order[p]),
            Outcome::UpstreamError(source) => Some(source),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::CellDeps;
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn reads(r: &[&str]) -> CellDeps {
        CellDeps {
            reads_addresses: r.iter().map(|s| a(s)).collect(),
            ..Default::default()
        }
    }

    /// A1 → {B1, C1} → D1 → E1, plus F1 reading C1.
    fn diamond() -> Sheet {
        let mut sheet = Sheet::new();
        for (at, r) in [
            ("A1", &[][..]),
            ("B1", &["A1"][..]),
            ("C1", &["A1"][..]),
            ("D1", &["B1", "C1"][..]),
            ("E1", &["D1"][..]),
            ("F1", &["C1"][..]),
        ] {
            sheet.set_cell(a(at), reads(r)).unwrap();
        }
        sheet
    }

    /// Runs the recompute, answering with `outcome_of`; returns the cells run.
    fn run(batch: &mut Recompute, outcome_of: impl Fn(&str) -> Outcome) -> Vec<String> {
        let mut ran = Vec::new();
        while let Some(cell) = batch.next_cell() {
            ran.push(cell.to_string());
            match outcome_of(&cell.to_string()) {
                Outcome::Changed => assert!(batch.mark_changed(cell)),
                Outcome::Unchanged => assert!(batch.mark_unchanged(cell)),
                Outcome::Failed => assert!(batch.mark_failed(cell)),
                Outcome::Pending => {} // not reported
                other => panic!("not a report: {other:?}"),
            }
        }
        assert!(batch.is_done());
        ran
    }

    #[test]
    fn all_changed_runs_everything_once() {
        let sheet = diamond();
        let plan = sheet.plan(&[a("A1")]);
        let mut batch = Recompute::new(&sheet, &plan);
        assert_eq!(
            run(&mut batch, |_| Outcome::Changed),
            ["A1", "B1", "C1", "D1", "E1", "F1"]
        );
        assert!(batch.outcomes().all(|(_, o)| o == Outcome::Changed));
        // Unreported cells count as changed.
        let mut batch = Recompute::new(&sheet, &plan);
        assert_eq!(run(&mut batch, |_| Outcome::Pending).len(), 6);
        assert_eq!(batch.outcome(a("E1")), Some(Outcome::Changed));
        assert_eq!(batch.outcome(a("Z9")), None);
    }

    #[test]
    fn early_cutoff() {
        let sheet = diamond();
        let plan = sheet.plan(&[a("A1")]);
        // Root unchanged: nothing else runs.
        let mut batch = Recompute::new(&sheet, &plan);
        assert_eq!(run(&mut batch, |_| Outcome::Unchanged), ["A1"]);
        assert_eq!(batch.outcome(a("E1")), Some(Outcome::Skipped));
        // B1 unchanged but C1 changed: D1 still runs (one changed input).
        let mut batch = Recompute::new(&sheet, &plan);
        let outcome = |c: &str| {
            if c == "B1" {
                Outcome::Unchanged
            } else {
                Outcome::Changed
            }
        };
        assert_eq!(
            run(&mut batch, outcome),
            ["A1", "B1", "C1", "D1", "E1", "F1"]
        );
        // Both unchanged: D1 and E1 are pruned.
        let mut batch = Recompute::new(&sheet, &plan);
        let outcome = |c: &str| {
            if c == "A1" {
                Outcome::Changed
            } else {
                Outcome::Unchanged
            }
        };
        assert_eq!(run(&mut batch, outcome), ["A1", "B1", "C1"]);
        assert_eq!(batch.outcome(a("D1")), Some(Outcome::Skipped));
        assert_eq!(batch.outcome(a("E1")), Some(Outcome::Skipped));
        assert_eq!(batch.outcome(a("F1")), Some(Outcome::Skipped));
    }

    #[test]
    fn roots_always_run() {
        let sheet = diamond();
        // Two edits at once, C1 below A1: C1 runs even if A1 is unchanged.
        let plan = sheet.plan(&[a("A1"), a("C1")]);
        let mut batch = Recompute::new(&sheet, &plan);
        let outcome = |c: &str| {
            if c == "A1" {
                Outcome::Unchanged
            } else {
                Outcome::Changed
            }
        };
        assert_eq!(run(&mut batch, outcome), ["A1", "C1", "D1", "E1", "F1"]);
        assert_eq!(batch.outcome(a("B1")), Some(Outcome::Skipped));
    }

    #[test]
    fn failure_marks_downstream_as_upstream_error() {
        let sheet = diamond();
        let plan = sheet.plan(&[a("A1")]);
        let mut batch = Recompute::new(&sheet, &plan);
        assert_eq!(batch.next_cell(), Some(a("A1")));
        assert!(batch.mark_changed(a("A1")));
        assert_eq!(batch.next_cell(), Some(a("B1")));
        assert!(!batch.mark_changed(a("C1")), "C1 was not handed out");
        assert!(batch.mark_failed(a("B1")));
        // Marked at once, before the walk reaches them.
        assert_eq!(
            batch.outcome(a("D1")),
            Some(Outcome::UpstreamError(a("B1")))
        );
        assert_eq!(
            batch.outcome(a("E1")),
            Some(Outcome::UpstreamError(a("B1")))
        );
        assert_eq!(batch.outcome(a("F1")), Some(Outcome::Pending));
        assert!(!batch.mark_failed(a("B1")), "already reported");
        // C1 and F1 still run; D1 and E1 do not.
        assert_eq!(run(&mut batch, |_| Outcome::Changed), ["C1", "F1"]);
        let outcomes: Vec<(Address, Outcome)> = batch.outcomes().collect();
        assert_eq!(outcomes[3], (a("D1"), Outcome::UpstreamError(a("B1"))));

        // A failing root: everything below is in upstream error with its address.
        let mut batch = Recompute::new(&sheet, &plan);
        assert_eq!(run(&mut batch, |_| Outcome::Failed), ["A1"]);
        for cell in ["B1", "C1", "D1", "E1", "F1"] {
            assert_eq!(
                batch.outcome(a(cell)),
                Some(Outcome::UpstreamError(a("A1")))
            );
        }
    }

    #[test]
    fn plan_from_an_edit_with_name_switches() {
        // A new definer of x makes B1 a root even though it is below A1 and A1
        // reports no change: B1 now reads a different definition.
        let mut sheet = Sheet::new();
        let defines_x = CellDeps {
            defines: vec!["x".into()],
            ..Default::default()
        };
        let reads_x = CellDeps {
            reads_names: vec!["x".into()],
            ..Default::default()
        };
        sheet.set_cell(a("A3"), defines_x.clone()).unwrap();
        sheet.set_cell(a("B1"), reads_x).unwrap();
        sheet.set_cell(a("C1"), reads(&["B1"])).unwrap();
        let plan = sheet.set_cell(a("A1"), defines_x).unwrap();
        assert_eq!(plan.roots, vec![a("A1"), a("B1")]);
        let mut batch = Recompute::new(&sheet, &plan);
        let outcome = |c: &str| {
            if c == "A1" {
                Outcome::Unchanged
            } else {
                Outcome::Changed
            }
        };
        assert_eq!(run(&mut batch, outcome), ["A1", "B1", "C1"]);
    }
}
