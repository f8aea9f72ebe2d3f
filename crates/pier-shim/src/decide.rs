//! The shim's decisions as plain functions over values: what a request
//! leads to, how an exit status becomes a record, when the shim may leave.

use pier_shim_proto::{
    AttachRequest, ErrorCode, ExecInfo, ExecRequest, ExitRecord, Request, Response, StateInfo, Status,
};
use pier_sys::reap::ExitStatus;

/// Where the container is in its life, as the shim drives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for `Start`, which runs `runtime run --detach`
    /// (`ShimConfig::run_on_start`): no runtime container yet.
    Pending,
    /// `runtime run --detach` is running: the container's output waits in
    /// its pipes, exits reaped meanwhile wait for the runtime's answer.
    Launching,
    /// `runtime create` is running.
    Creating,
    /// Created, not started.
    Created,
    /// `runtime start` succeeded.
    Running,
    /// Init was reaped; draining stdout/stderr before the record is written.
    Draining(ExitRecord),
    /// The record is on disk; `runtime delete` may still be running.
    Exited { record: ExitRecord, deleted: bool },
}

/// What the loop knows about the container, for deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub phase: Phase,
    pub pid: i32,
    pub started_at: Option<i64>,
    /// A `start` is queued or running.
    pub starting: bool,
    /// The container has a terminal.
    pub tty: bool,
    /// Frozen by a `Pause` that no `Resume` (or SIGKILL) undid.
    pub paused: bool,
}

/// A runtime invocation a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    Start,
    Kill { signal: i32, all: bool },
    Pause,
    Resume,
    Update { resources: std::path::PathBuf },
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer now.
    Reply(Response),
    /// Queue a runtime invocation; answer when it ends.
    Run(ClientOp),
    /// Answer when the container has exited and is deleted.
    Park,
    /// Answer `Ok` now and exit once the container is gone.
    Shutdown,
    /// Answer `Ok` and turn the connection into an attach stream.
    Attach(AttachRequest),
    /// Queue `runtime exec`; answer `ExecStarted` when it ends.
    Exec(ExecRequest),
    /// Answer with the exec's state (the loop holds the table).
    ExecState(String),
    /// Resize the container's terminal, or the exec's.
    Resize {
        exec_id: Option<String>,
        height: u16,
        width: u16,
    },
    /// Close the container's stdin once what is queued for it is written.
    CloseStdin,
    /// Answer once more than this many OOM events were seen (the loop
    /// holds the count), or the container is gone.
    OomWait(u64),
    /// Answer once the health record has a change numbered above this,
    /// or the checks have ended.
    HealthWait(u64),
    /// Answer with the exec's state once it has exited.
    ExecWait(String),
    /// Reopen the log file by its path.
    ReopenLog,
    /// A signal before `Start` (nothing runs): record an exit by that
    /// signal and answer `Ok`.
    Abandon(i32),
}

fn error(code: ErrorCode, message: impl Into<String>) -> Decision {
    Decision::Reply(Response::Error {
        message: message.into(),
        code,
    })
}

/// The state a client sees.
pub fn state_info(v: &View) -> StateInfo {
    let (status, exit) = match &v.phase {
        Phase::Pending | Phase::Launching | Phase::Creating | Phase::Created => (Status::Created, None),
        Phase::Running | Phase::Draining(_) => (Status::Running, None),
        Phase::Exited { record, .. } => (Status::Stopped, Some(record.clone())),
    };
    StateInfo {
        status,
        pid: v.pid,
        started_at: v.started_at,
        exit,
        paused: v.paused && v.phase == Phase::Running,
    }
}

/// The record is on disk and the runtime has forgotten the container.
pub fn finished(phase: &Phase) -> Option<&ExitRecord> {
    match phase {
        Phase::Exited { record, deleted: true } => Some(record),
        _ => None,
    }
}

