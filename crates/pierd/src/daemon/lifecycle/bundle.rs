//! Preparing a start: the overlay rootfs, /etc files, the OCI spec and the
//! shim's config, all written to disk before the shim is spawned. Blocking:
//! called from `spawn_blocking`.

use std::path::{Path, PathBuf};

use nix::sys::resource::{getrlimit, Resource};
use pier_shim_proto::ShimConfig;

use crate::daemon::storage::confined::{read_user_db, Root};
use crate::daemon::storage::made_for_mounts;
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::{CgroupnsMode, SeccompPolicy};
use crate::private;
use crate::record::{self, ContainerRecord};
use crate::spec::seccomp::{self, KernelVersion};
use crate::spec::{self, EtcFiles, HostLimits, Rlimit, Seccomp, SpecInput};

/// What the start needs next.
#[derive(Debug)]
pub(in crate::daemon) struct Prepared {
    pub shim_json: PathBuf,
}

fn io(op: &str, path: &Path, e: impl Into<crate::error::BoxError>) -> Error {
    Error::system(format!("{op} {}", path.display()), e)
}

/// Files of the bundle are derived from container.json and rewritten on
/// every start: replaced atomically, not fsynced (see `record::write_replace`),
/// with `mode` (`private::RECORD` unless the container reads the file).
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    record::write_replace(path, bytes, mode).map_err(Error::from)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path, e)),
    }
}

/// The numbers of the block devices a container's limits name (dockerd
/// stats each path when it builds the spec).
pub(in crate::daemon) fn block_device_numbers(
    r: &crate::model::ResourcesSpec,
) -> Result<spec::resources::DeviceNumbers> {
    spec::resources::device_paths(r)
        .into_iter()
        .map(|path| {
            let st = nix::sys::stat::stat(path).map_err(|e| Error::InvalidParameter(format!("stat {path}: {e}")))?;
            let (major, minor) = (nix::sys::stat::major(st.st_rdev), nix::sys::stat::minor(st.st_rdev));
            let number = |n: u64| i64::try_from(n).map_err(|e| Error::system(format!("device number of {path}"), e));
            Ok((path.to_string(), (number(major)?, number(minor)?)))
        })
        .collect()
}

impl Daemon {
    /// The healthcheck's probe process (`<bundle>/probe.json`: the
    /// container's process with the probe's argv, as dockerd's probe exec
    /// with the container's env, user and working directory) and the
    /// shim's settings; `None` without a probe.
    fn prepare_probe(
        &self,
        c: &Container,
        oci: &oci_spec::runtime::Spec,
        input: &SpecInput,
        cap_bounding: u64,
        spec_: &crate::model::ContainerSpec,
    ) -> Result<Option<pier_shim_proto::health::HealthSettings>> {
        let Some(probe) = spec_.healthcheck.as_ref().and_then(|h| h.probe()) else {
            return Ok(None);
        };
        let exec = spec::ExecInput {
            args: probe.argv.clone(),
            env: input.env.clone(),
            cwd: None,
            user: None,
            tty: false,
            console_size: None,
            privileged: false,
            cap_bounding,
        };
        let process = spec::exec_process(oci, &exec).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let bytes = serde_json::to_vec(&process).map_err(|e| Error::system("encode probe process", e))?;
        let path = c.bundle.join("probe.json");
        write(&path, &bytes, private::RECORD)?;
        Ok(Some(pier_shim_proto::health::HealthSettings {
            process: path,
            record: c.dir.join(super::health::FILE),
            interval_ns: probe.interval,
            timeout_ns: probe.timeout,
            start_period_ns: probe.start_period,
            start_interval_ns: probe.start_interval,
            retries: probe.retries,
            timeout_text: crate::model::health::go_duration(probe.timeout),
        }))
    }

    /// `linux.cgroupsPath` of container `id`: under its `--cgroup-parent`,
    /// else the daemon's `cgroup-parent`, else `/pier` (as dockerd's
    /// cgroupfs driver, with `/docker`).
    pub(in crate::daemon) fn cgroups_path(&self, id: &str, parent: &str) -> String {
        let parent = match (parent, self.cfg.cgroup_parent.as_deref()) {
            ("", Some(daemon)) => daemon,
            ("", None) => crate::model::resources::DEFAULT_CGROUP_PARENT,
            (p, _) => p,
        };
        spec::resources::cgroups_path(parent, id)
    }

