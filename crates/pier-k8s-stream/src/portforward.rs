//! Port-forward (`portforward.k8s.io`): over SPDY, the client opens two
//! streams per connection it forwards, `streamType: error` and
//! `streamType: data`, both with `port` and `requestID` headers; over a
//! WebSocket (`?port=P&port=Q`), port i has data channel 2i and error
//! channel 2i+1, and the first message on each carries the port number
//! (two bytes, little-endian).

/// The SPDY and WebSocket protocol name.
pub const PROTOCOL_V1: &str = "portforward.k8s.io";
/// WebSocket subprotocol the kubelet also accepts for port-forward.
pub const WEBSOCKET_V4: &str = "v4.channel.k8s.io";

pub const HEADER_STREAM_TYPE: &str = "streamType";
pub const HEADER_PORT: &str = "port";
pub const HEADER_REQUEST_ID: &str = "requestID";
pub const STREAM_DATA: &str = "data";
pub const STREAM_ERROR: &str = "error";

/// A port as a header or query value (1..=65535), with the kubelet's
/// messages.
pub fn parse_port(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("unable to parse {value:?} as a port")),
        Ok(p) => Ok(p),
    }
}

/// The first message of a WebSocket port channel.
pub fn port_prefix(port: u16) -> [u8; 2] {
    port.to_le_bytes()
}

/// The pseudo request id of a stream from a client too old to send
/// `requestID`: data and error streams of one connection are consecutive
/// odd ids, the error stream first.
pub fn legacy_request_id(stream_id: u32, is_data: bool) -> String {
    if is_data {
        stream_id.saturating_sub(2).to_string()
    } else {
        stream_id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("8080"), Ok(8080));
        assert!(parse_port("0").is_err());
        assert!(parse_port("70000").is_err());
        assert!(parse_port("x").is_err());
        assert_eq!(port_prefix(8080), [0x90, 0x1f]);
        assert_eq!(legacy_request_id(3, true), "1");
        assert_eq!(legacy_request_id(1, false), "1");
    }
}
