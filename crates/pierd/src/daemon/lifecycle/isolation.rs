//! The start-time half of a container's isolation: the namespaces of the
//! containers it joins (by their init's pid now), its device nodes and
//! rules, `--group-add` against its own /etc/group, and the init binary.

use std::path::PathBuf;

use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::{ContainerSpec, IpcMode, PidMode, UtsMode};
use crate::spec::{self, Namespace, SpecInput};

impl Daemon {
    /// Fill the isolation part of `input` for a start of `spec`; `group`
    /// is the container's /etc/group.
    pub(in crate::daemon) fn apply_isolation(
        &self,
        c: &Container,
        input: &mut SpecInput,
        spec_: &ContainerSpec,
        group: &str,
    ) -> Result<()> {
        let iso = &spec_.isolation;
        // A shareable IPC namespace keeps its /dev/shm on the host side;
        // joiners bind the donor's.
        let shm = match &iso.ipc {
            IpcMode::Shareable => {
                let rootfs = c.rootfs();
                rootfs
                    .mount_shm(spec_.shm_size)
                    .map_err(|e| Error::system("mount the shareable /dev/shm", e))?;
                Some(rootfs.shm)
            }
            IpcMode::Container(id) => {
                let donor = self.lookup(id).map(|d| d.rootfs().shm);
                donor.ok().filter(|p| crate::rootfs::is_mounted(p))
            }
            _ => None,
        };
        if let Some(source) = shm {
            if !input.mounts.iter().any(|m| m.destination() == "/dev/shm") {
                input.mounts.push(spec::ExtraMount::Bind(spec::BindMount {
                    source,
                    destination: "/dev/shm".to_string(),
                    readonly: false,
                    propagation: spec::Propagation::RPrivate,
                    non_recursive: false,
                }));
            }
        }
        input.namespaces.pid = match &iso.pid {
            PidMode::Private => Namespace::Private,
            PidMode::Host => Namespace::Host,
            PidMode::Container(id) => Namespace::Join(self.namespace_of(id, "pid", "PID", false)?),
        };
        input.namespaces.ipc = match &iso.ipc {
            IpcMode::Private | IpcMode::Shareable | IpcMode::None => Namespace::Private,
            IpcMode::Host => Namespace::Host,
            IpcMode::Container(id) => Namespace::Join(self.namespace_of(id, "ipc", "IPC", true)?),
        };
        input.namespaces.no_shm = iso.ipc == IpcMode::None;
        input.namespaces.uts = match &iso.uts {
            UtsMode::Private => Namespace::Private,
            UtsMode::Host => Namespace::Host,
            UtsMode::Container(id) => Namespace::Join(self.namespace_of(id, "uts", "UTS", false)?),
        };
        let (devices, rules) =
            super::devices::resolve(spec_.security.privileged, &iso.devices, &iso.device_cgroup_rules)
                .map_err(Error::InvalidParameter)?;
        input.devices = devices;
        input.device_rules = rules;
        if !iso.group_add.is_empty() {
            let extra = spec::resolve_additional_groups(&iso.group_add, group)
                .map_err(|e| Error::InvalidParameter(e.to_string()))?;
            for gid in extra {
                if !input.user.additional_gids.contains(&gid) {
                    input.user.additional_gids.push(gid);
                }
            }
        }
        // docker adds its init only in a PID namespace of the container's own.
        if iso.init.unwrap_or(self.cfg.init) && iso.pid == PidMode::Private {
            let path = self
                .cfg
                .find_init(std::env::var("PATH").ok().as_deref())
                .map_err(|e| Error::system("find the init binary", e))?;
            input.init = Some(path);
        }
        Ok(())
    }

    /// `/proc/<pid>/ns/<kind>` of the running container `id` (dockerd's
    /// `getPIDContainer`/`getIPCContainer`, with their messages). An IPC
    /// namespace is shared only by a `shareable` (or host-IPC) container.
    fn namespace_of(&self, id: &str, kind: &str, what: &str, ipc: bool) -> Result<PathBuf> {
        let wrap = |m: String| format!("failed to join {what} namespace: {m}");
        let c = self
            .lookup(id)
            .map_err(|e| Error::InvalidParameter(wrap(e.to_string())))?;
        let rec = c.record();
        if !rec.state.is_running() || rec.state.pid <= 0 {
            return Err(Error::Conflict(wrap(format!("Container {} is not running", c.id))));
        }
        if ipc && !matches!(rec.spec.isolation.ipc, IpcMode::Shareable | IpcMode::Host) {
            return Err(Error::InvalidParameter(wrap(format!(
                "container {id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
            ))));
        }
        Ok(PathBuf::from(format!("/proc/{}/ns/{kind}", rec.state.pid)))
    }
}
