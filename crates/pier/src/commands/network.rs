//! `pier network create|ls|inspect|rm|prune|connect|disconnect`.

use std::io::{self, Write};

use anyhow::Context;
use clap::{Args, Subcommand};
use pier_api::network::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use pier_client::Client;

use super::{key_values, parse_filters};
use crate::commands::template::Template;
use crate::render::table;

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    #[command(override_usage = "pier network create [OPTIONS] NETWORK")]
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    #[command(override_usage = "pier network ls [OPTIONS]")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    #[command(override_usage = "pier network inspect [OPTIONS] NETWORK [NETWORK...]")]
    Inspect(NetworkInspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    #[command(override_usage = "pier network rm NETWORK [NETWORK...]")]
    Rm(NetworkRmArgs),
    /// Remove all unused networks
    #[command(override_usage = "pier network prune [OPTIONS]")]
    Prune(NetworkPruneArgs),
    /// Connect a container to a network
    #[command(override_usage = "pier network connect [OPTIONS] NETWORK CONTAINER")]
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    #[command(override_usage = "pier network disconnect [OPTIONS] NETWORK CONTAINER")]
    Disconnect(NetworkDisconnectArgs),
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias")]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// Add link to another container
    #[arg(long = "link")]
    pub link: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long = "driver", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet")]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway")]
    pub gateway: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt")]
    pub ipam_opt: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    pub attachable: bool,
    /// Enable or disable IPv6 networking
    #[arg(long = "ipv6")]
    pub ipv6: bool,
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a Go template subset
    #[arg(long = "format")]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// Format output using a Go template subset
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Provide filter values (e.g. `until=<timestamp>`)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

pub fn network(client: &Client, cmd: NetworkCommand) -> anyhow::Result<i32> {
    match cmd {
        NetworkCommand::Create(a) => create(client, &a),
        NetworkCommand::Ls(a) => ls(client, &a),
        NetworkCommand::Inspect(a) => inspect(client, &a),
        NetworkCommand::Rm(a) => rm(client, &a),
        NetworkCommand::Prune(a) => prune(client, &a),
        NetworkCommand::Connect(a) => connect(client, &a),
        NetworkCommand::Disconnect(a) => disconnect(client, &a),
    }
}

/// Give each of `values` to a subnet of its address family (IPv6 values
/// contain ':'), in order: `out[i]` is subnet `i`'s value.
fn by_family(subnets: &[String], values: &[String]) -> anyhow::Result<Vec<Option<String>>> {
    let mut out: Vec<Option<String>> = vec![None; subnets.len()];
    for v in values {
        let v6 = v.contains(':');
        let slot = subnets
            .iter()
            .zip(out.iter_mut())
            .find(|(s, o)| s.contains(':') == v6 && o.is_none())
            .map(|(_, o)| o);
        match slot {
            Some(o) => *o = Some(v.clone()),
            None => anyhow::bail!("no matching subnet for {v}"),
        }
    }
    Ok(out)
}

/// docker's `consolidateIpam`: one config per subnet, each range, gateway
/// and aux address given to the subnet containing it (here: the next
/// subnet of the same address family, in order).
fn ipam_configs(a: &NetworkCreateArgs) -> anyhow::Result<Vec<IpamConfig>> {
    if a.subnet.is_empty() && (!a.ip_range.is_empty() || !a.gateway.is_empty() || !a.aux_address.is_empty()) {
        anyhow::bail!("every ip-range or gateway must have a corresponding subnet");
    }
    if a.ip_range.len() > a.subnet.len() || a.gateway.len() > a.subnet.len() {
        anyhow::bail!("cannot configure multiple ranges or gateways on the same subnet");
    }
    let aux = key_values(&a.aux_address);
    let ranges = by_family(&a.subnet, &a.ip_range)?;
    let gateways = by_family(&a.subnet, &a.gateway)?;
    Ok(a.subnet
        .iter()
        .enumerate()
        .map(|(i, s)| IpamConfig {
            subnet: Some(s.clone()),
            ip_range: ranges.get(i).cloned().flatten(),
            gateway: gateways.get(i).cloned().flatten(),
            auxiliary_addresses: (i == 0 && !aux.is_empty()).then(|| aux.clone()),
        })
        .collect())
}

