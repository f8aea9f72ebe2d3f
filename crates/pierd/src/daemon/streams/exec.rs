//! Exec: new processes in a running container, run by the container's own
//! shim (`runtime exec --detach`), their stdio relayed like an attach.
//!
//! The process spec is the container's init process with the exec's argv,
//! env (the container's plus `-e`), cwd, user and terminal
//! ([`crate::spec::exec_process`]), written to `<bundle>/exec-<id>.json`.
//! The exit code is recorded here before the client's stream is closed, so
//! the docker CLI's inspect right after sees it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::UnixStream;

use crate::daemon::storage::confined::{read_user_db, Root};
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::record::ContainerRecord;
use crate::shim::{ExecLaunch, ProcessFailure};
use crate::spec;

/// An exec as created (docker's ExecConfig).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: Option<String>,
    /// `(height, width)`.
    pub console_size: Option<(u16, u16)>,
}

/// Where an exec is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStatus {
    pub started: bool,
    pub running: bool,
    pub exit_code: Option<i32>,
    /// Host pid while running.
    pub pid: i32,
}

/// One exec instance.
#[derive(Debug)]
pub struct Exec {
    /// 64 hex.
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    status: std::sync::Mutex<ExecStatus>,
    /// Its `exec_die` event was recorded.
    died: std::sync::atomic::AtomicBool,
}

impl Exec {
    pub fn status(&self) -> ExecStatus {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut ExecStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Record how the process ended (before its client hears of it).
    pub fn finish(&self, exit_code: Option<i32>) {
        self.update(|s| {
            s.running = false;
            s.pid = 0;
            if exit_code.is_some() {
                s.exit_code = exit_code;
            }
        });
    }
}

/// Every exec pierd knows, by id.
#[derive(Default)]
pub(crate) struct ExecTable {
    map: std::sync::Mutex<HashMap<String, Arc<Exec>>>,
}

impl ExecTable {
    fn get(&self, id: &str) -> Option<Arc<Exec>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    fn insert(&self, e: Arc<Exec>) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(e.id.clone(), e);
    }

    /// Forget the execs of containers that are gone.
    fn retain(&self, keep: impl Fn(&Exec) -> bool) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| keep(e));
    }

    fn of_container(&self, container_id: &str) -> Vec<String> {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }
}

/// A start that failed inside the runtime: docker's message and the exit
/// code it records (127 not found, 126 cannot execute), from the shim's
/// error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFailure {
    pub failure: ProcessFailure,
    pub message: String,
    pub exit_code: i32,
}

impl From<ExecFailure> for Error {
    fn from(f: ExecFailure) -> Self {
        Error::ExecFailed {
            failure: f.failure,
            message: f.message,
        }
    }
}

/// docker's wording of a runtime's exec error; the exit code comes from
/// how it failed, never from the words.
pub fn exec_failure(failure: ProcessFailure, runtime_message: &str) -> ExecFailure {
    let msg = runtime_message.trim();
    let core = match msg.find("exec failed:") {
        Some(i) => &msg[i..],
        None => msg,
    };
    ExecFailure {
        failure,
        message: format!("OCI runtime exec failed: {core}: unknown"),
        exit_code: failure.exit_code(),
    }
}

fn not_running(id: &str) -> Error {
    Error::Conflict(format!("container {id} is not running"))
}

/// dockerd names the container as the client did at exec create, by id at
/// exec start.
fn paused(name: &str) -> Error {
    Error::Conflict(format!("Container {name} is paused, unpause the container before exec"))
}

