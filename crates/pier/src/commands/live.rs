//! Verbs on a running container's processes and limits: `pause`,
//! `unpause`, `top`, `update`.

use clap::Args;
use pier_client::Client;

use super::each_id;
use crate::cli::IdsArgs;
use crate::opts;
use crate::render::table;

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps, as docker passes them (joined with spaces).
    #[arg(value_name = "ps OPTIONS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn pause(client: &Client, a: &IdsArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| client.container_pause(id)))
}

pub fn unpause(client: &Client, a: &IdsArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| client.container_unpause(id)))
}

/// docker's table: ps's titles and rows, Go tabwriter minwidth 20.
pub fn top(client: &Client, a: &TopArgs) -> anyhow::Result<i32> {
    let top = client.container_top(&a.container, &a.ps_args.join(" "))?;
    let titles: Vec<&str> = top.titles.iter().map(String::as_str).collect();
    print!("{}", table::render_min(&titles, &top.processes, 20));
    Ok(0)
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16", value_parser = opts::go_u16)]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = opts::nano_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (deprecated)
    #[arg(long = "kernel-memory", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub kernel_memory: Option<i64>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = opts::mem_swap_bytes)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", value_parser = opts::go_i64)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string")]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// The body docker's CLI sends: the flags given (zero values otherwise,
/// which the daemon leaves alone); `PidsLimit` only when the flag is set.
pub fn update_body(a: &UpdateArgs) -> anyhow::Result<serde_json::Value> {
    let given = [
        a.blkio_weight.is_some(),
        a.cpu_period.is_some(),
        a.cpu_quota.is_some(),
        a.cpu_rt_period.is_some(),
        a.cpu_rt_runtime.is_some(),
        a.cpu_shares.is_some(),
        a.cpus.is_some(),
        a.cpuset_cpus.is_some(),
        a.cpuset_mems.is_some(),
        a.kernel_memory.is_some(),
        a.memory.is_some(),
        a.memory_reservation.is_some(),
        a.memory_swap.is_some(),
        a.pids_limit.is_some(),
        a.restart.is_some(),
    ];
    if !given.contains(&true) {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let restart = super::create_request::restart_policy(a.restart.as_deref().unwrap_or(""))?;
    let mut body = serde_json::json!({
        "BlkioWeight": a.blkio_weight.unwrap_or(0),
        "CpuPeriod": a.cpu_period.unwrap_or(0),
        "CpuQuota": a.cpu_quota.unwrap_or(0),
        "CpuRealtimePeriod": a.cpu_rt_period.unwrap_or(0),
        "CpuRealtimeRuntime": a.cpu_rt_runtime.unwrap_or(0),
        "CpuShares": a.cpu_shares.unwrap_or(0),
        "NanoCpus": a.cpus.unwrap_or(0),
        "CpusetCpus": a.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": a.cpuset_mems.clone().unwrap_or_default(),
        "KernelMemory": a.kernel_memory.unwrap_or(0),
        "Memory": a.memory.unwrap_or(0),
        "MemoryReservation": a.memory_reservation.unwrap_or(0),
        "MemorySwap": a.memory_swap.unwrap_or(0),
        "RestartPolicy": {"Name": restart.name, "MaximumRetryCount": restart.maximum_retry_count},
    });
    if let Some(p) = a.pids_limit {
        body["PidsLimit"] = serde_json::json!(p);
    }
    Ok(body)
}

/// Each container's name on success; the daemon's warnings, then the
/// errors (exit 1), as docker's CLI.
pub fn update(client: &Client, a: &UpdateArgs) -> anyhow::Result<i32> {
    let body = update_body(a)?;
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for c in &a.containers {
        match client.container_update(c, &body) {
            Ok(r) => {
                println!("{c}");
                warnings.extend(r.warnings);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: UpdateArgs,
    }

    fn body(args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let t = T::try_parse_from(std::iter::once("update").chain(args.iter().copied()))?;
        update_body(&t.a)
    }

    #[test]
    fn update_body_as_docker_sends_it() {
        let b = body(&[
            "-m",
            "64m",
            "--memory-swap=-1",
            "--cpus",
            "0.5",
            "--restart",
            "on-failure:3",
            "c",
        ])
        .expect("body");
        assert_eq!(b["Memory"], 64 * 1024 * 1024);
        assert_eq!(b["MemorySwap"], -1);
        assert_eq!(b["NanoCpus"], 500_000_000);
        assert_eq!(b["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(b["RestartPolicy"]["MaximumRetryCount"], 3);
        assert!(b.get("PidsLimit").is_none());
        assert_eq!(body(&["--pids-limit=-1", "c"]).expect("pids")["PidsLimit"], -1);
        let e = body(&["c"]).expect_err("no flags");
        assert_eq!(
            e.to_string(),
            "you must provide one or more flags when using this command"
        );
    }
}
