//! start, stop, kill, rm, wait, restart, rename: per-id verbs.

use pier_client::{Client, WaitCondition};

use crate::cli::{IdsArgs, KillArgs, RenameArgs, RmArgs, StartArgs, StopArgs};
use crate::commands::attach::{self, Ended, Session};
use crate::commands::each_id;
use crate::detach_keys;

pub fn start(client: &Client, a: &StartArgs) -> anyhow::Result<i32> {
    if a.attach || a.interactive {
        return start_attached(client, a);
    }
    Ok(each_id(&a.containers, true, |id| client.container_start(id)))
}

/// `start -a [-i]`: one container, attached like a foreground run.
fn start_attached(client: &Client, a: &StartArgs) -> anyhow::Result<i32> {
    let [name] = a.containers.as_slice() else {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    };
    let info = client.container_inspect(name)?;
    let s = Session {
        tty: info.config.tty,
        stdin: a.interactive && info.config.open_stdin,
        sig_proxy: true,
        detach_keys: detach_keys::parse(a.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?,
    };
    let hijacked = client.container_attach(&info.id, &attach::attach_options(&s))?;
    let wait = client.container_wait_begin(&info.id, WaitCondition::NextExit)?;
    let ended = attach::stream(client, &info.id, hijacked, &s, || {
        client.container_start(&info.id)?;
        Ok(())
    })?;
    if ended == Ended::Detached {
        return Ok(0);
    }
    Ok(wait.result()?.status_code as i32)
}

pub fn stop(client: &Client, a: &StopArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| {
        client.container_stop(id, a.timeout, a.signal.as_deref())
    }))
}

pub fn restart(client: &Client, a: &StopArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| {
        client.container_restart(id, a.timeout, a.signal.as_deref())
    }))
}

pub fn kill(client: &Client, a: &KillArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| {
        client.container_kill(id, a.signal.as_deref())
    }))
}

pub fn rm(client: &Client, a: &RmArgs) -> anyhow::Result<i32> {
    // As docker: surrounding slashes go (`/web` is `web`); an empty name
    // is refused without asking the daemon.
    let (names, empty): (Vec<String>, Vec<String>) = a
        .containers
        .iter()
        .map(|n| n.trim_matches('/').to_string())
        .partition(|n| !n.is_empty());
    for _ in &empty {
        eprintln!("Container name cannot be empty");
    }
    let code = each_id(&names, true, |id| {
        if a.link {
            return client.container_remove_link(id);
        }
        client.container_remove(id, a.force, a.volumes)
    });
    Ok(if empty.is_empty() { code } else { 1 })
}

/// Prints each container's exit code; like docker, the CLI itself exits 0
/// unless a wait failed.
pub fn wait(client: &Client, a: &IdsArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, false, |id| {
        let r = client.container_wait(id, WaitCondition::NotRunning)?;
        println!("{}", r.status_code);
        Ok(())
    }))
}

pub fn rename(client: &Client, a: &RenameArgs) -> anyhow::Result<i32> {
    client.container_rename(&a.container, &a.new_name)?;
    Ok(0)
}
