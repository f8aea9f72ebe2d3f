//! WebSocket channel framing for remotecommand (`channel.k8s.io`,
//! `v4.channel.k8s.io`, `v5.channel.k8s.io`) and port-forward: every binary
//! message is one byte of channel id and the channel's bytes. v5 adds a
//! close signal, `[255, channel]`, with which a client ends its stdin.

/// WebSocket subprotocols for remotecommand, newest first.
pub const V5: &str = "v5.channel.k8s.io";
pub const V4: &str = "v4.channel.k8s.io";
pub const V1: &str = "channel.k8s.io";

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5: `[CLOSE, channel]` closes that channel.
pub const CLOSE: u8 = 255;

/// A message as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Data {
        channel: u8,
        payload: &'a [u8],
    },
    /// v5 only: the peer is done writing to `channel`.
    Close {
        channel: u8,
    },
}

/// The message carrying `payload` on `channel`.
pub fn encode(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(channel);
    out.extend_from_slice(payload);
    out
}

/// Read one binary message; `v5` says whether close signals exist. An
/// empty message is `None` (nothing to do).
pub fn decode(msg: &[u8], v5: bool) -> Option<Message<'_>> {
    let (&channel, payload) = msg.split_first()?;
    if v5 && channel == CLOSE {
        return payload.first().map(|&c| Message::Close { channel: c });
    }
    Some(Message::Data { channel, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_prefix() {
        assert_eq!(encode(STDOUT, b"hi"), [1, b'h', b'i']);
        assert_eq!(
            decode(&[0, b'x'], true),
            Some(Message::Data {
                channel: 0,
                payload: b"x"
            })
        );
        assert_eq!(decode(&[255, 0], true), Some(Message::Close { channel: 0 }));
        // Before v5, 255 is just a channel.
        assert_eq!(
            decode(&[255, 0], false),
            Some(Message::Data {
                channel: 255,
                payload: &[0]
            })
        );
        assert_eq!(decode(&[], true), None);
        assert_eq!(decode(&[255], true), None);
    }
}
