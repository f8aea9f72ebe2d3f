//! Engines driven through a docker-syntax CLI (docker, podman, pier): the
//! verbs the metrics use, and the teardown that leaves nothing behind.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::mem;
use crate::mounts;
use crate::proc::{self, Adopted, Daemon, Outcome, Stdout};

/// Maps a container id to its log file, for engines whose `inspect` has no
/// LogPath.
pub type LogPathFn = Box<dyn Fn(&str) -> PathBuf>;

pub const STEP: Duration = Duration::from_secs(120);

/// The processes and files an engine's setup created, released on drop in
/// order: daemons by pid, then helpers, then strays, then mounts.
pub struct Guard {
    /// The engine's private directory (data root, exec root, sockets).
    pub root: PathBuf,
    pub daemons: Vec<Daemon>,
    pub adopted: Vec<Adopted>,
    /// Files outside `root` to remove at the end (podman's shm lock).
    pub extra_files: Vec<PathBuf>,
    /// OCI runtime state dirs (`program`, `--root`) whose leftover
    /// containers are deleted once the daemons are gone.
    pub runtime_roots: Vec<(String, PathBuf)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            d.stop(Duration::from_secs(20));
        }
        for a in &mut self.adopted {
            a.stop(Duration::from_secs(10));
        }
        for (program, state) in &self.runtime_roots {
            delete_leftovers(program, state);
        }
        // Anything still running with our directory on its command line
        // (a shim whose container could not be removed) is ours.
        if let Some(root) = self.root.to_str() {
            for pid in mem::pids_mentioning(root) {
                let comm = mem::comm_of(pid).unwrap_or_default();
                if let Some(mut a) = Adopted::new(&comm, pid) {
                    eprintln!("pier-bench: stopping stray {comm} ({pid})");
                    a.stop(Duration::from_secs(5));
                }
            }
        }
        for m in mounts::unmount_all_under(&self.root) {
            eprintln!("pier-bench: unmounted {m}");
        }
        for f in &self.extra_files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Deletes every container left in a runtime's state dir.
fn delete_leftovers(program: &str, state: &std::path::Path) {
    if !state.exists() {
        return;
    }
    let mut c = Command::new(program);
    c.arg("--root").arg(state).args(["list", "-q"]);
    let Ok(o) = proc::run(&mut c, Stdout::Capture, Duration::from_secs(30)) else {
        return;
    };
    for id in o.stdout_text().lines().map(str::trim).filter(|l| !l.is_empty()) {
        eprintln!("pier-bench: deleting leftover {program} container {id}");
        let mut c = Command::new(program);
        c.arg("--root").arg(state).args(["delete", "-f", id]);
        let _ = proc::run(&mut c, Stdout::Null, Duration::from_secs(30));
    }
}

/// One docker-syntax engine.
pub struct CliEngine {
    pub name: String,
    pub program: PathBuf,
    pub global: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    /// Options every `run` gets (`--network none`, the log driver).
    pub run_opts: Vec<String>,
    /// Extra `run` options for the log-write container (Pier rotates logs
    /// by default; the bench keeps the whole log, as docker and podman do).
    pub log_run_opts: Vec<String>,
    /// Options `rm -f` gets (podman's `-t 0`: kill at once, as docker does).
    pub rm_opts: Vec<String>,
    pub image: String,
    /// Where the container logs are when `inspect` has no LogPath.
    pub log_path_fallback: Option<LogPathFn>,
    /// The engine's daemons (name, pid), for the daemon-memory metric.
    pub daemon_pids: Vec<(String, i32)>,
    pub guard: Option<Guard>,
    live: Vec<String>,
}

impl CliEngine {
    pub fn new(name: &str, program: PathBuf, global: Vec<OsString>, guard: Guard) -> Self {
        CliEngine {
            name: name.to_string(),
            program,
            global,
            env: Vec::new(),
            run_opts: Vec::new(),
            rm_opts: Vec::new(),
            log_run_opts: Vec::new(),
            image: String::new(),
            log_path_fallback: None,
            daemon_pids: Vec::new(),
            guard: Some(guard),
            live: Vec::new(),
        }
    }

