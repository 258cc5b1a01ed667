//! The re-run branches of [`LiveSheet`], driven with a fake runtime: no Python, no sockets.
//!
//! The fake runs a tiny language that is enough to make a sheet: statements separated by `;`
//! or new lines, each `name = expr` or `expr`, where `expr` is a sum of products of integers,
//! `None`, names and addresses; `boom` raises a `ValueError`, `@@` is a syntax error. A first
//! line `# @B3 …` is a label, as in the kernel. As in `cells.py`, a cell's value is its last
//! expression (or the value of its last assignment), the namespace holds every name and every
//! address's value, and before a cell runs, each name it reads is bound to its definer's value.

use super::*;
use crate::python::{Analysis, CellRan, MarkKind, PyCallError, PyException, RunMode};
use crate::sheet::is_address;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

type Val = Option<i64>;

#[derive(Debug)]
pub(crate) struct FakeCell {
    address: Address,
    code: RefCell<String>,
    defines: RefCell<Vec<String>>,
    bind: RefCell<Vec<(String, Option<Rc<FakeCell>>)>>,
    /// `None` until it ran, and after it failed or its value was dropped.
    value: RefCell<Option<Val>>,
    defined: RefCell<HashMap<String, Val>>,
}

#[derive(Default)]
pub(crate) struct Fake {
    cells: RefCell<HashMap<Address, Rc<FakeCell>>>,
    ns: RefCell<HashMap<String, Val>>,
    /// Every run, in order, with the mode it was shown in.
    runs: RefCell<Vec<(Address, RunMode)>>,
    marks: RefCell<Vec<(Address, String, MarkKind)>>,
    deleted: RefCell<Vec<Address>>,
    /// The next run of this cell is interrupted.
    pub(crate) interrupt: RefCell<Option<Address>>,
    /// The next analysis fails this way.
    analysis_failure: RefCell<Option<PyCallError>>,
    /// The next analysis reports this (non-syntax) error.
    analysis_error: RefCell<Option<String>>,
}

fn exception(ename: &str, evalue: &str) -> PyException {
    PyException {
        ename: ename.into(),
        evalue: evalue.into(),
        traceback: vec![format!("{ename}: {evalue}")],
    }
}

/// The statements of a cell's code: (target, expression), without the label line.
fn statements(code: &str) -> Vec<(Option<&str>, &str)> {
    code.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once(" = ") {
            Some((target, expr)) => (Some(target.trim()), expr.trim()),
            None => (None, s),
        })
        .collect()
}

fn terms(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(['+', '*']).map(str::trim)
}

fn is_name(term: &str) -> bool {
    term.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && !matches!(term, "None" | "boom")
}

impl Fake {
    fn eval_term(&self, term: &str) -> Result<Val, PyException> {
        match term {
            "None" => Ok(None),
            "boom" => Err(exception("ValueError", "boom")),
            t if is_name(t) => self
                .ns
                .borrow()
                .get(t)
                .copied()
                .ok_or_else(|| exception("NameError", &format!("name '{t}' is not defined"))),
            t => t
                .parse()
                .map(Some)
                .map_err(|_| exception("SyntaxError", "invalid syntax")),
        }
    }

    fn eval(&self, expr: &str) -> Result<Val, PyException> {
        let mut sum: Val = Some(0);
        let mut first_sum = true;
        for product in expr.split('+') {
            let mut acc: Val = Some(1);
            let mut first = true;
            for term in product.split('*') {
                let v = self.eval_term(term.trim())?;
                acc = if first {
                    v
                } else {
                    match (acc, v) {
                        (Some(a), Some(b)) => Some(a * b),
                        _ => return Err(exception("TypeError", "unsupported operand")),
                    }
                };
                first = false;
            }
            sum = if first_sum {
                acc
            } else {
                match (sum, acc) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => return Err(exception("TypeError", "unsupported operand")),
                }
            };
            first_sum = false;
        }
        Ok(sum)
    }

    fn exec(&self, code: &str) -> Result<Val, PyException> {
        if code.contains("@@") {
            return Err(exception("SyntaxError", "invalid syntax"));
        }
        let mut value = None;
        for (target, expr) in statements(code) {
            let v = self.eval(expr)?;
            if let Some(target) = target {
                self.ns.borrow_mut().insert(target.to_string(), v);
            }
            value = v;
        }
        Ok(value)
    }

    pub(crate) fn runs(&self) -> Vec<String> {
        self.runs
            .borrow_mut()
            .drain(..)
            .map(|(a, _)| a.to_string())
            .collect()
    }
}

