//! The effective log policy of a new container: its LogConfig over the
//! daemon's, validated as dockerd does, with Pier's default rotation.

use std::collections::BTreeMap;

use pier_api::container::LogConfig;

use super::spec::{LogDriver, LogPolicy};
use super::CreateError;

/// Rotation when no `max-size` is given: unlike dockerd, logs never grow
/// without bound by default (`max-size=-1` asks for that).
pub const DEFAULT_MAX_SIZE: &str = "20m";
pub const DEFAULT_MAX_FILE: &str = "5";

/// At most this many files per container: a larger count is refused at
/// create rather than wedging the shim at its first rotation.
pub const MAX_FILES: u32 = 1000;

/// The smallest rotating file: below it every line would rotate the set.
pub const MIN_MAX_SIZE: u64 = 1024;

/// Options cri accepts (it stores no attributes). `path`: an absolute
/// file to write instead of the container directory's (a CRI container's
/// `<log_directory>/<log_path>`).
const CRI_OPTS: &[&str] = &["max-size", "max-file", "compress", "path"];

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

fn invalid(message: String) -> CreateError {
    CreateError::Invalid {
        field: "HostConfig.LogConfig",
        message,
    }
}

/// The container's log policy: its driver, or the daemon's when empty; the
/// daemon's options fill in missing ones when the drivers match (as
/// dockerd); json-file and cri get Pier's default rotation. Errors are
/// dockerd's messages.
pub fn resolve(
    requested: &LogConfig,
    daemon_driver: &str,
    daemon_opts: &BTreeMap<String, String>,
) -> Result<LogPolicy, CreateError> {
    let kind = if requested.kind.is_empty() {
        daemon_driver
    } else {
        requested.kind.as_str()
    };
    let mut opts = requested.config.clone().unwrap_or_default();
    if kind == daemon_driver {
        for (k, v) in daemon_opts {
            opts.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let driver =
        LogDriver::parse(kind).ok_or_else(|| invalid(format!("logger: no log driver named '{kind}' is registered")))?;
    if driver == LogDriver::None {
        return Ok(LogPolicy {
            driver,
            options: opts,
            max_size: None,
            max_file: 1,
            compress: false,
            attribute_labels: Vec::new(),
            attribute_env: Vec::new(),
        });
    }
    let known = if driver == LogDriver::Cri {
        CRI_OPTS
    } else {
        JSON_FILE_OPTS
    };
    for k in opts.keys() {
        if !known.contains(&k.as_str()) {
            return Err(invalid(format!("unknown log opt '{k}' for {kind} log driver")));
        }
    }
    if let Some(path) = opts.get("path") {
        let p = std::path::Path::new(path);
        if !p.is_absolute() || p.file_name().is_none() {
            return Err(invalid(format!("log opt path must be an absolute file path: '{path}'")));
        }
    }
    // The defaults apply without being shown: `options` (inspect's
    // `LogConfig.Config`) keeps what was asked, as dockerd's `local` driver.
    let size = opts.get("max-size").map_or(DEFAULT_MAX_SIZE, String::as_str);
    let max_size = parse_max_size(size).ok_or_else(|| invalid(format!("invalid size: '{size}'")))?;
    if max_size.is_some_and(|n| n < MIN_MAX_SIZE) {
        return Err(invalid(format!(
            "max-size cannot be less than {MIN_MAX_SIZE} bytes: '{size}'"
        )));
    }
    let files = opts.get("max-file").map_or(DEFAULT_MAX_FILE, String::as_str);
    let max_file = match files.parse::<i64>() {
        Ok(n) if n < 1 => return Err(invalid("max-file cannot be less than 1".to_string())),
        Ok(n) if n > i64::from(MAX_FILES) => return Err(invalid(format!("max-file cannot be more than {MAX_FILES}"))),
        Ok(n) => u32::try_from(n).unwrap_or(MAX_FILES),
        Err(_) => return Err(invalid(format!("strconv.Atoi: parsing \"{files}\": invalid syntax"))),
    };
    let compress = match opts.get("compress") {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| {
            invalid(format!(
                "error reading compress log option: strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))
        })?,
    };
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
    Ok(LogPolicy {
        driver,
        max_size,
        max_file,
        compress,
        attribute_labels: list("labels"),
        attribute_env: list("env"),
        options: opts,
    })
}

/// The file the policy writes: its `path` option (cri only), else
/// `default` (the container directory's).
pub fn file(policy: &LogPolicy, default: std::path::PathBuf) -> std::path::PathBuf {
    match policy.options.get("path") {
        Some(p) if policy.driver == LogDriver::Cri => std::path::PathBuf::from(p),
        _ => default,
    }
}

/// The attributes stored with each record: the values of the labels and
/// env variables the policy names.
pub fn attributes(policy: &LogPolicy, labels: &BTreeMap<String, String>, env: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in &policy.attribute_labels {
        if let Some(v) = labels.get(name) {
            out.push((name.clone(), v.clone()));
        }
    }
    for name in &policy.attribute_env {
        if let Some((k, v)) = env.iter().filter_map(|e| e.split_once('=')).find(|(k, _)| k == name) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
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

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(kind: &str, opts: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            kind: kind.to_string(),
            config: Some(opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        }
    }

    fn opts(p: &LogPolicy) -> Vec<(&str, &str)> {
        p.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_max_size("1g"), Some(Some(1 << 30)));
        assert_eq!(parse_max_size("10MiB"), Some(Some(10 << 20)));
        assert_eq!(parse_max_size("1.5k"), Some(Some(1536)));
        assert_eq!(parse_max_size("7"), Some(Some(7)));
        assert_eq!(parse_max_size("-1"), Some(None));
        assert_eq!(parse_max_size("x"), None);
        assert_eq!(parse_max_size("10q"), None);
    }

    #[test]
    fn resolves_like_dockerd_with_default_rotation() {
        let none = BTreeMap::new();
        let r = resolve(&LogConfig::default(), "json-file", &none).expect("default");
        assert_eq!(r.driver, LogDriver::JsonFile);
        assert!(r.options.is_empty(), "defaults are applied, not shown");
        assert_eq!((r.max_size, r.max_file), (Some(20 << 20), 5));
        let r = resolve(&lc("", &[("max-file", "100")]), "json-file", &none).expect("max-file alone");
        assert_eq!(opts(&r), [("max-file", "100")]);
        assert_eq!((r.max_size, r.max_file), (Some(20 << 20), 100));
        let daemon: BTreeMap<String, String> = [("max-size".to_string(), "1m".to_string())].into();
        let r = resolve(&lc("", &[("max-file", "2")]), "json-file", &daemon).expect("merge");
        assert_eq!(opts(&r), [("max-file", "2"), ("max-size", "1m")]);
        let r = resolve(&lc("cri", &[]), "json-file", &daemon).expect("cri");
        assert!(r.options.is_empty());
        assert_eq!((r.max_size, r.max_file), (Some(20 << 20), 5));
        let r = resolve(&lc("none", &[]), "json-file", &daemon).expect("none");
        assert_eq!(r.driver, LogDriver::None);
        assert!(r.options.is_empty());
        let r = resolve(
            &lc("json-file", &[("labels", "a, b"), ("env", "E"), ("compress", "true")]),
            "json-file",
            &none,
        )
        .expect("attrs");
        assert_eq!(r.attribute_labels, ["a", "b"]);
        assert!(r.compress);
        let labels = [("a".to_string(), "1".to_string())].into();
        assert_eq!(
            attributes(&r, &labels, &["E=x".to_string(), "F=y".to_string()]),
            [("a".to_string(), "1".to_string()), ("E".to_string(), "x".to_string())]
        );
    }

    #[test]
    fn cri_path_option() {
        let none = BTreeMap::new();
        let r = resolve(
            &lc("cri", &[("path", "/var/log/pods/p/c/0.log"), ("max-size", "-1")]),
            "json-file",
            &none,
        )
        .expect("cri path");
        assert_eq!(r.max_size, None);
        assert_eq!(
            file(&r, "/d/x-json.log".into()),
            std::path::PathBuf::from("/var/log/pods/p/c/0.log")
        );
        let r = resolve(&lc("cri", &[]), "json-file", &none).expect("cri");
        assert_eq!(
            file(&r, "/d/x-json.log".into()),
            std::path::PathBuf::from("/d/x-json.log")
        );
        assert!(resolve(&lc("cri", &[("path", "rel/0.log")]), "json-file", &none).is_err());
        assert!(resolve(&lc("json-file", &[("path", "/a")]), "json-file", &none).is_err());
    }

    #[test]
    fn refuses_like_dockerd() {
        let none = BTreeMap::new();
        let err = |c: LogConfig| resolve(&c, "json-file", &none).expect_err("invalid").to_string();
        assert_eq!(err(lc("x", &[])), "logger: no log driver named 'x' is registered");
        assert_eq!(
            err(lc("cri", &[("labels", "a")])),
            "unknown log opt 'labels' for cri log driver"
        );
        assert_eq!(
            err(lc("json-file", &[("x", "1")])),
            "unknown log opt 'x' for json-file log driver"
        );
        assert_eq!(err(lc("json-file", &[("max-size", "z")])), "invalid size: 'z'");
        assert_eq!(
            err(lc("json-file", &[("max-file", "0")])),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            err(lc("json-file", &[("max-file", "4000000000")])),
            "max-file cannot be more than 1000"
        );
        assert_eq!(
            err(lc("json-file", &[("max-size", "1")])),
            "max-size cannot be less than 1024 bytes: '1'"
        );
        assert!(resolve(&lc("json-file", &[("max-size", "1k")]), "json-file", &none).is_ok());
        assert!(err(lc("json-file", &[("compress", "yes")])).contains("ParseBool"));
    }
}