fn create(client: &Client, a: &NetworkCreateArgs) -> anyhow::Result<i32> {
    let req = NetworkCreateRequest {
        name: a.name.clone(),
        driver: a.driver.clone(),
        internal: a.internal,
        attachable: a.attachable,
        ipam: Some(Ipam {
            driver: a.ipam_driver.clone(),
            options: Some(key_values(&a.ipam_opt)),
            config: Some(ipam_configs(a)?),
        }),
        enable_ipv6: a.ipv6.then_some(true),
        options: Some(key_values(&a.opt)),
        labels: Some(key_values(&a.label)),
        ..Default::default()
    };
    let r = client.network_create(&req)?;
    println!("{}", r.id);
    Ok(0)
}

fn ls(client: &Client, a: &NetworkLsArgs) -> anyhow::Result<i32> {
    let filters = parse_filters(&a.filter)?;
    let list = client.network_list(&filters)?;
    let id_of = |id: &str| {
        if a.no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    if a.quiet {
        for n in &list {
            println!("{}", id_of(&n.id));
        }
        return Ok(0);
    }
    if let Some(f) = a.format.as_deref() {
        let t = Template::parse(f)?;
        for n in &list {
            let value = serde_json::json!({
                "ID": id_of(&n.id), "Name": n.name, "Driver": n.driver, "Scope": n.scope,
                "IPv4": n.enable_ipv4.to_string(), "IPv6": n.enable_ipv6.to_string(),
                "Internal": n.internal.to_string(), "CreatedAt": n.created,
                "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            });
            println!("{}", t.render(&value));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| vec![id_of(&n.id), n.name.clone(), n.driver.clone(), n.scope.clone()])
        .collect();
    print!("{}", table::render(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows));
    Ok(0)
}

fn inspect(client: &Client, a: &NetworkInspectArgs) -> anyhow::Result<i32> {
    super::inspect::print_each(&a.names, a.format.as_deref(), |n| {
        client.network_inspect_raw(n).map_err(|e| e.to_string())
    })
}

fn rm(client: &Client, a: &NetworkRmArgs) -> anyhow::Result<i32> {
    Ok(super::each_id(&a.names, true, |n| match client.network_remove(n) {
        Err(e) if a.force && e.status() == Some(404) => Ok(()),
        other => other,
    }))
}

fn prune(client: &Client, a: &NetworkPruneArgs) -> anyhow::Result<i32> {
    if !a.force {
        print!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        io::stdout().flush().context("flush stdout")?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).context("read answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let filters = parse_filters(&a.filter)?;
    let pruned = client.network_prune(&filters)?;
    if !pruned.networks_deleted.is_empty() {
        println!("Deleted Networks:");
        for n in &pruned.networks_deleted {
            println!("{n}");
        }
    }
    Ok(0)
}

fn connect(client: &Client, a: &NetworkConnectArgs) -> anyhow::Result<i32> {
    let req = NetworkConnectRequest {
        container: a.container.clone(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: a.ip.as_ref().map(|ip| serde_json::json!({"IPv4Address": ip})),
            links: (!a.link.is_empty()).then(|| a.link.clone()),
            aliases: (!a.alias.is_empty()).then(|| a.alias.clone()),
            ..Default::default()
        }),
    };
    client.network_connect(&a.network, &req)?;
    Ok(0)
}

fn disconnect(client: &Client, a: &NetworkDisconnectArgs) -> anyhow::Result<i32> {
    let req = NetworkDisconnectRequest {
        container: a.container.clone(),
        force: a.force,
    };
    client.network_disconnect(&a.network, &req)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::by_family;

    #[test]
    fn gateways_go_to_a_subnet_of_their_family() {
        let subnets = vec!["10.1.0.0/24".to_string(), "fd00:1::/64".to_string()];
        let got = by_family(&subnets, &["fd00:1::9".to_string()]).expect("v6 gateway");
        assert_eq!(got, vec![None, Some("fd00:1::9".to_string())]);
        let got = by_family(&subnets, &["10.1.0.9".to_string(), "fd00:1::9".to_string()]).expect("both");
        assert_eq!(got, vec![Some("10.1.0.9".to_string()), Some("fd00:1::9".to_string())]);
        assert!(by_family(&subnets[..1], &["fd00:1::9".to_string()]).is_err());
    }
}
