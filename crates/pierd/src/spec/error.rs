//! Errors of spec building and of the helpers around it.
//!
//! Messages are docker's own wording where docker has one, because the API
//! returns them to clients verbatim (`{"message": "..."}`).

/// Why a spec, a command, a user, a name or a signal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Neither the request nor the image gave a command.
    #[error("no command specified")]
    NoCommand,

    /// `-u NAME` names no entry of the image's /etc/passwd.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },

    /// `-u USER:GROUP` names no entry of the image's /etc/group.
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },

    /// A numeric uid or gid outside what the kernel accepts.
    #[error("uids and gids must be in range 0-2147483647")]
    IdOutOfRange { id: String },

    /// A container name that breaks docker's rule.
    #[error("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },

    /// A container name longer than we keep (docker has no limit; a 1 MiB
    /// name must still be refused with a 4xx).
    #[error("Invalid container name: {len} bytes long, at most {max} are allowed")]
    NameTooLong { len: usize, max: usize },

    /// A signal that is neither a known name nor a number in 1..=64.
    #[error("Invalid signal: {signal}")]
    InvalidSignal { signal: String },

    /// `--cap-add`/`--cap-drop` with a capability the kernel does not know.
    #[error("unknown capability: \"{capability}\"")]
    UnknownCapability { capability: String },

    /// `--cap-add` of a capability the engine itself does not hold.
    #[error("capability not supported by your kernel or not available in the current environment: \"{capability}\"")]
    UnavailableCapability { capability: String },

    /// A mount target that is not an absolute path.
    #[error("invalid mount config: invalid mount path: '{destination}' mount path must be absolute")]
    RelativeMountDestination { destination: String },

    /// A tmpfs option that is neither a mount flag nor a tmpfs data option.
    #[error("invalid tmpfs option \"{option}\" for {destination}")]
    InvalidTmpfsOption { destination: String, option: String },

    /// oci-spec refused a value (its builders validate).
    #[error("build oci {what}: {message}")]
    Oci { what: &'static str, message: String },
}
