//! Jupyter messages as ZeroMQ frames: `[ids…, <IDS|MSG>, signature, header, parent, metadata,
//! content, buffers…]`, and building replies that point back at their request.

use super::signing::{SignatureError, Signer};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

#[derive(Debug, Clone)]
pub struct Message {
    pub identities: Vec<Bytes>,
    /// Shared, not copied: every output of a request carries its header as parent.
    pub header: Arc<Value>,
    pub parent_header: Arc<Value>,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Bytes>,
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
        Ok(Message {
            identities,
            header: Arc::new(header),
            parent_header: Arc::new(parse_dict("parent_header", &p)?),
            metadata: parse_dict("metadata", &m)?,
            content: parse_dict("content", &c)?,
            buffers,
        })
    }

    pub fn to_frames(&self, signer: &Signer) -> Vec<Bytes> {
        let h = serde_json::to_vec(&*self.header).unwrap_or_default();
        let p = serde_json::to_vec(&*self.parent_header).unwrap_or_default();
        let m = serde_json::to_vec(&self.metadata).unwrap_or_default();
        let c = serde_json::to_vec(&self.content).unwrap_or_default();
        let sig = signer.sign([&h, &p, &m, &c]);
        let mut frames = Vec::with_capacity(self.identities.len() + 6 + self.buffers.len());
        frames.extend(self.identities.iter().cloned());
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(sig));
        for part in [h, p, m, c] {
            frames.push(Bytes::from(part));
        }
        frames.extend(self.buffers.iter().cloned());
        frames
    }

    pub fn msg_type(&self) -> &str {
        self.header
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

/// Who the kernel says it is in the headers it writes.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session: String,
    pub username: String,
    /// The header fields that never change, cloned into each new header.
    template: Map<String, Value>,
}

impl Identity {
    pub fn new() -> Self {
        let session = uuid::Uuid::new_v4().to_string();
        let username = "pysheets".to_string();
        let mut template = Map::new();
        template.insert("session".into(), json!(session));
        template.insert("username".into(), json!(username));
        template.insert("version".into(), json!(PROTOCOL_VERSION));
        Identity {
            session,
            username,
            template,
        }
    }

    /// A new header; built for every message, so it starts from the fixed fields.
    pub fn header(&self, msg_type: &str) -> Value {
        let mut header = self.template.clone();
        header.insert(
            "msg_id".into(),
            Value::String(format!("{}_{}", self.session, next_message_number())),
        );
        header.insert(
            "date".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        header.insert("msg_type".into(), Value::String(msg_type.into()));
        Value::Object(header)
    }

    /// A reply on the request's socket: same identities, the request's header as parent.
    pub fn reply(&self, parent: &Message, msg_type: &str, content: Value) -> Message {
        Message {
            identities: parent.identities.clone(),
            header: Arc::new(self.header(msg_type)),
            parent_header: parent.header.clone(),
            metadata: Value::Object(Map::new()),
            content,
            buffers: Vec::new(),
        }
    }

    /// An IOPub message; `parent` is the request it belongs to, when there is one.
    pub fn broadcast(
        &self,
        parent: Option<&Arc<Value>>,
        msg_type: &str,
        content: Value,
    ) -> Message {
        Message {
            identities: vec![Bytes::from(format!("kernel.{}.{msg_type}", self.session))],
            header: Arc::new(self.header(msg_type)),
            parent_header: parent.cloned().unwrap_or_else(|| Arc::new(json!({}))),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
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

    fn request(signer: &Signer) -> Vec<Bytes> {
        let msg = Message {
            identities: vec![Bytes::from_static(b"client-1")],
            header: Arc::new(json!({"msg_id": "m1", "msg_type": "execute_request",
                           "session": "s", "username": "u", "date": "", "version": "5.4"})),
            parent_header: Arc::new(json!({})),
            metadata: json!({"cellId": "c1"}),
            content: json!({"code": "1 + 1", "silent": false}),
            buffers: vec![Bytes::from_static(b"raw buffer")],
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
        assert!(Message::from_frames(list, &mut signer).is_err());
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
}