impl Daemon {
    /// `POST /containers/{id}/exec`: register an exec; nothing runs yet.
    pub fn exec_create(&self, key: &str, config: ExecConfig) -> Result<String> {
        let c = self.lookup(key)?;
        if config.cmd.is_empty() {
            return Err(Error::InvalidParameter("No exec command specified".to_string()));
        }
        if c.record().state.is_restarting() {
            return Err(Error::Conflict(format!(
                "Container {} is restarting, wait until the container is running",
                c.id
            )));
        }
        if !c.record().state.is_running() {
            return Err(not_running(&c.id));
        }
        if c.record().state.paused {
            return Err(paused(key));
        }
        // The exec's own keys apply to its attach (`detach_keys::choose`);
        // dockerd refuses bad ones here, with a plain error.
        if let Some(keys) = config.detach_keys.as_deref().filter(|k| !k.is_empty()) {
            if crate::daemon::streams::detach_keys::parse(keys).is_err() {
                return Err(Error::Plain(format!("Invalid escape keys ({keys}) provided")));
            }
        }
        self.execs.retain(|e| self.lookup(&e.container_id).is_ok());
        let id = hex::encode(rand::random::<[u8; 32]>());
        self.execs.insert(Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            status: std::sync::Mutex::new(ExecStatus::default()),
            died: std::sync::atomic::AtomicBool::new(false),
        }));
        if let Some(e) = self.execs.get(&id) {
            self.container_event(
                &c.record(),
                &exec_action("exec_create", &e.config.cmd),
                &[("execID", &id)],
            );
        }
        Ok(id)
    }

    /// An exec by id (full id or unique prefix is not needed: clients use
    /// the id they were given).
    pub fn exec_get(&self, id: &str) -> Option<Arc<Exec>> {
        self.execs.get(id)
    }

    /// The ids of a container's execs (inspect's `ExecIDs`).
    pub fn exec_ids(&self, container_id: &str) -> Vec<String> {
        self.execs.of_container(container_id)
    }

    /// Claim an exec for starting: refuses a second start and a stopped
    /// container.
    pub fn exec_begin(&self, e: &Exec) -> Result<()> {
        let c = self.lookup(&e.container_id)?;
        if !c.record().state.is_running() {
            return Err(not_running(&c.id));
        }
        if c.record().state.paused {
            return Err(paused(&c.id));
        }
        let mut s = e.status.lock().unwrap_or_else(|p| p.into_inner());
        if s.running {
            return Err(Error::Conflict(format!(
                "Error: Exec command {} is already running",
                e.id
            )));
        }
        if s.started {
            return Err(Error::Conflict(format!("Error: Exec command {} has already run", e.id)));
        }
        s.started = true;
        Ok(())
    }

    /// Start a claimed exec in the shim. `Ok(Err(..))` is a runtime failure
    /// already recorded with its exit code; the stream is `None` when
    /// detached.
    pub async fn exec_launch(
        self: &Arc<Self>,
        e: &Exec,
        detach: bool,
        console_size: Option<(u16, u16)>,
    ) -> Result<std::result::Result<Option<UnixStream>, ExecFailure>> {
        let c = self.lookup(&e.container_id)?;
        let rec = c.record();
        if !rec.state.is_running() {
            e.finish(None);
            return Err(not_running(&c.id));
        }
        if rec.state.paused {
            e.finish(None);
            return Err(paused(&c.id));
        }
        let console_size = console_size.or(e.config.console_size).filter(|(h, w)| *h > 0 && *w > 0);
        let process = {
            let c = c.clone();
            let cfg = e.config.clone();
            let id = e.id.clone();
            Daemon::blocking("write exec process", move || {
                write_process(&c, &rec, &id, &cfg, console_size)
            })
            .await
        };
        let process = match process {
            Ok(p) => p,
            Err(err) => {
                e.finish(Some(126));
                return Err(err);
            }
        };
        let launch = ExecLaunch {
            exec_id: e.id.clone(),
            process: process.clone(),
            tty: e.config.tty,
            stdin: e.config.attach_stdin && !detach,
            stdout: e.config.attach_stdout,
            stderr: e.config.attach_stderr,
            detach,
            console_size,
        };
        let res = c.shim.exec(launch).await;
        let _ = std::fs::remove_file(&process);
        match res {
            Ok(crate::shim::ExecStarted { pid, stream }) => {
                e.update(|s| {
                    s.running = true;
                    s.pid = pid;
                });
                tracing::info!(id = %c.id, exec = %e.id, pid, "exec started");
                self.container_event(
                    &c.record(),
                    &exec_action("exec_start", &e.config.cmd),
                    &[("execID", &e.id)],
                );
                if detach {
                    self.watch_detached_exec(e.id.clone());
                }
                Ok(Ok(stream))
            }
            Err(err) if err.is_not_running() => {
                e.finish(None);
                Err(not_running(&c.id))
            }
            Err(err) => match (err.process_failure(), err.refusal_message()) {
                (Some(failure), Some(message)) => {
                    let f = exec_failure(failure, message);
                    e.finish(Some(f.exit_code));
                    Ok(Err(f))
                }
                _ => {
                    e.finish(Some(126));
                    Err(Error::shim(format!("exec in container {}", c.id), err))
                }
            },
        }
    }

    /// The exec's status, asking the shim when it still runs (a detached
    /// exec learns its exit code this way).
    pub async fn exec_refresh(&self, e: &Exec) -> ExecStatus {
        let s = e.status();
        if !s.running {
            return s;
        }
        let Ok(c) = self.lookup(&e.container_id) else {
            e.finish(None);
            return e.status();
        };
        match c.shim.exec_state(&e.id).await {
            Ok(info) if !info.running => e.finish(info.exit_code),
            Ok(_) => {}
            Err(err) if err.is_gone() => e.finish(None),
            Err(err) => tracing::debug!(exec = %e.id, error = %err, "exec state"),
        }
        self.exec_died(e);
        e.status()
    }

    /// Record `e`'s `exec_die` event once it has ended (once).
    pub fn exec_died(&self, e: &Exec) {
        let s = e.status();
        if !s.started || s.running || e.died.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Ok(c) = self.lookup(&e.container_id) else { return };
        let code = s.exit_code.map(|c| c.to_string());
        let mut attrs = vec![("execID", e.id.as_str())];
        if let Some(code) = &code {
            attrs.push(("exitCode", code.as_str()));
        }
        self.container_event(&c.record(), "exec_die", &attrs);
    }

    /// A detached exec's end is learned from its shim (nobody holds its
    /// stream), so that `exec_die` is recorded when it happens: an
    /// `ExecWait` parked on the shim, or (a shim older than that request)
    /// asking less and less often.
    fn watch_detached_exec(self: &Arc<Self>, id: String) {
        let d = self.clone();
        tokio::spawn(async move {
            let e = d.exec_get(&id);
            if let Some((e, Ok(c))) = e.map(|e| {
                let c = d.lookup(&e.container_id);
                (e, c)
            }) {
                match c.shim.exec_wait(&id).await {
                    Ok(info) if !info.running => {
                        e.finish(info.exit_code);
                        d.exec_died(&e);
                        return;
                    }
                    Err(err) if err.is_gone() => {
                        e.finish(None);
                        d.exec_died(&e);
                        return;
                    }
                    Ok(_) | Err(_) => {}
                }
            }
            let mut pause = std::time::Duration::from_millis(100);
            loop {
                tokio::time::sleep(pause).await;
                let Some(e) = d.exec_get(&id) else { return };
                if !d.exec_refresh(&e).await.running {
                    return;
                }
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
        });
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, e: &Exec, height: u16, width: u16) -> Result<()> {
        if !e.status().running {
            return Err(Error::Conflict(format!("Exec {} is not running", e.id)));
        }
        let c = self.lookup(&e.container_id)?;
        c.shim
            .resize(Some(&e.id), height, width)
            .await
            .map_err(|err| Error::shim(format!("resize exec {}", e.id), err))
    }
}

