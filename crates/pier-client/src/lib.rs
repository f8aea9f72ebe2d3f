//! A small blocking client for the Docker Engine API as pierd serves it, over
//! the daemon's unix socket: HTTP/1.1 framing (Content-Length and chunked
//! bodies, streamed both ways), API version negotiation through `/_ping`,
//! typed calls using the `pier-api` types, stdcopy demultiplexing of log
//! streams, and hijacked connections for attach.
//!
//! Layout: [`http`] and [`body`] are pure framing over `BufRead`/`Write`;
//! `client` owns the socket and turns error statuses into [`Error::Daemon`];
//! the endpoint modules (`containers`, `images`, `system`, `logs`, `hijack`)
//! add typed methods to [`Client`].
//!
//! It must not use tokio, hyper or any async runtime (the CLI stays a plain
//! blocking program), and must not print: it returns values and errors, the
//! caller decides what the user sees.

pub mod body;
mod client;
mod containers;
mod error;
mod events;
mod exec;
mod hijack;
pub mod http;
mod images;
mod logs;
mod network;
mod query;
mod storage;
mod system;
mod usage;

pub use client::{error_message, parse_host, Client, RequestBody, Response, DEFAULT_HOST, FALLBACK_API_VERSION};
pub use containers::{Filters, ListOptions, PendingWait, WaitCondition};
pub use error::Error;
pub use events::{EventStream, EventsOptions};
pub use hijack::{AttachOptions, Hijacked};
pub use images::read_progress;
pub use logs::{LogStream, LogsOptions, OutputStream};
pub use pier_api::progress::ProgressMessage;
pub use pier_api::version::{is_multiplexed, MULTIPLEXED_STREAM, RAW_STREAM};
pub use query::{encode_component, Query};
pub use storage::{decode_path_stat, CommitOptions};
pub use system::Ping;
pub use usage::StatsStream;
