//! The connection file a client writes for a kernel: where to bind and how to sign.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("cannot read connection file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed connection file {path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("unsupported signature_scheme {0:?}: this kernel signs with hmac-sha256 only")]
    Scheme(String),
    #[error("unsupported transport {0:?}: expected \"tcp\" or \"ipc\"")]
    Transport(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    #[serde(default = "default_transport")]
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
    #[serde(default)]
    pub key: String,
}

fn default_transport() -> String {
    "tcp".into()
}

fn default_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    pub fn from_file(path: &Path) -> Result<Self, ConnectionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConnectionError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ConnectionError::Parse { source, .. } => ConnectionError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, ConnectionError> {
        let info: ConnectionInfo =
            serde_json::from_str(text).map_err(|source| ConnectionError::Parse {
                path: String::new(),
                source,
            })?;
        // An empty scheme only makes sense with an empty key (no signing at all).
        if info.signature_scheme != "hmac-sha256"
            && !(info.signature_scheme.is_empty() && info.key.is_empty())
        {
            return Err(ConnectionError::Scheme(info.signature_scheme));
        }
        if info.transport != "tcp" && info.transport != "ipc" {
            return Err(ConnectionError::Transport(info.transport));
        }
        Ok(info)
    }

    pub fn endpoint(&self, port: u16) -> String {
        match self.transport.as_str() {
            "ipc" => format!("ipc://{}-{}", self.ip, port),
            _ => format!("tcp://{}:{}", self.ip, port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4,
        "hb_port": 5, "ip": "127.0.0.1", "key": "k", "transport": "tcp",
        "signature_scheme": "hmac-sha256", "kernel_name": "pysheets"}"#;

    #[test]
    fn parses_a_jupyter_client_file() {
        let info = ConnectionInfo::from_json(GOOD).unwrap();
        assert_eq!(info.endpoint(info.shell_port), "tcp://127.0.0.1:1");
        assert_eq!(info.key, "k");
    }

    #[test]
    fn ipc_endpoints_join_ip_and_port_with_a_dash() {
        let text = GOOD
            .replace("\"tcp\"", "\"ipc\"")
            .replace("127.0.0.1", "/tmp/k");
        let info = ConnectionInfo::from_json(&text).unwrap();
        assert_eq!(info.endpoint(info.hb_port), "ipc:///tmp/k-5");
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        let md5 = GOOD.replace("hmac-sha256", "hmac-md5");
        assert!(matches!(
            ConnectionInfo::from_json(&md5),
            Err(ConnectionError::Scheme(s)) if s == "hmac-md5"
        ));
        assert!(matches!(
            ConnectionInfo::from_json("{not json"),
            Err(ConnectionError::Parse { .. })
        ));
        assert!(ConnectionInfo::from_json(r#"{"ip": "127.0.0.1"}"#).is_err());
    }
}
