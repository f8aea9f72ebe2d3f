//! Who may use the shim's sockets: root and the user the shim runs as
//! (pierd's: pierd spawns it, so the uid is inherited, not configured).
//! Every socket is bound with mode 0600 (umask 0177 around `bind`, the
//! shim being single-threaded), and every accepted connection's
//! `SO_PEERCRED` uid is checked before a byte is read from it.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Whether a peer with `uid` may talk to a shim running as `own`.
pub fn allowed(uid: u32, own: u32) -> bool {
    uid == 0 || uid == own
}

/// `bind(path)` with the socket file created 0600.
pub fn bind<L>(path: &Path, bind: impl FnOnce(&Path) -> io::Result<L>) -> io::Result<L> {
    let listener = pier_sys::process::with_umask(0o177, || bind(path))?;
    // Belt and braces: the mode must not depend on the umask alone.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Whether the peer of an accepted connection may use it (logged when
/// not).
pub fn admit(conn: &impl AsFd, what: &str) -> bool {
    match pier_sys::scm::peer_uid(conn.as_fd()) {
        Ok(uid) if allowed(uid, pier_sys::process::euid()) => true,
        Ok(uid) => {
            tracing::warn!(uid, socket = what, "refused a connection from another user");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, socket = what, "refused a connection: no peer credentials");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_our_own_uid_only() {
        assert!(allowed(0, 0));
        assert!(allowed(0, 1000));
        assert!(allowed(1000, 1000));
        assert!(!allowed(65534, 0));
        assert!(!allowed(1001, 1000));
    }

    #[test]
    fn binds_0600_and_admits_ourselves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        let listener = bind(&path, |p| std::os::unix::net::UnixListener::bind(p)).expect("bind");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _c = std::os::unix::net::UnixStream::connect(&path).expect("connect");
        let (conn, _) = listener.accept().expect("accept");
        assert!(admit(&conn, "test"));
    }
}
