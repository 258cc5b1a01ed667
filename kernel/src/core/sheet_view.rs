//! `%sheet`: the sheet as one output (JSON for the grid, HTML for notebooks, text for the
//! console), and the `%sheet …` commands.

use super::live_sheet::{CellRuntime, LiveSheet, Mode, Output, Report};
use crate::sheet::Address;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub const SHEET_MIME: &str = "application/vnd.pysheets.sheet+json";

/// Whether `code` is a `%sheet` command (handled by the kernel, not run as a cell).
pub fn is_command(code: &str) -> bool {
    let code = code.trim();
    code == "%sheet" || code.starts_with("%sheet ")
}

/// `%sheet verify`: the journal's chain checked (answered by `pysheets_kernel.audit`).
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

/// Runs of at most this many empty rows (columns) between used ones are drawn; a longer run is
/// one `…` row (column), so a far cell costs a few table cells, not the rectangle up to it.
const MAX_DRAWN_GAP: u32 = 3;

/// Table cells drawn at most; the rows past it are one line saying how many there are (the JSON
/// and text outputs list every cell).
const MAX_HTML_CELLS: usize = 100_000;

/// One row or column of the table: a used index, or a run of empty ones drawn as `…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    At(u32),
    Gap(u32),
}

/// The slots from index 0 to the last used one: used indices, short gaps drawn in full, long
/// gaps as one [`Slot::Gap`].
fn slots(used: &BTreeSet<u32>) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut next = 0;
    for &i in used {
        let gap = i - next;
        if gap > MAX_DRAWN_GAP {
            out.push(Slot::Gap(gap));
        } else {
            out.extend((next..i).map(Slot::At));
        }
        out.push(Slot::At(i));
        next = i + 1;
    }
    out
}

fn column_letters(col: u32) -> String {
    let letters = Address { col, row: 0 }.to_string();
    letters.trim_end_matches(char::is_numeric).to_string()
}

/// A grid-shaped HTML table of the sheet: the used rows and columns, long empty stretches
/// elided.
fn html<C>(sheet: &LiveSheet<C>) -> String {
    if sheet.cells.is_empty() {
        return "<p><i>The sheet is empty.</i></p>".into();
    }
    let cols = slots(&sheet.cells.keys().map(|a| a.col).collect());
    let rows = slots(&sheet.cells.keys().map(|a| a.row).collect());
    let mut out = String::from(
        "<table class=\"pysheets-sheet\" style=\"border-collapse:collapse;font-family:monospace\">\
         <tr><th></th>",
    );
    for slot in &cols {
        match *slot {
            Slot::At(col) => out.push_str(&format!(
                "<th style=\"padding:2px 8px\">{}</th>",
                column_letters(col)
            )),
            Slot::Gap(n) => out.push_str(&format!(
                "<th title=\"{n} empty columns\" style=\"padding:2px 8px\">…</th>"
            )),
        }
    }
    out.push_str("</tr>");
    let row_budget = (MAX_HTML_CELLS / cols.len().max(1)).max(1);
    for (drawn, slot) in rows.iter().enumerate() {
        if drawn == row_budget {
            let left = rows[drawn..]
                .iter()
                .filter(|s| matches!(s, Slot::At(_)))
                .count();
            out.push_str(&format!(
                "<tr><td colspan=\"{}\">… {left} more rows (the grid view and %sheet's text \
                 list every cell)</td></tr>",
                cols.len() + 1
            ));
            break;
        }
        let row = match *slot {
            Slot::At(row) => row,
            Slot::Gap(n) => {
                out.push_str(&format!(
                    "<tr><th title=\"{n} empty rows\" style=\"padding:2px 8px\">⋮</th>\
                     <td colspan=\"{}\"></td></tr>",
                    cols.len()
                ));
                continue;
            }
        };
        out.push_str(&format!(
            "<tr><th style=\"padding:2px 8px\">{}</th>",
            row + 1
        ));
        for slot in &cols {
            let Slot::At(col) = *slot else {
                out.push_str("<td style=\"border:1px solid #eee\">…</td>");
                continue;
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_gaps_are_drawn_and_long_ones_elided() {
        let set = |v: &[u32]| v.iter().copied().collect::<BTreeSet<u32>>();
        use Slot::{At, Gap};
        // A small sheet: every index up to the last used one, as before.
        assert_eq!(slots(&set(&[0, 1, 2])), vec![At(0), At(1), At(2)]);
        assert_eq!(
            slots(&set(&[0, 4])),
            vec![At(0), At(1), At(2), At(3), At(4)]
        );
        assert_eq!(slots(&set(&[2])), vec![At(0), At(1), At(2)]);
        // A far one: the stretch before it is one slot.
        assert_eq!(
            slots(&set(&[0, 49_999])),
            vec![At(0), Gap(49_998), At(49_999)]
        );
        assert_eq!(
            slots(&set(&[1_048_575])),
            vec![Gap(1_048_575), At(1_048_575)]
        );
        assert_eq!(slots(&set(&[0, 5, 6])), vec![At(0), Gap(4), At(5), At(6)]);
    }
}
