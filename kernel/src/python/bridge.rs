//! The native functions of `pysheets_kernel._native`: how Python code publishes output and asks for input.
//!
//! It reaches the kernel through one process-wide `Bridge`, set once before Python starts:
//! CPython calls these functions with no other context. The bridge buffers stdout/stderr and
//! drops the output of silent requests; the messages themselves go into a [`Sink`], which the
//! kernel core implements over the wire protocol (this layer does not know it).

use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often buffered output is sent while a cell runs (ipykernel flushes every 0.2 s).
pub const STREAM_FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// The most text one stream message carries. A writer that gets this far ahead of the flusher
/// hands its text over and waits until the socket has it: a cell printing without end runs at
/// the pace output can be sent, in bounded memory, instead of piling it up.
pub const STREAM_CHUNK: usize = 64 * 1024;

/// How fast a cell's printed text leaves at most (bytes a second). Handing text to libzmq never
/// blocks, so without a pace a cell printing without end queues it faster than any frontend
/// reads (measured: 1.7 GB in 8 s with a jupyter_client reading all the while); at this pace
/// frontends keep up, and no notebook shows more than this usefully anyway.
pub const STREAM_RATE: f64 = 32.0 * 1024.0 * 1024.0;

/// The text sent in the current second, to keep [`STREAM_RATE`].
struct Pace {
    since: Instant,
    bytes: usize,
}

impl Pace {
    /// Counts `bytes` more; returns how long to wait to stay within the rate.
    fn after(&mut self, bytes: usize) -> Duration {
        let now = Instant::now();
        if now.duration_since(self.since) >= Duration::from_secs(1) {
            self.since = now;
            self.bytes = 0;
        }
        self.bytes += bytes;
        let due = self.since + Duration::from_secs_f64(self.bytes as f64 / STREAM_RATE);
        due.saturating_duration_since(now)
    }
}

/// Where what Python publishes goes: the kernel core implements it with the protocol's outbox
/// (parent header of the request being served, IOPub batches, the stdin channel). Called on
/// the Python thread, and by the stream flusher every [`STREAM_FLUSH_INTERVAL`].
pub trait Sink: Send + Sync {
    /// Queues an IOPub message of type `msg_type` with this content for the request being
    /// served.
    fn publish(&self, msg_type: &str, content: Value);
    /// [`Sink::publish`] with the content already as JSON text (the common case of re-run
    /// batches).
    fn publish_json(&self, msg_type: &str, content: Bytes);
    /// A sheet cell's value under its display id (`pysheets-B3`), as JSON text: a re-run's
    /// `update_display_data` the sink may send later in the request (the kernel's sink holds
    /// them while the grid is told first). Users' own displays never come this way.
    fn publish_cell_json(&self, msg_type: &str, content: Bytes) {
        self.publish_json(msg_type, content);
    }
    /// [`Sink::publish`] with the message's own metadata and binary buffers (comms).
    fn publish_message(&self, msg_type: &str, content: Value, metadata: Value, buffers: Vec<Bytes>);
    /// Hands what is queued to the socket now.
    fn flush(&self);
    /// Waits until everything flushed so far has been handed to the socket (a fast writer's
    /// backpressure). Nothing to wait for where output does not go to a socket.
    fn wait_sent(&self) {}
    /// Asks the frontend that sent the running request for a line of input (answers to an
    /// earlier question are dropped first). `Err` says why input is not available.
    fn ask_input(&self, prompt: &str, password: bool) -> Result<(), &'static str>;
    /// Waits at most `timeout` for the answer to [`Sink::ask_input`].
    fn input_reply(&self, timeout: Duration) -> InputReply;
}

/// What [`Sink::input_reply`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputReply {
    Value(String),
    /// Nothing yet: wait again (after checking for an interrupt).
    Pending,
    /// The channel is gone: no answer will come.
    Closed,
}

#[derive(Default)]
struct RequestState {
    /// A silent request publishes no output at all.
    muted: bool,
    /// Re-run cells print nowhere: their output area shows their value, not a log.
    streams_muted: bool,
    stdout: String,
    stderr: String,
}

