//! `pier ps`.

use std::io::Write;

use pier_api::container::ContainerSummary;
use pier_client::{Client, ListOptions};

use crate::cli::PsArgs;
use crate::commands::parse_filters;
use crate::render::text::{container_names, ellipsis, go_quote, truncate_id};
use crate::render::{format, table, units};

pub const HEADER: [&str; 7] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
];

/// docker's IMAGE column: an image given by id shows as the short id; a
/// digest is dropped unless `--no-trunc`.
pub fn image_column(c: &ContainerSummary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return c.image.clone();
    }
    if !c.image_id.is_empty() && truncate_id(&c.image_id) == truncate_id(&c.image) {
        return truncate_id(&c.image).to_string();
    }
    match c.image.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => c.image.clone(),
    }
}

/// One `ps` row.
pub fn row(c: &ContainerSummary, now: i64, trunc: bool) -> Vec<String> {
    let id = if trunc {
        truncate_id(&c.id).to_string()
    } else {
        c.id.clone()
    };
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    vec![
        id,
        image_column(c, trunc),
        go_quote(&command),
        units::time_ago(c.created, now),
        c.status.clone(),
        ports_column(&c.ports),
        container_names(&c.names),
    ]
}

/// `0.0.0.0:8080->80/tcp` per published port, `80/tcp` otherwise.
pub fn ports_column(ports: &[serde_json::Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let private = p["PrivatePort"].as_i64().unwrap_or(0);
            let kind = p["Type"].as_str().unwrap_or("tcp");
            match (p["IP"].as_str(), p["PublicPort"].as_i64()) {
                (Some(ip), Some(public)) if public != 0 => format!("{ip}:{public}->{private}/{kind}"),
                _ => format!("{private}/{kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fields `--format` templates see, as docker names them.
pub const FORMAT_HEADER: [(&str, &str); 10] = [
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
];

/// One row as the object a `--format` template is rendered over.
pub fn format_row(c: &ContainerSummary, now: i64, trunc: bool) -> serde_json::Value {
    let r = row(c, now, trunc);
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "ID": r[0], "Image": r[1], "Command": r[2],
        "CreatedAt": pier_time::format_go_utc(c.created), "RunningFor": units::time_ago(c.created, now),
        "Ports": r[5], "State": c.state, "Status": r[4], "Names": r[6], "Labels": labels.join(","),
    })
}

pub fn render(containers: &[ContainerSummary], now: i64, trunc: bool) -> String {
    let rows: Vec<Vec<String>> = containers.iter().map(|c| row(c, now, trunc)).collect();
    table::render(&HEADER, &rows)
}

pub fn render_quiet(containers: &[ContainerSummary], trunc: bool) -> String {
    containers
        .iter()
        .map(|c| {
            let id = if trunc { truncate_id(&c.id) } else { &c.id };
            format!("{id}\n")
        })
        .collect()
}

pub fn ps(client: &Client, a: &PsArgs) -> anyhow::Result<i32> {
    let limit = if a.latest {
        Some(1)
    } else {
        (a.last > 0).then_some(a.last)
    };
    let opts = ListOptions {
        all: a.all || limit.is_some(),
        limit,
        filters: parse_filters(&a.filter)?,
    };
    let containers = client.container_list(&opts)?;
    let now = pier_time::now_unix();
    let out = match (&a.format, a.quiet) {
        (_, true) => render_quiet(&containers, !a.no_trunc),
        (Some(f), false) => {
            let rows: Vec<serde_json::Value> = containers.iter().map(|c| format_row(c, now, !a.no_trunc)).collect();
            format::render(f, &rows, &FORMAT_HEADER)?
        }
        (None, false) => render(&containers, now, !a.no_trunc),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ContainerSummary {
        ContainerSummary {
            id: "4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d".into(),
            names: vec!["/web".into()],
            image: "busybox".into(),
            image_id: "sha256:aaaabbbbccccddddeeee".into(),
            command: "sh -c 'while true; do date; sleep 1; done'".into(),
            created: 1000,
            state: "running".into(),
            status: "Up 5 seconds".into(),
            ..Default::default()
        }
    }

    #[test]
    fn table_like_docker() {
        let mut exited = summary();
        exited.id = "0123456789abcdef".into();
        exited.names = vec!["/quiet_turing".into()];
        exited.command = "true".into();
        exited.status = "Exited (0) 3 minutes ago".into();
        exited.created = 1000 - 240;
        let out = render(&[summary(), exited], 1005, true);
        let want = "\
CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS                     PORTS     NAMES
4f66ad9a0b2e   busybox   \"sh -c 'while true; …\"   5 seconds ago   Up 5 seconds                         web
0123456789ab   busybox   \"true\"                   4 minutes ago   Exited (0) 3 minutes ago             quiet_turing
";
        assert_eq!(out, want);
    }

    #[test]
    fn no_trunc_and_quiet() {
        let s = summary();
        let r = row(&s, 1005, false);
        assert_eq!(r[0], s.id);
        assert_eq!(r[2], "\"sh -c 'while true; do date; sleep 1; done'\"");
        assert_eq!(render_quiet(std::slice::from_ref(&s), true), "4f66ad9a0b2e\n");
        assert_eq!(render_quiet(std::slice::from_ref(&s), false), format!("{}\n", s.id));
    }

    #[test]
    fn image_column_rules() {
        let mut s = summary();
        s.image = "sha256:aaaabbbbccccddddeeee".into();
        assert_eq!(image_column(&s, true), "aaaabbbbcccc");
        s.image = "busybox@sha256:1234".into();
        assert_eq!(image_column(&s, true), "busybox");
        assert_eq!(image_column(&s, false), "busybox@sha256:1234");
        s.image = String::new();
        assert_eq!(image_column(&s, true), "<no image>");
    }

    #[test]
    fn ports() {
        let p = serde_json::json!([{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},{"PrivatePort":53,"Type":"udp"}]);
        let list = p.as_array().cloned().unwrap_or_default();
        assert_eq!(ports_column(&list), "0.0.0.0:8080->80/tcp, 53/udp");
    }
}