impl CellRuntime for Fake {
    type Cell = Rc<FakeCell>;

    fn analyze(&self, code: &str, _mutating_methods: &[&str]) -> Result<Analysis, PyCallError> {
        if let Some(e) = self.analysis_failure.borrow_mut().take() {
            return Err(e);
        }
        if let Some(error) = self.analysis_error.borrow_mut().take() {
            return Ok(Analysis {
                error: Some(error),
                ..Analysis::default()
            });
        }
        if code.contains("@@") {
            return Ok(Analysis {
                error: Some("SyntaxError: invalid syntax (line 1)".into()),
                value_kind: "none".into(),
                ..Analysis::default()
            });
        }
        let mut a = Analysis {
            reads_model: code.contains("# reads the model"),
            ..Analysis::default()
        };
        for (target, expr) in statements(code) {
            for term in terms(expr).filter(|t| is_name(t)) {
                let list = if is_address(term) {
                    &mut a.reads_addresses
                } else if a.defines.iter().any(|d| d == term) {
                    continue;
                } else {
                    &mut a.reads_names
                };
                if !list.iter().any(|n| n == term) {
                    list.push(term.to_string());
                }
            }
            if let Some(target) = target {
                if is_address(target) {
                    a.assigns_address.get_or_insert(target.to_string());
                    a.address_defines.push(target.to_string());
                }
                if !a.defines.iter().any(|d| d == target) {
                    a.defines.push(target.to_string());
                }
            }
        }
        Ok(a)
    }

    fn make_cell(
        &self,
        address: Address,
        code: &str,
        defines: &[String],
        _dynamic: bool,
        _changes: &[String],
        _format: Option<&str>,
    ) -> Result<Rc<FakeCell>, PyCallError> {
        let cell = self
            .cells
            .borrow_mut()
            .entry(address)
            .or_insert_with(|| {
                Rc::new(FakeCell {
                    address,
                    code: RefCell::default(),
                    defines: RefCell::default(),
                    bind: RefCell::default(),
                    value: RefCell::new(None),
                    defined: RefCell::default(),
                })
            })
            .clone();
        *cell.code.borrow_mut() = code.to_string();
        *cell.defines.borrow_mut() = defines.to_vec();
        Ok(cell)
    }

    fn run_cell(
        &self,
        cell: &Rc<FakeCell>,
        mode: RunMode,
        _execution_count: i64,
        empty: &[String],
        bind: Option<&[(&str, Option<&Rc<FakeCell>>)]>,
    ) -> Result<CellRan, PyCallError> {
        let address = cell.address;
        self.runs.borrow_mut().push((address, mode));
        for name in empty {
            self.ns.borrow_mut().insert(name.clone(), None);
        }
        if let Some(bind) = bind {
            *cell.bind.borrow_mut() = bind
                .iter()
                .map(|(n, d)| (n.to_string(), d.map(Rc::clone)))
                .collect();
        }
        for (name, definer) in cell.bind.borrow().iter() {
            match definer
                .as_ref()
                .map(|d| d.defined.borrow().get(name).copied())
            {
                Some(Some(v)) => {
                    self.ns.borrow_mut().insert(name.clone(), v);
                }
                _ => {
                    self.ns.borrow_mut().remove(name);
                }
            }
        }
        if self.interrupt.borrow().as_ref() == Some(&address) {
            self.interrupt.borrow_mut().take();
            *cell.value.borrow_mut() = None;
            self.ns.borrow_mut().remove(&address.to_string());
            return Err(PyCallError::Interrupted(exception("KeyboardInterrupt", "")));
        }
        let code = cell.code.borrow().clone();
        let value = match self.exec(&code) {
            Ok(v) => v,
            Err(e) => {
                *cell.value.borrow_mut() = None;
                self.ns.borrow_mut().remove(&address.to_string());
                return Err(PyCallError::Raised(e));
            }
        };
        let defined: HashMap<String, Val> = cell
            .defines
            .borrow()
            .iter()
            .filter_map(|n| Some((n.clone(), *self.ns.borrow().get(n)?)))
            .collect();
        let defs_changed = *cell.defined.borrow() != defined;
        *cell.defined.borrow_mut() = defined;
        let old = cell.value.borrow_mut().replace(value);
        self.ns.borrow_mut().insert(address.to_string(), value);
        Ok(CellRan {
            changed: old != Some(value),
            defs_changed,
            summary: value.map_or("None".into(), |v| v.to_string()),
            value_type: if value.is_some() { "int" } else { "NoneType" }.into(),
            ..CellRan::default()
        })
    }

