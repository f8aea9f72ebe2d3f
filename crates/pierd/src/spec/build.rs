//! The OCI spec of a container (`config.json`) and of an exec'd process
//! (`runc exec --process`), with docker's defaults.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Box as ConsoleBox, BoxBuilder, Linux, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespace,
    LinuxNamespaceType, LinuxSeccomp, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Process, Root, Spec, User,
};

use super::caps::{process_capabilities, tweak_capabilities};
use super::mounts::{assemble, BindMount, ExtraMount, MountPlan, Propagation, DEFAULT_SHM_SIZE};
use super::seccomp::{self, KernelVersion, Profile, Target};
use super::user::ResolvedUser;
use super::{env, etc_files, SpecError};

/// The OCI version runc 1.1 and crun write.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// The RLIMIT_NOFILE docker's engine hands containers (when the host
/// allows it).
pub const NOFILE_TARGET: u64 = 1_048_576;

/// A resource limit pair, as getrlimit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub soft: u64,
    pub hard: u64,
}

/// Facts about the host and the engine process the caller reads (getrlimit,
/// /proc/self/status, the kernel release) and passes in, so that the spec
/// never asks for more than the runtime, started by the engine, may grant,
/// and the seccomp filter fits this kernel and architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// RLIMIT_NOFILE: the container gets min([`NOFILE_TARGET`], hard) as
    /// soft and hard (root here lacks CAP_SYS_RESOURCE).
    pub nofile: Rlimit,
    /// The engine's capability bounding set (`CapBnd`, see
    /// [`super::parse_cap_mask`]): the most a container can get.
    pub cap_bounding: u64,
    /// The running kernel (for seccomp rules' `minKernel`).
    pub kernel: KernelVersion,
    /// docker's native architecture name ([`seccomp::native_arch`]).
    pub arch: &'static str,
    /// The kernel runs x32-ABI system calls
    /// (`pier_sys::process::kernel_runs_x32`). docker's amd64 filter also
    /// covers x32; where the kernel cannot run x32 at all that third of the
    /// filter only costs the runtime time to compile, so it is left out.
    pub x32: bool,
}

/// Which seccomp profile a container asked for (`--security-opt seccomp=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// Nothing asked: docker's default profile, none when privileged.
    Default,
    /// `seccomp=builtin`: docker's default profile, privileged or not.
    Builtin,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// A profile in docker's format (`seccomp=<json>`), privileged or not.
    Custom(Profile),
}

/// Terminal size in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSize {
    pub height: u64,
    pub width: u64,
}

