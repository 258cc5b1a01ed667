//! The message decoder and its signature check, on frames no client would send.
//!
//! Input: a mode byte, then frames separated by 0xFF (never in JSON text). Mode bit 0 picks
//! a key (signed) or none; bit 1 makes the target sign the four dict frames itself, so the
//! fuzzer gets past the HMAC to the JSON parsing behind it. Besides "never panics", checks:
//! a decoded message re-encodes to one that decodes to the same header, a replay is refused, and an
//! unreadable request has an error reply exactly when its type is a `*_request`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pysheets_kernel::protocol::signing::{SignatureError, Signer};
use pysheets_kernel::protocol::wire::{Identity, Message, WireError, DELIMITER};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = if mode & 1 == 1 { "secret" } else { "" };
    let mut frames: Vec<Bytes> = rest
        .split(|&b| b == 0xFF)
        .map(Bytes::copy_from_slice)
        .collect();
    let mut signer = Signer::new(key);
    if mode & 2 == 2 {
        if let Some(at) = frames.iter().position(|f| f.as_ref() == DELIMITER) {
            if frames.len() >= at + 6 {
                let d = &frames[at + 2..at + 6];
                let sig = signer.sign([&d[0][..], &d[1][..], &d[2][..], &d[3][..]]);
                frames[at + 1] = Bytes::from(sig);
            }
        }
    }
    let Ok(msg) = Message::from_frames(frames.clone(), &mut signer) else {
        return;
    };
    if !key.is_empty() {
        assert!(matches!(
            Message::from_frames(frames, &mut signer),
            Err(WireError::Signature(SignatureError::Replay))
        ));
    }
    // One identity for the run: a new one costs a random UUID.
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    let identity = IDENTITY.get_or_init(Identity::new);
    match &msg.invalid {
        Some(_) => {
            let reply = identity.error_reply(&msg);
            assert_eq!(reply.is_some(), msg.msg_type().ends_with("_request"));
            if let Some(reply) = reply {
                let again = Message::from_frames(reply.to_frames(&signer), &mut Signer::new(key))
                    .expect("an error reply is readable");
                assert!(again.invalid.is_none());
                assert_eq!(again.content["status"], "error");
            }
        }
        None => {
            let again = Message::from_frames(msg.to_frames(&signer), &mut Signer::new(key))
                .expect("a decoded message re-encodes");
            // Headers travel as their text; content is re-serialized, and serde_json does
            // not promise that floats survive that bit for bit, so it is not compared.
            assert_eq!(again.header, msg.header);
            assert_eq!(again.buffers, msg.buffers);
            assert_eq!(again.identities, msg.identities);
        }
    }
});
