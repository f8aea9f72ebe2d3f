//! Preparing a start: the overlay rootfs, /etc files, the OCI spec and the
//! shim's config, all written to disk before the shim is spawned. Blocking:
//! called from `spawn_blocking`.

use std::path::{Path, PathBuf};

use nix::sys::resource::{getrlimit, Resource};
use pier_shim_proto::ShimConfig;

use super::{Container, Daemon};
use crate::error::{Error, Result};
use crate::record::{self, ContainerRecord};
use crate::spec::{self, EtcFiles, HostEntry, HostLimits, Rlimit, SpecInput};

/// What the start needs next.
#[derive(Debug)]
pub(super) struct Prepared {
    pub shim_json: PathBuf,
}

fn io(op: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::system(format!("{op} {}", path.display()), e)
}

/// Files of the bundle are derived from container.json and rewritten on
/// every start: replaced atomically, not fsynced (see `record::write_replace`).
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    record::write_replace(path, bytes).map_err(|e| Error::System(e.to_string()))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path, e)),
    }
}

/// A file of the image that may be missing (`/etc/passwd`).
fn read_optional(path: &Path) -> Result<String> {
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io("read", path, e)),
    }
}

/// The host's resolv.conf, as docker picks it: systemd-resolved's upstream
/// file when /etc/resolv.conf only names the 127.0.0.53 stub.
fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if main.contains("127.0.0.53") {
        if let Ok(up) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return up;
        }
    }
    main
}

/// `--add-host name:ip` entries.
fn extra_hosts(entries: &[String]) -> Result<Vec<HostEntry>> {
    entries
        .iter()
        .map(|e| match e.split_once(':') {
            Some((name, ip)) if !name.is_empty() && !ip.is_empty() => Ok(HostEntry {
                name: name.to_string(),
                ip: ip.to_string(),
            }),
            _ => Err(Error::InvalidParameter(format!(
                "invalid argument \"{e}\" for \"--add-host\" flag"
            ))),
        })
        .collect()
}

impl Daemon {
    pub(super) fn prepare_bundle(
        &self,
        c: &Container,
        rec: &ContainerRecord,
        image: &pier_image::Image,
    ) -> Result<Prepared> {
        std::fs::create_dir_all(&c.bundle).map_err(|e| io("create", &c.bundle, e))?;
        remove_if_present(&c.exit_path())?;
        remove_if_present(&c.socket())?;

        let rootfs = c.rootfs();
        rootfs
            .mount_with(&self.images.layer_dirs(image), rec.host_config.auto_remove)
            .map_err(|e| Error::system(format!("mount rootfs of {}", c.id), e))?;

        let config = &rec.config;
        let hc = &rec.host_config;
        let hostname = config
            .hostname
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| spec::default_hostname(&rec.id));
        let etc = EtcFiles {
            hostname: c.dir.join("hostname"),
            hosts: c.dir.join("hosts"),
            resolv_conf: c.dir.join("resolv.conf"),
        };
        let extra = extra_hosts(hc.extra_hosts.as_deref().unwrap_or_default())?;
        write(&etc.hostname, spec::hostname_file(&hostname).as_bytes())?;
        write(&etc.hosts, spec::hosts_file(&hostname, None, &extra).as_bytes())?;
        write(&etc.resolv_conf, spec::resolv_conf(&host_resolv_conf()).as_bytes())?;

        let passwd = read_optional(&rootfs.merged.join("etc/passwd"))?;
        let group = read_optional(&rootfs.merged.join("etc/group"))?;
        let user = spec::resolve_user(config.user.as_deref().unwrap_or(""), &passwd, &group)
            .map_err(|e| Error::InvalidParameter(e.to_string()))?;

        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| Error::system("read RLIMIT_NOFILE", e))?;
        let mut argv = vec![rec.path.clone()];
        argv.extend(rec.args.iter().cloned());
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let host = HostLimits {
            nofile: Rlimit { soft, hard },
            cap_bounding: spec::parse_cap_mask(&status, "CapBnd").unwrap_or(u64::MAX),
        };
        let mut input = SpecInput::new(&rec.id, rootfs.merged.clone(), argv, host);
        input.env = spec::process_env(config.env.as_deref().unwrap_or_default(), &hostname, config.tty);
        input.hostname = hostname;
        input.cwd = config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_string());
        input.user = user;
        input.tty = config.tty;
        input.console_size = hc
            .console_size
            .filter(|[h, w]| *h > 0 && *w > 0)
            .map(|[h, w]| spec::ConsoleSize {
                height: u64::from(h),
                width: u64::from(w),
            });
        input.privileged = hc.privileged;
        input.readonly_rootfs = hc.readonly_rootfs;
        input.cap_add = hc.cap_add.clone().unwrap_or_default();
        input.cap_drop = hc.cap_drop.clone().unwrap_or_default();
        input.etc_files = Some(etc);
        if let Some(shm) = hc.shm_size.filter(|s| *s > 0) {
            input.shm_size = shm as u64;
        }
        input.labels = config.labels.clone().unwrap_or_default();
        input.mounts = self.start_mounts(c, &rootfs.merged, hc)?;
        let spec = spec::build(&input).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let spec_json = serde_json::to_vec_pretty(&spec).map_err(|e| Error::system("encode OCI spec", e))?;
        write(&c.bundle.join("config.json"), &spec_json)?;

        let shim = ShimConfig {
            id: rec.id.clone(),
            bundle: c.bundle.clone(),
            runtime: self.cfg.runtime.clone(),
            runtime_root: self.cfg.runtime_root(),
            socket: c.socket(),
            exit_path: c.exit_path(),
            shim_log: c.dir.join("shim.log"),
            log: self.log_settings(c, rec),
            open_stdin: config.open_stdin,
            // As dockerd: a terminal's input is never closed by a client leaving.
            stdin_once: config.stdin_once && !config.tty,
            tty: config.tty,
        };
        let shim_json = c.bundle.join("shim.json");
        let bytes = serde_json::to_vec_pretty(&shim).map_err(|e| Error::system("encode shim config", e))?;
        write(&shim_json, &bytes)?;
        Ok(Prepared { shim_json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let h = extra_hosts(&["db:10.0.0.2".to_string()]).expect("hosts");
        assert_eq!(h[0].ip, "10.0.0.2");
        assert!(extra_hosts(&["nocolon".to_string()]).is_err());
    }
}
