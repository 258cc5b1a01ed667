//! Cells as JSON: `%sheet`'s `application/vnd.pysheets.sheet+json` output, and the grid
//! comm's snapshot and update messages (schema in ARCHITECTURE.md).

use super::{LiveSheet, Report};
use crate::sheet::Address;
use serde_json::{json, Value};

impl<C> LiveSheet<C> {
    /// One cell: `{address, title, cellId, state, value, reads, code, lazy, uses?, error?,
    /// png?}`, or `{address, state: "deleted"}`. `uses` says, for each name it reads that
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
