//! Network endpoints (`/networks...`) and a container's `NetworkSettings`
//! as dockerd renders them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use pier_api::filters::Filters;
use pier_api::network::{
    ConfigFrom, EndpointSettings, Network, NetworkConnectRequest, NetworkContainer, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkIpam, NetworkPruneResponse,
};
use serde_json::{json, Value};

use super::error::{ApiResult, DockerJson, Params};
use super::AppState;
use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::model::spec::{EndpointSpec, NetworkEndpoint, NetworkMode};
use crate::network::ipam::IpamRequest;
use crate::network::{CreateNetwork, NetworkRecord};
use crate::record::ContainerRecord;

const LIST_FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];

fn filters(params: &Params, accepted: &[&str]) -> Result<Filters> {
    let f = Filters::parse(params.get("filters").unwrap_or("")).map_err(|e| Error::InvalidParameter(e.to_string()))?;
    f.validate(accepted)
        .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    f.validate_values("type", |v| match v {
        "custom" | "builtin" => Ok(()),
        _ => Err(Some(format!("invalid filter: 'type'='{v}'"))),
    })
    .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    Ok(f)
}

/// A network as docker shows it; `containers` filled for inspect only.
fn render(d: &Daemon, n: &NetworkRecord, with_containers: bool) -> Network {
    let mut containers = BTreeMap::new();
    if with_containers {
        for (id, ep) in d.networks.endpoints_on(&n.id) {
            let name = d.lookup(&id).map(|c| c.record().name).unwrap_or_default();
            containers.insert(
                id,
                NetworkContainer {
                    name,
                    endpoint_id: ep.endpoint_id.clone(),
                    mac_address: ep.mac.clone().unwrap_or_default(),
                    ipv4_address: format!("{}/{}", ep.ip, ep.prefix_len),
                    ipv6_address: ep
                        .ipv6
                        .map(|v| format!("{}/{}", v.ip, v.prefix_len))
                        .unwrap_or_default(),
                },
            );
        }
    }
    Network {
        name: n.name.clone(),
        id: n.id.clone(),
        created: pier_time::format_nano(n.created),
        scope: "local".to_string(),
        driver: n.driver.clone(),
        enable_ipv4: true,
        enable_ipv6: n.ipv6.is_some(),
        ipam: NetworkIpam {
            driver: "default".to_string(),
            options: if n.is_predefined() {
                None
            } else {
                Some(n.ipam_options.clone())
            },
            config: n.ipam_config.clone(),
        },
        internal: n.internal,
        attachable: n.attachable,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers,
        options: n.options.clone(),
        labels: n.labels.clone(),
    }
}

fn matches(d: &Daemon, n: &NetworkRecord, f: &Filters) -> Result<bool> {
    let labels = n.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let dangling = f
        .get_bool("dangling", false)
        .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    Ok((!f.contains("name") || f.get("name").any(|p| n.name.contains(p)))
        && (!f.contains("id") || f.get("id").any(|p| n.id.starts_with(p)))
        && f.match_kv_list("label", labels)
        && f.exact_match("driver", &n.driver)
        && f.exact_match("scope", "local")
        && (!f.contains("type") || f.get("type").any(|t| (t == "builtin") == n.is_predefined()))
        && (!f.contains("dangling") || dangling == (!n.is_predefined() && d.networks.endpoints_on(&n.id).is_empty())))
}

