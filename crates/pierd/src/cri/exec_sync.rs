//! `ExecSync`: a command in a running container through its shim, exactly
//! as the Docker API's exec (`exec_create`, `exec_begin`, `exec_launch`),
//! its output collected from the shim's stream. Past the timeout the
//! process and everything it started are killed by pid (killing `runtime
//! exec` would leave them running), then the exit is awaited so nothing
//! is left behind.

use std::sync::Arc;
use std::time::Duration;

use pier_cri_api::tonic::Status;
use pier_cri_api::v1 as cri;
use pier_shim_proto::{StreamEnd, StreamKind};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

use super::{container, status_of};
use crate::daemon::{Daemon, ExecConfig};

/// Output kept per stream; the rest is read and dropped.
const MAX_OUTPUT: usize = 16 << 20;
/// How long to wait for the exit after the kill.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// What the stream carried.
#[derive(Debug, Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// `Some` once the end frame came (its code, if known).
    end: Option<Option<i32>>,
}

/// Read frames (the stdcopy layout: kind, 3 zero bytes, big-endian
/// length) until the end frame or the stream's end.
async fn collect(stream: &mut UnixStream, into: &mut Collected) -> std::io::Result<()> {
    let mut header = [0u8; 8];
    let mut payload = Vec::new();
    loop {
        if let Err(e) = stream.read_exact(&mut header).await {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(())
            } else {
                Err(e)
            };
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        payload.resize(len, 0);
        stream.read_exact(&mut payload).await?;
        let out = match StreamKind::from_byte(header[0]) {
            Some(StreamKind::Stdout) => &mut into.stdout,
            Some(StreamKind::Stderr) => &mut into.stderr,
            Some(StreamKind::End) => {
                into.end = Some(
                    serde_json::from_slice::<StreamEnd>(&payload)
                        .ok()
                        .and_then(|e| e.exit_code),
                );
                return Ok(());
            }
            Some(StreamKind::Notice) | None => continue,
        };
        let room = MAX_OUTPUT.saturating_sub(out.len());
        out.extend_from_slice(&payload[..len.min(room)]);
    }
}

/// Host pids of `root`'s descendants, from `/proc/<pid>/stat` parents.
fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: comm may hold spaces and parens.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (child, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            if !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// SIGKILL `pid` (if it is still the process started at `start`) and
/// every process below it.
fn kill_tree(pid: i32, start: Option<u64>, now_start: impl Fn(i32) -> Option<u64>) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if pid <= 0 || (start.is_some() && now_start(pid) != start) {
        return;
    }
    // Stop the parent first so it starts nothing new, then the rest.
    let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
    for child in descendants(pid) {
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

pub(crate) async fn exec_sync(
    daemon: &Arc<Daemon>,
    req: cri::ExecSyncRequest,
) -> Result<cri::ExecSyncResponse, Status> {
    let c = container::get(daemon, &req.container_id)?;
    if req.cmd.is_empty() {
        return Err(Status::invalid_argument("no command to run"));
    }
    if !c.record().state.is_running() {
        return Err(Status::failed_precondition(format!(
            "container {} is not running",
            c.id
        )));
    }
    let exec_id = daemon
        .exec_create(
            &c.id,
            ExecConfig {
                cmd: req.cmd.clone(),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
        )
        .map_err(status_of)?;
    let e = daemon
        .exec_get(&exec_id)
        .ok_or_else(|| Status::internal(format!("exec {exec_id} vanished")))?;
    daemon.exec_begin(&e).map_err(status_of)?;
    let mut stream = match daemon.exec_launch(&e, false, None).await.map_err(status_of)? {
        Ok(Some(stream)) => stream,
        Ok(None) => return Err(Status::internal("exec started without a stream")),
        // Not found (127) or not executable (126), as docker's exec.
        Err(failure) => {
            return Ok(cri::ExecSyncResponse {
                stdout: Vec::new(),
                stderr: failure.message.into_bytes(),
                exit_code: failure.exit_code,
            })
        }
    };
    let pid = e.status().pid;
    let start = c.shim.process_start(pid);
    let mut got = Collected::default();
    // One reader future polled to its end, never dropped halfway through a
    // frame: the timeout only decides when to kill.
    let limit = u64::try_from(req.timeout)
        .ok()
        .filter(|t| *t > 0)
        .map(Duration::from_secs);
    let read = {
        let reader = collect(&mut stream, &mut got);
        tokio::pin!(reader);
        let deadline = async {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut reader => Some(r),
            () = deadline => {
                let shim = c.shim.clone();
                let _ = Daemon::blocking("kill the exec", move || {
                    kill_tree(pid, start, |p| shim.process_start(p));
                    Ok(())
                })
                .await;
                // Its end frame says the process is gone.
                let _ = tokio::time::timeout(KILL_GRACE, &mut reader).await;
                None
            }
        }
    };
    let Some(read) = read else {
        e.finish(got.end.flatten());
        daemon.exec_died(&e);
        return Err(Status::deadline_exceeded(format!(
            "command {:?} timed out after {}s",
            req.cmd, req.timeout
        )));
    };
    read.map_err(|err| Status::internal(format!("read exec output: {err}")))?;
    let code = match got.end {
        Some(code) => {
            e.finish(code);
            code
        }
        None => daemon.exec_refresh(&e).await.exit_code,
    };
    daemon.exec_died(&e);
    Ok(cri::ExecSyncResponse {
        stdout: got.stdout,
        stderr: got.stderr,
        exit_code: code.unwrap_or(-1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_of_this_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let me = std::process::id() as i32;
        let pid = child.id() as i32;
        assert!(descendants(me).contains(&pid));
        let _ = child.kill();
        let _ = child.wait();
    }
}
