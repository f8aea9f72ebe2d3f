//! start, stop, kill, rm, wait, restart, rename: per-id verbs.

use pier_client::{Client, WaitCondition};

use crate::cli::{IdsArgs, KillArgs, RenameArgs, RmArgs, StartArgs, StopArgs};
use crate::commands::each_id;

pub fn start(client: &Client, a: &StartArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| client.container_start(id)))
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
    Ok(each_id(&a.containers, true, |id| {
        client.container_remove(id, a.force, a.volumes)
    }))
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
