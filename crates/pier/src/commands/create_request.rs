//! `run`/`create` flags -> the create request body. Pure: environment
//! lookups and file contents come in as arguments.

use std::collections::BTreeMap;

use pier_api::container::{ContainerConfig, ContainerCreateRequest, HostConfig, LogConfig};

use crate::cli::ContainerFlags;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("invalid environment variable: {0}")]
    EmptyEnv(String),
    #[error("variable '{0}' contains whitespaces")]
    EnvWhitespace(String),
    #[error("invalid argument \"{0}\" for \"-l, --label\" flag: label key cannot be empty")]
    EmptyLabel(String),
    #[error("invalid logging opts for driver {0}")]
    LogOptsForNone(String),
    #[error(transparent)]
    Storage(#[from] super::mount_flags::MountFlagError),
}

/// `--log-driver` and `--log-opt k=v` into `HostConfig.LogConfig` (a bare
/// `k` has an empty value, as docker's CLI); `None` when neither is given.
pub fn log_config(driver: Option<&str>, opts: &[String]) -> Result<Option<LogConfig>, FlagError> {
    let driver = driver.unwrap_or("");
    if driver == "none" && !opts.is_empty() {
        return Err(FlagError::LogOptsForNone(driver.to_string()));
    }
    if driver.is_empty() && opts.is_empty() {
        return Ok(None);
    }
    let config = opts
        .iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect();
    Ok(Some(LogConfig {
        kind: driver.to_string(),
        config: Some(config),
    }))
}

