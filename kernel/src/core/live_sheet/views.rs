//! Cells as JSON: `%sheet`'s `application/vnd.pysheets.sheet+json` output, and the grid
//! comm's snapshot and update messages (schema in ARCHITECTURE.md).

use super::{LiveSheet, Report};
use crate::sheet::Address;
use serde_json::{json, Value};

impl<C> LiveSheet<C> {
    /// One cell: `{address, title, cellId, state, value, reads, code, lazy, error?, png?}`, or
    /// `{address, state: "deleted"}`.
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
        if let Some(message) = c.state.failed() {
            v["error"] = json!(message);
        }
        if let Some(png) = &c.png {
            v["png"] = json!(png);
        }
        v
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