    fn mark_cell(
        &self,
        address: Address,
        text: &str,
        kind: MarkKind,
        drop_value: bool,
    ) -> Result<(), PyCallError> {
        self.marks
            .borrow_mut()
            .push((address, text.to_string(), kind));
        if drop_value {
            if let Some(c) = self.cells.borrow().get(&address) {
                *c.value.borrow_mut() = None;
            }
            self.ns.borrow_mut().remove(&address.to_string());
        }
        Ok(())
    }

    fn settle(&self, bind: &[(&str, &Rc<FakeCell>)]) -> Result<(), PyCallError> {
        let mut ns = self.ns.borrow_mut();
        for (name, definer) in bind {
            match definer.defined.borrow().get(*name) {
                Some(&v) => ns.insert(name.to_string(), v),
                None => ns.remove(*name),
            };
        }
        Ok(())
    }

    fn forget(&self, _address: Address, names: &[&str]) -> Result<(), PyCallError> {
        let mut ns = self.ns.borrow_mut();
        for name in names {
            ns.remove(*name);
        }
        Ok(())
    }

    fn delete_cell(&self, address: Address, names: &[&str]) -> Result<(), PyCallError> {
        self.deleted.borrow_mut().push(address);
        if let Some(c) = self.cells.borrow_mut().remove(&address) {
            *c.value.borrow_mut() = None;
            c.defined.borrow_mut().clear();
        }
        let mut ns = self.ns.borrow_mut();
        ns.remove(&address.to_string());
        for name in names {
            ns.remove(*name);
        }
        Ok(())
    }
}

/// What the sheet published itself, and the muting of re-run cells' prints.
#[derive(Default)]
pub(crate) struct FakeOutput {
    published: RefCell<Vec<(String, Value)>>,
    muted: RefCell<Vec<bool>>,
    progress: RefCell<Vec<(usize, usize, Option<Address>)>>,
}

impl Output for FakeOutput {
    fn publish(&self, msg_type: &str, content: Value) {
        self.published
            .borrow_mut()
            .push((msg_type.to_string(), content));
    }

    fn mute_streams(&self, muted: bool) {
        self.muted.borrow_mut().push(muted);
    }

    fn progress(&self, done: usize, total: usize, running: Option<Address>) {
        self.progress.borrow_mut().push((done, total, running));
    }
}

#[derive(Default)]
struct Env {
    sheet: LiveSheet<Rc<FakeCell>>,
    rt: Fake,
    out: FakeOutput,
    count: i64,
}

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

