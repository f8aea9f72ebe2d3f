//! Capability sets: docker's default set, `--cap-add`/`--cap-drop`
//! (docker's `TweakCapabilities`), `--privileged`, and how a set lands in
//! the process spec.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use super::SpecError;

/// Every capability of Linux 6.x, by number (CAP_CHOWN = 0 ...
/// CAP_CHECKPOINT_RESTORE = 40). runc skips the ones the running kernel
/// lacks.
pub const ALL_CAPABILITIES: &[(&str, Capability)] = &[
    ("CHOWN", Capability::Chown),
    ("DAC_OVERRIDE", Capability::DacOverride),
    ("DAC_READ_SEARCH", Capability::DacReadSearch),
    ("FOWNER", Capability::Fowner),
    ("FSETID", Capability::Fsetid),
    ("KILL", Capability::Kill),
    ("SETGID", Capability::Setgid),
    ("SETUID", Capability::Setuid),
    ("SETPCAP", Capability::Setpcap),
    ("LINUX_IMMUTABLE", Capability::LinuxImmutable),
    ("NET_BIND_SERVICE", Capability::NetBindService),
    ("NET_BROADCAST", Capability::NetBroadcast),
    ("NET_ADMIN", Capability::NetAdmin),
    ("NET_RAW", Capability::NetRaw),
    ("IPC_LOCK", Capability::IpcLock),
    ("IPC_OWNER", Capability::IpcOwner),
    ("SYS_MODULE", Capability::SysModule),
    ("SYS_RAWIO", Capability::SysRawio),
    ("SYS_CHROOT", Capability::SysChroot),
    ("SYS_PTRACE", Capability::SysPtrace),
    ("SYS_PACCT", Capability::SysPacct),
    ("SYS_ADMIN", Capability::SysAdmin),
    ("SYS_BOOT", Capability::SysBoot),
    ("SYS_NICE", Capability::SysNice),
    ("SYS_RESOURCE", Capability::SysResource),
    ("SYS_TIME", Capability::SysTime),
    ("SYS_TTY_CONFIG", Capability::SysTtyConfig),
    ("MKNOD", Capability::Mknod),
    ("LEASE", Capability::Lease),
    ("AUDIT_WRITE", Capability::AuditWrite),
    ("AUDIT_CONTROL", Capability::AuditControl),
    ("SETFCAP", Capability::Setfcap),
    ("MAC_OVERRIDE", Capability::MacOverride),
    ("MAC_ADMIN", Capability::MacAdmin),
    ("SYSLOG", Capability::Syslog),
    ("WAKE_ALARM", Capability::WakeAlarm),
    ("BLOCK_SUSPEND", Capability::BlockSuspend),
    ("AUDIT_READ", Capability::AuditRead),
    ("PERFMON", Capability::Perfmon),
    ("BPF", Capability::Bpf),
    ("CHECKPOINT_RESTORE", Capability::CheckpointRestore),
];

/// Docker's default set, in docker's order.
pub const DEFAULT_CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// A capability mask with every capability of [`ALL_CAPABILITIES`].
pub const ALL_CAPS_MASK: u64 = (1 << ALL_CAPABILITIES.len()) - 1;

/// The kernel number of a capability (its bit in a mask).
fn number(cap: Capability) -> usize {
    ALL_CAPABILITIES
        .iter()
        .position(|(_, c)| *c == cap)
        .unwrap_or(usize::MAX)
}

fn in_mask(mask: u64, cap: Capability) -> bool {
    let n = number(cap);
    n < 64 && mask & (1 << n) != 0
}

/// Reads a capability mask line (`CapBnd:\t000001fffeffffff`) of a
/// /proc/PID/status text. The caller passes pierd's own CapBnd as
/// `available`: a container can only get what the engine holds.
pub fn parse_cap_mask(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        u64::from_str_radix(value.trim(), 16).ok()
    })
}

/// One `--cap-add`/`--cap-drop` word after docker's normalization.
#[derive(PartialEq)]
enum CapWord {
    All,
    One(Capability),
}

/// Upper-cases, adds `CAP_` when missing, and looks the name up; `ALL`
/// stays special. Unknown names get docker's `unknown capability: "CAP_X"`,
/// names outside `available` docker's "not available" error.
fn normalize(words: &[String], available: u64) -> Result<Vec<CapWord>, SpecError> {
    words
        .iter()
        .map(|w| {
            let upper = w.to_ascii_uppercase();
            if upper == "ALL" {
                return Ok(CapWord::All);
            }
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            let cap = ALL_CAPABILITIES
                .iter()
                .find(|(name, _)| full.strip_prefix("CAP_") == Some(name))
                .map(|(_, c)| *c);
            match cap {
                None => Err(SpecError::UnknownCapability { capability: full }),
                Some(c) if !in_mask(available, c) => Err(SpecError::UnavailableCapability { capability: full }),
                Some(c) => Ok(CapWord::One(c)),
            }
        })
        .collect()
}

fn all(available: u64) -> impl Iterator<Item = Capability> {
    ALL_CAPABILITIES
        .iter()
        .map(|(_, c)| *c)
        .filter(move |c| in_mask(available, *c))
}

