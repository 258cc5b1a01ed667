//! Cells as JSON: `%sheet`'s `application/vnd.pysheets.sheet+json` output, and the grid
//! comm's snapshot and update messages (schema in ARCHITECTURE.md).

use super::{LiveSheet, Report};
use crate::sheet::Address;
use serde_json::{json, Value};

impl<C> LiveSheet<C> {
    /// One cell: `{address, title, cellId, state, value, reads, code, lazy, uses?, error?,
    /// png?, edited?: {by, at}}`, or `{address, state: "deleted"}`. `uses` says, for each name it reads that
    /// several cells define, which one it reads: the choice is never silent.
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
        if let Some(uses) = self.uses(address) {
            v["uses"] = uses;
        }
        if let Some(message) = c.state.failed() {
            v["error"] = json!(message);
        }
        if let Some(png) = &c.png {
            v["png"] = json!(png);
        }
        if let Some(e) = &c.edited {
            v["edited"] = json!({"by": e.by, "at": e.at});
        }
        v
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

    /// The comm message for what a request changed.
    pub fn update_message(&self, report: &Report) -> Value {
        json!({
            "type": "update",
            "mode": self.mode.as_str(),
            "cells": report.touched.iter().map(|&a| self.cell_json(a)).collect::<Vec<_>>(),
        })
    }
}
