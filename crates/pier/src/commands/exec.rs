//! `pier exec`: create an exec, start it attached (or detached with `-d`),
//! and exit with the process's exit code, as docker's CLI does.

use anyhow::Context;
use pier_api::exec::{ExecCreateRequest, ExecStartRequest};
use pier_client::Client;

use crate::cli::ExecArgs;
use crate::commands::attach::{self, Ended, ResizeTarget, Session};
use crate::commands::create_request::{env_entry, file_entries};
use crate::detach_keys;
use crate::tty;

/// The create request for the flags (pure but for the inputs passed in).
pub fn create_request(
    a: &ExecArgs,
    env_files: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
    console_size: Option<[u32; 2]>,
) -> anyhow::Result<ExecCreateRequest> {
    let mut env = Vec::new();
    for content in env_files {
        for e in file_entries(content)? {
            env.push(env_entry(&e, lookup)?);
        }
    }
    for e in &a.env {
        env.push(env_entry(e, lookup)?);
    }
    let cmd = a.container_and_command.get(1..).unwrap_or(&[]).to_vec();
    Ok(ExecCreateRequest {
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        console_size: if a.tty { console_size } else { None },
        detach_keys: a.detach_keys.clone(),
        tty: a.tty,
        env: (!env.is_empty()).then_some(env),
        cmd: Some(cmd),
        privileged: a.privileged,
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
    })
}

pub fn exec(client: &Client, a: &ExecArgs) -> anyhow::Result<i32> {
    let container = a.container_and_command.first().map_or("", String::as_str);
    let env_files = a
        .env_file
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("open {p}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let lookup = |k: &str| std::env::var(k).ok();
    let req = create_request(a, &env_files, &lookup, tty::size())?;
    let created = client.exec_create(container, &req)?;
    let start = ExecStartRequest {
        detach: a.detach,
        tty: a.tty,
        console_size: req.console_size,
    };
    if a.detach {
        client.exec_start_detached(&created.id, &start)?;
        return Ok(0);
    }
    let keys = detach_keys::parse(a.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?;
    let session = Session {
        tty: a.tty,
        stdin: a.interactive,
        sig_proxy: false,
        detach_keys: keys,
    };
    let hijacked = client.exec_start(&created.id, &start)?;
    let ended = attach::stream_to(
        client,
        ResizeTarget::Exec(created.id.clone()),
        hijacked,
        &session,
        || Ok(()),
    )?;
    if ended == Ended::Detached {
        // As docker's CLI: an exec left with the detach keys ends the
        // command with the streamer's error (`run`/`attach` exit 0).
        eprintln!("read escape sequence");
        return Ok(1);
    }
    let info = client.exec_inspect(&created.id)?;
    if info.running {
        return Ok(0);
    }
    Ok(info.exit_code.unwrap_or(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> ExecArgs {
        let cli = crate::cli::Cli::try_parse_from(argv).expect("parse");
        match cli.command {
            Some(crate::cli::Command::Exec(a)) => a.0,
            other => panic!("not exec: {other:?}"),
        }
    }

    #[test]
    fn flags_to_request() {
        let a = args(&[
            "pier",
            "exec",
            "-it",
            "-e",
            "A=1",
            "-u",
            "nobody:nogroup",
            "-w",
            "/tmp",
            "c1",
            "sh",
            "-c",
            "x",
        ]);
        let r = create_request(&a, &["B=2".to_string()], &|_| None, Some([24, 80])).expect("request");
        assert_eq!(r.cmd, Some(vec!["sh".into(), "-c".into(), "x".into()]));
        assert_eq!(r.env, Some(vec!["B=2".into(), "A=1".into()]));
        assert!(r.attach_stdin && r.attach_stdout && r.tty);
        assert_eq!(r.console_size, Some([24, 80]));
        assert_eq!(r.user.as_deref(), Some("nobody:nogroup"));
        let d = args(&["pier", "exec", "-d", "c1", "sleep", "5"]);
        let r = create_request(&d, &[], &|_| None, None).expect("request");
        assert!(!r.attach_stdout && !r.attach_stdin);
    }
}