fn strings(list: &[Address]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

impl Env {
    /// Executes `code` as the notebook cell `cell_id` (a console input when it is empty).
    fn exec(&mut self, cell_id: &str, code: &str) -> (Result<(), CellError>, Report) {
        self.count += 1;
        let metadata = if cell_id.is_empty() {
            json!({})
        } else {
            json!({ "cellId": cell_id })
        };
        let mut report = Report::default();
        let result = self.sheet.execute(
            &self.rt,
            &self.out,
            code,
            &metadata,
            self.count,
            &mut report,
        );
        (result, report)
    }

    /// [`Env::exec`] that must succeed; the runs it made are forgotten.
    fn ok(&mut self, cell_id: &str, code: &str) -> Report {
        let (result, report) = self.exec(cell_id, code);
        if let Err(e) = result {
            panic!("{code:?} failed: {}: {}", e.ename, e.evalue);
        }
        self.rt.runs();
        report
    }

    /// The fake cell's value: `None` when it has none (not run, failed, dropped).
    fn value(&self, address: &str) -> Option<Val> {
        let cells = self.rt.cells.borrow();
        let v = *cells.get(&a(address))?.value.borrow();
        v
    }

    fn state(&self, address: &str) -> &CellState {
        &self.sheet.cells[&a(address)].state
    }

    fn name(&self, name: &str) -> Option<Val> {
        self.rt.ns.borrow().get(name).copied()
    }
}

#[test]
fn a_diamond_runs_each_cell_once_after_both_inputs() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x + 1");
    env.ok("c", "# @C1\nz = x * 2");
    env.ok("d", "# @D1\ny + z + A1");
    assert_eq!(env.value("D1"), Some(Some(5)));
    let report = env.ok_with_runs("a", "# @A1\nx = 2", &["A1", "B1", "C1", "D1"]);
    assert_eq!(strings(&report.reran), ["B1", "C1", "D1"]);
    assert_eq!(env.value("D1"), Some(Some(9)));
    assert!(report.stale.is_empty());
    assert_eq!(report.address, Some(a("A1")));
}

impl Env {
    /// [`Env::ok`] that checks which cells ran, in order.
    fn ok_with_runs(&mut self, cell_id: &str, code: &str, runs: &[&str]) -> Report {
        let (result, report) = self.exec(cell_id, code);
        if let Err(e) = result {
            panic!("{code:?} failed: {}: {}", e.ename, e.evalue);
        }
        assert_eq!(self.rt.runs(), runs, "cells run by {code:?}");
        report
    }
}

#[test]
fn the_edited_cell_shows_a_new_output_and_the_others_update_in_place() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\nx + 1");
    env.exec("a", "# @A1\nx = 2").0.unwrap();
    assert_eq!(
        *env.rt.runs.borrow(),
        [(a("A1"), RunMode::Display), (a("B1"), RunMode::Update)]
    );
    // A console input (no cellId) shows an execute_result.
    env.rt.runs();
    env.exec("", "# @A1\nx = 3").0.unwrap();
    assert_eq!(env.rt.runs.borrow()[0], (a("A1"), RunMode::Result));
    // Re-run cells print nowhere: muted once for the batch, unmuted after.
    assert_eq!(env.out.muted.borrow().last(), Some(&false));
    assert!(env.out.muted.borrow().contains(&true));
}

#[test]
fn early_cutoff_stops_below_an_unchanged_value() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x * 0");
    env.ok("c", "# @C1\ny + 1");
    let report = env.ok_with_runs("a", "# @A1\nx = 2", &["A1", "B1"]);
    assert_eq!(strings(&report.reran), ["B1"]);
    assert_eq!(env.value("C1"), Some(Some(1)));
    // The edited cell's readers run even when its value did not change.
    env.ok_with_runs("a", "# @A1\nx = 1 + 1", &["A1", "B1"]);
}

#[test]
fn a_cell_that_reads_the_model_reruns_below_an_unchanged_value() {
    // A what-if table over A1 depends on the code between A1 and its outputs, not only on
    // their values: below B1's unchanged value an ordinary reader is cut off, it is not.
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x * 0");
    env.ok("c", "# @C1\ny + 1");
    env.ok("d", "# @D1\ny + 2\n# reads the model");
    let report = env.ok_with_runs("a", "# @A1\nx = 2", &["A1", "B1", "D1"]);
    assert_eq!(
        strings(&report.reran),
        ["B1", "D1"],
        "C1 is cut off, D1 is not"
    );
    // Once it reads the model no more, it is cut off like the others.
    env.ok("d", "# @D1\ny + 2");
    env.ok_with_runs("a", "# @A1\nx = 3", &["A1", "B1"]);
    env.ok("e", "# @E1\ny + 3\n# reads the model");
    env.ok_with_runs("a", "# @A1\nx = 4", &["A1", "B1", "E1"]);
    env.sheet
        .delete(&env.rt, &env.out, a("E1"), &mut Report::default());
    assert_eq!(
        env.sheet.model_readers, 0,
        "the count follows edits and deletions"
    );
    env.ok_with_runs("a", "# @A1\nx = 5", &["A1", "B1"]);
}

