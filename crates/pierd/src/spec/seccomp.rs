//! docker's seccomp profiles and their conversion to the OCI
//! `linux.seccomp` section (pure).
//!
//! A profile in docker's format (moby's `profiles/seccomp`) is a template:
//! besides what the OCI section holds, it maps the native architecture to
//! the architectures the filter covers (`archMap`) and guards rules with
//! conditions on the architecture, the container's capabilities and the
//! kernel version (`includes`, `excludes`). [`Profile::parse`] checks a
//! profile once (at create, for `--security-opt seccomp=<json>`); [`to_oci`]
//! resolves it for one container on one host. The profile docker applies by
//! default ships as data, [`default_profile`] (`seccomp/default.json`, its
//! source and version in `seccomp/SOURCE.md`).

use std::path::PathBuf;
use std::sync::OnceLock;

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::Deserialize;

use super::caps::ALL_CAPABILITIES;

/// docker's default profile (moby v28.2.2), as shipped.
pub const DEFAULT_PROFILE_JSON: &str = include_str!("seccomp/default.json");

/// A kernel's version and major revision: `6.1` of `6.1.0-18-amd64`. Minor
/// revisions and distribution suffixes never matter to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub kernel: u32,
    pub major: u32,
}

impl KernelVersion {
    /// The leading `<kernel>.<major>` of a release (`uname -r`,
    /// /proc/sys/kernel/osrelease): `3.12.25-gentoo`, `3.12-1-amd64` and
    /// `3.12` are all 3.12.
    pub fn from_release(release: &str) -> Option<Self> {
        let leading = |s: &str| -> Option<u32> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            s[..end].parse().ok()
        };
        let (kernel, rest) = release.trim().split_once('.')?;
        Some(KernelVersion {
            kernel: kernel.parse().ok()?,
            major: leading(rest)?,
        })
    }

    /// A profile's `minKernel`: exactly `<kernel>.<major>`, each below 256,
    /// not `0.0` (docker's rules and message).
    fn from_min_kernel(v: &str) -> Result<Self, ProfileError> {
        let bad = |why: &str| {
            ProfileError::Decode(format!(
                "invalid kernel version: \"{v}\", expected \"<kernel>.<major>\"{why}"
            ))
        };
        let parts: Vec<&str> = v.splitn(3, '.').collect();
        let [kernel, major] = parts[..] else {
            return Err(bad(""));
        };
        let part = |p: &str| p.parse::<u8>().map(u32::from).map_err(|e| bad(&format!(": {e}")));
        let version = KernelVersion {
            kernel: part(kernel)?,
            major: part(major)?,
        };
        if version == (KernelVersion { kernel: 0, major: 0 }) {
            return Err(bad(": version cannot be 0.0"));
        }
        Ok(version)
    }
}

/// Why a profile was refused (docker's messages where docker has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(String),
    #[error(
        "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"
    )]
    ArchitecturesAndArchMap,
    #[error("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")]
    NameAndNames,
    #[error("the seccomp profile has syscall rules but no defaultAction")]
    NoDefaultAction,
}

/// One `archMap` entry: the filter's architectures when `arch` is native.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchMapEntry {
    pub arch: Arch,
    pub sub_arches: Vec<Arch>,
}

/// A rule's condition. `includes`: every listed capability held, the
/// native architecture listed (when any is), the kernel at least
/// `min_kernel`. `excludes`: any listed capability held, the native
/// architecture listed, or the kernel at least `min_kernel`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `CAP_…` names, compared exactly.
    pub caps: Vec<String>,
    /// docker's native architecture names (`amd64`, `arm64`, …).
    pub arches: Vec<String>,
    pub min_kernel: Option<KernelVersion>,
}

/// One guarded rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub syscall: LinuxSyscall,
    pub includes: Filter,
    pub excludes: Filter,
}