    pub(in crate::daemon) fn prepare_bundle(
        &self,
        c: &Container,
        rec: &ContainerRecord,
        image: &pier_image::Image,
    ) -> Result<Prepared> {
        private::dir(&c.bundle, private::DIR).map_err(|e| io("create", &c.bundle, e))?;
        remove_if_present(&c.exit_path())?;
        remove_if_present(&c.socket())?;

        let rootfs = c.rootfs();
        let spec_ = &rec.spec;
        let process = &spec_.process;
        rootfs
            .mount_with(&self.images.layer_dirs(image), spec_.auto_remove)
            .map_err(|e| Error::system(format!("mount rootfs of {}", c.id), e))?;

        let hostname = spec_.hostname.clone();
        let etc = EtcFiles {
            hostname: c.dir.join("hostname"),
            hosts: c.dir.join("hosts"),
            resolv_conf: c.dir.join("resolv.conf"),
        };
        write(
            &etc.hostname,
            spec::hostname_file(&hostname).as_bytes(),
            private::SHARED_FILE,
        )?;
        // What fails from here on is undone with the network by the failed
        // start (`start_locked` releases it).
        let net = self.attach_network(c, rec)?;
        write(&etc.hosts, net.hosts.as_bytes(), private::SHARED_FILE)?;
        write(&etc.resolv_conf, net.resolv_conf.as_bytes(), private::SHARED_FILE)?;

        let root = Root::open(&rootfs.merged).map_err(|e| io("open", &rootfs.merged, e))?;
        let passwd = read_user_db(&root, "/etc/passwd")?;
        let group = read_user_db(&root, "/etc/group")?;
        let user =
            spec::resolve_user(&process.user, &passwd, &group).map_err(|e| Error::InvalidParameter(e.to_string()))?;

        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| Error::system("read RLIMIT_NOFILE", e))?;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| io("read", Path::new("/proc/sys/kernel/osrelease"), e))?;
        let kernel = KernelVersion::from_release(&release)
            .ok_or_else(|| Error::system("parse the kernel release", format!("unexpected release {release:?}")))?;
        let host = HostLimits {
            nofile: Rlimit { soft, hard },
            cap_bounding: spec::parse_cap_mask(&status, "CapBnd").unwrap_or(u64::MAX),
            kernel,
            arch: seccomp::native_arch(),
            x32: host_runs_x32(),
        };
        let mut input = SpecInput::new(&rec.id, rootfs.merged.clone(), process.argv(), host);
        let env: Vec<String> = net.link_env.iter().chain(&process.env).cloned().collect();
        input.env = spec::process_env(&env, &hostname, process.stdio.tty);
        input.hostname = hostname;
        input.domainname = spec_.domainname.clone();
        input.cwd = process.cwd().to_string();
        input.user = user;
        input.tty = process.stdio.tty;
        input.console_size = process.console_size.map(|c| spec::ConsoleSize {
            height: c.height,
            width: c.width,
        });
        input.privileged = spec_.security.privileged;
        input.readonly_rootfs = spec_.storage.readonly_rootfs;
        input.cap_add = spec_.security.cap_add.clone().unwrap_or_default();
        input.cap_drop = spec_.security.cap_drop.clone().unwrap_or_default();
        input.etc_files = Some(etc);
        input.shm_size = spec_.shm_size;
        input.masked_paths = spec_.security.masked_paths.clone();
        input.readonly_paths = spec_.security.readonly_paths.clone();
        input.seccomp = match &spec_.security.seccomp {
            None => Seccomp::Default,
            Some(SeccompPolicy::Builtin) => Seccomp::Builtin,
            Some(SeccompPolicy::Unconfined) => Seccomp::Unconfined,
            // Checked at create; decoded again for this start.
            Some(SeccompPolicy::Custom { profile }) => {
                Seccomp::Custom(seccomp::Profile::parse(profile).map_err(|e| Error::InvalidParameter(e.to_string()))?)
            }
        };
        input.no_new_privileges = spec_.security.no_new_privileges;
        input.apparmor_profile = spec_.security.apparmor_profile.clone();
        input.writable_cgroups = spec_.security.writable_cgroups;
        input.cgroupns_private = spec_.cgroupns == CgroupnsMode::Private;
        input.oom_score_adj = spec_.oom_score_adj;
        input.annotations = spec_.annotations.clone();
        let targets = made_for_mounts::user_targets(&c.dir, &spec_.storage.tmpfs);
        if let Err(e) = made_for_mounts::prepare(&rootfs.merged, &rootfs.upper, &c.dir, &targets) {
            tracing::warn!(id = %c.id, error = %e, "make mount points");
        }
        input.mounts = self.start_mounts(c, &rootfs.merged, &spec_.storage.tmpfs)?;
        input.resources = spec_.resources.clone();
        input.block_devices = block_device_numbers(&spec_.resources)?;
        input.sysctls = spec_.resources.sysctls.clone();
        input.cgroups_path = Some(self.cgroups_path(&rec.id, &spec_.resources.cgroup_parent));
        input.namespaces.net = net.namespace;
        self.apply_isolation(c, &mut input, spec_, &group)?;
        let oci = spec::build(&input).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let spec_json = serde_json::to_vec_pretty(&oci).map_err(|e| Error::system("encode OCI spec", e))?;
        let targets = made_for_mounts::targets(oci.mounts().as_deref().unwrap_or_default());
        if let Err(e) = made_for_mounts::prepare(&rootfs.merged, &rootfs.upper, &c.dir, &targets) {
            // The runtime makes what is missing; `diff` then shows it.
            tracing::warn!(id = %c.id, error = %e, "make mount points");
        }
        write(&c.bundle.join("config.json"), &spec_json, private::RECORD)?;
        let health = self.prepare_probe(c, &oci, &input, host.cap_bounding, spec_)?;

        let shim = ShimConfig {
            id: rec.id.clone(),
            bundle: c.bundle.clone(),
            runtime: self.cfg.runtime_path(&spec_.runtime),
            runtime_root: self.cfg.runtime_root(),
            socket: c.socket(),
            exit_path: c.exit_path(),
            shim_log: c.dir.join("shim.log"),
            log: self.log_settings(c, rec),
            open_stdin: process.stdio.open_stdin,
            // As dockerd: a terminal's input is never closed by a client leaving.
            stdin_once: process.stdio.stdin_once && !process.stdio.tty,
            tty: process.stdio.tty,
            // One runtime process per start (`run --detach`): no API needs
            // a created-but-not-started runtime container (CRI's
            // CreateContainer makes only pierd's record).
            run_on_start: true,
            health,
        };
        let shim_json = c.bundle.join("shim.json");
        let bytes = serde_json::to_vec_pretty(&shim).map_err(|e| Error::system("encode shim config", e))?;
        write(&shim_json, &bytes, private::RECORD)?;
        Ok(Prepared { shim_json })
    }
}

/// Whether the kernel runs x32 system calls, probed once.
fn host_runs_x32() -> bool {
    static X32: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *X32.get_or_init(pier_sys::process::kernel_runs_x32)
}