#[test]
fn an_upstream_error_blocks_what_is_below_until_it_is_fixed() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x + 1");
    env.ok("c", "# @C1\ny * 10");
    let (result, report) = env.exec("a", "# @A1\nx = boom");
    let error = result.unwrap_err();
    assert_eq!(
        (error.ename.as_str(), error.evalue.as_str()),
        ("ValueError", "boom")
    );
    assert!(error.published, "Python showed the cell's own error");
    assert_eq!(env.rt.runs(), ["A1"], "nothing below a failure runs");
    assert_eq!(
        env.state("A1"),
        &CellState::Error("ValueError: boom".into())
    );
    for cell in ["B1", "C1"] {
        assert_eq!(
            env.state(cell),
            &CellState::UpstreamError(a("A1"), "ValueError: boom".into())
        );
        assert_eq!(env.value(cell), None, "{cell}'s value is dropped");
        assert!(report.touched.contains(&a(cell)));
    }
    assert!(env
        .rt
        .marks
        .borrow()
        .iter()
        .any(|(c, text, kind)| *c == a("C1")
            && text == "upstream error in A1: ValueError: boom"
            && *kind == MarkKind::Error));
    assert_eq!(env.sheet.errors(), ["A1", "B1", "C1"]);

    // An unrelated edit of a cell below the failure is refused as upstream error.
    let (result, _) = env.exec("c", "# @C1\ny * 100");
    assert_eq!(result.unwrap_err().ename, "UpstreamError");
    assert_eq!(env.rt.runs(), Vec::<String>::new());

    // The fix re-runs everything below.
    env.ok_with_runs("a", "# @A1\nx = 3", &["A1", "B1", "C1"]);
    assert_eq!(env.value("C1"), Some(Some(400)));
    assert!(env.sheet.errors().is_empty());
}

#[test]
fn a_cycle_is_reported_not_run_and_runs_again_once_broken() {
    let mut env = Env::default();
    env.ok("z", "# @Z1\n7");
    env.ok("a", "# @A1\nB1");
    let (result, report) = env.exec("b", "# @B1\nA1 + 1");
    let error = result.unwrap_err();
    assert_eq!(error.ename, "CycleError");
    assert!(error.evalue.contains("B1 → A1 → B1"), "{}", error.evalue);
    assert_eq!(
        env.rt.runs(),
        Vec::<String>::new(),
        "cells of a cycle do not run"
    );
    assert!(matches!(env.state("A1"), CellState::Cycle(_)));
    assert!(matches!(env.state("B1"), CellState::Cycle(_)));
    assert_eq!(env.state("Z1"), &CellState::Ok);
    assert!(report.own.is_none());
    // Breaking it.
    env.ok_with_runs("b", "# @B1\n5", &["B1", "A1"]);
    assert_eq!(env.value("A1"), Some(Some(5)));
    assert!(env.sheet.errors().is_empty());
}

#[test]
fn an_edit_that_leaves_a_cycle_elsewhere_runs_and_shows_its_own_value() {
    let mut env = Env::default();
    env.ok("a", "# @A1\na = 1");
    env.ok("c", "# @C1\nb = a + 1");
    env.ok("d", "# @D1\na = b * 2");
    assert_eq!(env.value("D1"), Some(Some(4)));
    // A1 no longer defines `a`: C1 reads D1's, which reads C1's `b`.
    let (result, report) = env.exec("a", "# @A1\nz = 1");
    if let Err(e) = result {
        panic!("A1 is not on the cycle: {}: {}", e.ename, e.evalue);
    }
    assert_eq!(
        *env.rt.runs.borrow(),
        [(a("A1"), RunMode::Display)],
        "A1 shows its value as a new output, not as an update"
    );
    assert_eq!(env.state("A1"), &CellState::Ok);
    assert_eq!(env.value("A1"), Some(Some(1)));
    assert!(report.own.is_some());
    for cell in ["C1", "D1"] {
        let CellState::Cycle(message) = env.state(cell) else {
            panic!("{cell} is on the cycle: {:?}", env.state(cell));
        };
        assert!(message.contains("circular reference"), "{message}");
    }
    assert!(env.rt.marks.borrow().iter().all(|(c, ..)| *c != a("A1")));
    assert_eq!(env.sheet.errors(), ["C1", "D1"]);
    // Broken again by the cell that closed it.
    env.rt.runs();
    env.ok_with_runs("d", "# @D1\na = 5", &["D1", "C1"]);
    assert_eq!(env.value("C1"), Some(Some(6)));
    assert!(env.sheet.errors().is_empty());
}

