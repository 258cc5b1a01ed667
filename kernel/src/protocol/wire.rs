//! Jupyter messages as ZeroMQ frames: `[ids…, <IDS|MSG>, signature, header, parent, metadata,
//! content, buffers…]`, and building replies that point back at their request.

use super::signing::{SignatureError, Signer};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};

pub const DELIMITER: &[u8] = b"<IDS|MSG>";
pub const PROTOCOL_VERSION: &str = "5.4";

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("no <IDS|MSG> delimiter")]
    NoDelimiter,
    #[error("too few frames after the delimiter")]
    TooShort,
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("frame {0} is not a JSON object: {1}")]
    Json(&'static str, String),
    #[error("header has no string msg_type or msg_id")]
    NoMsgType,
}

/// A header as it goes on the wire (its JSON text) with its fields, parsed when first asked
/// for. Every output of a request carries the request's header as parent, and a re-run batch
/// sends thousands: the text is kept so it is never serialized again, and the kernel's own
/// headers are written straight to text.
#[derive(Debug, Default)]
pub struct Header {
    json: Bytes,
    fields: OnceLock<Value>,
}

impl Header {
    fn parsed(json: Bytes, fields: Value) -> Self {
        Header {
            json,
            fields: OnceLock::from(fields),
        }
    }

    /// `{}`: the parent of a message that answers nothing.
    pub fn empty() -> Self {
        Self::parsed(Bytes::from_static(b"{}"), json!({}))
    }

    pub fn json(&self) -> &Bytes {
        &self.json
    }

    pub fn fields(&self) -> &Value {
        self.fields
            .get_or_init(|| serde_json::from_slice(&self.json).unwrap_or_else(|_| json!({})))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields().get(key)
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl std::ops::Index<&str> for Header {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.fields()[key]
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub identities: Vec<Bytes>,
    /// Shared, not copied: every output of a request carries its header as parent.
    pub header: Arc<Header>,
    pub parent_header: Arc<Header>,
    pub metadata: Value,
    pub content: Value,
    /// The content already as JSON text, set instead of `content` (then `Null`) by the hot
    /// path of re-run batches: one allocation rather than a tree of them per message.
    pub raw_content: Option<Bytes>,
    pub buffers: Vec<Bytes>,
    /// Why a signed request with a readable header could not be read further (parent header,
    /// metadata or content not a JSON object, or nested too deep): `metadata` and `content`
    /// are then empty, and the request is answered with an error (see [`error_reply`]) rather
    /// than dropped, so that its client does not wait forever.
    pub invalid: Option<String>,
}

fn parse_dict(name: &'static str, frame: &[u8]) -> Result<Value, WireError> {
    match serde_json::from_slice::<Value>(frame) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(WireError::Json(name, format!("got {other}"))),
        Err(e) => Err(WireError::Json(name, e.to_string())),
    }
}

impl Message {
    /// Verifies the signature before any JSON is parsed.
    pub fn from_frames(frames: Vec<Bytes>, signer: &mut Signer) -> Result<Message, WireError> {
        let split = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or(WireError::NoDelimiter)?;
        if frames.len() < split + 6 {
            return Err(WireError::TooShort);
        }
        let mut frames = frames;
        let buffers = frames.split_off(split + 6);
        let dicts = frames.split_off(split + 1);
        frames.pop(); // the delimiter
        let identities = frames;
        let [sig, h, p, m, c]: [Bytes; 5] = dicts.try_into().map_err(|_| WireError::TooShort)?;
        signer.verify(&sig, [&h, &p, &m, &c])?;
        let header = parse_dict("header", &h)?;
        // Without a msg_id nobody could match a reply to it.
        let has = |key: &str| header.get(key).is_some_and(Value::is_string);
        if !has("msg_type") || !has("msg_id") {
            return Err(WireError::NoMsgType);
        }
        // From here on the request is known (id, type, session): what cannot be read is
        // reported to its client instead of dropping the request.
        let mut invalid = None;
        let mut dict = |name, frame: &[u8]| {
            parse_dict(name, frame)
                .map_err(|e| invalid.get_or_insert(e.to_string()).clone())
                .ok()
        };
        let parent_header = match dict("parent_header", &p) {
            Some(fields) => Header::parsed(p, fields),
            None => Header::empty(),
        };
        let metadata = dict("metadata", &m);
        let content = dict("content", &c);
        // Half a request is not acted on: both stay empty unless both were read.
        let (metadata, content) = match (metadata, content) {
            (Some(m), Some(c)) => (m, c),
            _ => (json!({}), json!({})),
        };
        Ok(Message {
            identities,
            header: Arc::new(Header::parsed(h, header)),
            parent_header: Arc::new(parent_header),
            metadata,
            content,
            raw_content: None,
            buffers,
            invalid,
        })
    }

