//! The `pysheets` comm of the grid extension, answered by the kernel (Rust, not Python): a
//! snapshot when it opens or asks, an update after every request that touched cells.

use super::{LiveSheet, Report};
use crate::protocol::wire::Message;
use crate::sheet::Address;
use serde_json::{json, Value};

/// The comm target the grid extension opens.
pub const SHEET_TARGET: &str = "pysheets";

/// The open comms of the `pysheets` target.
#[derive(Debug, Default)]
pub struct GridComms {
    open: Vec<String>,
}

impl GridComms {
    /// Handles `msg` if it is a comm message of this target, giving the `comm_msg` contents
    /// to publish to `publish`; false if it is some other comm's (Python's).
    pub fn handle<C>(
        &mut self,
        msg: &Message,
        sheet: &LiveSheet<C>,
        mut publish: impl FnMut(Value),
    ) -> bool {
        let comm_id = msg.str_field("comm_id");
        match msg.msg_type() {
            "comm_open" if msg.str_field("target_name") == SHEET_TARGET => {
                self.open.push(comm_id.to_string());
                publish(snapshot(comm_id, sheet));
                true
            }
            "comm_msg" if self.is_open(comm_id) => {
                let data = &msg.content["data"];
                match (data["type"].as_str(), data["address"].as_str()) {
                    // The whole cell, code included (the snapshot leaves code out).
                    (Some("cell"), Some(address)) => {
                        let cell = address
                            .parse::<Address>()
                            .map(|a| sheet.cell_json(a))
                            .unwrap_or_else(|_| json!({"address": address, "state": "deleted"}));
                        publish(
                            json!({"comm_id": comm_id, "data": {"type": "cell", "cell": cell}}),
                        );
                    }
                    // Any other message asks for the whole sheet again (after a reload, say).
                    _ => publish(snapshot(comm_id, sheet)),
                }
                true
            }
            "comm_close" if self.is_open(comm_id) => {
                self.open.retain(|c| c != comm_id);
                true
            }
            _ => false,
        }
    }

    /// The cellIds of an `{"type": "order", "cells": [...]}` message on an open comm: the
    /// notebook's order of cells, top to bottom, sent by the extension when cells are added
    /// or moved.
    pub fn notebook_order(&self, msg: &Message) -> Option<Vec<String>> {
        if msg.msg_type() != "comm_msg" || !self.is_open(msg.str_field("comm_id")) {
            return None;
        }
        let data = &msg.content["data"];
        if data["type"] != "order" {
            return None;
        }
        Some(
            data["cells"]
                .as_array()?
                .iter()
                .filter_map(|id| id.as_str().map(String::from))
                .collect(),
        )
    }

    /// The address of an `{"type": "explain", "address": "B7"}` message on an open comm (the
    /// grid's Explain action), with the comm to answer on.
    pub fn explain_request<'m>(&self, msg: &'m Message) -> Option<(&'m str, &'m str)> {
        let comm_id = msg.str_field("comm_id");
        if msg.msg_type() != "comm_msg" || !self.is_open(comm_id) {
            return None;
        }
        let data = &msg.content["data"];
        if data["type"] != "explain" {
            return None;
        }
        Some((comm_id, data["address"].as_str().unwrap_or("")))
    }

    /// The open comms' ids.
    pub fn ids(&self) -> Vec<String> {
        self.open.clone()
    }

    fn is_open(&self, comm_id: &str) -> bool {
        self.open.iter().any(|c| c == comm_id)
    }

    /// Adds the open comms to a comm_info_reply's `comms` when it asks for this target (or
    /// for every target).
    pub fn add_info(&self, target_name: &str, comms: &mut Value) {
        if target_name.is_empty() || target_name == SHEET_TARGET {
            for id in &self.open {
                comms[id.as_str()] = json!({"target_name": SHEET_TARGET});
            }
        }
    }

    /// Tells every open comm which cells a request changed.
    pub fn update<C>(&self, sheet: &LiveSheet<C>, report: &Report, mut publish: impl FnMut(Value)) {
        if self.open.is_empty() || report.touched.is_empty() {
            return;
        }
        let data = sheet.update_message(report);
        for comm_id in &self.open {
            publish(json!({"comm_id": comm_id, "data": data}));
        }
    }
}

fn snapshot<C>(comm_id: &str, sheet: &LiveSheet<C>) -> Value {
    let data = json!({"type": "snapshot", "sheet": sheet.wire_snapshot()});
    json!({"comm_id": comm_id, "data": data})
}
