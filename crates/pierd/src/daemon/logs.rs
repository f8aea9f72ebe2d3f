//! Container logs: the effective log configuration (the container's
//! LogConfig over the daemon's, validated as dockerd does, with Pier's
//! default rotation), and reading for `GET /containers/{id}/logs` — a
//! blocking reader thread that encodes entries straight into the client's
//! wire form (stdcopy frames, or raw bytes with a TTY) and sends them in
//! batches of about 256 KiB, following until the container stops.

use std::collections::BTreeMap;
use std::time::Duration;

use pier_api::container::LogConfig;
use pier_api::stdcopy::{self, StreamType};
use pier_log::{EntryRef, ReadOptions, Stream};
use pier_shim_proto::LogSettings;
use tokio::sync::mpsc;

use super::{Container, Daemon};
use crate::error::{Error, Result};
use crate::record::ContainerRecord;

/// How often a follower looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// Bytes of encoded output per channel message.
const BATCH: usize = 256 << 10;

/// Rotation when no `max-size` is given: unlike dockerd, logs never grow
/// without bound by default (`max-size=-1` asks for that).
pub const DEFAULT_MAX_SIZE: &str = "20m";
pub const DEFAULT_MAX_FILE: &str = "5";

/// The log drivers Pier has (`cri`: json-file's files and rotation, lines in
/// the Kubernetes CRI format).
const DRIVERS: &[&str] = &["json-file", "cri", "none"];

/// Options cri accepts (it stores no attributes).
const CRI_OPTS: &[&str] = &["max-size", "max-file", "compress"];

/// Options json-file accepts (dockerd's list).
const JSON_FILE_OPTS: &[&str] = &[
    "max-size",
    "max-file",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// What to read.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub tail: Option<usize>,
    /// Unix nanoseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Prefix each line with its RFC 3339 time (nine fixed decimals).
    pub timestamps: bool,
    /// Prefix each line with its attributes (`k=v,...`), as `--details`.
    pub details: bool,
}

/// Encoded output, ready for the response body.
pub type LogChunk = Vec<u8>;

/// An open log stream: batches of encoded output, or an error message to
/// show the client (the stream ends after it).
#[derive(Debug)]
pub struct LogStream {
    pub tty: bool,
    pub rx: mpsc::Receiver<std::result::Result<LogChunk, String>>,
}

/// `max-size` in docker's units (`10k`, `20m`, `1g`, `1.5m`, `10MiB`; binary
/// multiples); `-1` is unbounded (`Some(None)`). `None` when malformed.
pub fn parse_max_size(s: &str) -> Option<Option<u64>> {
    let s = s.trim();
    if s == "-1" {
        return Some(None);
    }
    let lower = s.to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_end);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let v = num * mult as f64;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(Some(v as u64))
}