    pub fn to_frames(&self, signer: &Signer) -> Vec<Bytes> {
        let h = self.header.json().clone();
        let p = self.parent_header.json().clone();
        let m = Bytes::from(serde_json::to_vec(&self.metadata).unwrap_or_default());
        let c = match &self.raw_content {
            Some(json) => json.clone(),
            None => Bytes::from(serde_json::to_vec(&self.content).unwrap_or_default()),
        };
        let sig = signer.sign([&h[..], &p[..], &m[..], &c[..]]);
        let mut frames = Vec::with_capacity(self.identities.len() + 6 + self.buffers.len());
        frames.extend(self.identities.iter().cloned());
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(sig));
        frames.extend([h, p, m, c]);
        frames.extend(self.buffers.iter().cloned());
        frames
    }

    pub fn msg_type(&self) -> &str {
        self.header
            .fields()
            .get("msg_type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A string field of the content, or "" when absent: clients may omit optional fields.
    pub fn str_field(&self, name: &str) -> &str {
        self.content.get(name).and_then(Value::as_str).unwrap_or("")
    }

    pub fn bool_field(&self, name: &str, default: bool) -> bool {
        self.content
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }
}

/// Message ids are the session id and a counter (as ipykernel does): unique, and cheaper than
/// a random UUID per message, which showed in profiles of large re-run batches.
fn next_message_number() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Appends the time now as RFC 3339 UTC with microseconds (`2026-11-25T18:26:26.123456Z`).
/// Formatting a whole date per message showed in profiles; the part up to the second is kept
/// and reused for the messages of the same second.
fn write_date(out: &mut String) {
    use std::cell::RefCell;
    use std::fmt::Write;
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    SECOND.with_borrow_mut(|(second, prefix)| {
        if *second != now.timestamp() {
            *second = now.timestamp();
            prefix.clear();
            let _ = write!(prefix, "{}", now.format("%Y-%m-%dT%H:%M:%S"));
        }
        out.push_str(prefix);
    });
    let _ = write!(out, ".{:06}Z", now.timestamp_subsec_micros().min(999_999));
}

/// Who the kernel says it is in the headers it writes.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session: String,
    pub username: String,
    /// The end of every header (the fields that never change), as JSON text.
    tail: String,
    /// `kernel.<session>.`: IOPub topics are this and the message type.
    topic: String,
}

impl Identity {
    pub fn new() -> Self {
        let session = uuid::Uuid::new_v4().to_string();
        let username = "pysheets".to_string();
        let fixed = json!({"session": session, "username": username, "version": PROTOCOL_VERSION});
        let tail = format!(",{}", &fixed.to_string()[1..]);
        let topic = format!("kernel.{session}.");
        Identity {
            session,
            username,
            tail,
            topic,
        }
    }

    /// A new header, written as text: built for every message.
    pub fn header(&self, msg_type: &str) -> Header {
        use std::fmt::Write;
        let mut text = String::with_capacity(96 + self.tail.len());
        // The session is a UUID and the date RFC 3339: neither needs escaping; msg_type might.
        let _ = write!(
            text,
            "{{\"msg_id\":\"{}_{}\",\"date\":\"",
            self.session,
            next_message_number(),
        );
        write_date(&mut text);
        let _ = write!(text, "\",\"msg_type\":{}", Value::from(msg_type));
        text.push_str(&self.tail);
        Header {
            json: Bytes::from(text),
            fields: OnceLock::new(),
        }
    }

    /// A reply on the request's socket: same identities, the request's header as parent.
    pub fn reply(&self, parent: &Message, msg_type: &str, content: Value) -> Message {
        Message {
            identities: parent.identities.clone(),
            header: Arc::new(self.header(msg_type)),
            parent_header: parent.header.clone(),
            metadata: Value::Object(Map::new()),
            content,
            raw_content: None,
            buffers: Vec::new(),
            invalid: None,
        }
    }

