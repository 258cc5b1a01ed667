//! HMAC-SHA256 signatures over the four dict frames, and the replay guard.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};

type HmacSha256 = Hmac<Sha256>;

/// How many recent signatures are remembered to refuse replays (jupyter_client keeps 2^16 too).
const REPLAY_MEMORY: usize = 1 << 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("signature does not match")]
    Mismatch,
    #[error("signature is not hex")]
    NotHex,
    #[error("signature was already used (replay)")]
    Replay,
}

pub struct Signer {
    key: Option<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl Signer {
    /// An empty key means the messages are not signed, as the protocol says.
    pub fn new(key: &str) -> Self {
        Signer {
            key: (!key.is_empty()).then(|| key.as_bytes().to_vec()),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn mac(&self, parts: [&[u8]; 4]) -> Option<HmacSha256> {
        let key = self.key.as_ref()?;
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        Some(mac)
    }

    pub fn sign(&self, parts: [&[u8]; 4]) -> String {
        self.mac(parts)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Checks in constant time, then refuses a signature seen before.
    pub fn verify(&mut self, signature: &[u8], parts: [&[u8]; 4]) -> Result<(), SignatureError> {
        let Some(mac) = self.mac(parts) else {
            return Ok(());
        };
        let expected = hex::decode(signature).map_err(|_| SignatureError::NotHex)?;
        mac.verify_slice(&expected)
            .map_err(|_| SignatureError::Mismatch)?;
        if !self.seen.insert(expected.clone()) {
            return Err(SignatureError::Replay);
        }
        self.order.push_back(expected);
        if self.order.len() > REPLAY_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTS: [&[u8]; 4] = [b"{\"a\":1}", b"{}", b"{}", b"{\"code\":\"1\"}"];

    #[test]
    fn sign_matches_a_known_hmac() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'abcd',hashlib.sha256).hexdigest())"
        let s = Signer::new("key");
        assert_eq!(
            s.sign([b"a", b"b", b"c", b"d"]),
            "2a31ec0ee8d878c9eece9fb0df79b3b90b2256240163aa5ee50d176d3d1121f8"
        );
    }

    #[test]
    fn verifies_once_then_refuses_the_replay() {
        let mut s = Signer::new("secret");
        let sig = s.sign(PARTS);
        assert_eq!(s.verify(sig.as_bytes(), PARTS), Ok(()));
        assert_eq!(s.verify(sig.as_bytes(), PARTS), Err(SignatureError::Replay));
    }

    #[test]
    fn refuses_wrong_and_malformed_signatures() {
        let mut s = Signer::new("secret");
        let wrong = Signer::new("other").sign(PARTS);
        assert_eq!(
            s.verify(wrong.as_bytes(), PARTS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(s.verify(b"zz", PARTS), Err(SignatureError::NotHex));
        assert_eq!(s.verify(b"", PARTS), Err(SignatureError::Mismatch));
    }

    #[test]
    fn empty_key_means_unsigned() {
        let mut s = Signer::new("");
        assert_eq!(s.sign(PARTS), "");
        assert_eq!(s.verify(b"", PARTS), Ok(()));
    }
}