pub fn decide(v: &View, req: &Request) -> Decision {
    match req {
        Request::State => Decision::Reply(Response::State(state_info(v))),
        Request::Start => match v.phase {
            Phase::Pending | Phase::Created if !v.starting => Decision::Run(ClientOp::Start),
            Phase::Pending | Phase::Launching | Phase::Created => {
                error(ErrorCode::Invalid, "container is already starting")
            }
            Phase::Creating => error(ErrorCode::NotRunning, "container is still being created"),
            Phase::Running => error(ErrorCode::Invalid, "container is already running"),
            Phase::Draining(_) | Phase::Exited { .. } => error(ErrorCode::NotRunning, "container has exited"),
        },
        Request::Kill { signal, all } => match v.phase {
            _ if !(1..=64).contains(signal) => error(ErrorCode::Invalid, format!("invalid signal {signal}")),
            Phase::Created | Phase::Running => Decision::Run(ClientOp::Kill {
                signal: *signal,
                all: *all,
            }),
            Phase::Pending if !v.starting => Decision::Abandon(*signal),
            Phase::Pending | Phase::Launching | Phase::Creating => {
                error(ErrorCode::NotRunning, "container is still being created")
            }
            Phase::Draining(_) | Phase::Exited { .. } => error(ErrorCode::NotRunning, "container is not running"),
        },
        Request::Wait => match finished(&v.phase) {
            Some(record) => Decision::Reply(Response::Exited(record.clone())),
            None => Decision::Park,
        },
        Request::Shutdown => Decision::Shutdown,
        Request::Attach(a) => match v.phase {
            // Before `run` the output waits in the pipes: nothing is missed.
            Phase::Pending | Phase::Launching | Phase::Created | Phase::Running => Decision::Attach(a.clone()),
            Phase::Creating => error(ErrorCode::NotRunning, "container is still being created"),
            Phase::Draining(_) | Phase::Exited { .. } => error(ErrorCode::NotRunning, "container is not running"),
        },
        Request::Exec(e) => match v.phase {
            _ if !valid_exec_id(&e.exec_id) => error(ErrorCode::Invalid, format!("invalid exec id {:?}", e.exec_id)),
            Phase::Running => Decision::Exec(e.clone()),
            Phase::Pending | Phase::Launching | Phase::Creating | Phase::Created => {
                error(ErrorCode::NotRunning, "container is not running")
            }
            Phase::Draining(_) | Phase::Exited { .. } => error(ErrorCode::NotRunning, "container is not running"),
        },
        Request::ExecState { exec_id } => Decision::ExecState(exec_id.clone()),
        Request::Resize { exec_id: None, .. } if !v.tty => error(ErrorCode::Invalid, "the container has no terminal"),
        Request::Resize { exec_id, height, width } => Decision::Resize {
            exec_id: exec_id.clone(),
            height: *height,
            width: *width,
        },
        Request::CloseStdin => Decision::CloseStdin,
        Request::Pause | Request::Resume => match v.phase {
            Phase::Running if matches!(req, Request::Pause) => Decision::Run(ClientOp::Pause),
            Phase::Running => Decision::Run(ClientOp::Resume),
            _ => error(ErrorCode::NotRunning, "container is not running"),
        },
        Request::Update { resources } => match v.phase {
            Phase::Created | Phase::Running => Decision::Run(ClientOp::Update {
                resources: resources.clone(),
            }),
            _ => error(ErrorCode::NotRunning, "container is not running"),
        },
        Request::OomWait { seen } => Decision::OomWait(*seen),
        Request::HealthWait { seen } => Decision::HealthWait(*seen),
        Request::ExecWait { exec_id } => Decision::ExecWait(exec_id.clone()),
        Request::ReopenLog => match v.phase {
            Phase::Pending | Phase::Launching | Phase::Created | Phase::Running => Decision::ReopenLog,
            _ => error(ErrorCode::NotRunning, "container is not running"),
        },
    }
}

