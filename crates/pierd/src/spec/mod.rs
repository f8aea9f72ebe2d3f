//! OCI runtime spec building (pure).
//!
//! Turns an already-resolved description of a container ([`SpecInput`]) into
//! the `config.json` runc reads, with docker's defaults: its mounts,
//! capability set, masked and read-only paths, namespaces, device rules,
//! sysctls and seccomp filter ([`seccomp`]: docker's profiles, resolved for
//! the container's capabilities, architecture and kernel). Around it sit the small docker rules pierd needs to fill the
//! input: command merging, environment order, `-u` resolution, the
//! /etc/hosts, /etc/hostname and /etc/resolv.conf contents, container names
//! and signal names.
//!
//! Everything here is a function over values. This module must not do IO
//! (no file reads, no syscalls, no clock): the caller reads the image's
//! /etc/passwd, the host's resolv.conf and the current rlimits and passes
//! them in, and writes the results out.

mod build;
mod caps;
mod command;
mod devices;
mod env;
mod error;
mod etc_files;
mod mounts;
mod name;
pub mod resources;
pub mod seccomp;
mod signal;
mod user;

#[cfg(test)]
mod runc_tests;
#[cfg(test)]
mod snapshot_tests;

pub use build::{
    build, default_device_rules, exec_process, ConsoleSize, EtcFiles, ExecInput, HostLimits, Namespace, NamespaceModes,
    Rlimit, Seccomp, SpecInput, INIT_PATH, MASKED_PATHS, NETNS_SYSCTLS, NOFILE_TARGET, OCI_VERSION, READONLY_PATHS,
};
pub use caps::{
    parse_cap_mask, process_capabilities, tweak_capabilities, ALL_CAPABILITIES, ALL_CAPS_MASK, DEFAULT_CAPABILITIES,
};
pub use command::{merge_command, resolve_command, Command};
pub use devices::{allow_rule, device_node, node_rule, HostNode};
pub use env::{merge_env, process_env, replace_or_append_env, DEFAULT_PATH};
pub use error::SpecError;
pub use etc_files::{default_hostname, hostname_file, hosts_file, resolv_conf, resolv_conf_with, HostEntry};
pub use mounts::{default_mounts, BindMount, ExtraMount, Propagation, TmpfsMount, DEFAULT_SHM_SIZE};
pub use name::{validate_name, MAX_NAME_LEN};
pub use signal::{parse_signal, signal_name};
pub use user::{resolve_additional_groups, resolve_user, ResolvedUser};
