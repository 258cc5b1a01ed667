//! A request's output as the sheet writes it: the bridge (in order with what Python
//! publishes), plus a long recompute's progress, shown to the grid's comms and, for
//! frontends without the grid, as a transient line in the output of the cell being run.

use super::live_sheet::Output;
use crate::protocol::sockets::Outbox;
use crate::protocol::wire::{Identity, Message};
use crate::python::bridge::{self, Bridge};
use crate::sheet::Address;
use serde_json::{json, Value};
use std::cell::Cell;

/// Publishes an IOPub message of the kernel's own under `parent`, after what Python has
/// published through the bridge so far: output written before a message shows before it.
pub fn publish_after_python(
    identity: &Identity,
    outbox: &Outbox,
    parent: &Message,
    msg_type: &str,
    content: Value,
) {
    if let Some(b) = bridge::get() {
        b.flush();
    }
    outbox.publish(identity.broadcast(Some(&parent.header), msg_type, content));
}

pub struct RequestOutput<'a> {
    bridge: Option<&'a Bridge>,
    identity: Identity,
    outbox: Outbox,
    request: &'a Message,
    /// The open `pysheets` comms.
    comms: Vec<String>,
    /// Whether this request's progress line was published (then it is updated, and blanked
    /// when the batch ends).
    line_shown: Cell<bool>,
}

impl<'a> RequestOutput<'a> {
    pub fn new(
        bridge: Option<&'a Bridge>,
        identity: Identity,
        outbox: Outbox,
        request: &'a Message,
        comms: Vec<String>,
    ) -> Self {
        RequestOutput {
            bridge,
            identity,
            outbox,
            request,
            comms,
            line_shown: Cell::new(false),
        }
    }

    /// Sent now, after what Python published so far (held re-run updates stay held).
    fn send(&self, msg_type: &str, content: Value) {
        publish_after_python(
            &self.identity,
            &self.outbox,
            self.request,
            msg_type,
            content,
        );
    }

    /// The line's own display id: one per request, so that a later batch's line never
    /// updates this one.
    fn display_id(&self) -> String {
        let id = self.request.header.get("msg_id").and_then(Value::as_str);
        format!("pysheets:progress:{}", id.unwrap_or(""))
    }
}

impl Output for RequestOutput<'_> {
    fn publish(&self, msg_type: &str, content: Value) {
        self.bridge.publish(msg_type, content);
    }

    fn mute_streams(&self, muted: bool) {
        self.bridge.mute_streams(muted);
    }

    fn progress(&self, done: usize, total: usize, running: Option<Address>) {
        let running_text = running.map(|a| a.to_string());
        for comm_id in &self.comms {
            let data = json!({
                "type": "progress",
                "done": done,
                "total": total,
                "running": running_text,
            });
            self.send("comm_msg", json!({"comm_id": comm_id, "data": data}));
        }
        let text = match running {
            Some(a) => format!(
                "recomputing: {done} of {total} cells done, running {a} (interrupt the kernel \
                 to stop; what has not run is marked stale)"
            ),
            // The batch ended: the line goes (an empty text is all an update can leave).
            None => String::new(),
        };
        let shown = self.line_shown.get();
        if running.is_none() && !shown {
            return;
        }
        let content = json!({
            "data": {"text/plain": text},
            "metadata": {},
            "transient": {"display_id": self.display_id()},
        });
        let kind = if shown {
            "update_display_data"
        } else {
            "display_data"
        };
        self.send(kind, content);
        self.line_shown.set(true);
    }
}