/// The container's capability list by docker's rules: privileged gets
/// every capability; `--cap-add ALL` gets every one not dropped;
/// `--cap-drop ALL` keeps only the added ones; otherwise the defaults minus
/// the dropped plus the added. Order is kept, duplicates removed.
///
/// `available` is the engine's own bounding set (see [`parse_cap_mask`]):
/// "every capability" means every available one, as in docker, and a
/// default the engine lacks is left out rather than failing the start.
pub fn tweak_capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
    available: u64,
) -> Result<Vec<Capability>, SpecError> {
    if privileged {
        return Ok(all(available).collect());
    }
    let drops = normalize(cap_drop, ALL_CAPS_MASK)?;
    let adds = normalize(cap_add, available)?;
    let dropped = |c: &Capability| drops.contains(&CapWord::One(*c));
    let added = adds.iter().filter_map(|w| match w {
        CapWord::One(c) => Some(*c),
        CapWord::All => None,
    });
    let list: Vec<Capability> = if adds.contains(&CapWord::All) {
        all(available).filter(|c| !dropped(c)).collect()
    } else if drops.contains(&CapWord::All) {
        added.collect()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .copied()
            .filter(|c| in_mask(available, *c) && !dropped(c))
            .chain(added)
            .collect()
    };
    let mut unique = Vec::with_capacity(list.len());
    for c in list {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    Ok(unique)
}

/// The process's capability sets the way docker ≥ 20.10 writes them: root
/// gets the list as bounding, effective and permitted; any other uid gets
/// it as bounding only (what execve would leave it). Never inheritable or
/// ambient.
pub fn process_capabilities(list: &[Capability], uid: u32) -> LinuxCapabilities {
    let set: Capabilities = list.iter().copied().collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_inheritable(None);
    caps.set_ambient(None);
    if uid == 0 {
        caps.set_effective(Some(set.clone()));
        caps.set_permitted(Some(set));
    } else {
        caps.set_effective(None);
        caps.set_permitted(None);
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_untouched() {
        assert_eq!(
            tweak_capabilities(false, &[], &[], ALL_CAPS_MASK),
            Ok(DEFAULT_CAPABILITIES.to_vec())
        );
    }

    #[test]
    fn add_and_drop_accept_any_spelling() {
        let caps = tweak_capabilities(
            false,
            &s(&["sys_admin", "CAP_NET_ADMIN"]),
            &s(&["cap_chown", "Kill"]),
            ALL_CAPS_MASK,
        )
        .unwrap_or_default();
        assert!(caps.contains(&Capability::SysAdmin));
        assert!(caps.contains(&Capability::NetAdmin));
        assert!(!caps.contains(&Capability::Chown));
        assert!(!caps.contains(&Capability::Kill));
        assert_eq!(caps.len(), DEFAULT_CAPABILITIES.len());
    }

    #[test]
    fn all_words() {
        assert_eq!(
            tweak_capabilities(false, &s(&["NET_ADMIN"]), &s(&["all"]), ALL_CAPS_MASK),
            Ok(vec![Capability::NetAdmin])
        );
        let caps = tweak_capabilities(false, &s(&["ALL"]), &s(&["SYS_ADMIN"]), ALL_CAPS_MASK).unwrap_or_default();
        assert_eq!(caps.len(), ALL_CAPABILITIES.len() - 1);
        assert!(!caps.contains(&Capability::SysAdmin));
        assert_eq!(
            tweak_capabilities(true, &[], &s(&["ALL"]), ALL_CAPS_MASK).map(|c| c.len()),
            Ok(ALL_CAPABILITIES.len())
        );
    }

    #[test]
    fn adding_a_default_does_not_duplicate() {
        assert_eq!(
            tweak_capabilities(false, &s(&["CHOWN"]), &[], ALL_CAPS_MASK),
            Ok(DEFAULT_CAPABILITIES.to_vec())
        );
    }

    #[test]
    fn unknown_capability_is_refused() {
        assert_eq!(
            tweak_capabilities(false, &s(&["FLY"]), &[], ALL_CAPS_MASK)
                .expect_err("must fail")
                .to_string(),
            "unknown capability: \"CAP_FLY\""
        );
    }

    #[test]
    fn availability_limits_privileged_and_cap_add() {
        // This machine's root: everything but CAP_SYS_RESOURCE (24).
        let here = 0x1fffeffffff;
        let caps = tweak_capabilities(true, &[], &[], here).unwrap_or_default();
        assert_eq!(caps.len(), ALL_CAPABILITIES.len() - 1);
        assert!(!caps.contains(&Capability::SysResource));
        assert_eq!(
            tweak_capabilities(false, &s(&["SYS_RESOURCE"]), &[], here)
                .expect_err("must fail")
                .to_string(),
            "capability not supported by your kernel or not available in the current environment: \"CAP_SYS_RESOURCE\""
        );
        let no_mknod = ALL_CAPS_MASK & !(1 << 27);
        let caps = tweak_capabilities(false, &[], &s(&["SYS_RESOURCE"]), no_mknod).unwrap_or_default();
        assert_eq!(caps.len(), DEFAULT_CAPABILITIES.len() - 1);
    }

    #[test]
    fn cap_mask_from_proc_status() {
        let status = "Name:\tpierd\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n";
        assert_eq!(parse_cap_mask(status, "CapBnd"), Some(0x1fffeffffff));
        assert_eq!(parse_cap_mask(status, "CapAmb"), None);
        assert_eq!(ALL_CAPS_MASK, 0x1ffffffffff);
    }

    #[test]
    fn non_root_gets_bounding_only() {
        let caps = process_capabilities(DEFAULT_CAPABILITIES, 1000);
        assert_eq!(caps.bounding().as_ref().map(|b| b.len()), Some(14));
        assert!(caps.effective().is_none());
        assert!(caps.permitted().is_none());
        assert!(caps.inheritable().is_none());
        assert!(caps.ambient().is_none());
        let root = process_capabilities(DEFAULT_CAPABILITIES, 0);
        assert_eq!(root.effective(), root.bounding());
        assert_eq!(root.permitted(), root.bounding());
    }
}