/// Host paths of the files pierd writes and bind-mounts over the image's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Everything [`build`] needs, already resolved: no Docker API types, no
/// IO. Start from [`SpecInput::new`] and set what the request changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecInput {
    /// The full container id (used in error messages only).
    pub id: String,
    pub hostname: String,
    /// OCI `domainname`; empty leaves it unset.
    pub domainname: String,
    /// Host path of the merged root filesystem.
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    /// The argv ([`super::resolve_command`]).
    pub args: Vec<String>,
    /// The process environment ([`super::process_env`]).
    pub env: Vec<String>,
    /// Working directory; docker's default is `/`.
    pub cwd: String,
    pub user: ResolvedUser,
    pub tty: bool,
    /// Initial terminal size (with `tty`).
    pub console_size: Option<ConsoleSize>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// /etc/hostname, /etc/hosts, /etc/resolv.conf to bind-mount; `None`
    /// leaves the image's.
    pub etc_files: Option<EtcFiles>,
    /// Bytes; docker's default is [`DEFAULT_SHM_SIZE`].
    pub shm_size: u64,
    /// `HostConfig.Annotations`, the only source of the spec's annotations:
    /// labels (the image's or the container's) never reach the runtime, so an
    /// image cannot set runtime switches such as crun's `run.oci.*`.
    pub annotations: BTreeMap<String, String>,
    /// Limits of the engine process the runtime inherits.
    pub host: HostLimits,
    /// cgroupfs path (e.g. `/pier/<id>`); `None` lets the runtime choose.
    pub cgroups_path: Option<String>,
    /// Docker's default is 0.
    pub oom_score_adj: i32,
    /// Bind and tmpfs mounts on top of the defaults (volumes, `-v`,
    /// `--tmpfs`).
    pub mounts: Vec<ExtraMount>,
    /// Device nodes to create; for `--privileged` docker passes every host
    /// device (the caller scans /dev).
    pub devices: Vec<LinuxDevice>,
    /// More paths to mask: docker also masks each
    /// /sys/devices/system/cpu/cpuN/thermal_throttle that exists on the
    /// host (the caller probes). Ignored when privileged.
    pub extra_masked_paths: Vec<String>,
    /// `HostConfig.MaskedPaths`: replaces docker's list (and the extra
    /// paths) when given. Ignored when privileged.
    pub masked_paths: Option<Vec<String>>,
    /// `HostConfig.ReadonlyPaths`: replaces docker's list when given.
    pub readonly_paths: Option<Vec<String>>,
    pub seccomp: Seccomp,
    /// `no-new-privileges`: docker's default is false.
    pub no_new_privileges: bool,
    /// `apparmor=<profile>`: set only on hosts with AppArmor (the caller
    /// checks); `None` leaves the process unconfined.
    pub apparmor_profile: Option<String>,
    /// `writable-cgroups`: `None` makes /sys/fs/cgroup writable only when
    /// privileged.
    pub writable_cgroups: Option<bool>,
    /// A private cgroup namespace (`--cgroupns private`).
    pub cgroupns_private: bool,
    /// cgroup limits and `--ulimit`s (validated at create).
    pub resources: crate::model::ResourcesSpec,
    /// Numbers of the block devices `resources` names
    /// ([`super::resources::device_paths`]).
    pub block_devices: super::resources::DeviceNumbers,
    /// `--sysctl`s, over docker's network defaults.
    pub sysctls: BTreeMap<String, String>,
    /// PID, IPC and UTS namespaces (`--pid`, `--ipc`, `--uts`).
    pub namespaces: NamespaceModes,
    /// Host path of the init binary (`--init`): bound read-only at
    /// [`INIT_PATH`] and run before the command.
    pub init: Option<PathBuf>,
    /// Device cgroup allow rules after docker's defaults (`--device`,
    /// `--device-cgroup-rule`); ignored when privileged (all allowed).
    pub device_rules: Vec<LinuxDeviceCgroup>,
}

/// Where the container's init runs `--init` from (docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// One namespace: a new one, the host's, or another process's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Namespace {
    #[default]
    Private,
    Host,
    /// `/proc/<pid>/ns/<kind>` of another container's init.
    Join(PathBuf),
}

/// The PID, IPC and UTS namespaces, and what /dev/shm is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceModes {
    /// The network namespace: private (loopback only), the host's, or a
    /// namespace file pierd plumbed.
    pub net: Namespace,
    pub pid: Namespace,
    pub ipc: Namespace,
    pub uts: Namespace,
    /// `--ipc none`: no /dev/shm at all.
    pub no_shm: bool,
}

impl SpecInput {
    /// Docker's defaults for a container: hostname from the id, `/` as
    /// working directory, root, no tty, 64 MiB /dev/shm, and the default
    /// environment (PATH, HOSTNAME).
    pub fn new(id: &str, rootfs: PathBuf, args: Vec<String>, host: HostLimits) -> Self {
        let hostname = etc_files::default_hostname(id);
        SpecInput {
            id: id.to_string(),
            env: env::process_env(&[], &hostname, false),
            hostname,
            domainname: String::new(),
            rootfs,
            readonly_rootfs: false,
            args,
            cwd: "/".to_string(),
            user: ResolvedUser::root(),
            tty: false,
            console_size: None,
            privileged: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            etc_files: None,
            shm_size: DEFAULT_SHM_SIZE,
            annotations: BTreeMap::new(),
            host,
            cgroups_path: None,
            oom_score_adj: 0,
            mounts: Vec::new(),
            devices: Vec::new(),
            extra_masked_paths: Vec::new(),
            masked_paths: None,
            readonly_paths: None,
            seccomp: Seccomp::Default,
            no_new_privileges: false,
            apparmor_profile: None,
            writable_cgroups: None,
            cgroupns_private: false,
            namespaces: NamespaceModes::default(),
            init: None,
            device_rules: Vec::new(),
            resources: Default::default(),
            block_devices: Default::default(),
            sysctls: BTreeMap::new(),
        }
    }
}

