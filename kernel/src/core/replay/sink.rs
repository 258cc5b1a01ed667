//! Where a replay's Python output goes: [`ReplaySink`] implements the bridge's
//! [`Sink`](bridge::Sink) with no frontend behind it.
//!
//! Cells' streams (`print`, warnings, tracebacks they print themselves) go to stderr, because
//! stdout carries the result alone; values and errors go nowhere, because the result holds
//! them; `input()` fails at once, because nobody could answer it.

use crate::python::bridge::{self, InputReply};
use bytes::Bytes;
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

pub struct ReplaySink;

/// What `input()` and `getpass()` raise in a replay (as a `RuntimeError`).
pub const NO_INPUT: &str =
    "input() is not available in a replay: there is no frontend to answer it";

impl bridge::Sink for ReplaySink {
    fn publish(&self, msg_type: &str, content: Value) {
        if msg_type != "stream" {
            return;
        }
        if let Some(text) = content["text"].as_str() {
            // A closed stderr is the caller's choice, not a reason to stop evaluating.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    fn publish_json(&self, _msg_type: &str, _content: Bytes) {}

    fn publish_message(
        &self,
        _msg_type: &str,
        _content: Value,
        _metadata: Value,
        _buffers: Vec<Bytes>,
    ) {
    }

    fn flush(&self) {}

    fn ask_input(&self, _prompt: &str, _password: bool) -> Result<(), &'static str> {
        Err(NO_INPUT)
    }

    fn input_reply(&self, _timeout: Duration) -> InputReply {
        InputReply::Closed
    }
}