/// A checked profile in docker's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `None` only when there are no rules either: seccomp stays off.
    pub default_action: Option<LinuxSeccompAction>,
    pub default_errno_ret: Option<u32>,
    /// Listed verbatim (a profile has these or an `archMap`, not both).
    pub architectures: Vec<Arch>,
    pub arch_map: Vec<ArchMapEntry>,
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    pub listener_path: Option<PathBuf>,
    pub listener_metadata: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    #[serde(default)]
    default_action: Option<String>,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    arch_map: Option<Vec<RawArchMap>>,
    #[serde(default)]
    flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: Arch,
    #[serde(default)]
    sub_architectures: Option<Vec<Arch>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    name: Option<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Option<RawFilter>,
    #[serde(default)]
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

impl RawFilter {
    fn check(self) -> Result<Filter, ProfileError> {
        Ok(Filter {
            caps: self.caps.unwrap_or_default(),
            arches: self.arches.unwrap_or_default(),
            min_kernel: match self.min_kernel.as_deref() {
                None | Some("") => None,
                Some(v) => Some(KernelVersion::from_min_kernel(v)?),
            },
        })
    }
}

fn action(name: &str) -> Result<LinuxSeccompAction, ProfileError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|e| ProfileError::Decode(format!("defaultAction: {e}")))
}

impl Profile {
    /// Decodes and checks a profile in docker's JSON format (what the
    /// docker CLI sends as `seccomp=<json>`).
    pub fn parse(json: &str) -> Result<Self, ProfileError> {
        let raw: RawProfile = serde_json::from_str(json).map_err(|e| ProfileError::Decode(e.to_string()))?;
        let architectures = raw.architectures.unwrap_or_default();
        let arch_map: Vec<ArchMapEntry> = raw
            .arch_map
            .unwrap_or_default()
            .into_iter()
            .map(|a| ArchMapEntry {
                arch: a.architecture,
                sub_arches: a.sub_architectures.unwrap_or_default(),
            })
            .collect();
        if !architectures.is_empty() && !arch_map.is_empty() {
            return Err(ProfileError::ArchitecturesAndArchMap);
        }
        let mut rules = Vec::new();
        for r in raw.syscalls.unwrap_or_default() {
            let names = match (r.name.filter(|n| !n.is_empty()), r.names.unwrap_or_default()) {
                (Some(_), names) if !names.is_empty() => return Err(ProfileError::NameAndNames),
                (Some(name), _) => vec![name],
                (None, names) => names,
            };
            let mut syscall = LinuxSyscall::default();
            syscall.set_names(names);
            syscall.set_action(r.action);
            syscall.set_errno_ret(r.errno_ret);
            syscall.set_args(r.args);
            rules.push(Rule {
                syscall,
                includes: r.includes.map(RawFilter::check).transpose()?.unwrap_or_default(),
                excludes: r.excludes.map(RawFilter::check).transpose()?.unwrap_or_default(),
            });
        }
        let default_action = match raw.default_action.as_deref() {
            None | Some("") => None,
            Some(a) => Some(action(a)?),
        };
        if default_action.is_none() && !rules.is_empty() {
            return Err(ProfileError::NoDefaultAction);
        }
        Ok(Profile {
            default_action,
            default_errno_ret: raw.default_errno_ret,
            architectures,
            arch_map,
            flags: raw.flags,
            listener_path: raw.listener_path.filter(|p| !p.is_empty()).map(PathBuf::from),
            listener_metadata: raw.listener_metadata.filter(|m| !m.is_empty()),
            rules,
        })
    }
}

/// docker's default profile, decoded once.
pub fn default_profile() -> &'static Profile {
    static DEFAULT: OnceLock<Profile> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        // The file is part of the source tree; a test decodes it.
        Profile::parse(DEFAULT_PROFILE_JSON).expect("the embedded default seccomp profile decodes")
    })
}

/// docker's name of the architecture this binary runs on (Go's GOARCH as
/// libseccomp spells it): the names profiles use in `arches`.
pub fn native_arch() -> &'static str {
    let little = cfg!(target_endian = "little");
    match std::env::consts::ARCH {
        "x86" => "x86",
        "x86_64" => "amd64",
        "arm" => "arm",
        "aarch64" => "arm64",
        "mips" if little => "mipsel",
        "mips" => "mips",
        "mips64" if little => "mipsel64",
        "mips64" => "mips64",
        "powerpc" => "ppc",
        "powerpc64" if little => "ppc64le",
        "powerpc64" => "ppc64",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        _ => "",
    }
}

