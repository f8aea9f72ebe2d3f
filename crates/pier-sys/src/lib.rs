//! The only crate with `unsafe`: thin, typed wrappers over the Linux process
//! and file-descriptor primitives Pier's shim needs (fork/daemonize, child
//! subreaper, closing inherited fds, cloexec pipes, SCM_RIGHTS, signalfd,
//! reaping, terminal window size) and the descriptor-only walk of trees
//! someone else controls ([`tree`]).
//!
//! It must not hold policy: no knowledge of containers, runtimes, paths of
//! Pier's layout or protocols. Every `unsafe` block carries a `// SAFETY:`
//! comment; every fd it hands out is an [`std::os::fd::OwnedFd`] (or a type
//! wrapping one) and is close-on-exec.

pub mod fd;
pub mod mem;
pub mod notify;
pub mod process;
pub mod reap;
pub mod scm;
pub mod signal;
pub mod term;
pub mod tree;

pub use nix::errno::Errno;
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;

/// What failed, with the errno.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("{op}: {errno}")]
    Call { op: &'static str, errno: Errno },
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, SysError>;

pub(crate) trait Ctx<T> {
    fn ctx(self, op: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, Errno> {
    fn ctx(self, op: &'static str) -> Result<T> {
        self.map_err(|errno| SysError::Call { op, errno })
    }
}

impl<T> Ctx<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str) -> Result<T> {
        self.map_err(|source| SysError::Io { op, source })
    }
}
