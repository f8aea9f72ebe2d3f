//! Domain values -> `pier_api` wire types.

use std::collections::BTreeMap;

use pier_api::container::{ContainerInspect, ContainerState, ContainerSummary, GraphDriver};
use pier_api::image::{ImageInspect, ImageSummary, RootFs};

use pier_shim_proto::health::HealthStatus;

use crate::daemon::Container;
use crate::model::render;
use crate::record::{ContainerRecord, Status};

pub fn inspect(c: &Container, r: &ContainerRecord) -> ContainerInspect {
    let s = &r.state;
    let rootfs = c.rootfs();
    let lower = c.dir.join("fs").display().to_string();
    ContainerInspect {
        id: r.id.clone(),
        created: pier_time::format_nano(r.created),
        path: r.spec.process.path.clone(),
        args: r.spec.process.args.clone(),
        state: ContainerState {
            status: s.status_name().to_string(),
            running: s.status == Status::Running || s.is_restarting(),
            paused: s.is_paused(),
            restarting: s.is_restarting(),
            oom_killed: s.oom_killed,
            dead: s.status == Status::Dead,
            pid: i64::from(s.pid),
            exit_code: i64::from(s.exit_code),
            error: s.error.clone(),
            started_at: pier_time::format_nano_or_zero(s.started_at),
            finished_at: pier_time::format_nano_or_zero(s.finished_at),
            health: None,
        },
        image: r.image_id.clone(),
        resolv_conf_path: c.dir.join("resolv.conf").display().to_string(),
        hostname_path: c.dir.join("hostname").display().to_string(),
        hosts_path: c.dir.join("hosts").display().to_string(),
        log_path: crate::model::log_policy::file(&r.spec.log, c.log_path())
            .display()
            .to_string(),
        name: format!("/{}", r.name),
        restart_count: r.restart_count,
        driver: "overlay2".to_string(),
        platform: "linux".to_string(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config: render::host_config(&r.spec),
        graph_driver: GraphDriver {
            name: "overlay2".to_string(),
            data: BTreeMap::from([
                ("LowerDir".to_string(), lower),
                ("MergedDir".to_string(), rootfs.merged.display().to_string()),
                ("UpperDir".to_string(), rootfs.upper.display().to_string()),
                ("WorkDir".to_string(), rootfs.work.display().to_string()),
            ]),
        },
        mounts: Vec::new(),
        config: render::config(&r.spec, &r.image),
        network_settings: serde_json::json!({
            "Bridge": "", "SandboxID": "", "Ports": {}, "SandboxKey": "",
            "Networks": {}
        }),
    }
}

/// `ps`'s STATUS column.
/// `health`: the container's health status, if it has a healthcheck.
pub fn status_text(r: &ContainerRecord, now: i64, health: Option<HealthStatus>) -> String {
    let s = &r.state;
    match s.status {
        Status::Running => {
            let up = format!("Up {}", pier_time::human_duration(now - s.started_at.unwrap_or(now)));
            match health {
                _ if s.paused => format!("{up} (Paused)"),
                Some(HealthStatus::Starting) => format!("{up} (health: starting)"),
                Some(h) => format!("{up} ({})", h.as_str()),
                None => up,
            }
        }
        Status::Exited if s.restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            pier_time::human_duration(now - s.finished_at.unwrap_or(now))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            pier_time::human_duration(now - s.finished_at.unwrap_or(now))
        ),
        Status::Created => "Created".to_string(),
        Status::Removing => "Removal In Progress".to_string(),
        Status::Dead => "Dead".to_string(),
    }
}

/// dockerd's COMMAND: arguments holding a space are single-quoted.
pub fn command_line(path: &str, args: &[String]) -> String {
    let mut command = path.to_string();
    for a in args {
        command.push(' ');
        if a.contains(' ') {
            command.push_str(&format!("'{a}'"));
        } else {
            command.push_str(a);
        }
    }
    command
}

pub fn summary(r: &ContainerRecord, now: i64, health: Option<HealthStatus>) -> ContainerSummary {
    let command = command_line(&r.spec.process.path, &r.spec.process.args);
    ContainerSummary {
        id: r.id.clone(),
        names: vec![format!("/{}", r.name)],
        image: r.image.clone(),
        image_id: r.image_id.clone(),
        command,
        created: r.created / 1_000_000_000,
        ports: Vec::new(),
        size_rw: 0,
        size_root_fs: 0,
        labels: r.spec.labels.clone(),
        state: r.state.status_name().to_string(),
        status: status_text(r, now, health),
        host_config: serde_json::json!({ "NetworkMode": r.spec.network.as_wire() }),
        network_settings: serde_json::json!({ "Networks": {} }),
        mounts: Vec::new(),
    }
}

pub fn image_summary(i: &pier_image::Image, containers: i64) -> ImageSummary {
    ImageSummary {
        id: i.id.clone(),
        parent_id: i.parent.clone(),
        repo_tags: i.repo_tags.clone(),
        repo_digests: i.repo_digests.clone(),
        created: i.created,
        size: i64::try_from(i.size).unwrap_or(i64::MAX),
        shared_size: -1,
        labels: i.config.labels.clone(),
        containers,
    }
}

pub fn image_inspect(i: &pier_image::Image) -> ImageInspect {
    let c = &i.config;
    let set = |v: &[String]| -> Option<BTreeMap<String, serde_json::Value>> {
        (!v.is_empty()).then(|| v.iter().map(|k| (k.clone(), serde_json::json!({}))).collect())
    };
    ImageInspect {
        id: i.id.clone(),
        repo_tags: i.repo_tags.clone(),
        repo_digests: i.repo_digests.clone(),
        parent: i.parent.clone(),
        comment: i.comment.clone(),
        created: i.created_rfc3339.clone(),
        author: i.author.clone(),
        config: pier_api::image::ImageConfig {
            env: (!c.env.is_empty()).then(|| c.env.clone()),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            working_dir: c.working_dir.clone(),
            user: c.user.clone(),
            labels: (!c.labels.is_empty()).then(|| c.labels.clone()),
            stop_signal: c.stop_signal.clone().unwrap_or_default(),
            exposed_ports: set(&c.exposed_ports),
            volumes: set(&c.volumes),
            healthcheck: c.healthcheck.as_ref().map(|h| pier_api::container::HealthConfig {
                test: h.test.clone(),
                interval: h.interval,
                timeout: h.timeout,
                start_period: h.start_period,
                start_interval: h.start_interval,
                retries: h.retries,
            }),
            ..Default::default()
        },
        architecture: i.architecture.clone(),
        os: i.os.clone(),
        size: i64::try_from(i.size).unwrap_or(i64::MAX),
        root_fs: RootFs {
            kind: "layers".to_string(),
            layers: i.diff_ids.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_like_dockerd() {
        assert_eq!(
            command_line("sh", &["-c".to_string(), "echo a; sleep 1".to_string()]),
            "sh -c 'echo a; sleep 1'"
        );
        assert_eq!(command_line("sleep", &["5".to_string()]), "sleep 5");
    }
}
