//! `runtime state ID` output.

use serde::Deserialize;

/// The runtime's view of a container (the OCI state, plus runc's extras).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion", default)]
    pub oci_version: String,
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    pub status: StateStatus,
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub rootfs: String,
    /// RFC 3339.
    #[serde(default)]
    pub created: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateStatus {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
    #[serde(other)]
    Unknown,
}

pub fn parse_state(json: &[u8]) -> Result<State, serde_json::Error> {
    serde_json::from_slice(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_state() {
        let s = br#"{
  "ociVersion": "1.0.2-dev",
  "id": "rfoo",
  "pid": 12376,
  "status": "created",
  "bundle": "/tmp/cb",
  "rootfs": "/tmp/cb/rootfs",
  "created": "2026-11-28T14:01:03.822300862Z",
  "owner": ""
}"#;
        let st = parse_state(s).expect("parse");
        assert_eq!(st.pid, 12376);
        assert_eq!(st.status, StateStatus::Created);
        assert_eq!(
            parse_state(br#"{"id":"x","status":"weird"}"#).expect("parse").status,
            StateStatus::Unknown
        );
    }
}