/// The seccomp architecture of a native name.
fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "mips" => Arch::ScmpArchMips,
        "mipsel" => Arch::ScmpArchMipsel,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mipsel64n32" => Arch::ScmpArchMipsel64n32,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

/// `CAP_…` names of a capability list, for [`Target::caps`].
pub fn cap_names(caps: &[Capability]) -> Vec<String> {
    caps.iter()
        .filter_map(|c| ALL_CAPABILITIES.iter().find(|(_, cap)| cap == c))
        .map(|(name, _)| format!("CAP_{name}"))
        .collect()
}

/// What a profile is resolved against.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// [`native_arch`], or another for tests.
    pub arch: &'a str,
    pub kernel: KernelVersion,
    /// The container's capability bounding set, `CAP_…` names.
    pub caps: &'a [String],
    /// The kernel runs x32-ABI system calls; when it cannot, `archMap`'s
    /// `SCMP_ARCH_X32` is left out (no x32 call can run there anyway).
    pub x32: bool,
}

fn selected(rule: &Rule, t: &Target<'_>) -> bool {
    let held = |c: &String| t.caps.contains(c);
    let ex = &rule.excludes;
    if ex.arches.iter().any(|a| a == t.arch) || ex.caps.iter().any(held) || ex.min_kernel.is_some_and(|k| t.kernel >= k)
    {
        return false;
    }
    let inc = &rule.includes;
    (inc.arches.is_empty() || inc.arches.iter().any(|a| a == t.arch))
        && inc.caps.iter().all(held)
        && inc.min_kernel.is_none_or(|k| t.kernel >= k)
}

