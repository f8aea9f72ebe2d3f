//! `pier version` and `pier info`.

use pier_api::system::{SystemInfo, SystemVersion};
use pier_api::version::API_VERSION;
use pier_client::Client;

use crate::render::units::bytes_size;

/// Label column width of docker's version/info output (its tabwriter uses
/// minwidth 20, padding 1).
fn line(out: &mut String, label: &str, value: &str) {
    let width = (label.chars().count() + 1).max(20);
    out.push_str(&format!("{label:<width$}{value}\n"));
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn client_section(negotiated: Option<String>) -> String {
    let mut out = String::from("Client:\n");
    line(&mut out, " Version:", env!("CARGO_PKG_VERSION"));
    let api = match negotiated {
        Some(v) if v != API_VERSION.to_string() => format!("{v} (downgraded from {API_VERSION})"),
        _ => API_VERSION.to_string(),
    };
    line(&mut out, " API version:", &api);
    line(&mut out, " OS/Arch:", &format!("{}/{}", std::env::consts::OS, arch()));
    out
}

pub fn server_section(v: &SystemVersion) -> String {
    let mut out = String::from("\nServer:");
    if !v.platform.name.is_empty() {
        out.push(' ');
        out.push_str(&v.platform.name);
    }
    out.push('\n');
    let detail = |c: &pier_api::system::Component, k: &str| -> String {
        c.details
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .unwrap_or_default()
    };
    if v.components.is_empty() {
        out.push_str(" Engine:\n");
        engine_lines(&mut out, v);
    }
    for c in &v.components {
        out.push_str(&format!(" {}:\n", c.name));
        if c.name == "Engine" {
            let api = detail(c, "ApiVersion");
            let api = if api.is_empty() { v.api_version.clone() } else { api };
            let min = detail(c, "MinAPIVersion");
            let min = if min.is_empty() { v.min_api_version.clone() } else { min };
            line(&mut out, "  Version:", &c.version);
            line(&mut out, "  API version:", &format!("{api} (minimum version {min})"));
            line(&mut out, "  OS/Arch:", &format!("{}/{}", v.os, v.arch));
        } else {
            line(&mut out, "  Version:", &c.version);
        }
    }
    out
}

fn engine_lines(out: &mut String, v: &SystemVersion) {
    line(out, "  Version:", &v.version);
    line(
        out,
        "  API version:",
        &format!("{} (minimum version {})", v.api_version, v.min_api_version),
    );
    line(out, "  OS/Arch:", &format!("{}/{}", v.os, v.arch));
}

pub fn version(client: &Client) -> anyhow::Result<i32> {
    let server = client.version();
    let negotiated = client.api_version().ok().map(|v| v.to_string());
    print!("{}", client_section(negotiated));
    let v = server?;
    print!("{}", server_section(&v));
    Ok(0)
}

pub fn info_text(i: &SystemInfo) -> String {
    let mut out = String::from("Server:\n");
    let kv = |out: &mut String, k: &str, v: &str| out.push_str(&format!(" {k}: {v}\n"));
    kv(&mut out, "Containers", &i.containers.to_string());
    kv(&mut out, " Running", &i.containers_running.to_string());
    kv(&mut out, " Paused", &i.containers_paused.to_string());
    kv(&mut out, " Stopped", &i.containers_stopped.to_string());
    kv(&mut out, "Images", &i.images.to_string());
    kv(&mut out, "Server Version", &i.server_version);
    kv(&mut out, "Storage Driver", &i.driver);
    kv(&mut out, "Logging Driver", &i.logging_driver);
    kv(&mut out, "Cgroup Driver", &i.cgroup_driver);
    kv(&mut out, "Cgroup Version", &i.cgroup_version);
    if let Some(runtimes) = i.runtimes.as_object() {
        let names: Vec<&str> = runtimes.keys().map(String::as_str).collect();
        kv(&mut out, "Runtimes", &names.join(" "));
    }
    kv(&mut out, "Default Runtime", &i.default_runtime);
    if !i.security_options.is_empty() {
        // docker's DecodeSecurityOptions: `name=seccomp,profile=builtin`.
        out.push_str(" Security Options:\n");
        for s in &i.security_options {
            let mut name = "";
            let mut profile = None;
            for kv in s.split(',') {
                match kv.split_once('=') {
                    Some(("name", v)) => name = v,
                    Some(("profile", v)) => profile = Some(v),
                    _ => {}
                }
            }
            out.push_str(&format!("  {name}\n"));
            if let Some(p) = profile {
                out.push_str(&format!("   Profile: {p}\n"));
            }
        }
    }
    kv(&mut out, "Kernel Version", &i.kernel_version);
    kv(&mut out, "Operating System", &i.operating_system);
    kv(&mut out, "OSType", &i.os_type);
    kv(&mut out, "Architecture", &i.architecture);
    kv(&mut out, "CPUs", &i.ncpu.to_string());
    kv(&mut out, "Total Memory", &bytes_size(i.mem_total as f64));
    kv(&mut out, "Name", &i.name);
    kv(&mut out, "ID", &i.id);
    kv(&mut out, "Pier Root Dir", &i.docker_root_dir);
    out
}

pub fn info(client: &Client) -> anyhow::Result<i32> {
    let i = client.info()?;
    print!("{}", client_section(client.api_version().ok().map(|v| v.to_string())));
    println!();
    print!("{}", info_text(&i));
    for w in &i.warnings {
        eprintln!("{w}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_api::system::Component;

    #[test]
    fn version_layout() {
        let c = client_section(Some("1.45".into()));
        assert!(c.contains(" API version:       1.45 (downgraded from 1.50)\n"), "{c}");
        assert!(c.starts_with("Client:\n Version:           "));
        let v = SystemVersion {
            version: "0.1.0".into(),
            api_version: "1.50".into(),
            min_api_version: "1.24".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            components: vec![Component {
                name: "Engine".into(),
                version: "0.1.0".into(),
                details: Some(serde_json::json!({"ApiVersion":"1.50","MinAPIVersion":"1.24"})),
            }],
            ..Default::default()
        };
        let s = server_section(&v);
        assert_eq!(
            s,
            "\nServer:\n Engine:\n  Version:          0.1.0\n  API version:      1.50 (minimum version 1.24)\n  OS/Arch:          linux/amd64\n"
        );
    }

    #[test]
    fn info_layout() {
        let i = SystemInfo {
            containers: 3,
            containers_running: 1,
            mem_total: 8_193_245_184,
            ..Default::default()
        };
        let t = info_text(&i);
        assert!(t.contains(" Containers: 3\n  Running: 1\n"));
        assert!(t.contains(" Total Memory: 7.631GiB\n"));
    }
}