/// Docker's masked paths (v28), in its order.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Docker's read-only paths, in its order.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Sysctls docker sets when the container has its own network namespace:
/// unprivileged ping and binding ports below 1024 without capabilities.
pub const NETNS_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ip_unprivileged_port_start", "0"),
    ("net.ipv4.ping_group_range", "0 2147483647"),
];

fn device_rule(allow: bool, typ: Option<LinuxDeviceType>, major: Option<i64>, minor: Option<i64>) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(allow);
    rule.set_typ(typ);
    rule.set_major(major);
    rule.set_minor(minor);
    rule.set_access(Some("rwm".to_string()));
    rule
}

/// Docker's device cgroup rules: deny everything, allow the character
/// devices runc creates (null, zero, full, tty, urandom, random, console)
/// and deny fuse. runc appends its own defaults (pts, ptmx, ...) after.
pub fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let c = Some(LinuxDeviceType::C);
    let mut rules = vec![device_rule(false, None, None, None)];
    for (major, minor) in [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] {
        rules.push(device_rule(true, c, Some(major), Some(minor)));
    }
    rules.push(device_rule(false, c, Some(10), Some(229)));
    rules
}

/// docker's order (mount, network, uts, pid, ipc, cgroup): a host
/// namespace is left out, a joined one carries its path.
fn namespaces(cgroupns_private: bool, modes: &NamespaceModes) -> Vec<LinuxNamespace> {
    let private = Namespace::Private;
    let mut types = vec![
        (LinuxNamespaceType::Mount, &private),
        (LinuxNamespaceType::Network, &modes.net),
        (LinuxNamespaceType::Uts, &modes.uts),
        (LinuxNamespaceType::Pid, &modes.pid),
        (LinuxNamespaceType::Ipc, &modes.ipc),
    ];
    if cgroupns_private {
        types.push((LinuxNamespaceType::Cgroup, &private));
    }
    types
        .into_iter()
        .filter_map(|(typ, mode)| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(typ);
            ns.set_path(match mode {
                Namespace::Private => None,
                Namespace::Host => return None,
                Namespace::Join(path) => Some(path.clone()),
            });
            Some(ns)
        })
        .collect()
}

/// The process part of a spec, shared by the container's init and execs.
struct ProcessParts<'a> {
    args: &'a [String],
    env: &'a [String],
    cwd: &'a str,
    user: &'a ResolvedUser,
    tty: bool,
    console_size: Option<ConsoleSize>,
}

fn oci_user(u: &ResolvedUser) -> User {
    let mut user = User::default();
    user.set_uid(u.uid);
    user.set_gid(u.gid);
    user.set_additional_gids(Some(u.additional_gids.clone()));
    user.set_umask(None);
    user.set_username(None);
    user
}

fn oci_error(what: &'static str) -> impl Fn(oci_spec::OciSpecError) -> SpecError {
    move |e| SpecError::Oci {
        what,
        message: e.to_string(),
    }
}

fn console_box(size: ConsoleSize) -> Result<ConsoleBox, SpecError> {
    BoxBuilder::default()
        .height(size.height)
        .width(size.width)
        .build()
        .map_err(oci_error("console size"))
}

/// Overrides what an exec changes on top of a copy of the init's process.
fn apply_parts(p: &mut Process, parts: &ProcessParts<'_>) -> Result<(), SpecError> {
    p.set_args(Some(parts.args.to_vec()));
    p.set_env(Some(parts.env.to_vec()));
    p.set_cwd(PathBuf::from(parts.cwd));
    p.set_user(oci_user(parts.user));
    p.set_terminal(Some(parts.tty));
    let size = parts.console_size.filter(|_| parts.tty);
    p.set_console_size(size.map(console_box).transpose()?);
    Ok(())
}

/// min(1048576, hard) for both soft and hard: never above what the process
/// running the runtime may set without CAP_SYS_RESOURCE.
fn nofile_rlimit(nofile: Rlimit) -> Result<PosixRlimit, SpecError> {
    let value = NOFILE_TARGET.min(nofile.hard);
    PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(value)
        .hard(value)
        .build()
        .map_err(oci_error("rlimit"))
}