    /// Another view of the same engine (its daemon and image) whose `run`s
    /// also get `extra` options: a configuration variant. It owns nothing:
    /// it removes only the containers it made.
    pub fn variant(&self, name: &str, extra: &[&str]) -> Self {
        let mut run_opts = self.run_opts.clone();
        run_opts.extend(extra.iter().map(|s| s.to_string()));
        CliEngine {
            name: name.to_string(),
            program: self.program.clone(),
            global: self.global.clone(),
            env: self.env.clone(),
            run_opts,
            rm_opts: self.rm_opts.clone(),
            log_run_opts: self.log_run_opts.clone(),
            image: self.image.clone(),
            log_path_fallback: None,
            daemon_pids: Vec::new(),
            guard: None,
            live: Vec::new(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.global);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs a verb and fails with its stderr unless it exits 0.
    pub fn verb(&self, args: &[&str], stdout: Stdout, timeout: Duration) -> Result<Outcome> {
        let mut c = self.cmd();
        c.args(args);
        let what = format!("{} {}", self.name, args.first().copied().unwrap_or(""));
        proc::run(&mut c, stdout, timeout)?.ok(&what)
    }

    /// `import TAR IMAGE`.
    pub fn import(&mut self, tar: &std::path::Path, image: &str) -> Result<()> {
        let tar = tar.to_str().ok_or_else(|| anyhow!("non-UTF-8 tar path"))?;
        self.verb(&["import", tar, image], Stdout::Null, STEP)?;
        self.image = image.to_string();
        Ok(())
    }

    fn run_args<'a>(&'a self, mode: &'a [&'a str], name: &'a str, args: &'a [&'a str]) -> Vec<&'a str> {
        let mut v: Vec<&str> = vec!["run"];
        v.extend_from_slice(mode);
        v.extend(["--name", name]);
        v.extend(self.run_opts.iter().map(String::as_str));
        v.push(&self.image);
        v.extend_from_slice(args);
        v
    }

    /// `run -d --name NAME IMAGE ARGS`: returns once the container runs.
    pub fn run_detached(&mut self, name: &str, args: &[&str]) -> Result<Outcome> {
        self.live.push(name.to_string());
        let a = self.run_args(&["-d"], name, args);
        self.verb(&a, Stdout::Null, STEP)
    }

    /// [`Self::run_detached`] with more `run` options (`-m 64m`, …).
    pub fn run_detached_with(&mut self, name: &str, opts: &[&str], args: &[&str]) -> Result<Outcome> {
        self.live.push(name.to_string());
        let mut mode = vec!["-d"];
        mode.extend_from_slice(opts);
        let a = self.run_args(&mode, name, args);
        self.verb(&a, Stdout::Null, STEP)
    }

    /// [`Self::run_detached`] with the log-write options.
    pub fn run_detached_logging(&mut self, name: &str, args: &[&str]) -> Result<Outcome> {
        self.live.push(name.to_string());
        let mut mode = vec!["-d"];
        mode.extend(self.log_run_opts.iter().map(String::as_str));
        let a = self.run_args(&mode, name, args);
        self.verb(&a, Stdout::Null, STEP)
    }

    /// `run --rm --name NAME IMAGE ARGS` in the foreground (attached, no TTY).
    pub fn run_rm(&mut self, name: &str, args: &[&str], stdout: Stdout, timeout: Duration) -> Result<Outcome> {
        let a = self.run_args(&["--rm"], name, args);
        // A failed foreground run may leave the container behind: the
        // `ps -aq` sweep in `shutdown` removes it.
        self.verb(&a, stdout, timeout)
    }

    pub fn exec(&mut self, name: &str, args: &[&str]) -> Result<Outcome> {
        let mut a = vec!["exec", name];
        a.extend_from_slice(args);
        self.verb(&a, Stdout::Null, STEP)
    }

    /// `wait NAME`: the exit code it prints.
    pub fn wait(&mut self, name: &str, timeout: Duration) -> Result<i64> {
        let o = self.verb(&["wait", name], Stdout::Capture, timeout)?;
        let text = o.stdout_text();
        text.lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| anyhow!("{} wait {name}: unexpected output {text:?}", self.name))
    }

    /// `rm -f` of several containers (one call, or one by one if that fails).
    pub fn remove(&mut self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        self.live.retain(|l| !names.contains(l));
        let mut a = vec!["rm", "-f"];
        a.extend(self.rm_opts.iter().map(String::as_str));
        let opts = a.len();
        a.extend(names.iter().map(String::as_str));
        if self.verb(&a, Stdout::Null, STEP).is_ok() {
            return Ok(());
        }
        let mut first_err = None;
        for n in names {
            a.truncate(opts);
            a.push(n);
            if let Err(e) = self.verb(&a, Stdout::Null, STEP) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `inspect NAME…` parsed; one object per name.
    pub fn inspect(&self, names: &[String]) -> Result<Vec<Value>> {
        let mut a = vec!["inspect"];
        a.extend(names.iter().map(String::as_str));
        let o = self.verb(&a, Stdout::Capture, STEP)?;
        let v: Value =
            serde_json::from_slice(&o.stdout).with_context(|| format!("parse {} inspect output", self.name))?;
        match v {
            Value::Array(items) if items.len() == names.len() => Ok(items),
            Value::Object(_) if names.len() == 1 => Ok(vec![v]),
            _ => bail!("{} inspect: expected {} objects", self.name, names.len()),
        }
    }

    /// Whether `inspect` says the container is running; `None` when it
    /// does not exist.
    pub fn running(&self, name: &str) -> Option<bool> {
        let items = self.inspect(&[name.to_string()]).ok()?;
        items.first()?.pointer("/State/Running").and_then(Value::as_bool)
    }

    /// The pid of each container's init, as `inspect` reports it.
    pub fn init_pids(&self, names: &[String]) -> Result<Vec<i32>> {
        let items = match self.inspect(names) {
            Ok(items) => items,
            Err(_) => {
                let mut all = Vec::new();
                for n in names {
                    all.extend(self.inspect(std::slice::from_ref(n))?);
                }
                all
            }
        };
        items
            .iter()
            .map(|i| {
                i.pointer("/State/Pid")
                    .and_then(Value::as_i64)
                    .filter(|p| *p > 0)
                    .map(|p| p as i32)
                    .ok_or_else(|| anyhow!("{} inspect: no State.Pid", self.name))
            })
            .collect()
    }

    /// The container's log file.
    pub fn log_path(&self, name: &str) -> Result<PathBuf> {
        let items = self.inspect(&[name.to_string()])?;
        let item = items.first().ok_or_else(|| anyhow!("empty inspect"))?;
        for p in ["/LogPath", "/HostConfig/LogConfig/Path"] {
            if let Some(s) = item.pointer(p).and_then(Value::as_str) {
                if !s.is_empty() {
                    return Ok(PathBuf::from(s));
                }
            }
        }
        let id = item.pointer("/Id").and_then(Value::as_str).unwrap_or(name);
        self.log_path_fallback
            .as_ref()
            .map(|f| f(id))
            .ok_or_else(|| anyhow!("{} inspect: no LogPath", self.name))
    }

    /// Removes every container this run created (and any other the
    /// engine still lists: its state is private to this run), then releases
    /// the guard.
    pub fn shutdown(&mut self) {
        let mut live = std::mem::take(&mut self.live);
        let owner = self.guard.is_some();
        if let Some(o) = owner
            .then(|| self.verb(&["ps", "-aq"], Stdout::Capture, STEP).ok())
            .flatten()
        {
            live.extend(
                o.stdout_text()
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty()),
            );
        }
        if !live.is_empty() {
            if let Err(e) = self.remove(&live) {
                eprintln!("pier-bench: {}: removing containers: {e:#}", self.name);
            }
        }
        drop(self.guard.take());
    }
}

impl Drop for CliEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The first line of `program --version` (or of `args`).
pub fn version_line(program: &str, args: &[&str]) -> String {
    let mut c = Command::new(program);
    c.args(if args.is_empty() { &["--version"][..] } else { args });
    match proc::run(&mut c, Stdout::Capture, Duration::from_secs(20)) {
        Ok(o) if o.status.success() => o.stdout_text().lines().next().unwrap_or("?").to_string(),
        Ok(o) => format!("unknown ({})", o.stderr_line()),
        Err(e) => format!("unknown ({e})"),
    }
}
