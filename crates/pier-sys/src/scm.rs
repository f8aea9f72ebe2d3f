//! Passing fds over unix sockets (SCM_RIGHTS), and who is at the other end
//! (SO_PEERCRED). Received fds are always close-on-exec
//! (`MSG_CMSG_CLOEXEC`).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::{Ctx, Result, SysError};

/// The most fds one message may carry.
pub const MAX_FDS: usize = 16;

/// The uid of the process that connected `sock` (as of `connect`).
pub fn peer_uid(sock: BorrowedFd<'_>) -> Result<u32> {
    let cred = nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::PeerCredentials).ctx("SO_PEERCRED")?;
    Ok(cred.uid())
}

/// Send `bytes` (at least one byte) with `fds` attached; returns the bytes
/// sent.
pub fn send_fds(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize> {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let iov = [IoSlice::new(bytes)];
    let cmsgs = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None).ctx("sendmsg")
}

/// Receive into `buf` and take ownership of any fds that came along.
/// Returns the byte count (0 at EOF) and the fds.
pub fn recv_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).ctx("recvmsg")?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().ctx("recvmsg cmsgs")? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel just installed `fd` in this process for
                // this message; nothing else refers to it, so we own it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(SysError::Call {
            op: "recvmsg: control data truncated",
            errno: nix::errno::Errno::EMSGSIZE,
        });
    }
    Ok((msg.bytes, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn passes_a_pipe_end() {
        let (a, b) = UnixStream::pair().expect("pair");
        let p = crate::fd::pipe().expect("pipe");
        send_fds(a.as_fd(), b"x", &[p.write.as_fd()]).expect("send");
        drop(p.write);
        let mut buf = [0u8; 8];
        let (n, mut fds) = recv_fds(b.as_fd(), &mut buf).expect("recv");
        assert_eq!((n, fds.len()), (1, 1));
        let flags = nix::fcntl::fcntl(fds[0].as_fd(), nix::fcntl::FcntlArg::F_GETFD).expect("getfd");
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let mut w = std::fs::File::from(fds.remove(0));
        w.write_all(b"hi").expect("write");
        drop(w);
        let mut r = std::fs::File::from(p.read);
        let mut s = String::new();
        r.read_to_string(&mut s).expect("read");
        assert_eq!(s, "hi");
    }
}