/// dockerd's action of an exec event: `exec_start: sh -c true`.
fn exec_action(action: &str, cmd: &[String]) -> String {
    let entry = cmd.first().map(String::as_str).unwrap_or("");
    let args = cmd.get(1..).unwrap_or(&[]).join(" ");
    format!("{action}: {entry} {args}")
}

/// Build the exec's OCI process from the container's spec and write it to
/// the bundle. Blocking.
fn write_process(
    c: &Container,
    rec: &ContainerRecord,
    exec_id: &str,
    cfg: &ExecConfig,
    console_size: Option<(u16, u16)>,
) -> Result<PathBuf> {
    let config_json = c.bundle.join("config.json");
    let container_spec = oci_spec::runtime::Spec::load(&config_json)
        .map_err(|e| Error::system(format!("load {}", config_json.display()), e))?;
    let merged = c.rootfs().merged;
    let user = match cfg.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => {
            let root = Root::open(&merged).map_err(|e| Error::system(format!("open {}", merged.display()), e))?;
            let passwd = read_user_db(&root, "/etc/passwd")?;
            let group = read_user_db(&root, "/etc/group")?;
            Some(spec::resolve_user(u, &passwd, &group).map_err(|e| Error::InvalidParameter(e.to_string()))?)
        }
        None => None,
    };
    let hostname = container_spec
        .hostname()
        .clone()
        .unwrap_or_else(|| spec::default_hostname(&rec.id));
    // The container's legacy link variables too, as dockerd's exec.
    let links: Vec<String> = container_spec
        .process()
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            let k = v.split('=').next().unwrap_or("");
            rec.spec.links.iter().any(|l| {
                let alias = l.alias.to_uppercase().replace('-', "_");
                k.strip_prefix(alias.as_str()).is_some_and(|rest| rest.starts_with('_'))
            })
        })
        .collect();
    let env: Vec<String> = links.into_iter().chain(rec.spec.process.env.iter().cloned()).collect();
    let base = spec::process_env(&env, &hostname, cfg.tty);
    let env = spec::replace_or_append_env(&base, &cfg.env);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let input = spec::ExecInput {
        args: cfg.cmd.clone(),
        env,
        cwd: cfg.working_dir.clone().filter(|w| !w.is_empty()),
        user,
        tty: cfg.tty,
        console_size: console_size.map(|(h, w)| spec::ConsoleSize {
            height: u64::from(h),
            width: u64::from(w),
        }),
        privileged: cfg.privileged,
        cap_bounding: spec::parse_cap_mask(&status, "CapBnd").unwrap_or(u64::MAX),
    };
    let process = spec::exec_process(&container_spec, &input).map_err(|e| Error::InvalidParameter(e.to_string()))?;
    let bytes = serde_json::to_vec(&process).map_err(|e| Error::system("encode exec process", e))?;
    let path = c.bundle.join(format!("exec-{exec_id}.json"));
    // Transient and read once by the runtime: no fsync.
    crate::private::write(&path, &bytes, crate::private::RECORD)
        .map_err(|e| Error::system(format!("write {}", path.display()), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_failures_read_like_docker() {
        let f = exec_failure(
            ProcessFailure::NotFound,
            "runc exec: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH",
        );
        assert_eq!(f.exit_code, 127);
        assert_eq!(
            f.message,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"
        );
        let f = exec_failure(
            ProcessFailure::PermissionDenied,
            "exec failed: unable to start container process: exec: \"/etc\": permission denied",
        );
        assert_eq!(f.exit_code, 126);
        // The code decides, not the words.
        assert_eq!(
            exec_failure(ProcessFailure::Other, "executable file not found").exit_code,
            126
        );
    }
}
