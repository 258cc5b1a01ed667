//! Evaluating a replay's cells with the kernel's sheet: each cell is executed as a frontend
//! with cells would execute it (its cellId, or a made-up one, and its address in the
//! metadata), after the sheet has been told the notebook's order, so names resolve as in the
//! notebook and forward references resolve by the sheet's own re-runs. Generic over the
//! runtime, so the unit tests drive it with the fake one of `live_sheet`.

use super::document::ReplayCell;
use super::model::{synthetic_id, Model, Step};
use crate::core::live_sheet::{CellRuntime, LiveSheet, Output};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Evaluates `cells` in order and returns the result document,
/// `{"cells": {"B7": {"state", "value", "error"?}, …}}`, its cells in notebook order.
pub fn evaluate<R: CellRuntime>(rt: R, out: &impl Output, cells: &[ReplayCell]) -> String {
    let mut model = Model::new(rt);
    let ids: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| c.cell_id.clone().unwrap_or_else(|| synthetic_id(i)))
        .collect();
    model.set_order(&ids);
    let mut steps = Vec::with_capacity(cells.len());
    for (i, (cell, id)) in cells.iter().zip(&ids).enumerate() {
        let step = model.execute(out, cell, id);
        match &step {
            Step::Nothing(Some(message)) => {
                eprintln!("pysheets replay: cell {}: {message}", i + 1)
            }
            Step::Refused(None, message) => {
                eprintln!(
                    "pysheets replay: cell {} was not evaluated: {message}",
                    i + 1
                )
            }
            _ => {}
        }
        steps.push(step);
    }
    result_document(&model.sheet, &steps)
}

/// The states as the sheet shows them (`cell_json`), in notebook order; an address appears
/// once, with the cell the sheet holds there when it holds one.
fn result_document<C>(sheet: &LiveSheet<C>, steps: &[Step]) -> String {
    let mut seen = HashSet::new();
    let mut text = String::from("{\"cells\":{");
    for step in steps {
        let (address, entry) = match step {
            Step::Nothing(_) | Step::Refused(None, _) | Step::NotRun(None) => continue,
            Step::InSheet(a) | Step::Refused(Some(a), _) | Step::NotRun(Some(a))
                if sheet.cells.contains_key(a) =>
            {
                (*a, shown(&sheet.cell_json(*a)))
            }
            // Deleted since (`%sheet delete`): no longer a cell of the sheet.
            Step::InSheet(_) => continue,
            Step::Refused(Some(a), error) => {
                (*a, json!({"state": "error", "value": "", "error": error}))
            }
            Step::NotRun(Some(a)) => (*a, json!({"state": "stale", "value": ""})),
        };
        if !seen.insert(address) {
            continue;
        }
        if seen.len() > 1 {
            text.push(',');
        }
        text.push_str(&Value::String(address.to_string()).to_string());
        text.push(':');
        text.push_str(&entry.to_string());
    }
    text.push_str("}}");
    text
}

