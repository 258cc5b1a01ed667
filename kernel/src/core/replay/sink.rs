//! Where Python's output goes without a frontend: [`ReplaySink`] implements the bridge's
//! [`Sink`](bridge::Sink) with no frontend behind it.
//!
//! Cells' streams (`print`, warnings, tracebacks they print themselves) go to stderr, because
//! stdout carries the result alone, unless the caller silences them; `input()` fails at once,
//! because nobody could answer it. Everything else (values, errors, displays) goes nowhere,
//! or, while recording is on, into a list the caller takes: `pysheets run --out` writes it into
//! the notebook, as a frontend would have shown it.

use crate::python::bridge::{self, InputReply};
use bytes::Bytes;
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct ReplaySink {
    /// Streams are not written to stderr.
    quiet: AtomicBool,
    recording: AtomicBool,
    /// (msg_type, content as JSON text), in the order Python published them.
    recorded: Mutex<Vec<(String, String)>>,
}

/// What `input()` and `getpass()` raise in a replay (as a `RuntimeError`).
pub const NO_INPUT: &str =
    "input() is not available in a replay: there is no frontend to answer it";

impl ReplaySink {
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    pub fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// The messages recorded since the last call.
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, msg_type: &str, content: impl FnOnce() -> String) {
        if self.recording.load(Ordering::Relaxed) {
            let text = content();
            self.recorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((msg_type.to_string(), text));
        }
    }
}

impl bridge::Sink for ReplaySink {
    fn publish(&self, msg_type: &str, content: Value) {
        if msg_type == "stream" && !self.quiet.load(Ordering::Relaxed) {
            if let Some(text) = content["text"].as_str() {
                // A closed stderr is the caller's choice, not a reason to stop evaluating.
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
        self.record(msg_type, || content.to_string());
    }

    fn publish_json(&self, msg_type: &str, content: Bytes) {
        self.record(msg_type, || String::from_utf8_lossy(&content).into_owned());
    }

    fn publish_message(
        &self,
        msg_type: &str,
        content: Value,
        _metadata: Value,
        _buffers: Vec<Bytes>,
    ) {
        self.record(msg_type, || content.to_string());
    }

    fn flush(&self) {}

    fn ask_input(&self, _prompt: &str, _password: bool) -> Result<(), &'static str> {
        Err(NO_INPUT)
    }

    fn input_reply(&self, _timeout: Duration) -> InputReply {
        InputReply::Closed
    }
}
