//! Typed options to argv. Pure.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Options of `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: PathBuf,
    /// A unix socket the runtime sends the terminal's master fd to.
    pub console_socket: Option<PathBuf>,
}

/// Options of `exec` (always `--detach`: the caller reaps the process,
/// which the runtime leaves to the nearest subreaper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    /// An OCI `process` JSON file.
    pub process: PathBuf,
    pub pid_file: PathBuf,
    /// A unix socket the runtime sends the terminal's master fd to.
    pub console_socket: Option<PathBuf>,
}

/// A runtime subcommand, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Start,
    /// `run --detach`: create and start in one process.
    Run,
    Kill,
    Delete,
    State,
    Exec,
    Pause,
    Resume,
    Update,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Create => "create",
            Op::Start => "start",
            Op::Run => "run",
            Op::Kill => "kill",
            Op::Delete => "delete",
            Op::State => "state",
            Op::Exec => "exec",
            Op::Pause => "pause",
            Op::Resume => "resume",
            Op::Update => "update",
        })
    }
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn path(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

pub(crate) fn global(root: &Path, log: Option<&Path>) -> Vec<OsString> {
    let mut v = vec![os("--root"), path(root)];
    if let Some(log) = log {
        v.extend([os("--log"), path(log), os("--log-format"), os("json")]);
    }
    v
}

pub(crate) fn create(id: &str, o: &CreateOptions) -> Vec<OsString> {
    let mut v = vec![
        os("create"),
        os("--bundle"),
        path(&o.bundle),
        os("--pid-file"),
        path(&o.pid_file),
    ];
    if let Some(sock) = &o.console_socket {
        v.extend([os("--console-socket"), path(sock)]);
    }
    v.push(os(id));
    v
}

/// `run --detach`: `create` and `start` in one runtime process, with the
/// options `create` takes.
pub(crate) fn run_detached(id: &str, o: &CreateOptions) -> Vec<OsString> {
    let mut v = create(id, o);
    v[0] = os("run");
    v.insert(v.len() - 1, os("--detach"));
    v
}

pub(crate) fn exec(id: &str, o: &ExecOptions) -> Vec<OsString> {
    let mut v = vec![
        os("exec"),
        os("--process"),
        path(&o.process),
        os("--pid-file"),
        path(&o.pid_file),
        os("--detach"),
    ];
    if let Some(sock) = &o.console_socket {
        v.extend([os("--console-socket"), path(sock)]);
    }
    v.push(os(id));
    v
}

pub(crate) fn start(id: &str) -> Vec<OsString> {
    vec![os("start"), os(id)]
}

pub(crate) fn kill(id: &str, signal: i32, all: bool) -> Vec<OsString> {
    let mut v = vec![os("kill")];
    if all {
        v.push(os("--all"));
    }
    v.extend([os(id), OsString::from(signal.to_string())]);
    v
}

pub(crate) fn delete(id: &str, force: bool) -> Vec<OsString> {
    let mut v = vec![os("delete")];
    if force {
        v.push(os("--force"));
    }
    v.push(os(id));
    v
}

pub(crate) fn state(id: &str) -> Vec<OsString> {
    vec![os("state"), os(id)]
}

pub(crate) fn pause(id: &str) -> Vec<OsString> {
    vec![os("pause"), os(id)]
}

pub(crate) fn resume(id: &str) -> Vec<OsString> {
    vec![os("resume"), os(id)]
}

/// `update --resources FILE ID`: FILE holds an OCI `linux.resources` object.
pub(crate) fn update(id: &str, resources: &Path) -> Vec<OsString> {
    vec![os("update"), os("--resources"), path(resources), os(id)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn subcommands() {
        let o = CreateOptions {
            bundle: "/b".into(),
            pid_file: "/b/p".into(),
            console_socket: Some("/b/c.sock".into()),
        };
        assert_eq!(
            s(create("id", &o)),
            [
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/p",
                "--console-socket",
                "/b/c.sock",
                "id"
            ]
        );
        assert_eq!(
            s(run_detached("id", &o)),
            [
                "run",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/p",
                "--console-socket",
                "/b/c.sock",
                "--detach",
                "id"
            ]
        );
        assert_eq!(s(kill("id", 9, false)), ["kill", "id", "9"]);
        assert_eq!(s(kill("id", 15, true)), ["kill", "--all", "id", "15"]);
        assert_eq!(s(delete("id", true)), ["delete", "--force", "id"]);
        assert_eq!(s(delete("id", false)), ["delete", "id"]);
        assert_eq!(s(state("id")), ["state", "id"]);
        assert_eq!(s(pause("id")), ["pause", "id"]);
        assert_eq!(s(resume("id")), ["resume", "id"]);
        assert_eq!(
            s(update("id", Path::new("/b/resources.json"))),
            ["update", "--resources", "/b/resources.json", "id"]
        );
        let e = ExecOptions {
            process: "/b/exec-1.json".into(),
            pid_file: "/b/exec-1.pid".into(),
            console_socket: None,
        };
        assert_eq!(
            s(exec("id", &e)),
            [
                "exec",
                "--process",
                "/b/exec-1.json",
                "--pid-file",
                "/b/exec-1.pid",
                "--detach",
                "id"
            ]
        );
        assert_eq!(s(start("id")), ["start", "id"]);
        assert_eq!(s(global(Path::new("/r"), None)), ["--root", "/r"]);
    }
}