#[test]
fn an_edit_below_a_cycle_is_an_upstream_error() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nB1");
    let _ = env.exec("b", "# @B1\nA1 + 1");
    let (result, _) = env.exec("c", "# @C1\nA1 + 1");
    let error = result.unwrap_err();
    assert_eq!(error.ename, "UpstreamError");
    assert!(
        error.evalue.contains("circular reference"),
        "{}",
        error.evalue
    );
    assert_eq!(env.rt.runs(), Vec::<String>::new());
    assert!(matches!(env.state("C1"), CellState::UpstreamError(..)));
}

#[test]
fn lazy_cells_go_stale_and_run_recomputes_them() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\nx + 1");
    env.ok("c", "# @C1 lazy\nx + 2");
    // A lazy cell goes stale; the others run.
    let report = env.ok_with_runs("a", "# @A1\nx = 2", &["A1", "B1"]);
    assert_eq!(strings(&report.stale), ["C1"]);
    assert_eq!(env.state("C1"), &CellState::Stale);
    assert_eq!(
        env.value("C1"),
        Some(Some(3)),
        "a stale cell keeps its value"
    );
    // The lazy mode of the sheet.
    env.sheet.mode = Mode::Lazy;
    let report = env.ok_with_runs("a", "# @A1\nx = 5", &["A1"]);
    assert_eq!(strings(&report.stale), ["B1", "C1"]);
    assert!(env
        .rt
        .marks
        .borrow()
        .iter()
        .any(|(c, text, kind)| *c == a("B1") && *kind == MarkKind::Stale && text.contains("3")));
    assert_eq!(env.sheet.snapshot()["mode"], "lazy");
    // `%sheet run`.
    let mut report = Report::default();
    env.sheet.run_stale(&env.rt, &env.out, 9, &mut report);
    assert_eq!(env.rt.runs(), ["B1", "C1"]);
    assert_eq!(strings(&report.reran), ["B1", "C1"]);
    assert_eq!(
        (env.value("B1"), env.value("C1")),
        (Some(Some(6)), Some(Some(7)))
    );
    assert_eq!(env.state("B1"), &CellState::Ok);
    assert_eq!(env.state("C1"), &CellState::Ok);
}

#[test]
fn an_interrupt_mid_batch_leaves_the_rest_stale() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x + 1");
    env.ok("c", "# @C1\ny + 1");
    env.ok("d", "# @D1\nx + 100");
    *env.rt.interrupt.borrow_mut() = Some(a("B1"));
    let (result, report) = env.exec("a", "# @A1\nx = 2");
    result.unwrap();
    assert_eq!(
        env.rt.runs(),
        ["A1", "B1"],
        "nothing runs after the interrupt"
    );
    assert_eq!(strings(&report.stale), ["B1", "C1", "D1"]);
    assert!(
        report.interrupted,
        "the report says the batch was interrupted"
    );
    for cell in ["B1", "C1", "D1"] {
        assert_eq!(env.state(cell), &CellState::Stale, "{cell}");
    }
    assert_eq!(
        env.value("C1"),
        Some(Some(3)),
        "stale cells keep their last value"
    );
    // `%sheet run` finishes the job.
    let mut report = Report::default();
    env.sheet.run_stale(&env.rt, &env.out, 9, &mut report);
    assert_eq!(env.rt.runs(), ["B1", "C1", "D1"]);
    assert_eq!(env.value("C1"), Some(Some(4)));

    // An interrupt of the edited cell itself is its error.
    *env.rt.interrupt.borrow_mut() = Some(a("A1"));
    let (result, report) = env.exec("a", "# @A1\nx = 3");
    assert_eq!(result.unwrap_err().ename, "KeyboardInterrupt");
    assert!(report.interrupted);
    assert!(matches!(env.state("A1"), CellState::Error(_)));
    assert_eq!(env.state("B1"), &CellState::Stale);

    // So is an interrupt that lands in its analysis; a cell that merely fails is not one.
    *env.rt.analysis_failure.borrow_mut() =
        Some(PyCallError::Interrupted(exception("KeyboardInterrupt", "")));
    let (result, report) = env.exec("e", "# @E1\n5");
    assert_eq!(result.unwrap_err().ename, "KeyboardInterrupt");
    assert!(report.interrupted);
    let (result, report) = env.exec("f", "# @F1\nboom");
    assert!(result.is_err());
    assert!(!report.interrupted);
}

