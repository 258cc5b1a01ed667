//! Cells as JSON: `%sheet`'s `application/vnd.pysheets.sheet+json` output, and the grid
//! comm's snapshot and update messages (schema in ARCHITECTURE.md).

use super::{CellRecord, CellState, LiveSheet, Report};
use crate::sheet::Address;
use serde_json::{json, Value};

impl<C> LiveSheet<C> {
    /// One cell: `{address, title, cellId, state, value, reads, code, lazy, format?, number?,
    /// uses?, error?, png?, edited?: {by, at}}`, or `{address, state: "deleted"}`. `uses` says,
    /// for each name it reads that several cells define, which one it reads: the choice is
    /// never silent.
    pub fn cell_json(&self, address: Address) -> Value {
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
        self.add_optional(address, &mut v);
        if let Some(uses) = self.uses(address) {
            v["uses"] = uses;
        }
        if holds_number(c) {
            v["number"] = json!(true);
        }
        if let Some(e) = &c.edited {
            v["edited"] = json!({"by": e.by, "at": e.at});
        }
        v
    }

    /// The grid comm's form of a cell: [`LiveSheet::cell_json`] without its code and last
    /// edit (the grid asks for both when the cell is selected), without `uses` (the grid
    /// shows no definers; `%sheet` and the cell request do), with `number` only where the
    /// text does not tell it ([`reads_as_number`]), and without the fields at their
    /// defaults (empty title, no cellId, state `ok`, empty value, no reads, not lazy). A
    /// 100,000-cell snapshot is then a few MB, not 15.
    pub fn wire_json(&self, address: Address) -> Value {
        let Some(c) = self.cells.get(&address) else {
            return json!({"address": address.to_string(), "state": "deleted"});
        };
        let mut v = json!({"address": address.to_string()});
        if !c.title.is_empty() {
            v["title"] = json!(c.title);
        }
        if let Some(id) = &c.cell_id {
            v["cellId"] = json!(id);
        }
        if !matches!(c.state, CellState::Ok) {
            v["state"] = json!(c.state.name());
        }
        if !c.summary.is_empty() {
            v["value"] = json!(c.summary);
        }
        let reads = self.sheet.precedents(address);
        if !reads.is_empty() {
            v["reads"] = json!(reads.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        }
        if c.lazy {
            v["lazy"] = json!(true);
        }
        // Only where the text misleads: a string "123", a float `inf`.
        if !text_tells_number(c) {
            v["number"] = json!(holds_number(c));
        }
        self.add_optional(address, &mut v);
        v
    }

    fn add_optional(&self, address: Address, v: &mut Value) {
        let c = &self.cells[&address];
        if let Some(format) = &c.format {
            v["format"] = json!(format);
        }
        if let Some(message) = c.state.failed() {
            v["error"] = json!(message);
        }
        if let Some(png) = &c.png {
            v["png"] = json!(png);
        }
    }

    /// `{name: definer}` for the names the cell reads that several cells define, if any.
    pub fn uses(&self, address: Address) -> Option<Value> {
        let chosen = self.sheet.chosen_definers(address);
        if chosen.is_empty() {
            return None;
        }
        let map: serde_json::Map<String, Value> = chosen
            .into_iter()
            .map(|(name, d)| (name.to_string(), json!(d.to_string())))
            .collect();
        Some(Value::Object(map))
    }

    /// For each address-shaped name the cell reads that could mean a cell or another cell's
    /// variable (`R2`): which meaning it got, `{"R2": {"reads": "cell" | "variable", "from":
    /// address}}`. The cell at an address wins; where none sits, the variable does.
    pub fn address_meanings(&self, address: Address) -> Option<Value> {
        let record = self.cells.get(&address)?;
        let mut map = serde_json::Map::new();
        for read in &record.reads_addresses {
            let name = read.to_string();
            let definers: Vec<Address> = self
                .sheet
                .definers(&name)
                .into_iter()
                .filter(|&d| d != address)
                .collect();
            if definers.is_empty() {
                continue;
            }
            let meaning = if self.cells.contains_key(read) {
                json!({"reads": "cell", "from": name})
            } else {
                let from = self
                    .sheet
                    .resolved(address)
                    .find(|(n, _)| *n == name)
                    .map_or(definers[0], |(_, d)| d);
                json!({"reads": "variable", "from": from.to_string()})
            };
            map.insert(name, meaning);
        }
        (!map.is_empty()).then_some(Value::Object(map))
    }

    /// The whole sheet: `{mode, cells}`.
    pub fn snapshot(&self) -> Value {
        json!({
            "mode": self.mode.as_str(),
            "cells": self.cells.keys().map(|&a| self.cell_json(a)).collect::<Vec<_>>(),
        })
    }

    /// The whole sheet in the grid comm's form ([`LiveSheet::wire_json`]).
    pub fn wire_snapshot(&self) -> Value {
        json!({
            "mode": self.mode.as_str(),
            "cells": self.cells.keys().map(|&a| self.wire_json(a)).collect::<Vec<_>>(),
        })
    }

    /// The comm message for what a request changed: `cells` in the wire form, and `values`,
    /// `{address: value}` for re-run cells whose new value is all that changed (their title,
    /// cellId and reads are what the grid has; they are ok, with no picture, and their
    /// text tells whether they are numbers). A re-run of 10,000 cells is then ~100 KB.
    pub fn update_message(&self, report: &Report) -> Value {
        let reran: std::collections::HashSet<Address> = report.reran.iter().copied().collect();
        let mut cells = Vec::new();
        let mut values = serde_json::Map::new();
        for &a in &report.touched {
            match self.cells.get(&a) {
                Some(c)
                    if reran.contains(&a)
                        && matches!(c.state, CellState::Ok)
                        && c.png.is_none()
                        && text_tells_number(c) =>
                {
                    values.insert(a.to_string(), json!(c.summary));
                }
                _ => cells.push(self.wire_json(a)),
            }
        }
        json!({
            "type": "update",
            "mode": self.mode.as_str(),
            "cells": cells,
            "values": values,
        })
    }
}

/// Whether the cell holds a number (not a failed cell's last one).
fn holds_number<C>(c: &CellRecord<C>) -> bool {
    is_number(&c.value_type) && c.state.failed().is_none()
}

/// Whether the grid, reading the cell's text, tells rightly whether it is a number: then the
/// comm leaves `number` out.
fn text_tells_number<C>(c: &CellRecord<C>) -> bool {
    holds_number(c) == reads_as_number(&c.summary)
}

/// Whether a value of this type (as `value_type` names it) is a number: Python's and numpy's
/// ints, floats and complex numbers, `Decimal`, `Fraction` (not `bool`). The grid aligns
/// numbers right.
fn is_number(value_type: &str) -> bool {
    let bare = value_type.trim_end_matches(|c: char| c.is_ascii_digit());
    matches!(
        bare,
        "int" | "uint" | "float" | "complex" | "longdouble" | "Decimal" | "Fraction"
    )
}

/// Whether a value's text reads as a number: digits, with only signs, separators, a decimal
/// point, an exponent and percent beside them (`-1,234.5`, `25.0%`, `1e-07`). The grid's
/// `isNumber` reads the text the same way when the comm leaves `number` out.
pub fn reads_as_number(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.,_ %eE".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_by_type_and_by_text() {
        for t in [
            "int",
            "float",
            "float64",
            "int32",
            "uint8",
            "Decimal",
            "complex128",
        ] {
            assert!(is_number(t), "{t}");
        }
        for t in [
            "bool",
            "str[3]",
            "ndarray[3]",
            "float64[2×2]",
            "NoneType",
            "interval",
        ] {
            assert!(!is_number(t), "{t}");
        }
        for t in ["1", "-1,234.5", "25.0%", "1e-07", "1_000", " 12 "] {
            assert!(reads_as_number(t), "{t}");
        }
        for t in ["", "inf", "nan", "'12'", "True", "DataFrame 3×4", "%", "e"] {
            assert!(!reads_as_number(t), "{t}");
        }
    }
}