/// The part of a cell's `cell_json` a replay reports: state, value, and error when it failed.
fn shown(cell: &Value) -> Value {
    let mut entry = Map::new();
    for key in ["state", "value", "error"] {
        if let Some(v) = cell.get(key) {
            entry.insert(key.to_string(), v.clone());
        }
    }
    Value::Object(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live_sheet::tests::{Fake, FakeOutput};

    fn cells(list: &[(Option<&str>, &str)]) -> Vec<ReplayCell> {
        list.iter()
            .map(|(address, code)| ReplayCell {
                address: address.map(|a| a.parse().unwrap()),
                code: code.to_string(),
                cell_id: None,
            })
            .collect()
    }

    fn run(rt: &Fake, list: &[(Option<&str>, &str)]) -> Value {
        let text = evaluate(rt, &FakeOutput::default(), &cells(list));
        serde_json::from_str(&text).expect("the result is JSON")
    }

    fn keys(result: &Value) -> Vec<&str> {
        let cells = result["cells"].as_object().unwrap();
        cells.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_forward_reference_resolves_and_cells_come_out_in_notebook_order() {
        let rt = Fake::default();
        let text = evaluate(
            &rt,
            &FakeOutput::default(),
            &cells(&[(Some("B2"), "A1 + 1"), (Some("A1"), "41")]),
        );
        assert_eq!(
            text,
            r#"{"cells":{"B2":{"state":"ok","value":"42"},"A1":{"state":"ok","value":"41"}}}"#
        );
    }

    #[test]
    fn names_resolve_in_the_notebook_order_not_the_sheet_order() {
        // In sheet order B5 comes before A9, so A9 would read B5's x; in the notebook it
        // reads C1's.
        let result = run(
            &Fake::default(),
            &[
                (Some("C1"), "x = 1"),
                (Some("A9"), "x * 10"),
                (Some("B5"), "x = 2"),
            ],
        );
        assert_eq!(result["cells"]["A9"]["value"], "10");
    }

    #[test]
    fn failures_are_states_and_a_refused_cell_has_an_entry() {
        let result = run(
            &Fake::default(),
            &[
                (Some("A1"), "boom"),
                (Some("A2"), "A1 + 1"),
                (Some("B1"), "@@"),
                (Some("C1"), "D1 + 1"),
                (Some("D1"), "C1 + 1"),
                (Some("E1"), "A2 = 3"),
                (None, "# @F1\n7"),
            ],
        );
        let c = &result["cells"];
        assert_eq!(c["A1"]["state"], "error");
        assert_eq!(c["A1"]["error"], "ValueError: boom");
        assert_eq!(c["A2"]["state"], "upstream-error");
        assert_eq!(c["A2"]["error"], "ValueError: boom");
        assert_eq!(c["B1"]["state"], "error");
        for cycle in ["C1", "D1"] {
            assert_eq!(c[cycle]["state"], "error", "{cycle}");
            let error = c[cycle]["error"].as_str().unwrap();
            assert!(error.contains("circular"), "{cycle}: {error}");
        }
        assert_eq!(c["E1"]["state"], "error");
        let error = c["E1"]["error"].as_str().unwrap();
        assert!(error.starts_with("AddressAssignment: "), "{error}");
        assert_eq!(c["F1"], json!({"state": "ok", "value": "7"}));
        assert_eq!(keys(&result), ["A1", "A2", "B1", "C1", "D1", "E1", "F1"]);
    }

    #[test]
    fn an_interrupt_stops_the_replay_and_leaves_the_rest_stale() {
        let rt = Fake::default();
        *rt.interrupt.borrow_mut() = Some("A2".parse().unwrap());
        let result = run(
            &rt,
            &[
                (Some("A1"), "1"),
                (Some("A2"), "A1 + 1"),
                (Some("A3"), "5"),
                (None, "# @C1\n7"),
                (None, "8"),
            ],
        );
        assert_eq!(rt.runs(), ["A1", "A2"], "nothing runs after the interrupt");
        let c = &result["cells"];
        assert_eq!(c["A1"]["value"], "1");
        assert_eq!(c["A2"]["state"], "error");
        assert_eq!(c["A2"]["error"], "KeyboardInterrupt: ");
        assert_eq!(c["A3"], json!({"state": "stale", "value": ""}));
        assert_eq!(c["C1"], json!({"state": "stale", "value": ""}));
        assert_eq!(
            keys(&result),
            ["A1", "A2", "A3", "C1"],
            "no address, no entry"
        );
    }

    #[test]
    fn sheet_commands_act_on_the_sheet_and_have_no_entry() {
        let rt = Fake::default();
        let result = run(
            &rt,
            &[
                (Some("A1"), "B1 + 1"),
                (None, "%sheet lazy"),
                (Some("B1"), "5"),
                (None, "%sheet nonsense"),
            ],
        );
        let c = &result["cells"];
        assert_eq!(keys(&result), ["A1", "B1"]);
        assert_eq!(c["B1"]["value"], "5");
        assert_eq!(
            c["A1"]["state"], "stale",
            "lazy: the reader waits for %sheet run"
        );
    }
}