#[test]
fn deleting_a_cell_reruns_its_readers() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\nx + 1");
    env.ok("c", "# @C1\nA1");
    env.ok("e", "# @E1\n7");
    let mut report = Report::default();
    env.sheet
        .delete_ids(&env.rt, &env.out, &["a".into()], &mut report);
    assert_eq!(env.rt.runs(), ["B1", "C1"]);
    assert_eq!(*env.rt.deleted.borrow(), [a("A1")]);
    assert!(!env.sheet.cells.contains_key(&a("A1")));
    assert_eq!(
        env.name("x"),
        None,
        "a name no cell defines leaves the namespace"
    );
    assert!(
        matches!(env.state("B1"), CellState::Error(m) if m.starts_with("NameError")),
        "{:?}",
        env.state("B1")
    );
    assert_eq!(env.value("C1"), Some(None), "an empty address reads None");
    assert_eq!(env.state("C1"), &CellState::Ok);
    assert_eq!(env.sheet.cell_json(a("A1"))["state"], "deleted");
    assert!(env.sheet.update_message(&report)["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["address"] == "A1" && c["state"] == "deleted"));
    // Column A's address is free again.
    env.ok("n", "y = 2");
    assert!(env.sheet.cells.contains_key(&a("A1")));
}

#[test]
fn a_label_that_moves_a_cell_frees_its_old_address() {
    let mut env = Env::default();
    env.ok("m", "# @B1\nx = 1");
    env.ok("c", "# @C1\nx + 1");
    let (result, report) = env.exec("m", "# @B2\nx = 3");
    result.unwrap();
    assert_eq!(report.address, Some(a("B2")));
    assert_eq!(*env.rt.deleted.borrow(), [a("B1")]);
    assert!(!env.sheet.cells.contains_key(&a("B1")));
    assert_eq!(env.sheet.cells[&a("B2")].cell_id.as_deref(), Some("m"));
    assert_eq!(env.value("C1"), Some(Some(4)));
    assert!(report.touched.contains(&a("B1")));
    // The cell keeps its new address without a label.
    let (_, report) = env.exec("m", "x = 4");
    assert_eq!(report.address, Some(a("B2")));
}

#[test]
fn an_unchanged_value_with_changed_definitions_reaches_the_readers() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    env.ok("b", "# @B1\ny = x * 2; None");
    env.ok("c", "# @C1\ny + 1");
    assert_eq!(env.value("C1"), Some(Some(3)));
    // B1's value is None both times, but its `y` changed.
    env.ok_with_runs("a", "# @A1\nx = 5", &["A1", "B1", "C1"]);
    assert_eq!(env.value("C1"), Some(Some(11)));
    // Neither its value nor its definitions changed: cut off.
    env.ok("b", "# @B1\ny = x * 0; None");
    env.ok_with_runs("a", "# @A1\nx = 6", &["A1", "B1"]);
}