pub async fn list(State(d): State<AppState>, params: Params) -> ApiResult<Json<Vec<Network>>> {
    let f = filters(&params, LIST_FILTERS)?;
    let mut out = Vec::new();
    for n in d.networks.list() {
        if matches(&d, &n, &f)? {
            out.push(render(&d, &n, false));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

pub async fn inspect(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Network>> {
    let n = d.networks.get(&id).map_err(Error::from)?;
    Ok(Json(render(&d, &n, true)))
}

pub async fn create(
    State(d): State<AppState>,
    DockerJson(req): DockerJson<NetworkCreateRequest>,
) -> ApiResult<(StatusCode, Json<NetworkCreateResponse>)> {
    let ipam = req.ipam.clone().unwrap_or_default();
    let create = CreateNetwork {
        name: req.name.clone(),
        driver: req.driver.clone(),
        internal: req.internal,
        attachable: req.attachable,
        ipv6: req.enable_ipv6.unwrap_or(false),
        ipam_driver: ipam.driver.clone(),
        ipam: ipam
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|c| IpamRequest {
                subnet: c.subnet,
                ip_range: c.ip_range,
                gateway: c.gateway,
                aux: c.auxiliary_addresses.unwrap_or_default(),
            })
            .collect(),
        ipam_options: ipam.options.unwrap_or_default(),
        options: req.options.unwrap_or_default(),
        labels: req.labels.unwrap_or_default(),
    };
    let networks = d.networks.clone();
    let rec = Daemon::blocking("create network", move || networks.create(create).map_err(Error::from)).await?;
    tracing::info!(id = %rec.id, name = %rec.name, "network created");
    Ok((
        StatusCode::CREATED,
        Json(NetworkCreateResponse {
            id: rec.id,
            warning: String::new(),
        }),
    ))
}

pub async fn remove(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let networks = d.networks.clone();
    let rec = Daemon::blocking("remove network", move || networks.remove(&id).map_err(Error::from)).await?;
    tracing::info!(id = %rec.id, name = %rec.name, "network removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `EndpointSettings` of a connect, typed (dockerd's parse errors).
fn endpoint_spec(e: Option<&EndpointSettings>) -> Result<EndpointSpec> {
    let Some(e) = e else {
        return Ok(EndpointSpec::default());
    };
    let ipv4 =
        match e
            .ipam_config
            .as_ref()
            .and_then(|c| c.get("IPv4Address"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(ip) => Some(ip.parse::<std::net::Ipv4Addr>().map_err(|_| {
                Error::InvalidParameter(format!("invalid endpoint settings:\ninvalid IPv4 address: {ip}"))
            })?),
            None => None,
        };
    let ipv6 =
        match e
            .ipam_config
            .as_ref()
            .and_then(|c| c.get("IPv6Address"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(ip) => Some(ip.parse::<std::net::Ipv6Addr>().map_err(|_| {
                Error::InvalidParameter(format!("invalid endpoint settings:\ninvalid IPv6 address: {ip}"))
            })?),
            None => None,
        };
    Ok(EndpointSpec {
        aliases: e.aliases.clone().unwrap_or_default(),
        ipv4,
        ipv6,
        mac: Some(e.mac_address.clone()).filter(|m| !m.is_empty()),
        links: e.links.clone().unwrap_or_default(),
    })
}

pub async fn connect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    DockerJson(req): DockerJson<NetworkConnectRequest>,
) -> ApiResult<StatusCode> {
    let ep = endpoint_spec(req.endpoint_config.as_ref())?;
    d.connect_network(&req.container, &id, ep).await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(d): State<AppState>,
    Path(id): Path<String>,
    DockerJson(req): DockerJson<NetworkDisconnectRequest>,
) -> ApiResult<StatusCode> {
    d.disconnect_network(&req.container, &id, req.force).await?;
    Ok(StatusCode::OK)
}

pub async fn prune(State(d): State<AppState>, params: Params) -> ApiResult<Json<NetworkPruneResponse>> {
    let f = filters(&params, &["label", "label!", "until"])?;
    let mut deleted = Vec::new();
    for n in d.networks.list() {
        let labels = n.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        if n.is_predefined() || !f.match_kv_list("label", labels) || !d.networks.endpoints_on(&n.id).is_empty() {
            continue;
        }
        let networks = d.networks.clone();
        let id = n.id.clone();
        // Another start may have joined it meanwhile: then it stays.
        if Daemon::blocking("prune network", move || networks.remove(&id).map_err(Error::from))
            .await
            .is_ok()
        {
            deleted.push(n.name.clone());
        }
    }
    Ok(Json(NetworkPruneResponse {
        networks_deleted: deleted,
    }))
}

/// The networks a container is on, as inspect lists them: its list, or
/// its mode's network (`none` and `host` included).
fn endpoints(r: &ContainerRecord) -> Vec<NetworkEndpoint> {
    let pseudo = match (&r.spec.connected, &r.spec.network) {
        (None, NetworkMode::None) => crate::network::NONE,
        (None, NetworkMode::Host) => crate::network::HOST,
        _ => return r.spec.networks(),
    };
    vec![NetworkEndpoint {
        network: pseudo.to_string(),
        network_id: String::new(),
        endpoint: EndpointSpec::default(),
    }]
}

/// A container's `NetworkSettings`: its networks (filled while it is
/// attached), its published ports, and the legacy top-level fields from
/// the default bridge, as dockerd.
pub fn settings(d: &Daemon, r: &ContainerRecord) -> Value {
    let attached = d.networks.attachment(&r.id).filter(|_| r.state.is_running());
    let mut networks = serde_json::Map::new();
    for e in endpoints(r) {
        let rec = Some(e.network_id.as_str())
            .filter(|id| !id.is_empty())
            .and_then(|id| d.networks.get(id).ok())
            .or_else(|| d.networks.get(&e.network).ok());
        let name = rec.as_ref().map_or(e.network.clone(), |n| n.name.clone());
        let requested = &e.endpoint;
        let mut ep = EndpointSettings {
            network_id: rec.as_ref().map(|n| n.id.clone()).unwrap_or_default(),
            ..Default::default()
        };
        if !requested.aliases.is_empty() {
            ep.aliases = Some(requested.aliases.clone());
        }
        if !requested.links.is_empty() {
            ep.links = Some(requested.links.clone());
        }
        if requested.ipv4.is_some() || requested.ipv6.is_some() {
            let mut m = serde_json::Map::new();
            if let Some(ip) = requested.ipv4 {
                m.insert("IPv4Address".into(), json!(ip.to_string()));
            }
            if let Some(ip) = requested.ipv6 {
                m.insert("IPv6Address".into(), json!(ip.to_string()));
            }
            ep.ipam_config = Some(Value::Object(m));
        }
        if rec.as_ref().is_some_and(|n| n.dns) {
            // dockerd's order: the name, the aliases, the short id.
            let mut names = vec![r.name.clone()];
            for a in requested
                .aliases
                .iter()
                .cloned()
                .chain(std::iter::once(r.id.chars().take(12).collect()))
            {
                if !names.contains(&a) {
                    names.push(a);
                }
            }
            ep.dns_names = Some(names);
        }
        let endpoint = attached
            .as_ref()
            .zip(rec.as_ref())
            .and_then(|(a, n)| a.endpoints.iter().find(|x| x.network_id == n.id));
        if let Some(e) = endpoint {
            ep.endpoint_id = e.endpoint_id.clone();
            ep.gateway = e.gateway.to_string();
            ep.ip_address = e.ip.to_string();
            ep.ip_prefix_len = i64::from(e.prefix_len);
            ep.mac_address = e.mac.clone().unwrap_or_default();
            if let Some(v6) = &e.ipv6 {
                ep.global_ipv6_address = v6.ip.to_string();
                ep.global_ipv6_prefix_len = i64::from(v6.prefix_len);
                ep.ipv6_gateway = v6.gateway.to_string();
            }
        }
        networks.insert(name, serde_json::to_value(ep).unwrap_or(Value::Null));
    }
    let mut ports = serde_json::Map::new();
    if r.state.is_running() {
        for key in r.spec.ports.bindings.keys() {
            ports.insert(key.clone(), Value::Null);
        }
        if let Some(a) = &attached {
            for m in &a.ports {
                let key = format!("{}/{}", m.container_port, m.proto);
                let entry = ports.entry(key).or_insert_with(|| json!([]));
                if !entry.is_array() {
                    *entry = json!([]);
                }
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"HostIp": m.shown_host_ip(), "HostPort": m.host_port.to_string()}));
                }
            }
        }
    }
    let bridge = attached
        .as_ref()
        .and_then(|a| a.endpoints.iter().find(|e| e.network_name == crate::network::BRIDGE));
    json!({
        "Bridge": "",
        "SandboxID": if attached.is_some() { r.id.clone() } else { String::new() },
        "SandboxKey": attached.as_ref().map(|a| a.netns.display().to_string()).unwrap_or_default(),
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": bridge.map(|e| e.endpoint_id.clone()).unwrap_or_default(),
        "Gateway": bridge.map(|e| e.gateway.to_string()).unwrap_or_default(),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.map(|e| e.ip.to_string()).unwrap_or_default(),
        "IPPrefixLen": bridge.map_or(0, |e| e.prefix_len),
        "IPv6Gateway": "",
        "MacAddress": bridge.and_then(|e| e.mac.clone()).unwrap_or_default(),
        "Networks": networks,
    })
}

/// `ps`'s `Ports` entries (`{"IP", "PrivatePort", "PublicPort", "Type"}`).
pub fn summary_ports(d: &Daemon, r: &ContainerRecord) -> Vec<Value> {
    let Some(a) = d.networks.attachment(&r.id).filter(|_| r.state.is_running()) else {
        return Vec::new();
    };
    a.ports
        .iter()
        .map(|m| {
            json!({
                "IP": m.shown_host_ip(),
                "PrivatePort": m.container_port,
                "PublicPort": m.host_port,
                "Type": m.proto.as_str(),
            })
        })
        .collect()
}