/// An exec id names files in the bundle: letters, digits, `-` and `_`.
pub fn valid_exec_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An exec as clients see it: `pid` is 0 until the runtime has started it.
pub fn exec_info(pid: i32, exit_code: Option<i32>) -> ExecInfo {
    ExecInfo {
        running: pid > 0 && exit_code.is_none(),
        pid,
        exit_code,
    }
}

/// The record for an init that ended with `status` at `finished_at`.
pub fn exit_record(status: ExitStatus, started_at: Option<i64>, finished_at: i64) -> ExitRecord {
    ExitRecord {
        exit_code: status.code(),
        signal: status.signal(),
        started_at,
        finished_at,
        oom_killed: false,
    }
}

/// Whether the shim may exit now.
pub fn may_exit(phase: &Phase, clients: usize, shutdown: bool) -> bool {
    finished(phase).is_some() && (clients == 0 || shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(phase: Phase) -> View {
        View {
            phase,
            pid: 42,
            started_at: None,
            starting: false,
            tty: false,
            paused: false,
        }
    }

    fn record() -> ExitRecord {
        exit_record(
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false,
            },
            Some(1),
            2,
        )
    }

    #[test]
    fn start_only_when_created() {
        assert_eq!(
            decide(&view(Phase::Created), &Request::Start),
            Decision::Run(ClientOp::Start)
        );
        let mut starting = view(Phase::Created);
        starting.starting = true;
        assert!(matches!(
            decide(&starting, &Request::Start),
            Decision::Reply(Response::Error { .. })
        ));
        assert!(matches!(
            decide(&view(Phase::Running), &Request::Start),
            Decision::Reply(Response::Error { .. })
        ));
    }

    #[test]
    fn a_pending_shim_runs_at_start_and_abandons_at_kill() {
        assert_eq!(
            decide(&view(Phase::Pending), &Request::Start),
            Decision::Run(ClientOp::Start)
        );
        let mut starting = view(Phase::Pending);
        starting.starting = true;
        assert!(matches!(
            decide(&starting, &Request::Start),
            Decision::Reply(Response::Error { .. })
        ));
        assert!(matches!(
            decide(&view(Phase::Launching), &Request::Start),
            Decision::Reply(Response::Error { .. })
        ));
        let k = Request::Kill { signal: 9, all: true };
        assert_eq!(decide(&view(Phase::Pending), &k), Decision::Abandon(9));
        assert!(matches!(
            decide(&starting, &k),
            Decision::Reply(Response::Error {
                code: ErrorCode::NotRunning,
                ..
            })
        ));
        let a = AttachRequest {
            stdin: false,
            stdout: true,
            stderr: true,
            logs: false,
        };
        assert!(matches!(
            decide(&view(Phase::Pending), &Request::Attach(a.clone())),
            Decision::Attach(_)
        ));
        assert!(matches!(
            decide(&view(Phase::Launching), &Request::Attach(a)),
            Decision::Attach(_)
        ));
        assert_eq!(decide(&view(Phase::Pending), &Request::Wait), Decision::Park);
    }

    #[test]
    fn kill_needs_a_live_container_and_a_signal() {
        let k = Request::Kill { signal: 9, all: false };
        assert_eq!(
            decide(&view(Phase::Running), &k),
            Decision::Run(ClientOp::Kill { signal: 9, all: false })
        );
        assert!(matches!(
            decide(&view(Phase::Draining(record())), &k),
            Decision::Reply(Response::Error { .. })
        ));
        assert!(matches!(
            decide(&view(Phase::Running), &Request::Kill { signal: 0, all: false }),
            Decision::Reply(Response::Error { .. })
        ));
    }

    #[test]
    fn pause_resume_and_update_need_a_live_container() {
        assert_eq!(
            decide(&view(Phase::Running), &Request::Pause),
            Decision::Run(ClientOp::Pause)
        );
        assert_eq!(
            decide(&view(Phase::Running), &Request::Resume),
            Decision::Run(ClientOp::Resume)
        );
        assert!(matches!(
            decide(&view(Phase::Created), &Request::Pause),
            Decision::Reply(Response::Error {
                code: ErrorCode::NotRunning,
                ..
            })
        ));
        let u = Request::Update {
            resources: "/b/resources.json".into(),
        };
        assert_eq!(
            decide(&view(Phase::Running), &u),
            Decision::Run(ClientOp::Update {
                resources: "/b/resources.json".into()
            })
        );
        assert!(matches!(
            decide(&view(Phase::Draining(record())), &u),
            Decision::Reply(Response::Error { .. })
        ));
        let mut paused = view(Phase::Running);
        paused.paused = true;
        assert!(state_info(&paused).paused);
        paused.phase = Phase::Draining(record());
        assert!(!state_info(&paused).paused);
    }

    #[test]
    fn wait_parks_until_deleted() {
        assert_eq!(decide(&view(Phase::Running), &Request::Wait), Decision::Park);
        let written = Phase::Exited {
            record: record(),
            deleted: false,
        };
        assert_eq!(decide(&view(written), &Request::Wait), Decision::Park);
        let done = Phase::Exited {
            record: record(),
            deleted: true,
        };
        assert_eq!(
            decide(&view(done), &Request::Wait),
            Decision::Reply(Response::Exited(record()))
        );
    }

    fn exec_req(id: &str) -> ExecRequest {
        ExecRequest {
            exec_id: id.into(),
            process: "/b/exec.json".into(),
            tty: false,
            stdin: false,
            stdout: true,
            stderr: true,
            detach: false,
            console_size: None,
        }
    }

    #[test]
    fn attach_and_exec_need_the_right_phase() {
        let a = AttachRequest {
            stdin: true,
            stdout: true,
            stderr: true,
            logs: false,
        };
        assert_eq!(
            decide(&view(Phase::Created), &Request::Attach(a.clone())),
            Decision::Attach(a.clone())
        );
        assert!(matches!(
            decide(&view(Phase::Draining(record())), &Request::Attach(a)),
            Decision::Reply(Response::Error { .. })
        ));
        let e = exec_req("abc-1");
        assert_eq!(
            decide(&view(Phase::Running), &Request::Exec(e.clone())),
            Decision::Exec(e.clone())
        );
        assert!(matches!(
            decide(&view(Phase::Created), &Request::Exec(e)),
            Decision::Reply(Response::Error { .. })
        ));
        assert!(matches!(
            decide(&view(Phase::Running), &Request::Exec(exec_req("../x"))),
            Decision::Reply(Response::Error { .. })
        ));
    }

    #[test]
    fn resize_needs_a_terminal() {
        let r = Request::Resize {
            exec_id: None,
            height: 24,
            width: 80,
        };
        assert!(matches!(
            decide(&view(Phase::Running), &r),
            Decision::Reply(Response::Error { .. })
        ));
        let mut tty = view(Phase::Running);
        tty.tty = true;
        assert!(matches!(decide(&tty, &r), Decision::Resize { height: 24, .. }));
        assert_eq!(
            exec_info(0, None),
            ExecInfo {
                running: false,
                pid: 0,
                exit_code: None
            }
        );
        assert!(exec_info(5, None).running);
        assert!(!exec_info(5, Some(0)).running);
    }

    #[test]
    fn records_and_exit_rules() {
        let r = record();
        assert_eq!((r.exit_code, r.signal), (137, Some(9)));
        assert_eq!(exit_record(ExitStatus::Exited(3), None, 5).exit_code, 3);
        let done = Phase::Exited {
            record: r,
            deleted: true,
        };
        assert!(may_exit(&done, 0, false));
        assert!(!may_exit(&done, 1, false));
        assert!(may_exit(&done, 1, true));
        assert!(!may_exit(&Phase::Running, 0, true));
        let st = state_info(&view(done));
        assert_eq!(st.status, Status::Stopped);
    }
}
