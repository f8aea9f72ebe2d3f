//! remotecommand (exec and attach): protocol names, stream types, the
//! error stream's status and terminal resize messages.
//!
//! Over SPDY the client offers `X-Stream-Protocol-Version` values and opens
//! one stream per standard stream, naming it by its `streamType` header.
//! From v4 on, the error stream carries one JSON `metav1.Status` at the
//! end: `Success`, or `Failure` with reason `NonZeroExitCode` and the exit
//! code as the message of a cause of type `ExitCode`. Before v4 it carries
//! an error's text only. The resize stream carries a sequence of JSON
//! objects `{"Width":W,"Height":H}`.

use serde::{Deserialize, Serialize};

/// `Upgrade:` value of the SPDY transport.
pub const SPDY_31: &str = "SPDY/3.1";
pub const HEADER_PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
pub const HEADER_ACCEPTED_PROTOCOL_VERSIONS: &str = "X-Accepted-Stream-Protocol-Versions";
pub const HEADER_STREAM_TYPE: &str = "streamType";

pub const V4: &str = "v4.channel.k8s.io";
pub const V3: &str = "v3.channel.k8s.io";
pub const V2: &str = "v2.channel.k8s.io";
pub const V1: &str = "channel.k8s.io";
/// What a SPDY server speaks, in its order of preference.
pub const SPDY_PROTOCOLS: &[&str] = &[V4, V3, V2, V1];

/// The reason and cause type of a non-zero exit.
pub const NON_ZERO_EXIT_CODE: &str = "NonZeroExitCode";
pub const EXIT_CODE_CAUSE: &str = "ExitCode";

/// A stream's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl StreamType {
    pub fn parse(s: &str) -> Option<StreamType> {
        Some(match s {
            "error" => StreamType::Error,
            "stdin" => StreamType::Stdin,
            "stdout" => StreamType::Stdout,
            "stderr" => StreamType::Stderr,
            "resize" => StreamType::Resize,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Error => "error",
            StreamType::Stdin => "stdin",
            StreamType::Stdout => "stdout",
            StreamType::Stderr => "stderr",
            StreamType::Resize => "resize",
        }
    }
}

/// The first of the client's protocols the server speaks (the client's
/// order decides, as `httpstream.Handshake`). Values may be repeated
/// headers or comma-separated.
pub fn negotiate<'a>(client: &[&str], server: &[&'a str]) -> Option<&'a str> {
    client
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|c| server.iter().find(|s| **s == c).copied())
}