#[test]
fn a_failed_analysis_is_an_error_and_records_nothing() {
    let mut env = Env::default();
    env.ok("a", "# @A1\nx = 1");
    *env.rt.analysis_failure.borrow_mut() =
        Some(PyCallError::Interrupted(exception("KeyboardInterrupt", "")));
    let (result, _) = env.exec("b", "# @B1\nx + 1");
    let error = result.unwrap_err();
    assert_eq!(error.ename, "KeyboardInterrupt");
    assert!(!error.published, "the shell shows it");
    assert!(!env.sheet.cells.contains_key(&a("B1")));

    *env.rt.analysis_failure.borrow_mut() = Some(PyCallError::BadReply {
        call: "sheet_analyze_json",
        detail: "not JSON".into(),
    });
    let (result, _) = env.exec("b", "# @B1\nx + 1");
    assert_eq!(result.unwrap_err().ename, "KernelError");

    *env.rt.analysis_error.borrow_mut() = Some("RecursionError: too deep".into());
    let (result, _) = env.exec("b", "# @B1\nx + 1");
    let error = result.unwrap_err();
    assert_eq!(error.ename, "AnalysisError");
    assert!(error.evalue.contains("RecursionError"), "{}", error.evalue);
    assert!(!env.sheet.cells.contains_key(&a("B1")));
    assert_eq!(env.rt.runs(), Vec::<String>::new());

    // A syntax error still runs, and shows Python's SyntaxError.
    let (result, _) = env.exec("b", "# @B1\nx +@@ 1");
    assert_eq!(result.unwrap_err().ename, "SyntaxError");
    assert_eq!(env.rt.runs(), ["B1"]);
    assert!(matches!(env.state("B1"), CellState::Error(m) if m.starts_with("SyntaxError")));
}

#[test]
fn an_assignment_to_an_address_held_by_a_cell_is_refused() {
    let mut env = Env::default();
    env.ok("b", "# @B2\n5");
    let (result, _) = env.exec("a", "# @A1\nB2 = 1");
    let error = result.unwrap_err();
    assert_eq!(error.ename, "AddressAssignment");
    assert!(error.evalue.contains("assigns to B2"), "{}", error.evalue);
    assert_eq!(env.sheet.cells.len(), 1);
    assert_eq!(env.value("B2"), Some(Some(5)));
}

#[test]
fn a_name_shaped_like_an_empty_address_is_a_variable() {
    // `R2 = 0.91` (an R² score): no cell sits at R2, so R2 is the cell's variable.
    let mut env = Env::default();
    env.ok("a", "# @A1\nR2 = 9");
    assert_eq!(env.sheet.sheet.definers("R2"), vec!["A1".parse().unwrap()]);
}

#[test]
fn an_address_held_by_another_cell_is_a_conflict() {
    let mut env = Env::default();
    env.ok("one", "# @B1\n1");
    let (result, _) = env.exec("two", "# @B1\n2");
    assert_eq!(result.unwrap_err().ename, "AddressConflict");
    assert_eq!(env.value("B1"), Some(Some(1)));
}

#[test]
fn a_long_batch_shows_its_progress_and_its_end() {
    let mut env = Env::default();
    env.ok("a1", "# @A1\n1");
    env.ok("a2", "# @A2\nA1 + 1");
    env.ok("a3", "# @A3\nA2 + 1");
    assert!(
        env.out.progress.borrow().is_empty(),
        "fast batches show none"
    );
    // Past the threshold from the start: the first cell shows it, then the end does.
    env.sheet.progress_after = std::time::Duration::ZERO;
    env.ok("a1", "# @A1\n5");
    let shown = env.out.progress.borrow().clone();
    assert_eq!(shown.first(), Some(&(0, 3, Some(a("A1")))), "{shown:?}");
    assert_eq!(shown.last(), Some(&(3, 3, None)), "{shown:?}");
    assert!(shown.len() >= 2, "{shown:?}");
}

#[test]
fn an_update_sends_rerun_values_alone_and_changed_cells_whole() {
    let mut env = Env::default();
    env.ok("a1", "# @A1\n1");
    env.ok("a2", "# @A2 next\nA1 + 1");
    env.ok("a3", "# @A3\nA2 + 1");
    let report = env.ok("a1", "# @A1\n5");
    let msg = env.sheet.update_message(&report);
    let cells: Vec<&str> = msg["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    // The edited cell whole (its code changed); its re-run readers as values.
    assert_eq!(cells, ["A1"]);
    assert_eq!(
        msg["values"],
        json!({"A2": env.sheet.cells[&a("A2")].summary, "A3": env.sheet.cells[&a("A3")].summary})
    );
    // A re-run that fails is sent whole, with its error.
    let (result, report) = env.exec("a1", "# @A1\nboom");
    assert!(result.is_err());
    let msg = env.sheet.update_message(&report);
    assert!(msg["values"].as_object().unwrap().is_empty(), "{msg}");
    assert!(msg["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["address"] == "A2" && c["state"] == "upstream-error"));
}