/// One `-e` value: `K=V` as given; a bare `K` takes its value from the
/// CLI's environment, or stays bare (unset) when it has none.
pub fn env_entry(raw: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, FlagError> {
    match raw.split_once('=') {
        Some(("", _)) => Err(FlagError::EmptyEnv(raw.to_string())),
        Some(_) => Ok(raw.to_string()),
        None if raw.is_empty() => Err(FlagError::EmptyEnv(raw.to_string())),
        None => Ok(lookup(raw).map_or_else(|| raw.to_string(), |v| format!("{raw}={v}"))),
    }
}

/// Lines of an `--env-file`/`--label-file`: blank lines and `#` comments
/// skipped, leading whitespace trimmed, keys without whitespace.
pub fn file_entries(content: &str) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k);
        if key.contains(char::is_whitespace) {
            return Err(FlagError::EnvWhitespace(key.to_string()));
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// `K=V` or `K` (empty value) labels into a map; later ones win.
pub fn labels(raw: &[String]) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for l in raw {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(FlagError::EmptyLabel(l.clone()));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Inputs read from outside: file contents in flag order, env lookup.
pub struct Sources<'a> {
    pub env_files: &'a [String],
    pub label_files: &'a [String],
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// `[height, width]` of the local terminal, for `-t`.
    pub console_size: Option<[u32; 2]>,
}

/// Build the create request as docker's CLI does: attach flags only for a
/// foreground run, `StdinOnce` when attaching stdin, `--entrypoint ""`
/// resetting the image's entrypoint.
pub fn build(flags: &ContainerFlags, detach: bool, src: &Sources<'_>) -> Result<ContainerCreateRequest, FlagError> {
    let mut env = Vec::new();
    for content in src.env_files {
        for e in file_entries(content)? {
            env.push(env_entry(&e, src.lookup)?);
        }
    }
    for e in &flags.env {
        env.push(env_entry(e, src.lookup)?);
    }
    let mut label_list = Vec::new();
    for content in src.label_files {
        label_list.extend(file_entries(content)?);
    }
    label_list.extend(flags.label.iter().cloned());
    let labels = labels(&label_list)?;

    let storage = super::mount_flags::build(&flags.volume, &flags.mount, &flags.tmpfs)?;
    let entrypoint = flags.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let cmd = (!flags.command().is_empty()).then(|| flags.command().to_vec());
    let attach = !detach;
    let config = ContainerConfig {
        hostname: flags.hostname.clone().unwrap_or_default(),
        user: flags.user.clone().unwrap_or_default(),
        attach_stdin: attach && flags.interactive,
        attach_stdout: attach,
        attach_stderr: attach,
        tty: flags.tty,
        open_stdin: flags.interactive,
        stdin_once: attach && flags.interactive,
        env: (!env.is_empty()).then_some(env),
        cmd,
        image: flags.image().to_string(),
        working_dir: flags.workdir.clone().unwrap_or_default(),
        entrypoint,
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: flags.stop_signal.clone().unwrap_or_default(),
        stop_timeout: flags.stop_timeout,
        volumes: (!storage.volumes.is_empty()).then(|| {
            storage
                .volumes
                .iter()
                .map(|v| (v.clone(), serde_json::json!({})))
                .collect()
        }),
        ..Default::default()
    };
    let host_config = HostConfig {
        auto_remove: flags.rm,
        network_mode: flags.network.clone().unwrap_or_default(),
        console_size: match src.console_size {
            Some([h, w]) if flags.tty => [u64::from(h), u64::from(w)],
            _ => [0, 0],
        },
        privileged: flags.privileged,
        readonly_rootfs: flags.read_only,
        cap_add: (!flags.cap_add.is_empty()).then(|| flags.cap_add.clone()),
        cap_drop: (!flags.cap_drop.is_empty()).then(|| flags.cap_drop.clone()),
        runtime: flags.runtime.clone().unwrap_or_default(),
        log_config: log_config(flags.log_driver.as_deref(), &flags.log_opt)?.unwrap_or_default(),
        binds: (!storage.binds.is_empty()).then_some(storage.binds),
        mounts: (!storage.mounts.is_empty()).then_some(storage.mounts),
        tmpfs: (!storage.tmpfs.is_empty()).then_some(storage.tmpfs),
        volumes_from: (!flags.volumes_from.is_empty()).then(|| flags.volumes_from.clone()),
        ..Default::default()
    };
    Ok(ContainerCreateRequest {
        config,
        host_config: Some(host_config),
        networking_config: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(k: &str) -> Option<String> {
        (k == "HOME").then(|| "/root".to_string())
    }

    fn flags(args: &[&str]) -> ContainerFlags {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["pier", "create"].iter().chain(args)).expect("parse");
        match cli.command {
            Some(crate::cli::Command::Create(c)) => c.flags,
            _ => panic!("not create"),
        }
    }

    #[test]
    fn env_entries() {
        assert_eq!(env_entry("A=1=2", &lookup), Ok("A=1=2".to_string()));
        assert_eq!(env_entry("HOME", &lookup), Ok("HOME=/root".to_string()));
        assert_eq!(env_entry("NOPE", &lookup), Ok("NOPE".to_string()));
        assert!(env_entry("=x", &lookup).is_err());
        assert_eq!(
            file_entries("# c\n\n  A=1 2\nB\n").expect("file"),
            vec!["A=1 2".to_string(), "B".to_string()]
        );
        assert!(file_entries("A B=1").is_err());
    }

    #[test]
    fn detached_request() {
        let f = flags(&[
            "--name", "web", "-e", "A=1", "-e", "HOME", "-l", "k=v", "-l", "flag", "-w", "/tmp", "-u", "1000", "--rm",
            "-i", "busybox", "sh", "-c", "echo hi",
        ]);
        let src = Sources {
            env_files: &["X=1".to_string()],
            label_files: &[],
            lookup: &lookup,
            console_size: Some([24, 80]),
        };
        let req = build(&f, true, &src).expect("build");
        let c = &req.config;
        assert_eq!(c.image, "busybox");
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["sh".to_string(), "-c".to_string(), "echo hi".to_string()][..])
        );
        assert_eq!(
            c.env.as_deref(),
            Some(&["X=1".to_string(), "A=1".to_string(), "HOME=/root".to_string()][..])
        );
        let labels = c.labels.as_ref().expect("labels");
        assert_eq!(labels.get("flag").map(String::as_str), Some(""));
        assert_eq!(c.working_dir, "/tmp");
        assert_eq!(c.user, "1000");
        assert!(c.open_stdin && !c.attach_stdin && !c.stdin_once && !c.attach_stdout);
        let hc = req.host_config.as_ref().expect("host config");
        assert!(hc.auto_remove);
        assert_eq!(hc.console_size, [0, 0]);
        assert_eq!(c.entrypoint, None);
    }

    #[test]
    fn foreground_tty_request() {
        let f = flags(&["-it", "--entrypoint", "", "busybox"]);
        let src = Sources {
            env_files: &[],
            label_files: &[],
            lookup: &lookup,
            console_size: Some([24, 80]),
        };
        let req = build(&f, false, &src).expect("build");
        let c = &req.config;
        assert!(c.tty && c.attach_stdin && c.stdin_once && c.attach_stdout && c.attach_stderr);
        assert_eq!(c.cmd, None);
        assert_eq!(c.entrypoint, Some(vec![String::new()]));
        assert_eq!(req.host_config.expect("hc").console_size, [24, 80]);
        // The JSON the daemon gets carries docker's field names.
        let json = serde_json::to_value(build(&f, false, &src).expect("build")).expect("json");
        assert_eq!(json["Image"], "busybox");
        assert_eq!(json["HostConfig"]["ConsoleSize"], serde_json::json!([24, 80]));
    }
}
