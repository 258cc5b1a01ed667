//! The native module `_pysheets_native`: how Python code publishes output and asks for input.
//!
//! It reaches the kernel through one process-wide `Bridge`, set once before Python starts:
//! CPython calls these functions with no other context.

use crate::protocol::sockets::{Outbox, Publish};
use crate::protocol::wire::{Header, Identity, Message};
use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use serde_json::{json, Value};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How often buffered output is sent while a cell runs (ipykernel flushes every 0.2 s).
pub const STREAM_FLUSH_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Default)]
struct RequestState {
    /// The request being served: parent of everything published, and stdin's addressee.
    request: Option<Message>,
    /// A silent request publishes no output at all.
    muted: bool,
    /// Re-run cells print nowhere: their output area shows their value, not a log.
    streams_muted: bool,
    allow_stdin: bool,
    stdout: String,
    stderr: String,
    /// Messages not yet handed to the IOPub task: sent in batches, since waking that task
    /// once per message cost more than building the message in large re-run batches.
    pending: Vec<Message>,
}

/// How many messages wait at most before they are handed over (they also go every
/// `STREAM_FLUSH_INTERVAL`, at the end of each request, and before anything else is sent).
const BATCH: usize = 64;

pub struct Bridge {
    identity: Identity,
    outbox: Outbox,
    state: Mutex<RequestState>,
    input_replies: Mutex<Receiver<Message>>,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

pub fn install(identity: Identity, outbox: Outbox, input_replies: Receiver<Message>) {
    let _ = BRIDGE.set(Bridge {
        identity,
        outbox,
        state: Mutex::new(RequestState::default()),
        input_replies: Mutex::new(input_replies),
    });
    std::thread::Builder::new()
        .name("stream-flush".into())
        .spawn(|| loop {
            std::thread::sleep(STREAM_FLUSH_INTERVAL);
            if let Some(b) = BRIDGE.get() {
                b.flush();
            }
        })
        .expect("spawning the stream flusher");
}

pub fn get() -> Option<&'static Bridge> {
    BRIDGE.get()
}

const OUTPUT_TYPES: &[&str] = &[
    "stream",
    "display_data",
    "update_display_data",
    "execute_result",
    "error",
    "clear_output",
];

impl Bridge {
    fn lock(&self) -> std::sync::MutexGuard<'_, RequestState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything published from now on belongs to `request`.
    pub fn begin(&self, request: &Message, muted: bool, allow_stdin: bool) {
        self.flush();
        let mut state = self.lock();
        state.request = Some(request.clone());
        state.muted = muted;
        state.allow_stdin = allow_stdin;
    }

    pub fn end(&self) {
        self.flush();
        let mut state = self.lock();
        state.request = None;
        state.muted = false;
        state.streams_muted = false;
        state.allow_stdin = false;
    }

    /// Re-run cells print nowhere: their output area shows their value, not a log.
    pub fn set_streams_muted(&self, muted: bool) {
        let mut state = self.lock();
        self.queue_streams(&mut state);
        state.streams_muted = muted;
    }

    pub fn write_stream(&self, name: &str, text: &str) {
        let mut state = self.lock();
        if state.muted || state.streams_muted {
            return;
        }
        if name == "stderr" {
            state.stderr.push_str(text);
        } else {
            state.stdout.push_str(text);
        }
    }

    /// Sends buffered text and queued messages now (`sys.stdout.flush()`, end of a request).
    pub fn flush(&self) {
        let mut state = self.lock();
        self.queue_streams(&mut state);
        self.send_pending(&mut state);
    }

    fn queue_streams(&self, state: &mut RequestState) {
        if state.stdout.is_empty() && state.stderr.is_empty() {
            return;
        }
        let parent = state.request.as_ref().map(|r| r.header.clone());
        for (name, text) in [
            ("stdout", std::mem::take(&mut state.stdout)),
            ("stderr", std::mem::take(&mut state.stderr)),
        ] {
            if !text.is_empty() {
                let content = json!({"name": name, "text": text});
                let msg = self.identity.broadcast(parent.as_ref(), "stream", content);
                state.pending.push(msg);
            }
        }
    }

