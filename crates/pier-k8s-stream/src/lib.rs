//! Kubernetes' streaming wire formats, as the kubelet's streaming server
//! and client-go speak them for `exec`, `attach` and `port-forward`:
//!
//! - [`spdy`]: SPDY/3.1 frames and their zlib-compressed header blocks
//!   (the transport of `Upgrade: SPDY/3.1`);
//! - [`channel`]: the WebSocket channel framing (`channel.k8s.io`,
//!   `v4.channel.k8s.io`, `v5.channel.k8s.io`: one byte of channel id
//!   before each message's payload);
//! - [`remotecommand`]: protocol names, stream types, the exit status
//!   (`metav1.Status`) of the error stream and terminal resize messages;
//! - [`portforward`]: the port-forward stream headers and WebSocket port
//!   prefix.
//!
//! Pure: values in, bytes out and back. It must not do IO or know about
//! pierd; both pierd's streaming server and the tests' client use it.

pub mod channel;
mod dictionary;
pub mod portforward;
pub mod remotecommand;
pub mod spdy;