/// The container's effective log configuration: its driver, or the
/// daemon's when empty; the daemon's options fill in missing ones when the
/// drivers match (as dockerd); json-file gets Pier's default rotation.
/// Errors are dockerd's messages.
pub fn resolve_log_config(
    requested: Option<&LogConfig>,
    daemon_driver: &str,
    daemon_opts: &BTreeMap<String, String>,
) -> Result<LogConfig> {
    let kind = requested
        .map(|l| l.kind.as_str())
        .filter(|k| !k.is_empty())
        .unwrap_or(daemon_driver)
        .to_string();
    let mut opts = requested.and_then(|l| l.config.clone()).unwrap_or_default();
    if kind == daemon_driver {
        for (k, v) in daemon_opts {
            opts.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if !DRIVERS.contains(&kind.as_str()) {
        return Err(Error::InvalidParameter(format!(
            "logger: no log driver named '{kind}' is registered"
        )));
    }
    if kind == "json-file" || kind == "cri" {
        validate_file_opts(&kind, &opts)?;
        opts.entry("max-size".to_string())
            .or_insert_with(|| DEFAULT_MAX_SIZE.to_string());
        opts.entry("max-file".to_string())
            .or_insert_with(|| DEFAULT_MAX_FILE.to_string());
    }
    Ok(LogConfig {
        kind,
        config: Some(opts),
    })
}

fn validate_file_opts(driver: &str, opts: &BTreeMap<String, String>) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidParameter(m));
    let known = if driver == "cri" { CRI_OPTS } else { JSON_FILE_OPTS };
    for (k, v) in opts {
        if !known.contains(&k.as_str()) {
            return bad(format!("unknown log opt '{k}' for {driver} log driver"));
        }
        match k.as_str() {
            "max-size" if parse_max_size(v).is_none() => return bad(format!("invalid size: '{v}'")),
            "max-file" => match v.parse::<i64>() {
                Ok(n) if n < 1 => return bad("max-file cannot be less than 1".to_string()),
                Ok(_) => {}
                Err(_) => return bad(format!("strconv.Atoi: parsing \"{v}\": invalid syntax")),
            },
            "compress" if parse_bool(v).is_none() => {
                return bad(format!(
                    "error reading compress log option: strconv.ParseBool: parsing \"{v}\": invalid syntax"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The `attrs` docker's json-file stores with each record: the values of
/// the labels named by `labels` (or matching `labels-regex`) and of the env
/// variables named by `env` (or matching `env-regex`, a prefix match here).
pub fn log_attrs(opts: &BTreeMap<String, String>, rec: &ContainerRecord) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let list = |k: &str| -> Vec<String> {
        opts.get(k)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let labels = rec.config.labels.clone().unwrap_or_default();
    for name in list("labels") {
        if let Some(v) = labels.get(&name) {
            out.push((name, v.clone()));
        }
    }
    let env: Vec<(String, String)> = rec
        .config
        .env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    for name in list("env") {
        if let Some((k, v)) = env.iter().find(|(k, _)| *k == name) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

/// The shim's log settings for an effective configuration.
pub fn settings_of(lc: &LogConfig, path: std::path::PathBuf, rec: &ContainerRecord) -> LogSettings {
    let opts = lc.config.clone().unwrap_or_default();
    let max_size = opts.get("max-size").and_then(|s| parse_max_size(s)).unwrap_or(None);
    let max_file = opts
        .get("max-file")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    LogSettings {
        driver: lc.kind.clone(),
        path,
        max_size,
        max_file,
        compress: opts.get("compress").and_then(|s| parse_bool(s)).unwrap_or(false),
        attrs: log_attrs(&opts, rec),
    }
}

/// Turns log entries into what the client reads: each logical line (a
/// line split into partial records is one) gets the optional timestamp and
/// details prefixes; without a TTY, each record becomes a stdcopy frame.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    pub tty: bool,
    pub timestamps: bool,
    pub details: bool,
    /// The previous record of each stream was partial: the next one
    /// continues its line and gets no prefix.
    cont: [bool; 2],
}

impl Framing {
    pub fn new(tty: bool, timestamps: bool, details: bool) -> Framing {
        Framing {
            tty,
            timestamps,
            details,
            cont: [false; 2],
        }
    }

    /// Appends `e` to `out`.
    pub fn push(&mut self, out: &mut Vec<u8>, e: &EntryRef<'_>) {
        let header_at = out.len();
        if !self.tty {
            out.extend_from_slice(&[0; stdcopy::HEADER_LEN]);
        }
        let start = out.len();
        let idx = e.stream as usize;
        if !self.cont[idx] {
            if self.timestamps {
                pier_log::format_timestamp_into(e.time, out);
                out.push(b' ');
            }
            if self.details {
                pier_log::details_into(out, e.attrs);
                out.push(b' ');
            }
        }
        self.cont[idx] = e.partial;
        out.extend_from_slice(e.line);
        if self.tty {
            return;
        }
        let len = out.len() - start;
        if len == 0 {
            out.truncate(header_at);
            return;
        }
        let kind = match e.stream {
            Stream::Stdout => StreamType::Stdout,
            Stream::Stderr => StreamType::Stderr,
        };
        // Records are at most 16 KiB plus prefixes: always one frame.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        out[header_at..start].copy_from_slice(&stdcopy::header(kind, len));
    }
}

impl Daemon {
    /// The effective LogConfig for a new container (stored in its record).
    pub(super) fn effective_log_config(&self, requested: Option<&LogConfig>) -> Result<LogConfig> {
        resolve_log_config(requested, &self.cfg.log_driver, &self.cfg.log_opts)
    }

    /// The shim's log settings for a container; a record whose stored
    /// config no longer validates falls back to the daemon's.
    pub(super) fn log_settings(&self, c: &Container, rec: &ContainerRecord) -> LogSettings {
        let lc = self
            .effective_log_config(rec.host_config.log_config.as_ref())
            .or_else(|_| self.effective_log_config(None))
            .unwrap_or_else(|_| LogConfig {
                kind: "json-file".to_string(),
                config: None,
            });
        settings_of(&lc, c.log_path(), rec)
    }

    pub fn logs(&self, key: &str, opts: LogsOptions) -> Result<LogStream> {
        if !opts.stdout && !opts.stderr {
            return Err(Error::InvalidParameter(
                "Bad parameters: you must choose at least one stream".to_string(),
            ));
        }
        let c = self.lookup(key)?;
        let rec = c.record();
        let driver = self.log_settings(&c, &rec).driver;
        if driver == "none" {
            return Err(Error::NotImplemented(
                "configured logging driver does not support reading".to_string(),
            ));
        }
        let path = c.log_path();
        let live = c.subscribe();
        let shutdown = self.shutdown_signal();
        let (tx, rx) = mpsc::channel(8);
        let read_opts = ReadOptions {
            stdout: opts.stdout,
            stderr: opts.stderr,
            since: opts.since,
            until: opts.until,
            tail: opts.tail,
        };
        let follow = opts.follow;
        let tty = rec.config.tty;
        let mut framing = Framing::new(tty, opts.timestamps, opts.details);
        tokio::task::spawn_blocking(move || {
            let send = |r: std::result::Result<LogChunk, String>| tx.blocking_send(r).is_ok();
            let mut buf = Vec::with_capacity(BATCH + (64 << 10));
            let mut reader = match pier_log::read(&path, &read_opts) {
                Ok(r) => r,
                Err(e) => {
                    send(Err(e.to_string()));
                    return;
                }
            };
            loop {
                match reader.next_ref() {
                    Ok(Some(e)) => framing.push(&mut buf, &e),
                    Ok(None) => break,
                    Err(e) => {
                        if !buf.is_empty() {
                            send(Ok(std::mem::take(&mut buf)));
                        }
                        send(Err(e.to_string()));
                        return;
                    }
                }
                if buf.len() >= BATCH && !send(Ok(std::mem::replace(&mut buf, Vec::with_capacity(BATCH + (64 << 10)))))
                {
                    return;
                }
            }
            if !buf.is_empty() && !send(Ok(std::mem::take(&mut buf))) {
                return;
            }
            if !follow || reader.is_done() {
                return;
            }
            let mut follower = reader.into_follower();
            loop {
                // Read the state before draining: the shim flushes the log
                // before the exit is published, so one drain after seeing
                // "not running" gets everything.
                let stopped = {
                    let l = live.borrow();
                    l.removed || !l.record.state.is_running()
                } || *shutdown.borrow();
                loop {
                    match follower.next_ref() {
                        Ok(Some(e)) => framing.push(&mut buf, &e),
                        Ok(None) => break,
                        Err(e) => {
                            send(Err(e.to_string()));
                            return;
                        }
                    }
                    if buf.len() >= BATCH && !send(Ok(std::mem::take(&mut buf))) {
                        return;
                    }
                }
                if !buf.is_empty() && !send(Ok(std::mem::take(&mut buf))) {
                    return;
                }
                if follower.is_done() || tx.is_closed() || stopped {
                    return;
                }
                std::thread::sleep(FOLLOW_POLL);
            }
        });
        Ok(LogStream { tty, rx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_dockers_units() {
        assert_eq!(parse_max_size("10k"), Some(Some(10 << 10)));
        assert_eq!(parse_max_size("20m"), Some(Some(20 << 20)));
        assert_eq!(parse_max_size("1g"), Some(Some(1 << 30)));
        assert_eq!(parse_max_size("10MiB"), Some(Some(10 << 20)));
        assert_eq!(parse_max_size("1.5k"), Some(Some(1536)));
        assert_eq!(parse_max_size("7"), Some(Some(7)));
        assert_eq!(parse_max_size("-1"), Some(None));
        assert_eq!(parse_max_size("x"), None);
        assert_eq!(parse_max_size("10q"), None);
    }

    fn lc(kind: &str, opts: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            kind: kind.to_string(),
            config: Some(opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        }
    }

    #[test]
    fn resolves_like_dockerd_with_default_rotation() {
        let none = BTreeMap::new();
        let r = resolve_log_config(None, "json-file", &none).expect("default");
        assert_eq!(r, lc("json-file", &[("max-file", "5"), ("max-size", "20m")]));
        let daemon: BTreeMap<String, String> = [("max-size".to_string(), "1m".to_string())].into();
        let r = resolve_log_config(Some(&lc("", &[("max-file", "2")])), "json-file", &daemon).expect("merge");
        assert_eq!(r, lc("json-file", &[("max-file", "2"), ("max-size", "1m")]));
        let r = resolve_log_config(Some(&lc("cri", &[])), "json-file", &daemon).expect("cri");
        assert_eq!(r, lc("cri", &[("max-file", "5"), ("max-size", "20m")]));
        assert!(
            resolve_log_config(Some(&lc("cri", &[("labels", "a")])), "json-file", &none)
                .expect_err("cri has no attrs")
                .to_string()
                .contains("unknown log opt 'labels' for cri log driver")
        );
        let r = resolve_log_config(Some(&lc("none", &[])), "json-file", &daemon).expect("none");
        assert_eq!(r, lc("none", &[]));
        let err = |r: Result<LogConfig>| r.expect_err("invalid").to_string();
        assert!(err(resolve_log_config(Some(&lc("x", &[])), "json-file", &none))
            .contains("logger: no log driver named 'x' is registered"));
        assert!(err(resolve_log_config(
            Some(&lc("json-file", &[("x", "1")])),
            "json-file",
            &none
        ))
        .contains("unknown log opt 'x' for json-file log driver"));
        assert!(err(resolve_log_config(
            Some(&lc("json-file", &[("max-size", "z")])),
            "json-file",
            &none
        ))
        .contains("invalid size"));
        assert!(err(resolve_log_config(
            Some(&lc("json-file", &[("max-file", "0")])),
            "json-file",
            &none
        ))
        .contains("max-file"));
    }

    fn entry<'a>(stream: Stream, line: &'a [u8], partial: bool, attrs: &'a [u8]) -> EntryRef<'a> {
        EntryRef {
            stream,
            time: 1_000_000_001,
            line,
            partial,
            attrs,
        }
    }

    #[test]
    fn frames_batches_and_rejoins_partial_lines() {
        let mut out = Vec::new();
        let mut f = Framing::new(false, false, false);
        f.push(&mut out, &entry(Stream::Stderr, b"hi\n", false, b""));
        f.push(&mut out, &entry(Stream::Stdout, b"o\n", false, b""));
        assert_eq!(
            out,
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n', 1, 0, 0, 0, 0, 0, 0, 2, b'o', b'\n']
        );

        let mut out = Vec::new();
        let mut f = Framing::new(true, true, true);
        f.push(&mut out, &entry(Stream::Stdout, b"ab", true, br#"{"k":"v"}"#));
        f.push(&mut out, &entry(Stream::Stdout, b"c\n", false, br#"{"k":"v"}"#));
        f.push(&mut out, &entry(Stream::Stdout, b"d\n", false, b""));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "1970-01-01T00:00:01.000000001Z k=v abc\n1970-01-01T00:00:01.000000001Z  d\n"
        );
    }
}