    fn send_pending(&self, state: &mut RequestState) {
        if !state.pending.is_empty() {
            let batch = std::mem::replace(&mut state.pending, Vec::with_capacity(BATCH));
            let _ = self.outbox.iopub.send(Publish::Batch(batch));
        }
    }

    pub fn publish(&self, msg_type: &str, content: Value) {
        self.queue(msg_type, |identity, parent| {
            identity.broadcast(parent, msg_type, content)
        });
    }

    /// [`Bridge::publish`] with the content already as JSON text.
    pub fn publish_json(&self, msg_type: &str, content: Bytes) {
        self.queue(msg_type, |identity, parent| {
            identity.broadcast_json(parent, msg_type, content)
        });
    }

    fn queue(
        &self,
        msg_type: &str,
        build: impl FnOnce(&Identity, Option<&Arc<Header>>) -> Message,
    ) {
        let mut state = self.lock();
        if state.muted && OUTPUT_TYPES.contains(&msg_type) {
            return;
        }
        // Output written before a display must show before it.
        self.queue_streams(&mut state);
        let parent = state.request.as_ref().map(|r| r.header.clone());
        let msg = build(&self.identity, parent.as_ref());
        state.pending.push(msg);
        if state.pending.len() >= BATCH {
            self.send_pending(&mut state);
        }
    }

    fn input_request(&self, prompt: &str, password: bool) -> Result<Message, &'static str> {
        let state = self.lock();
        let request = state
            .request
            .as_ref()
            .ok_or("input() is only available while a cell runs")?;
        if !state.allow_stdin {
            return Err("input() is not available: this frontend does not accept input requests");
        }
        let content = json!({"prompt": prompt, "password": password});
        Ok(self.identity.reply(request, "input_request", content))
    }

    /// Sends an input_request to the frontend that sent the running cell and waits for its
    /// answer, staying interruptible.
    fn request_input(&self, py: Python<'_>, prompt: &str, password: bool) -> PyResult<String> {
        let msg = self
            .input_request(prompt, password)
            .map_err(PyRuntimeError::new_err)?;
        self.flush();
        let replies = || self.input_replies.lock().unwrap_or_else(|p| p.into_inner());
        while replies().try_recv().is_ok() {} // answers to a question nobody asks any more
        let _ = self.outbox.stdin.send(msg);
        loop {
            match py.detach(|| replies().recv_timeout(Duration::from_millis(50))) {
                Ok(reply) if reply.msg_type() == "input_reply" => {
                    return Ok(reply.str_field("value").to_string());
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => py.check_signals()?,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err("the stdin channel is closed"))
                }
            }
        }
    }
}

fn bridge() -> PyResult<&'static Bridge> {
    BRIDGE
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("pysheets kernel bridge is not installed"))
}

#[pyfunction]
fn publish(msg_type: &str, content: &str) -> PyResult<()> {
    let content: Value =
        serde_json::from_str(content).map_err(|e| PyValueError::new_err(e.to_string()))?;
    bridge()?.publish(msg_type, content);
    Ok(())
}

/// `publish` with the message's own metadata and binary buffers (comms of ipywidgets).
#[pyfunction]
fn publish_message(
    msg_type: &str,
    content: &str,
    metadata: &str,
    buffers: Vec<Vec<u8>>,
) -> PyResult<()> {
    let parse = |text: &str| {
        serde_json::from_str::<Value>(text).map_err(|e| PyValueError::new_err(e.to_string()))
    };
    let (content, metadata) = (parse(content)?, parse(metadata)?);
    bridge()?.queue(msg_type, |identity, parent| {
        let mut msg = identity.broadcast(parent, msg_type, content);
        msg.metadata = metadata;
        msg.buffers = buffers.into_iter().map(Bytes::from).collect();
        msg
    });
    Ok(())
}