    /// The answer to a request that could not be read ([`Message::invalid`]): its
    /// `<type>_reply` with status "error" saying why. None for a readable request, or for a
    /// type that has no reply (comm messages).
    pub fn error_reply(&self, request: &Message) -> Option<Message> {
        let why = request.invalid.as_deref()?;
        let msg_type = request.msg_type();
        let kind = msg_type.strip_suffix("_request")?;
        let content = json!({
            "status": "error",
            "ename": "InvalidRequest",
            "evalue": format!("the kernel could not read this {msg_type}: {why}"),
            "traceback": [],
        });
        Some(self.reply(request, &format!("{kind}_reply"), content))
    }

    /// [`Identity::broadcast`] with the content already as JSON text.
    pub fn broadcast_json(
        &self,
        parent: Option<&Arc<Header>>,
        msg_type: &str,
        content: Bytes,
    ) -> Message {
        let mut msg = self.broadcast(parent, msg_type, Value::Null);
        msg.raw_content = Some(content);
        msg
    }

    /// An IOPub message; `parent` is the request it belongs to, when there is one.
    pub fn broadcast(
        &self,
        parent: Option<&Arc<Header>>,
        msg_type: &str,
        content: Value,
    ) -> Message {
        Message {
            identities: vec![Bytes::from([self.topic.as_str(), msg_type].concat())],
            header: Arc::new(self.header(msg_type)),
            parent_header: parent.cloned().unwrap_or_else(|| Arc::new(Header::empty())),
            metadata: json!({}),
            content,
            raw_content: None,
            buffers: Vec::new(),
            invalid: None,
        }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl From<Value> for Header {
        fn from(fields: Value) -> Self {
            Header::parsed(
                Bytes::from(serde_json::to_vec(&fields).unwrap_or_default()),
                fields,
            )
        }
    }

    fn request(signer: &Signer) -> Vec<Bytes> {
        let msg = Message {
            identities: vec![Bytes::from_static(b"client-1")],
            header: Arc::new(Header::from(
                json!({"msg_id": "m1", "msg_type": "execute_request",
                           "session": "s", "username": "u", "date": "", "version": "5.4"}),
            )),
            parent_header: Arc::new(Header::empty()),
            metadata: json!({"cellId": "c1"}),
            content: json!({"code": "1 + 1", "silent": false}),
            raw_content: None,
            buffers: vec![Bytes::from_static(b"raw buffer")],
            invalid: None,
        };
        msg.to_frames(signer)
    }

    #[test]
    fn round_trips_frames_with_identities_and_unsigned_buffers() {
        let mut signer = Signer::new("k");
        let frames = request(&signer);
        assert_eq!(frames[0].as_ref(), b"client-1");
        assert_eq!(frames[1].as_ref(), DELIMITER);
        let msg = Message::from_frames(frames, &mut signer).unwrap();
        assert_eq!(msg.msg_type(), "execute_request");
        assert_eq!(msg.str_field("code"), "1 + 1");
        assert!(!msg.bool_field("silent", true));
        assert_eq!(msg.buffers, vec![Bytes::from_static(b"raw buffer")]);
        assert_eq!(msg.identities, vec![Bytes::from_static(b"client-1")]);
    }

    #[test]
    fn tampered_content_is_refused() {
        let mut signer = Signer::new("k");
        let mut frames = request(&signer);
        let n = frames.len();
        frames[n - 2] = Bytes::from_static(b"{\"code\": \"import os\"}");
        assert!(matches!(
            Message::from_frames(frames, &mut signer),
            Err(WireError::Signature(SignatureError::Mismatch))
        ));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let mut signer = Signer::new("");
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert!(Message::from_frames(vec![b("x")], &mut signer).is_err());
        assert!(Message::from_frames(vec![b("<IDS|MSG>"), b("")], &mut signer).is_err());
        let bad_json = vec![b("<IDS|MSG>"), b(""), b("{"), b("{}"), b("{}"), b("{}")];
        assert!(matches!(
            Message::from_frames(bad_json, &mut signer),
            Err(WireError::Json("header", _))
        ));
        let no_type = vec![b("<IDS|MSG>"), b(""), b("{}"), b("{}"), b("{}"), b("{}")];
        assert!(matches!(
            Message::from_frames(no_type, &mut signer),
            Err(WireError::NoMsgType)
        ));
        let no_id = vec![
            b("<IDS|MSG>"),
            b(""),
            b("{\"msg_type\":\"kernel_info_request\"}"),
            b("{}"),
            b("{}"),
            b("{}"),
        ];
        assert!(matches!(
            Message::from_frames(no_id, &mut signer),
            Err(WireError::NoMsgType)
        ));
        let list = vec![
            b("<IDS|MSG>"),
            b(""),
            b("{\"msg_type\":\"x\",\"msg_id\":\"1\"}"),
            b("[]"),
            b("{}"),
            b("{}"),
        ];
        // The header names the request: it is kept, to be answered with an error.
        let msg = Message::from_frames(list, &mut signer).unwrap();
        assert!(msg.invalid.unwrap().contains("parent_header"));
    }

    #[test]
    fn a_signed_request_that_cannot_be_read_is_answered_with_an_error() {
        let mut signer = Signer::new("k");
        let mut frames = request(&signer);
        let n = frames.len();
        // Deeper than serde_json's recursion limit (128).
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        frames[n - 3] = Bytes::from(deep);
        let sig = signer.sign([
            &frames[3][..],
            &frames[4][..],
            &frames[5][..],
            &frames[6][..],
        ]);
        frames[2] = Bytes::from(sig);
        let msg = Message::from_frames(frames, &mut signer).unwrap();
        assert!(msg.invalid.as_deref().unwrap().contains("metadata"));
        assert_eq!(msg.metadata, json!({}));
        assert_eq!(msg.content, json!({}));
        let id = Identity::new();
        let reply = id.error_reply(&msg).expect("a request gets a reply");
        assert_eq!(reply.header["msg_type"], "execute_reply");
        assert_eq!(reply.parent_header, msg.header);
        assert_eq!(reply.identities, msg.identities);
        assert_eq!(reply.content["status"], "error");
        assert_eq!(reply.content["ename"], "InvalidRequest");
        assert!(reply.content["evalue"]
            .as_str()
            .unwrap()
            .contains("recursion"));
        // A readable request has no error reply.
        let fine = Message::from_frames(request(&signer), &mut signer).unwrap();
        assert!(fine.invalid.is_none() && id.error_reply(&fine).is_none());
    }

    #[test]
    fn an_unreadable_message_with_a_bad_signature_is_still_refused() {
        let mut signer = Signer::new("k");
        let mut frames = request(&signer);
        let n = frames.len();
        frames[n - 3] = Bytes::from_static(b"[[[");
        assert!(matches!(
            Message::from_frames(frames, &mut signer),
            Err(WireError::Signature(SignatureError::Mismatch))
        ));
    }

    #[test]
    fn replies_carry_the_request_header_as_parent() {
        let mut signer = Signer::new("k");
        let req = Message::from_frames(request(&signer), &mut signer).unwrap();
        let id = Identity::new();
        let rep = id.reply(&req, "execute_reply", json!({"status": "ok"}));
        assert_eq!(rep.parent_header, req.header);
        assert_eq!(rep.identities, req.identities);
        assert_eq!(rep.header["msg_type"], "execute_reply");
        assert_eq!(rep.header["session"], id.session.as_str());
    }

    #[test]
    fn own_headers_are_valid_json_with_every_field() {
        let id = Identity::new();
        let a = id.header("stream");
        let b = id.header("display_data");
        let fields: Value = serde_json::from_slice(a.json()).expect("a header is JSON");
        for key in [
            "msg_id", "date", "msg_type", "session", "username", "version",
        ] {
            assert!(fields[key].is_string(), "{key} missing in {fields}");
        }
        assert_eq!(fields["msg_type"], "stream");
        assert_eq!(fields["version"], PROTOCOL_VERSION);
        assert_ne!(a["msg_id"], b["msg_id"]);
        let date = fields["date"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(date).is_ok(), "{date}");
        assert_eq!(date.len(), "2026-11-25T18:26:26.123456Z".len());
    }
}
