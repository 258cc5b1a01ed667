//! What the Python layer publishes, as Jupyter messages: [`WireSink`] implements
//! [`bridge::Sink`] with the protocol's outbox.
//!
//! Messages name the request being served as parent, and are handed to the IOPub task in
//! batches (64 messages, every 50 ms through the bridge's flusher, at the end of a request, and
//! before the shell sends anything itself): one wake-up per message cost more than the message
//! in large re-run batches.

use crate::protocol::sockets::{Outbox, Publish};
use crate::protocol::wire::{Identity, Message};
use crate::python::bridge::{self, InputReply};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How many messages wait at most before they are handed over.
const BATCH: usize = 64;

#[derive(Default)]
struct State {
    /// The request being served: parent of everything published, and stdin's addressee.
    request: Option<Message>,
    /// The last request served: parent of what threads and child processes print between
    /// requests, as in ipykernel (a message with no parent is dropped by every notebook).
    last: Option<Message>,
    allow_stdin: bool,
    /// Messages not yet handed to the IOPub task.
    pending: Vec<Message>,
    /// While the grid is told first ([`WireSink::hold_updates`]): the re-run cells'
    /// `update_display_data`, sent after the grid's update.
    held: Option<Vec<Message>>,
}

pub struct WireSink {
    identity: Identity,
    outbox: Outbox,
    state: Mutex<State>,
    input_replies: Mutex<Receiver<Message>>,
}

impl WireSink {
    pub fn new(identity: Identity, outbox: Outbox, input_replies: Receiver<Message>) -> Self {
        WireSink {
            identity,
            outbox,
            state: Mutex::new(State::default()),
            input_replies: Mutex::new(input_replies),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything published from now on belongs to `request`.
    pub fn begin(&self, request: &Message, allow_stdin: bool) {
        let mut state = self.lock();
        self.send_pending(&mut state);
        state.request = Some(request.clone());
        state.allow_stdin = allow_stdin;
    }

    /// The request is answered: what is published now belongs to it as the last one.
    pub fn end(&self) {
        let mut state = self.lock();
        self.send_pending(&mut state);
        state.last = state.request.take();
        state.allow_stdin = false;
    }

    /// Until [`WireSink::release_updates`], cells' `update_display_data` wait: a re-run of
    /// 10,000 cells sends as many, and a frontend handles them one by one (JupyterLab about
    /// 1 ms each), so the grid's one update, sent between, shows the new values first.
    pub fn hold_updates(&self) {
        self.lock().held.get_or_insert_with(Vec::new);
    }

    /// Sends the held messages after what was published so far.
    pub fn release_updates(&self) {
        let mut state = self.lock();
        if let Some(held) = state.held.take() {
            self.send_pending(&mut state);
            if !held.is_empty() {
                let _ = self.outbox.iopub.send(Publish::Batch(held));
            }
        }
    }

    /// Queues a message; `holdable` when it is a cell's value update.
    fn queue(&self, holdable: bool, build: impl FnOnce(&Identity, Option<&Message>) -> Message) {
        let mut state = self.lock();
        let msg = build(
            &self.identity,
            state.request.as_ref().or(state.last.as_ref()),
        );
        if holdable {
            if let Some(held) = state.held.as_mut() {
                held.push(msg);
                return;
            }
        }
        state.pending.push(msg);
        if state.pending.len() >= BATCH {
            self.send_pending(&mut state);
        }
    }

    fn send_pending(&self, state: &mut State) {
        if !state.pending.is_empty() {
            let batch = std::mem::replace(&mut state.pending, Vec::with_capacity(BATCH));
            let _ = self.outbox.iopub.send(Publish::Batch(batch));
        }
    }
}

impl bridge::Sink for WireSink {
    fn publish(&self, msg_type: &str, content: Value) {
        self.queue(false, |identity, request| {
            identity.broadcast(request.map(|r| &r.header), msg_type, content)
        });
    }

    fn publish_json(&self, msg_type: &str, content: Bytes) {
        self.queue(false, |identity, request| {
            identity.broadcast_json(request.map(|r| &r.header), msg_type, content)
        });
    }

    fn publish_cell_json(&self, msg_type: &str, content: Bytes) {
        let holdable = msg_type == "update_display_data";
        self.queue(holdable, |identity, request| {
            identity.broadcast_json(request.map(|r| &r.header), msg_type, content)
        });
    }

    fn publish_message(
        &self,
        msg_type: &str,
        content: Value,
        metadata: Value,
        buffers: Vec<Bytes>,
    ) {
        self.queue(false, |identity, request| {
            let mut msg = identity.broadcast(request.map(|r| &r.header), msg_type, content);
            msg.metadata = metadata;
            msg.buffers = buffers;
            msg
        });
    }

    fn flush(&self) {
        let mut state = self.lock();
        self.send_pending(&mut state);
    }

    fn wait_sent(&self) {
        self.outbox.flush_blocking();
    }

    fn ask_input(&self, prompt: &str, password: bool) -> Result<(), &'static str> {
        let msg = {
            let state = self.lock();
            let request = state
                .request
                .as_ref()
                .ok_or("input() is only available while a cell runs")?;
            if !state.allow_stdin {
                return Err(
                    "input() is not available: this frontend does not accept input requests",
                );
            }
            let content = json!({"prompt": prompt, "password": password});
            self.identity.reply(request, "input_request", content)
        };
        let replies = self.input_replies.lock().unwrap_or_else(|p| p.into_inner());
        while replies.try_recv().is_ok() {} // answers to a question nobody asks any more
        let _ = self.outbox.stdin.send(msg);
        Ok(())
    }

    fn input_reply(&self, timeout: Duration) -> InputReply {
        let replies = self.input_replies.lock().unwrap_or_else(|p| p.into_inner());
        match replies.recv_timeout(timeout) {
            Ok(reply) if reply.msg_type() == "input_reply" => {
                InputReply::Value(reply.str_field("value").to_string())
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) => InputReply::Pending,
            Err(RecvTimeoutError::Disconnected) => InputReply::Closed,
        }
    }
}
