//! `%sheet`: the sheet as one output (JSON for the grid, HTML for notebooks, text for the
//! console), and the `%sheet …` commands.

use super::live_sheet::{CellRuntime, LiveSheet, Mode, Output, Report};
use crate::sheet::Address;
use serde_json::{json, Value};

pub const SHEET_MIME: &str = "application/vnd.pysheets.sheet+json";

/// Whether `code` is a `%sheet` command (handled by the kernel, not run as a cell).
pub fn is_command(code: &str) -> bool {
    let code = code.trim();
    code == "%sheet" || code.starts_with("%sheet ")
}

/// `%sheet verify`: the journal's chain checked (answered by `pysheets.audit`).
pub fn is_verify(code: &str) -> bool {
    let mut words = code.split_whitespace();
    words.next() == Some("%sheet") && words.next() == Some("verify") && words.next().is_none()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(state: &str) -> &'static str {
    match state {
        "error" => "#fde2e1",
        "upstream-error" => "#fdeede",
        "stale" => "#fff6cc",
        _ => "#ffffff",
    }
}

/// A grid-shaped HTML table over the used rectangle of the sheet.
fn html<C>(sheet: &LiveSheet<C>) -> String {
    let Some(max_col) = sheet.cells.keys().map(|a| a.col).max() else {
        return "<p><i>The sheet is empty.</i></p>".into();
    };
    let max_row = sheet.cells.keys().map(|a| a.row).max().unwrap_or(0);
    let mut out = String::from(
        "<table class=\"pysheets-sheet\" style=\"border-collapse:collapse;font-family:monospace\">\
         <tr><th></th>",
    );
    for col in 0..=max_col {
        let letters = Address { col, row: 0 }.to_string();
        let letters = letters.trim_end_matches(char::is_numeric);
        out.push_str(&format!("<th style=\"padding:2px 8px\">{letters}</th>"));
    }
    out.push_str("</tr>");
    for row in 0..=max_row {
        out.push_str(&format!(
            "<tr><th style=\"padding:2px 8px\">{}</th>",
            row + 1
        ));
        for col in 0..=max_col {
            let address = Address { col, row };
            match sheet.cells.get(&address) {
                Some(c) => {
                    let state = c.state.name();
                    let tip = match &c.title {
                        t if t.is_empty() => format!("{address} ({state})"),
                        t => format!("{address} {t} ({state})"),
                    };
                    out.push_str(&format!(
                        "<td title=\"{}\" style=\"border:1px solid #ccc;padding:2px 8px;\
                         background:{}\">{}</td>",
                        escape(&tip),
                        colour(state),
                        escape(&c.summary)
                    ));
                }
                None => out.push_str("<td style=\"border:1px solid #eee\"></td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn text<C>(sheet: &LiveSheet<C>) -> String {
    let mode = sheet.mode.as_str();
    let mut out = format!("sheet: {} cells, mode {mode}\n", sheet.cells.len());
    for (address, c) in &sheet.cells {
        let reads: Vec<String> = sheet
            .sheet
            .precedents(*address)
            .iter()
            .map(|a| a.to_string())
            .collect();
        out.push_str(&format!(
            "{:<6} {:<16} {:<30} {:<14} reads: {}\n",
            address.to_string(),
            c.title,
            c.summary,
            c.state.name(),
            if reads.is_empty() {
                "-".into()
            } else {
                reads.join(", ")
            }
        ));
    }
    out
}

fn graph<C>(sheet: &LiveSheet<C>) -> Value {
    let mut edges = Vec::new();
    let mut choices = Vec::new();
    for &address in sheet.cells.keys() {
        for p in sheet.sheet.precedents(address) {
            edges.push((p.to_string(), address.to_string()));
        }
        for (name, definer) in sheet.sheet.chosen_definers(address) {
            let all: Vec<String> = sheet
                .sheet
                .definers(name)
                .iter()
                .map(|a| a.to_string())
                .collect();
            choices.push(json!({"reader": address.to_string(), "name": name,
                                "definer": definer.to_string(), "definers": all}));
        }
    }
    let mut lines: Vec<String> = edges.iter().map(|(a, b)| format!("{a} → {b}")).collect();
    for c in &choices {
        let all: Vec<&str> = c["definers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .collect();
        lines.push(format!(
            "{} reads {} from {} (defined in {})",
            c["reader"].as_str().unwrap_or_default(),
            c["name"].as_str().unwrap_or_default(),
            c["definer"].as_str().unwrap_or_default(),
            all.join(", ")
        ));
    }
    let text = if lines.is_empty() {
        "no dependencies".to_string()
    } else {
        lines.join("\n")
    };
    json!({"text/plain": text, "application/json": {"edges": edges, "choices": choices}})
}

/// Runs a `%sheet` command; returns the MIME bundle to show, or an error message.
pub fn command<R: CellRuntime>(
    sheet: &mut LiveSheet<R::Cell>,
    rt: &R,
    out: &impl Output,
    code: &str,
    count: i64,
    report: &mut Report,
) -> Result<Value, String> {
    let args: Vec<&str> = code.split_whitespace().skip(1).collect();
    match args.as_slice() {
        [] | ["show"] => Ok(json!({
            SHEET_MIME: sheet.snapshot(),
            "text/html": html(sheet),
            "text/plain": text(sheet),
        })),
        ["graph"] => Ok(graph(sheet)),
        ["lazy"] => {
            sheet.mode = Mode::Lazy;
            Ok(
                json!({"text/plain": "sheet mode: lazy (downstream cells go stale; `%sheet run` recomputes them)"}),
            )
        }
        ["auto"] => {
            sheet.mode = Mode::Auto;
            Ok(json!({"text/plain": "sheet mode: auto (downstream cells re-run by themselves)"}))
        }
        ["run"] => {
            sheet.run_stale(rt, out, count, report);
            let ran: Vec<String> = report.reran.iter().map(|a| a.to_string()).collect();
            Ok(
                json!({"text/plain": format!("recomputed: {}", if ran.is_empty() { "nothing was stale".into() } else { ran.join(", ") })}),
            )
        }
        ["delete", targets @ ..] if !targets.is_empty() => {
            for target in targets {
                let address: Address = target.parse().map_err(|e| format!("%sheet delete: {e}"))?;
                if !sheet.cells.contains_key(&address) {
                    return Err(format!("%sheet delete: no cell at {address}"));
                }
                sheet.delete(rt, out, address, report);
            }
            Ok(json!({"text/plain": format!("deleted {}", targets.join(", "))}))
        }
        _ => Err(format!(
            "unknown %sheet command {:?}: use %sheet, %sheet graph, %sheet lazy, %sheet auto, \
             %sheet run, %sheet delete ADDRESS, %sheet verify",
            args.join(" ")
        )),
    }
}
