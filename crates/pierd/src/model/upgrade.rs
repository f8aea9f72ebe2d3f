//! Records written by earlier releases, and their upgrade to the current
//! [`ContainerSpec`].
//!
//! Version 1 (Pier until 2026-12): `container.json` held the create
//! request's `Config` (with the image's defaults merged in) and
//! `HostConfig` as wire types, plus the resolved `path`/`args`. The wire
//! types of today read those objects (they only gained fields), so an old
//! record is rebuilt through [`super::build()`] with an empty image config:
//! the merge already happened when it was created.

use pier_api::container::{ContainerConfig, ContainerCreateRequest, HostConfig};
use serde::Deserialize;

use super::build::{build, Defaults};
use super::spec::ContainerSpec;
use super::CreateError;

/// The request part of a version-1 record.
#[derive(Debug, Clone, Deserialize)]
pub struct V1Request {
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub host_config: HostConfig,
}

/// The spec of a version-1 container. A field the current validation
/// refuses (the old release checked less at create) is dropped rather than
/// losing the container: the returned notes say which. Fails only when
/// even the bare command does not build (a record no release could write).
pub fn spec_from_v1(
    id: &str,
    v1: &V1Request,
    defaults: &Defaults<'_>,
) -> Result<(ContainerSpec, Vec<String>), CreateError> {
    let image = pier_image::ImageConfig::default();
    let hc = &v1.host_config;
    // Each attempt keeps less: the whole record; what the old create
    // validated (log config, mounts, stdio); the bare command.
    let attempts = [
        ContainerCreateRequest {
            config: v1.config.clone(),
            host_config: Some(hc.clone()),
            networking_config: None,
        },
        ContainerCreateRequest {
            config: v1.config.clone(),
            host_config: Some(HostConfig {
                log_config: hc.log_config.clone(),
                auto_remove: hc.auto_remove,
                binds: hc.binds.clone(),
                mounts: hc.mounts.clone(),
                volumes_from: hc.volumes_from.clone(),
                ..Default::default()
            }),
            networking_config: None,
        },
        ContainerCreateRequest {
            config: ContainerConfig {
                cmd: Some(std::iter::once(v1.path.clone()).chain(v1.args.clone()).collect()),
                entrypoint: Some(vec![]),
                tty: v1.config.tty,
                open_stdin: v1.config.open_stdin,
                hostname: v1.config.hostname.clone(),
                ..Default::default()
            },
            host_config: None,
            networking_config: None,
        },
    ];
    let mut notes = Vec::new();
    let mut last = None;
    for req in &attempts {
        match build(id, req, &image, defaults) {
            Ok(built) => {
                let mut spec = built.spec;
                // The argv the old release resolved is the truth for this container.
                spec.process.path = v1.path.clone();
                spec.process.args = v1.args.clone();
                return Ok((spec, notes));
            }
            Err(e) => {
                notes.push(format!("dropped: {e}"));
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(CreateError::Invalid {
        field: "Config",
        message: "no command specified".to_string(),
    }))
}

/// Records written before resources were typed (issue 13) keep the
/// request's resource fields in the echo: lift them into
/// [`ContainerSpec::resources`] (with dockerd's create-time adaptations)
/// so they are applied at the next start and `update` can change them.
/// Returns whether anything moved. Idempotent.
pub fn lift_resources(spec: &mut ContainerSpec) -> bool {
    let names = super::resources::WIRE_NAMES;
    let echoed: serde_json::Map<String, serde_json::Value> = spec
        .echo
        .host_config
        .map()
        .into_iter()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .collect();
    if echoed.is_empty() {
        return false;
    }
    // The echo came from HostConfig's own serialization: it reads back.
    let Ok(hc) = serde_json::from_value::<HostConfig>(serde_json::Value::Object(echoed)) else {
        return false;
    };
    spec.resources = super::resources::from_wire(&hc);
    spec.echo
        .host_config
        .update(|m| m.retain(|k, _| !names.contains(&k.as_str())));
    true
}

#[cfg(test)]
mod lift_tests {
    use super::*;

    #[test]
    fn echoed_resources_become_typed() {
        let req = ContainerCreateRequest {
            config: ContainerConfig {
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let opts = std::collections::BTreeMap::new();
        let d = Defaults {
            log_driver: "json-file",
            log_opts: &opts,
            runtime: "runc",
            ncpu: 2,
            cgroup_v2: false,
            apparmor: false,
            bridge_default: false,
            host: super::super::HostSupport::unchecked(),
        };
        let mut spec = build("0".repeat(64).as_str(), &req, &Default::default(), &d)
            .expect("build")
            .spec;
        // As the previous release recorded `-m 32m --pids-limit 9`.
        for (k, v) in [
            ("Memory", serde_json::json!(33554432)),
            ("MemorySwap", serde_json::json!(67108864)),
            ("PidsLimit", serde_json::json!(9)),
            ("OomKillDisable", serde_json::json!(false)),
        ] {
            spec.echo.host_config.update(|m| {
                m.insert(k.to_string(), v);
            });
        }
        let before = super::super::render::host_config(&spec);
        assert!(lift_resources(&mut spec));
        assert_eq!(spec.resources.memory, 33554432);
        assert_eq!(spec.resources.memory_swap, 67108864);
        assert_eq!(spec.resources.pids_limit, Some(9));
        assert!(!spec.echo.host_config.contains_key("Memory"));
        assert_eq!(super::super::render::host_config(&spec), before, "inspect unchanged");
        assert!(!lift_resources(&mut spec));
    }
}