/// What the v2 and later protocols wait for: the error stream, the
/// standard streams asked for, and (v3+, with a terminal) resize.
pub fn expected_streams(protocol: &str, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> usize {
    1 + usize::from(stdin)
        + usize::from(stdout)
        + usize::from(stderr)
        + usize::from(tty && (protocol == V4 || protocol == V3))
}

/// `metav1.Status`, the fields remotecommand uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}

fn is_zero(c: &i32) -> bool {
    *c == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCause {
    /// Go's `Type`, named `reason` in JSON.
    #[serde(default, rename = "reason", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Status {
    pub fn success() -> Status {
        Status {
            status: "Success".into(),
            ..Default::default()
        }
    }

    /// A process that exited with `code` (non-zero); `what` describes it
    /// (`error executing command [sh -c exit 3], exit code 3`).
    pub fn exit_code(code: i32, what: &str) -> Status {
        Status {
            status: "Failure".into(),
            message: format!("command terminated with non-zero exit code: {what}"),
            reason: NON_ZERO_EXIT_CODE.into(),
            details: Some(StatusDetails {
                causes: vec![StatusCause {
                    kind: EXIT_CODE_CAUSE.into(),
                    message: code.to_string(),
                }],
            }),
            ..Default::default()
        }
    }

    /// apimachinery's `NewInternalError`.
    pub fn internal_error(error: &str) -> Status {
        Status {
            status: "Failure".into(),
            message: format!("Internal error occurred: {error}"),
            reason: "InternalError".into(),
            details: Some(StatusDetails {
                causes: vec![StatusCause {
                    kind: String::new(),
                    message: error.to_string(),
                }],
            }),
            code: 500,
            ..Default::default()
        }
    }

    /// Bytes for the error stream of `protocol`: JSON from v4 on; before,
    /// the message of a failure and nothing for success.
    pub fn encode_for(&self, protocol: &str) -> Vec<u8> {
        if protocol == V4 || protocol == crate::channel::V5 {
            return serde_json::to_vec(self).unwrap_or_default();
        }
        if self.status == "Success" {
            return Vec::new();
        }
        self.message.clone().into_bytes()
    }

    /// What a client makes of it: `Ok(0)` for success, `Ok(code)` for a
    /// non-zero exit, `Err(message)` for other failures.
    pub fn exit(&self) -> Result<i32, String> {
        if self.status == "Success" {
            return Ok(0);
        }
        if self.reason == NON_ZERO_EXIT_CODE {
            let code = self
                .details
                .iter()
                .flat_map(|d| &d.causes)
                .find(|c| c.kind == EXIT_CODE_CAUSE)
                .and_then(|c| c.message.parse().ok());
            if let Some(code) = code {
                return Ok(code);
            }
        }
        Err(self.message.clone())
    }
}

/// A terminal size on the resize stream (Go field names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// Splits the resize stream's bytes into sizes, however they arrive.
#[derive(Debug, Default)]
pub struct ResizeDecoder {
    buf: Vec<u8>,
}

/// Most bytes of one resize message kept while it is incomplete.
const RESIZE_MAX: usize = 4096;

impl ResizeDecoder {
    /// Feed bytes; returns the sizes completed by them. Garbage ends the
    /// stream (`Err`), as the kubelet's JSON decoder does.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<TerminalSize>, String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut used = 0;
        let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<TerminalSize>();
        loop {
            match it.next() {
                Some(Ok(size)) => {
                    out.push(size);
                    used = it.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(e.to_string()),
                None => {
                    used = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..used);
        if self.buf.len() > RESIZE_MAX {
            return Err("resize message too long".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_client() {
        assert_eq!(negotiate(&[V4, V3], SPDY_PROTOCOLS), Some(V4));
        assert_eq!(negotiate(&["v9.channel.k8s.io", V2], SPDY_PROTOCOLS), Some(V2));
        assert_eq!(
            negotiate(&["v3.channel.k8s.io, v2.channel.k8s.io"], SPDY_PROTOCOLS),
            Some(V3)
        );
        assert_eq!(negotiate(&["nope"], SPDY_PROTOCOLS), None);
        assert_eq!(expected_streams(V4, true, true, false, true), 4);
        assert_eq!(expected_streams(V2, true, true, false, true), 3);
        assert_eq!(expected_streams(V4, false, true, true, false), 3);
    }

    #[test]
    fn status_json_as_kubelet_writes_it() {
        assert_eq!(
            String::from_utf8(Status::success().encode_for(V4)).expect("utf8"),
            r#"{"metadata":{},"status":"Success"}"#
        );
        let s = Status::exit_code(3, "error executing command [sh -c exit 3], exit code 3");
        assert_eq!(
            serde_json::to_value(&s).expect("json"),
            serde_json::json!({
                "metadata": {},
                "status": "Failure",
                "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
            })
        );
        let back: Status = serde_json::from_slice(&s.encode_for(V4)).expect("parse");
        assert_eq!(back.exit(), Ok(3));
        assert_eq!(Status::success().exit(), Ok(0));
        let e = Status::internal_error("boom");
        assert_eq!(e.code, 500);
        assert_eq!(e.exit(), Err("Internal error occurred: boom".into()));
        // Before v4: text, and nothing for success.
        assert!(Status::success().encode_for(V3).is_empty());
        assert_eq!(e.encode_for(V2), b"Internal error occurred: boom");
    }

    #[test]
    fn resize_messages_split_anywhere() {
        let mut d = ResizeDecoder::default();
        assert_eq!(d.feed(br#"{"Width":80,"#).expect("part"), vec![]);
        assert_eq!(
            d.feed(br#""Height":24}{"Width":100,"Height":30}{"Wi"#).expect("more"),
            vec![
                TerminalSize { width: 80, height: 24 },
                TerminalSize { width: 100, height: 30 }
            ]
        );
        assert_eq!(
            d.feed(br#"dth":1,"Height":2}"#).expect("end"),
            vec![TerminalSize { width: 1, height: 2 }]
        );
        assert!(d.feed(b"]").is_err());
    }
}
