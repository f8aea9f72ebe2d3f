//! Connecting to a port inside a pod's network namespace: a thread of its
//! own joins the namespace of the sandbox's infra process (`setns` changes
//! the calling thread only), connects to `127.0.0.1:<port>` and ends; the
//! socket stays in the namespace it was made in.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connect to `127.0.0.1:port` in the network namespace of `pid`.
pub(crate) async fn dial_in_netns(pid: i32, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pier-netns-dial".into())
        .spawn(move || {
            let connect = || -> std::io::Result<std::net::TcpStream> {
                let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                let s = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
                s.set_nonblocking(true)?;
                Ok(s)
            };
            let _ = tx.send(connect());
        })?;
    let stream = rx
        .await
        .map_err(|_| std::io::Error::other("the network namespace thread ended"))??;
    tokio::net::TcpStream::from_std(stream)
}