/// Builds the container's `config.json` with docker's defaults.
pub fn build(input: &SpecInput) -> Result<Spec, SpecError> {
    let caps = tweak_capabilities(
        input.privileged,
        &input.cap_add,
        &input.cap_drop,
        input.host.cap_bounding,
    )?;

    let mut process = Process::default();
    let args: Vec<String> = match &input.init {
        // docker's withCommonOptions: `docker-init -- cmd args…`.
        Some(_) => [INIT_PATH.to_string(), "--".to_string()]
            .into_iter()
            .chain(input.args.iter().cloned())
            .collect(),
        None => input.args.clone(),
    };
    apply_parts(
        &mut process,
        &ProcessParts {
            args: &args,
            env: &input.env,
            cwd: &input.cwd,
            user: &input.user,
            tty: input.tty,
            console_size: input.console_size,
        },
    )?;
    process.set_capabilities(Some(process_capabilities(&caps, input.user.uid)));
    let mut rlimits = super::resources::ulimits(&input.resources)?;
    if !rlimits.iter().any(|l| l.typ() == PosixRlimitType::RlimitNofile) {
        rlimits.insert(0, nofile_rlimit(input.host.nofile)?);
    }
    process.set_rlimits(Some(rlimits));
    process.set_no_new_privileges(Some(input.no_new_privileges));
    process.set_oom_score_adj(Some(input.oom_score_adj));
    process.set_apparmor_profile(input.apparmor_profile.clone());
    process.set_selinux_label(None);
    process.set_scheduler(None);
    process.set_io_priority(None);

    let mut root = Root::default();
    root.set_path(input.rootfs.clone());
    root.set_readonly(Some(input.readonly_rootfs));

    let mut user_mounts = input.mounts.clone();
    if let Some(files) = &input.etc_files {
        // Docker's NetworkMounts order; a user mount on the same path wins.
        for (dest, source) in [
            ("/etc/resolv.conf", &files.resolv_conf),
            ("/etc/hostname", &files.hostname),
            ("/etc/hosts", &files.hosts),
        ] {
            if !input.mounts.iter().any(|m| m.destination() == dest) {
                user_mounts.push(ExtraMount::Bind(BindMount {
                    source: source.clone(),
                    destination: dest.to_string(),
                    readonly: input.readonly_rootfs,
                    propagation: Propagation::RPrivate,
                    non_recursive: false,
                }));
            }
        }
    }
    if let Some(init) = &input.init {
        user_mounts.push(ExtraMount::Bind(BindMount {
            source: init.clone(),
            destination: INIT_PATH.to_string(),
            readonly: true,
            propagation: Propagation::RPrivate,
            non_recursive: false,
        }));
    }
    if input.namespaces.ipc == Namespace::Host && !user_mounts.iter().any(|m| m.destination() == "/dev/shm") {
        // docker's setupIPCDirs: the host's /dev/shm.
        user_mounts.push(ExtraMount::Bind(BindMount {
            source: PathBuf::from("/dev/shm"),
            destination: "/dev/shm".to_string(),
            readonly: false,
            propagation: Propagation::RPrivate,
            non_recursive: false,
        }));
    }
    let mut assembled = assemble(&MountPlan {
        user_mounts: &user_mounts,
        shm_size: input.shm_size,
        readonly_rootfs: input.readonly_rootfs,
        privileged: input.privileged,
        writable_cgroups: input.writable_cgroups.unwrap_or(input.privileged),
    })?;

    if input.namespaces.no_shm {
        // `--ipc none`: docker drops its default /dev/shm (a user's stays).
        assembled
            .mounts
            .retain(|m| !(m.destination() == Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs")));
    }

    let mut resources = super::resources::linux_resources(&input.resources, &input.block_devices)?;
    resources.set_devices(Some(if input.privileged {
        vec![device_rule(true, None, None, None)]
    } else {
        let mut rules = default_device_rules();
        rules.extend(input.device_rules.iter().cloned());
        rules
    }));

    let mut linux = Linux::default();
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    // Docker's network sysctls only in a network namespace of the container's own.
    let mut sysctls: HashMap<String, String> = NETNS_SYSCTLS
        .iter()
        .filter(|_| input.namespaces.net != Namespace::Host)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sysctls.extend(input.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())));
    linux.set_sysctl(Some(sysctls));
    linux.set_resources(Some(resources));
    linux.set_cgroups_path(input.cgroups_path.as_ref().map(PathBuf::from));
    linux.set_namespaces(Some(namespaces(input.cgroupns_private, &input.namespaces)));
    linux.set_devices((!input.devices.is_empty()).then(|| input.devices.clone()));
    linux.set_rootfs_propagation(assembled.rootfs_propagation.map(str::to_string));
    if input.privileged {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    } else {
        let masked = match &input.masked_paths {
            Some(list) => list.clone(),
            None => {
                let mut masked: Vec<String> = MASKED_PATHS.iter().map(|p| p.to_string()).collect();
                masked.extend(input.extra_masked_paths.iter().cloned());
                masked
            }
        };
        linux.set_masked_paths(Some(masked));
        let readonly = input
            .readonly_paths
            .clone()
            .unwrap_or_else(|| READONLY_PATHS.iter().map(|p| p.to_string()).collect());
        linux.set_readonly_paths(Some(readonly));
    }
    linux.set_mount_label(None);
    linux.set_seccomp(seccomp_section(input, &caps));

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_string());
    spec.set_root(Some(root));
    spec.set_mounts(Some(assembled.mounts));
    spec.set_process(Some(process));
    // The host's UTS namespace keeps the host's name (docker clears it).
    spec.set_hostname((input.namespaces.uts == Namespace::Private).then(|| input.hostname.clone()));
    spec.set_domainname(
        (!input.domainname.is_empty() && input.namespaces.uts == Namespace::Private).then(|| input.domainname.clone()),
    );
    spec.set_hooks(None);
    spec.set_annotations((!input.annotations.is_empty()).then(|| {
        input
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    }));
    spec.set_linux(Some(linux));
    Ok(spec)
}