pub struct Bridge {
    sink: Arc<dyn Sink>,
    state: Mutex<RequestState>,
    pace: Mutex<Pace>,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

/// Sets where Python's output goes, and starts the stream flusher. Once, before Python starts.
pub fn install(sink: Arc<dyn Sink>) {
    let _ = BRIDGE.set(Bridge {
        sink,
        state: Mutex::new(RequestState::default()),
        pace: Mutex::new(Pace {
            since: Instant::now(),
            bytes: 0,
        }),
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

    /// A request starts: a `muted` (silent) one publishes no output. The sink is told whose
    /// request it is by the core.
    pub fn begin(&self, muted: bool) {
        self.flush();
        let mut state = self.lock();
        state.muted = muted;
    }

    /// The request ends: what is buffered is sent.
    pub fn end(&self) {
        self.flush();
        let mut state = self.lock();
        state.muted = false;
        state.streams_muted = false;
    }

    /// Re-run cells print nowhere: their output area shows their value, not a log.
    pub fn set_streams_muted(&self, muted: bool) {
        let mut state = self.lock();
        self.queue_streams(&mut state);
        state.streams_muted = muted;
    }

    /// Buffers text for its stream. Returns how many bytes it handed over because the buffer
    /// was full (0 if none): the writer should then [`Bridge::wait_sent`] them (without
    /// holding the GIL).
    pub fn write_stream(&self, name: &str, text: &str) -> usize {
        let mut state = self.lock();
        if state.muted || state.streams_muted {
            return 0;
        }
        if name == "stderr" {
            state.stderr.push_str(text);
        } else {
            state.stdout.push_str(text);
        }
        let buffered = state.stdout.len() + state.stderr.len();
        if buffered < STREAM_CHUNK {
            return 0;
        }
        self.queue_streams(&mut state);
        self.sink.flush();
        buffered
    }

    /// Returns once what has been flushed is on the socket, and the text sent keeps within
    /// [`STREAM_RATE`].
    pub fn wait_sent(&self, bytes: usize) {
        self.sink.wait_sent();
        let wait = self
            .pace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .after(bytes);
        // In short sleeps: the writer's thread checks for an interrupt in between.
        if !wait.is_zero() {
            std::thread::sleep(wait.min(Duration::from_millis(100)));
        }
    }

    /// Sends buffered text and queued messages now (`sys.stdout.flush()`, end of a request).
    pub fn flush(&self) {
        let mut state = self.lock();
        self.queue_streams(&mut state);
        self.sink.flush();
    }

    fn queue_streams(&self, state: &mut RequestState) {
        if state.stdout.is_empty() && state.stderr.is_empty() {
            return;
        }
        for (name, text) in [
            ("stdout", std::mem::take(&mut state.stdout)),
            ("stderr", std::mem::take(&mut state.stderr)),
        ] {
            for piece in chunks(&text, STREAM_CHUNK) {
                self.sink
                    .publish("stream", json!({"name": name, "text": piece}));
            }
        }
    }

    pub fn publish(&self, msg_type: &str, content: Value) {
        if let Some(_state) = self.before_output(msg_type) {
            self.sink.publish(msg_type, content);
        }
    }

    /// [`Bridge::publish`] with the content already as JSON text.
    pub fn publish_json(&self, msg_type: &str, content: Bytes) {
        if let Some(_state) = self.before_output(msg_type) {
            self.sink.publish_json(msg_type, content);
        }
    }

    /// [`Bridge::publish_json`] for a sheet cell's value ([`Sink::publish_cell_json`]).
    pub fn publish_cell_json(&self, msg_type: &str, content: Bytes) {
        if let Some(_state) = self.before_output(msg_type) {
            self.sink.publish_cell_json(msg_type, content);
        }
    }

    /// Whether a message of `msg_type` is published now (not in a silent request), with the
    /// buffered text sent first: output written before a display must show before it. The
    /// lock is held until the message is queued, so nothing comes in between.
    fn before_output(&self, msg_type: &str) -> Option<std::sync::MutexGuard<'_, RequestState>> {
        let mut state = self.lock();
        if state.muted && OUTPUT_TYPES.contains(&msg_type) {
            return None;
        }
        self.queue_streams(&mut state);
        Some(state)
    }

    /// Asks the frontend for input and waits for the answer, staying interruptible.
    fn request_input(&self, py: Python<'_>, prompt: &str, password: bool) -> PyResult<String> {
        self.flush();
        self.sink
            .ask_input(prompt, password)
            .map_err(PyRuntimeError::new_err)?;
        loop {
            match py.detach(|| self.sink.input_reply(Duration::from_millis(50))) {
                InputReply::Value(value) => return Ok(value),
                InputReply::Pending => py.check_signals()?,
                InputReply::Closed => {
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
    let bridge = bridge()?;
    if let Some(_state) = bridge.before_output(msg_type) {
        let buffers = buffers.into_iter().map(Bytes::from).collect();
        bridge
            .sink
            .publish_message(msg_type, content, metadata, buffers);
    }
    Ok(())
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries.
fn chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.floor_char_boundary(max);
        if end == 0 {
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// How deep [`try_py_to_json`] goes: as deep as serde_json's reader goes (its recursion
/// limit), and never so deep that converting a self-containing or very deep value exhausts
/// the stack.
pub const MAX_JSON_DEPTH: usize = 128;

/// Why a Python value cannot be converted to JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("it is nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("it contains itself")]
    ContainsItself,
}

/// A Python value as JSON: dicts, lists, tuples, str, int, float, bool, None; anything else
/// as its `str()`. Converting directly saves a `json.dumps` and a parse per message.
pub fn try_py_to_json(obj: &Bound<'_, PyAny>) -> Result<Value, JsonError> {
    JsonConverter { path: Vec::new() }.convert(obj)
}

/// [`try_py_to_json`] for values the kernel's own Python code builds (payloads, error dicts):
/// a value that cannot be converted reads as a string saying why, never a crash.
pub fn py_to_json(obj: &Bound<'_, PyAny>) -> Value {
    try_py_to_json(obj).unwrap_or_else(|e| Value::String(format!("<not JSON: {e}>")))
}

struct JsonConverter {
    /// The containers being converted, outermost first: one met again is a cycle.
    path: Vec<*mut pyo3::ffi::PyObject>,
}

impl JsonConverter {
    fn convert(&mut self, obj: &Bound<'_, PyAny>) -> Result<Value, JsonError> {
        use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
        Ok(if obj.is_none() {
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
            self.enter(obj)?;
            // A snapshot of the items: `str()` of a key or a value runs Python code, which
            // may change the dict (iterating it then would panic).
            let items = d.items();
            let mut map = serde_json::Map::with_capacity(items.len());
            for item in items.iter() {
                let (k, v) = match item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
                    Ok(pair) => pair,
                    Err(_) => continue,
                };
                let key = match k.cast::<PyString>() {
                    Ok(s) => s.to_string_lossy().into_owned(),
                    Err(_) => k.to_string(),
                };
                let value = self.convert(&v)?;
                map.insert(key, value);
            }
            self.path.pop();
            Value::Object(map)
        } else if let Ok(l) = obj.cast::<PyList>() {
            self.array(obj, l.iter())?
        } else if let Ok(t) = obj.cast::<PyTuple>() {
            self.array(obj, t.iter())?
        } else {
            Value::String(obj.to_string())
        })
    }

    /// A list or tuple `obj` with these items, as a JSON array.
    fn array<'py>(
        &mut self,
        obj: &Bound<'py, PyAny>,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
    ) -> Result<Value, JsonError> {
        self.enter(obj)?;
        let items = items.map(|v| self.convert(&v)).collect::<Result<_, _>>()?;
        self.path.pop();
        Ok(Value::Array(items))
    }

    /// Starts converting a container (the caller pops it when done).
    fn enter(&mut self, obj: &Bound<'_, PyAny>) -> Result<(), JsonError> {
        if self.path.len() >= MAX_JSON_DEPTH {
            return Err(JsonError::TooDeep);
        }
        let ptr = obj.as_ptr();
        if self.path.contains(&ptr) {
            return Err(JsonError::ContainsItself);
        }
        self.path.push(ptr);
        Ok(())
    }
}

/// A cell's value under its address's display id: new (`display_data`) or in place.
fn publish_display(update: bool, display_id: &str, data: Value, metadata: Value) -> PyResult<()> {
    let content = json!({
        "data": data,
        "metadata": metadata,
        "transient": {"display_id": display_id},
    });
    let json = serde_json::to_vec(&content).map_err(|e| PyValueError::new_err(e.to_string()))?;
    bridge()?.publish_cell_json(display_kind(update), Bytes::from(json));
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
    let json = |what: &str, obj| {
        try_py_to_json(obj).map_err(|e| {
            PyValueError::new_err(format!("the display {what} cannot be sent as JSON: {e}"))
        })
    };
    publish_display(
        update,
        display_id,
        json("data", data)?,
        json("metadata", metadata)?,
    )
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
    bridge()?.publish_cell_json(display_kind(update), Bytes::from(json));
    Ok(())
}

#[pyfunction]
fn write_stream(py: Python<'_>, name: &str, text: &str) -> PyResult<()> {
    let bridge = bridge()?;
    let handed = bridge.write_stream(name, text);
    if handed > 0 {
        // Other threads run, and an interrupt lands, while the socket catches up.
        py.detach(|| bridge.wait_sent(handed));
    }
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

/// Adds the bridge's functions to the extension module (`pysheets_kernel._native`).
pub fn add_functions(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(publish, m)?)?;
    m.add_function(wrap_pyfunction!(publish_value, m)?)?;
    m.add_function(wrap_pyfunction!(publish_text_value, m)?)?;
    m.add_function(wrap_pyfunction!(publish_message, m)?)?;
    m.add_function(wrap_pyfunction!(write_stream, m)?)?;
    m.add_function(wrap_pyfunction!(flush_streams, m)?)?;
    m.add_function(wrap_pyfunction!(request_input, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn the_pace_keeps_printed_text_within_the_rate() {
        let mut pace = Pace {
            since: Instant::now(),
            bytes: 0,
        };
        assert!(pace.after(1024) < Duration::from_millis(1));
        let second = pace.after(STREAM_RATE as usize);
        assert!(second > Duration::from_millis(900) && second < Duration::from_millis(1010));
    }

    #[test]
    fn chunks_cut_at_character_boundaries_and_lose_nothing() {
        let text = "a€b€€c".repeat(100);
        for max in [1, 2, 3, 4, 7, 64, 10_000] {
            let pieces: Vec<&str> = chunks(&text, max).collect();
            assert_eq!(pieces.concat(), text, "max {max}");
            assert!(pieces.iter().all(|p| p.len() <= max.max(3)), "max {max}");
        }
        assert_eq!(chunks("", 8).count(), 0);
    }

    /// Evaluates `code` (which leaves its result in `v`) and converts `v`.
    fn convert(code: &str) -> Result<Value, JsonError> {
        Python::initialize();
        Python::attach(|py| {
            let globals = pyo3::types::PyDict::new(py);
            py.run(&CString::new(code).unwrap(), Some(&globals), None)
                .unwrap();
            try_py_to_json(&globals.get_item("v").unwrap().unwrap())
        })
    }

    #[test]
    fn values_convert_as_json() {
        let got = convert("v = {'a': [1, 2.5, None, True], 'b': ('x', 2**70), 3: float('nan')}");
        assert_eq!(
            got,
            Ok(
                json!({"a": [1, 2.5, null, true], "b": ["x", "1180591620717411303424"],
                      "3": null})
            )
        );
    }

    #[test]
    fn a_value_that_contains_itself_is_refused_not_followed() {
        assert_eq!(
            convert("v = []; v.append(v)"),
            Err(JsonError::ContainsItself)
        );
        assert_eq!(
            convert("v = {}; v['v'] = [v]"),
            Err(JsonError::ContainsItself)
        );
        // The same list twice, side by side, is no cycle.
        assert_eq!(convert("a = [1]; v = [a, a]"), Ok(json!([[1], [1]])));
    }

    #[test]
    fn a_deep_value_is_refused_without_exhausting_the_stack() {
        let deep = "v = []\nfor _ in range(100000):\n    v = [v]";
        assert_eq!(convert(deep), Err(JsonError::TooDeep));
        let limit = format!(
            "v = []\nfor _ in range({}):\n    v = [v]",
            MAX_JSON_DEPTH - 1
        );
        assert!(convert(&limit).is_ok());
        assert_eq!(
            py_to_json_of("v = []; v.append(v)"),
            json!("<not JSON: it contains itself>")
        );
    }

    fn py_to_json_of(code: &str) -> Value {
        Python::initialize();
        Python::attach(|py| {
            let globals = pyo3::types::PyDict::new(py);
            py.run(&CString::new(code).unwrap(), Some(&globals), None)
                .unwrap();
            py_to_json(&globals.get_item("v").unwrap().unwrap())
        })
    }
}