/// The OCI section for one container: the native architecture and its
/// companions from `archMap`, the rules whose conditions hold. `None` when
/// the profile has neither a default action nor rules (docker then runs the
/// container without a filter).
pub fn to_oci(profile: &Profile, target: &Target<'_>) -> Option<LinuxSeccomp> {
    let default_action = profile.default_action?;
    let mut architectures = profile.architectures.clone();
    if let Some(native) = seccomp_arch(target.arch) {
        if let Some(entry) = profile.arch_map.iter().find(|e| e.arch == native) {
            architectures.push(entry.arch);
            architectures.extend(
                entry
                    .sub_arches
                    .iter()
                    .copied()
                    .filter(|a| target.x32 || *a != Arch::ScmpArchX32),
            );
        }
    }
    let syscalls: Vec<LinuxSyscall> = profile
        .rules
        .iter()
        .filter(|r| selected(r, target))
        .map(|r| r.syscall.clone())
        .collect();
    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action);
    out.set_default_errno_ret(profile.default_errno_ret);
    out.set_architectures((!architectures.is_empty()).then_some(architectures));
    out.set_flags(profile.flags.clone());
    out.set_listener_path(profile.listener_path.clone());
    out.set_listener_metadata(profile.listener_metadata.clone());
    out.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DEFAULT_CAPABILITIES;

    const KERNEL: KernelVersion = KernelVersion { kernel: 6, major: 1 };

    fn default_caps() -> Vec<String> {
        cap_names(DEFAULT_CAPABILITIES)
    }

    fn names(s: &LinuxSeccomp) -> Vec<String> {
        s.syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().iter().cloned())
            .collect()
    }

    fn resolve(profile: &Profile, arch: &str, kernel: KernelVersion, caps: &[String]) -> LinuxSeccomp {
        to_oci(
            profile,
            &Target {
                arch,
                kernel,
                caps,
                x32: true,
            },
        )
        .expect("a filter")
    }

    #[test]
    fn the_default_profile_decodes_with_dockers_shape() {
        let p = default_profile();
        assert_eq!(p.default_action, Some(LinuxSeccompAction::ScmpActErrno));
        assert_eq!(p.default_errno_ret, Some(1));
        assert_eq!(p.arch_map.len(), 8);
        assert_eq!(p.rules.len(), 31);
        assert_eq!(p.rules[0].syscall.names().len(), 361);
    }

    #[test]
    fn x32_is_left_out_where_the_kernel_cannot_run_it() {
        let caps = default_caps();
        let t = Target {
            arch: "amd64",
            kernel: KERNEL,
            caps: &caps,
            x32: false,
        };
        let s = to_oci(default_profile(), &t).expect("a filter");
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..])
        );
        // The rules are the same either way.
        let with = resolve(default_profile(), "amd64", KERNEL, &caps);
        assert_eq!(s.syscalls(), with.syscalls());
        // A profile's own `architectures` list is kept as written.
        let p = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X32"]}"#)
            .expect("profile");
        let own = to_oci(&p, &t).expect("a filter");
        assert_eq!(own.architectures().as_deref(), Some(&[Arch::ScmpArchX32][..]));
    }

    #[test]
    fn dockers_default_caps_on_amd64_select_thirteen_rules() {
        let s = resolve(default_profile(), "amd64", KERNEL, &default_caps());
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        // The big allow list, ptrace & co (>= 4.8), socket without AF_VSOCK,
        // five personality values, arch_prctl, modify_ldt, clone without
        // namespace flags, clone3 -> ENOSYS, chroot (CAP_SYS_CHROOT).
        assert_eq!(s.syscalls().as_ref().map(Vec::len), Some(13));
        let n = names(&s);
        // CAP_SYS_CHROOT is one of docker's 14: its rule adds chroot.
        for allowed in ["arch_prctl", "modify_ldt", "ptrace", "chown", "chroot"] {
            assert!(n.iter().any(|x| x == allowed), "{allowed} missing");
        }
        for denied in [
            "unshare",
            "mount",
            "bpf",
            "reboot",
            "open_by_handle_at",
            "s390_runtime_instr",
        ] {
            assert!(!n.iter().any(|x| x == denied), "{denied} allowed");
        }
        let clone3 = s
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names() == &["clone3"])
            .expect("clone3 rule");
        assert_eq!(clone3.action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3.errno_ret(), Some(38));
    }

    #[test]
    fn capabilities_add_their_rules_and_cap_sys_admin_replaces_the_clone_guards() {
        let mut caps = default_caps();
        caps.push("CAP_SYS_ADMIN".into());
        caps.push("CAP_SYS_PTRACE".into());
        let s = resolve(default_profile(), "amd64", KERNEL, &caps);
        let n = names(&s);
        for allowed in ["unshare", "mount", "setns", "kcmp", "pidfd_getfd", "bpf"] {
            assert!(n.iter().any(|x| x == allowed), "{allowed} missing");
        }
        // The guarded clone rule and clone3's ENOSYS are excluded with CAP_SYS_ADMIN.
        assert!(s
            .syscalls()
            .iter()
            .flatten()
            .all(|r| r.args().is_none() || r.names() != &["clone"]));
        assert!(s
            .syscalls()
            .iter()
            .flatten()
            .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow));
        // 13 - 2 (clone guard, clone3) + CAP_SYS_ADMIN's + CAP_SYS_PTRACE's.
        assert_eq!(s.syscalls().as_ref().map(Vec::len), Some(13));
    }

    #[test]
    fn rules_follow_the_architecture() {
        let caps = default_caps();
        let arm = resolve(default_profile(), "arm64", KERNEL, &caps);
        assert_eq!(
            arm.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
        let n = names(&arm);
        assert!(n.iter().any(|x| x == "arm_fadvise64_64"));
        assert!(!n.iter().any(|x| x == "arch_prctl"));
        let s390 = resolve(default_profile(), "s390x", KERNEL, &caps);
        // s390 orders clone's arguments differently: the guard checks arg 1.
        let clone = s390
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names() == &["clone"])
            .expect("clone rule");
        assert_eq!(clone.args().as_ref().map(|a| a[0].index()), Some(1));
        // An architecture without an archMap entry: no architectures listed.
        let unknown = resolve(default_profile(), "sparc", KERNEL, &caps);
        assert_eq!(unknown.architectures(), &None);
    }

    #[test]
    fn min_kernel_includes_and_excludes() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
            {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}}
        ]}"#;
        let p = Profile::parse(json).expect("profile");
        let caps = default_caps();
        let on = |kernel, major| names(&resolve(&p, "amd64", KernelVersion { kernel, major }, &caps));
        assert_eq!(on(5, 9), ["old"]);
        assert_eq!(on(5, 10), ["new"]);
        assert_eq!(on(6, 0), ["new"]);
        assert_eq!(on(4, 19), ["old"]);
        // docker's own rule: ptrace and process_vm_* only from 4.8.
        let d = |major| {
            names(&resolve(
                default_profile(),
                "amd64",
                KernelVersion { kernel: 4, major },
                &caps,
            ))
        };
        assert!(!d(7).iter().any(|x| x == "ptrace"));
        assert!(d(8).iter().any(|x| x == "ptrace"));
    }

    #[test]
    fn includes_need_every_cap_excludes_any() {
        let json = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["both"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_A", "CAP_B"]}},
            {"names": ["not_a_or_b"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_A", "CAP_B"]}},
            {"name": "legacy", "action": "SCMP_ACT_KILL", "includes": {"arches": ["amd64", "x32"]}}
        ]}"#;
        let p = Profile::parse(json).expect("profile");
        let with = |caps: &[&str]| {
            let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
            names(&resolve(&p, "amd64", KERNEL, &caps))
        };
        assert_eq!(with(&["CAP_A", "CAP_B"]), ["both", "legacy"]);
        assert_eq!(with(&["CAP_A"]), ["legacy"]);
        assert_eq!(with(&[]), ["not_a_or_b", "legacy"]);
        assert_eq!(names(&resolve(&p, "arm64", KERNEL, &[])), ["not_a_or_b"]);
    }

    #[test]
    fn a_profile_without_action_or_rules_means_no_filter() {
        let p = Profile::parse("{}").expect("profile");
        assert_eq!(
            to_oci(
                &p,
                &Target {
                    arch: "amd64",
                    kernel: KERNEL,
                    caps: &[],
                    x32: true,
                }
            ),
            None
        );
        let only_default = Profile::parse(r#"{"defaultAction": "SCMP_ACT_LOG"}"#).expect("profile");
        let s = resolve(&only_default, "amd64", KERNEL, &[]);
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActLog);
        assert_eq!(s.syscalls(), &None);
    }

    #[test]
    fn refusals_carry_dockers_messages() {
        let err = |json: &str| Profile::parse(json).map(|_| ()).expect_err("refused").to_string();
        assert!(err("not json").starts_with("Decoding seccomp profile failed: "));
        assert_eq!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                   "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#),
            "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#
            ),
            "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"
        );
        assert_eq!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "3"}}]}"#
            ),
            "Decoding seccomp profile failed: invalid kernel version: \"3\", expected \"<kernel>.<major>\""
        );
        assert!(err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "0.0"}}]}"#)
            .ends_with("version cannot be 0.0"));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "300.1"}}]}"#)
            .contains("invalid kernel version"));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).starts_with("Decoding seccomp profile failed: "));
        assert!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_VAX"}]}"#)
                .starts_with("Decoding seccomp profile failed: ")
        );
        assert_eq!(
            err(r#"{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}]}"#),
            "the seccomp profile has syscall rules but no defaultAction"
        );
    }

    #[test]
    fn kernel_releases_parse_as_docker_reads_them() {
        let v = |s| KernelVersion::from_release(s);
        assert_eq!(v("6.18.44-fc-v1045"), Some(KernelVersion { kernel: 6, major: 18 }));
        assert_eq!(v("3.12-1-amd64"), Some(KernelVersion { kernel: 3, major: 12 }));
        assert_eq!(v("3.12\n"), Some(KernelVersion { kernel: 3, major: 12 }));
        assert_eq!(v("5.4rc1"), Some(KernelVersion { kernel: 5, major: 4 }));
        assert_eq!(v("garbage"), None);
        assert!(KernelVersion { kernel: 4, major: 20 } < KernelVersion { kernel: 5, major: 0 });
    }

    #[test]
    fn cap_names_are_the_profiles_spelling() {
        assert_eq!(
            cap_names(&[Capability::SysAdmin, Capability::Chown]),
            ["CAP_SYS_ADMIN", "CAP_CHOWN"]
        );
    }
}