/// docker's choice (`WithSeccomp`): unconfined on request; privileged
/// containers run without a filter unless a profile was named; otherwise
/// the profile resolved for the container's capabilities on this host.
fn seccomp_section(input: &SpecInput, caps: &[oci_spec::runtime::Capability]) -> Option<LinuxSeccomp> {
    let profile = match &input.seccomp {
        Seccomp::Unconfined => return None,
        Seccomp::Default if input.privileged => return None,
        Seccomp::Default | Seccomp::Builtin => seccomp::default_profile(),
        Seccomp::Custom(p) => p,
    };
    let names = seccomp::cap_names(caps);
    seccomp::to_oci(
        profile,
        &Target {
            arch: input.host.arch,
            kernel: input.host.kernel,
            caps: &names,
            x32: input.host.x32,
        },
    )
}

/// What an exec changes relative to the container's init process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInput {
    pub args: Vec<String>,
    /// The full environment: [`super::process_env`] of the container's
    /// Config.Env with the exec's tty, then [`super::replace_or_append_env`]
    /// with the exec's `-e`.
    pub env: Vec<String>,
    /// `None` keeps the container's working directory.
    pub cwd: Option<String>,
    /// `None` keeps the container's user.
    pub user: Option<ResolvedUser>,
    pub tty: bool,
    pub console_size: Option<ConsoleSize>,
    /// `exec --privileged`: every capability the engine holds.
    pub privileged: bool,
    /// The engine's bounding set, as in [`HostLimits::cap_bounding`].
    pub cap_bounding: u64,
}

/// The process spec for `runc exec --process`: docker copies the
/// container's process (capabilities, rlimits, oom score, no-new-privileges)
/// and replaces argv, env, cwd, user and terminal. `--privileged` grants
/// every capability. Capabilities follow the exec's uid as for the init
/// (bounding only for non-root).
pub fn exec_process(container: &Spec, exec: &ExecInput) -> Result<Process, SpecError> {
    let init = container.process().clone().unwrap_or_default();
    let user = match &exec.user {
        Some(u) => u.clone(),
        None => ResolvedUser {
            uid: init.user().uid(),
            gid: init.user().gid(),
            additional_gids: init.user().additional_gids().clone().unwrap_or_default(),
            home: String::new(),
        },
    };
    let cwd = exec
        .cwd
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| init.cwd().to_string_lossy().into_owned());
    let bounding: Vec<_> = if exec.privileged {
        tweak_capabilities(true, &[], &[], exec.cap_bounding)?
    } else {
        init.capabilities()
            .as_ref()
            .and_then(|c| c.bounding().clone())
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    let mut p = init.clone();
    apply_parts(
        &mut p,
        &ProcessParts {
            args: &exec.args,
            env: &exec.env,
            cwd: &cwd,
            user: &user,
            tty: exec.tty,
            console_size: exec.console_size,
        },
    )?;
    p.set_capabilities(Some(process_capabilities(&bounding, user.uid)));
    Ok(p)
}