/// A Python value as JSON: dicts, lists, tuples, str, int, float, bool, None; anything else
/// as its `str()`. Converting directly saves a `json.dumps` and a parse per message.
pub fn py_to_json(obj: &Bound<'_, PyAny>) -> Value {
    use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
    if obj.is_none() {
        Value::Null
    } else if let Ok(s) = obj.cast::<PyString>() {
        Value::String(s.to_string_lossy().into_owned())
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Value::Bool(b.is_true())
    } else if obj.is_instance_of::<PyInt>() {
        obj.extract::<i64>()
            .map(Value::from)
            .or_else(|_| obj.extract::<u64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(obj.to_string()))
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null)
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_string_lossy().into_owned(),
                Err(_) => k.to_string(),
            };
            map.insert(key, py_to_json(&v));
        }
        Value::Object(map)
    } else if let Ok(l) = obj.cast::<PyList>() {
        Value::Array(l.iter().map(|v| py_to_json(&v)).collect())
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        Value::Array(t.iter().map(|v| py_to_json(&v)).collect())
    } else {
        Value::String(obj.to_string())
    }
}

/// A cell's value under its address's display id: new (`display_data`) or in place.
fn publish_display(update: bool, display_id: &str, data: Value, metadata: Value) -> PyResult<()> {
    let content = json!({
        "data": data,
        "metadata": metadata,
        "transient": {"display_id": display_id},
    });
    bridge()?.publish(display_kind(update), content);
    Ok(())
}

fn display_kind(update: bool) -> &'static str {
    if update {
        "update_display_data"
    } else {
        "display_data"
    }
}

#[pyfunction]
fn publish_value(
    update: bool,
    display_id: &str,
    data: &Bound<'_, PyAny>,
    metadata: &Bound<'_, PyAny>,
) -> PyResult<()> {
    publish_display(update, display_id, py_to_json(data), py_to_json(metadata))
}

/// `publish_value` for a value shown as plain text only (numbers, booleans, None): the common
/// case of re-run batches, so the content is written straight to JSON text.
#[pyfunction]
fn publish_text_value(update: bool, display_id: &str, text: &str) -> PyResult<()> {
    let mut json = Vec::with_capacity(72 + text.len() + display_id.len());
    json.extend_from_slice(br#"{"data":{"text/plain":"#);
    let _ = serde_json::to_writer(&mut json, text);
    json.extend_from_slice(br#"},"metadata":{},"transient":{"display_id":"#);
    let _ = serde_json::to_writer(&mut json, display_id);
    json.extend_from_slice(b"}}");
    bridge()?.publish_json(display_kind(update), Bytes::from(json));
    Ok(())
}

#[pyfunction]
fn write_stream(name: &str, text: &str) -> PyResult<()> {
    bridge()?.write_stream(name, text);
    Ok(())
}

#[pyfunction]
fn flush_streams() -> PyResult<()> {
    bridge()?.flush();
    Ok(())
}

#[pyfunction]
fn request_input(py: Python<'_>, prompt: &str, password: bool) -> PyResult<String> {
    bridge()?.request_input(py, prompt, password)
}

#[pymodule]
pub fn _pysheets_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(publish, m)?)?;
    m.add_function(wrap_pyfunction!(publish_value, m)?)?;
    m.add_function(wrap_pyfunction!(publish_text_value, m)?)?;
    m.add_function(wrap_pyfunction!(publish_message, m)?)?;
    m.add_function(wrap_pyfunction!(write_stream, m)?)?;
    m.add_function(wrap_pyfunction!(flush_streams, m)?)?;
    m.add_function(wrap_pyfunction!(request_input, m)?)?;
    Ok(())
}
