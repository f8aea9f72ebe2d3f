//! Conversion between the OCI image configuration (oci-spec) and the
//! store's plain [`ImageConfig`]. Pure code.

use oci_spec::image::{Arch, Config, History, ImageConfiguration, Os, RootFs};

use crate::image::ImageConfig;

/// The config `docker import` writes: host architecture, linux, one layer.
pub(crate) fn import_configuration(config: &ImageConfig, diff_id: &str, created: &str) -> ImageConfiguration {
    let mut oci = ImageConfiguration::default();
    oci.set_created(Some(created.to_string()));
    oci.set_architecture(Arch::default());
    oci.set_os(Os::Linux);
    oci.set_config(Some(to_oci(config)));
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(vec![diff_id.to_string()]);
    oci.set_rootfs(rootfs);
    let mut history = History::default();
    history.set_created(Some(created.to_string()));
    history.set_comment(Some("Imported from -".to_string()));
    oci.set_history(Some(vec![history]));
    oci
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn non_empty_str(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn to_oci(c: &ImageConfig) -> Config {
    let mut oci = Config::default();
    oci.set_env(non_empty(c.env.clone()));
    oci.set_cmd(c.cmd.clone());
    oci.set_entrypoint(c.entrypoint.clone());
    oci.set_working_dir(non_empty_str(&c.working_dir));
    oci.set_user(non_empty_str(&c.user));
    oci.set_labels((!c.labels.is_empty()).then(|| c.labels.clone().into_iter().collect()));
    oci.set_stop_signal(c.stop_signal.clone());
    oci.set_exposed_ports(non_empty(c.exposed_ports.clone()));
    oci.set_volumes(non_empty(c.volumes.clone()));
    oci
}

/// Docker's fields of an image config that the OCI schema lacks.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerExtras {
    healthcheck: Option<crate::image::Healthcheck>,
    shell: Option<Vec<String>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RawConfig {
    config: Option<DockerExtras>,
}

/// `from_oci` plus docker's `Healthcheck` and `Shell` from the config
/// blob itself (a field that does not parse is ignored, as before).
pub(crate) fn from_blob(oci: &ImageConfiguration, blob: &[u8]) -> ImageConfig {
    let mut c = from_oci(oci);
    if let Ok(RawConfig { config: Some(extras) }) = serde_json::from_slice::<RawConfig>(blob) {
        c.healthcheck = extras.healthcheck;
        c.shell = extras.shell;
    }
    c
}

/// `bytes` (a serialized OCI image config) with docker's `Healthcheck`
/// and `Shell` of `c` added to its `config`, as dockerd writes them.
pub(crate) fn with_docker_extras(bytes: &[u8], c: &ImageConfig) -> Result<Vec<u8>, serde_json::Error> {
    if c.healthcheck.is_none() && c.shell.is_none() {
        return Ok(bytes.to_vec());
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes)?;
    if let Some(config) = v.get_mut("config").and_then(serde_json::Value::as_object_mut) {
        if let Some(h) = &c.healthcheck {
            config.insert("Healthcheck".into(), serde_json::to_value(h)?);
        }
        if let Some(sh) = &c.shell {
            config.insert("Shell".into(), serde_json::to_value(sh)?);
        }
    }
    serde_json::to_vec(&v)
}

/// The plain execution defaults of an OCI config.
pub(crate) fn from_oci(oci: &ImageConfiguration) -> ImageConfig {
    let Some(c) = oci.config() else {
        return ImageConfig::default();
    };
    let mut exposed_ports = c.exposed_ports().clone().unwrap_or_default();
    exposed_ports.sort();
    let mut volumes = c.volumes().clone().unwrap_or_default();
    volumes.sort();
    ImageConfig {
        env: c.env().clone().unwrap_or_default(),
        cmd: c.cmd().clone(),
        entrypoint: c.entrypoint().clone(),
        working_dir: c.working_dir().clone().unwrap_or_default(),
        user: c.user().clone().unwrap_or_default(),
        labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
        stop_signal: c.stop_signal().clone(),
        exposed_ports,
        volumes,
        healthcheck: None,
        shell: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_extras_are_written_and_read_back() {
        let c = ImageConfig {
            cmd: Some(vec!["sh".into()]),
            healthcheck: Some(crate::image::Healthcheck {
                test: Some(vec!["CMD".into(), "true".into()]),
                interval: 5,
                ..Default::default()
            }),
            shell: Some(vec!["/bin/ash".into(), "-c".into()]),
            ..Default::default()
        };
        let oci = import_configuration(&c, "sha256:00", "2026-01-01T00:00:00Z");
        let bytes = oci.to_string().expect("serialize");
        let with = with_docker_extras(bytes.as_bytes(), &c).expect("extras");
        let back = from_blob(&oci, &with);
        assert_eq!(back.healthcheck, c.healthcheck);
        assert_eq!(back.shell, c.shell);
        assert_eq!(back.cmd, c.cmd);
        let plain = ImageConfig::default();
        assert_eq!(
            with_docker_extras(bytes.as_bytes(), &plain).expect("plain"),
            bytes.as_bytes()
        );
    }

    #[test]
    fn docker_healthcheck_and_shell_are_read_from_the_blob() {
        let blob = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "config":{"Cmd":["sh"],"Shell":["/bin/ash","-c"],
            "Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":1000000000,"Retries":2}}}"#;
        let oci = ImageConfiguration::from_reader(&blob[..]).expect("parse");
        let c = from_blob(&oci, blob);
        let h = c.healthcheck.expect("healthcheck");
        assert_eq!(h.test, Some(vec!["CMD-SHELL".to_string(), "true".to_string()]));
        assert_eq!((h.interval, h.retries, h.timeout), (1_000_000_000, 2, 0));
        assert_eq!(c.shell, Some(vec!["/bin/ash".to_string(), "-c".to_string()]));
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        // A blob without them (or a malformed one) has none.
        let plain = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Healthcheck":7}}"#;
        let oci = ImageConfiguration::from_reader(&plain[..]).expect("parse");
        assert_eq!(from_blob(&oci, plain).healthcheck, None);
    }

    #[test]
    fn round_trips_through_json() {
        let mut c = ImageConfig {
            env: vec!["A=1".into()],
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec![]),
            working_dir: "/w".into(),
            user: "1:2".into(),
            stop_signal: Some("SIGINT".into()),
            exposed_ports: vec!["53/udp".into(), "80/tcp".into()],
            volumes: vec!["/v".into()],
            ..Default::default()
        };
        c.labels.insert("k".into(), "v".into());
        let oci = import_configuration(&c, "sha256:abc", "2026-01-01T00:00:00Z");
        let json = oci.to_string().expect("serialize");
        assert!(json.contains(r#""ExposedPorts":{"#), "{json}");
        assert!(json.contains(r#""diff_ids":["sha256:abc"]"#), "{json}");
        assert!(json.contains(r#""os":"linux""#), "{json}");
        let back = ImageConfiguration::from_reader(json.as_bytes()).expect("parse");
        assert_eq!(from_oci(&back), c);
    }

    #[test]
    fn empty_config_stays_empty() {
        let oci = import_configuration(&ImageConfig::default(), "sha256:abc", "t");
        let json = oci.to_string().expect("serialize");
        assert!(json.contains(r#""config":{}"#), "{json}");
        assert_eq!(from_oci(&oci), ImageConfig::default());
    }
}
