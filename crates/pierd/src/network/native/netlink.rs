//! rtnetlink, the few requests the native backend makes: create a bridge
//! or a veth pair (the peer made straight into the container's namespace),
//! add an address or a default route, set a link up or under a bridge,
//! delete a link. [`Message`] builds a request (pure, unit-tested); a
//! [`Socket`] sends it and reads the kernel's acknowledgement. A socket
//! acts in the network namespace of the thread that opened it.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_NODAD: u8 = 0x02;

const RTA_GATEWAY: u16 = 5;
const RTA_OIF: u16 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RTN_UNICAST: u8 = 1;

const IFF_UP: u32 = 0x1;
const NLA_F_NESTED: u16 = 0x8000;

/// One rtnetlink request under construction.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Vec<u8>,
    /// Offsets of open nested attributes (their length is patched on close).
    open: Vec<usize>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

impl Message {
    fn new(kind: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set by the socket
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        Self { buf, open: Vec::new() }
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) -> &mut Self {
        self.buf.push(libc::AF_UNSPEC as u8);
        self.buf.push(0);
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
        self
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn attr_str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    fn attr_u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    fn begin(&mut self, kind: u16) -> &mut Self {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end(&mut self) -> &mut Self {
        if let Some(at) = self.open.pop() {
            let len = (self.buf.len() - at) as u16;
            self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// The request's bytes, with `seq`.
    pub fn finish(&self, seq: u32) -> Vec<u8> {
        let mut out = self.buf.clone();
        let len = out.len() as u32;
        out[0..4].copy_from_slice(&len.to_ne_bytes());
        out[8..12].copy_from_slice(&seq.to_ne_bytes());
        out
    }

    /// A bridge named `name`, up.
    pub fn new_bridge(name: &str, mtu: Option<u32>) -> Self {
        let mut m = Self::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP).attr_str(IFLA_IFNAME, name);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, "bridge").end();
        m
    }

    /// A veth pair: `host` up under the bridge `master`, its peer `peer`
    /// made in the namespace `peer_ns` (an open nsfs fd) with `peer_mac`.
    pub fn new_veth(host: &str, master: u32, mtu: Option<u32>, peer: &str, peer_ns: RawFd, peer_mac: [u8; 6]) -> Self {
        let mut m = Self::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP)
            .attr_str(IFLA_IFNAME, host)
            .attr_u32(IFLA_MASTER, master);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        m.begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER)
            .ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, peer)
            .attr_u32(IFLA_NET_NS_FD, peer_ns as u32)
            .attr(IFLA_ADDRESS, &peer_mac);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        m.end().end().end();
        m
    }

    /// Set link `index` up.
    pub fn link_up(index: u32) -> Self {
        let mut m = Self::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        m
    }

    /// Delete the link named `name`.
    pub fn del_link(name: &str) -> Self {
        let mut m = Self::new(RTM_DELLINK, 0);
        m.ifinfo(0, 0, 0).attr_str(IFLA_IFNAME, name);
        m
    }

    /// Add `ip/prefix` to link `index`.
    pub fn new_addr(index: u32, ip: IpAddr, prefix: u8) -> Self {
        let mut m = Self::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        m.buf.push(family(&ip));
        m.buf.push(prefix);
        // No duplicate address detection for v6: the address is ours.
        m.buf.push(if ip.is_ipv6() { IFA_F_NODAD } else { 0 });
        m.buf.push(0); // RT_SCOPE_UNIVERSE
        m.buf.extend_from_slice(&index.to_ne_bytes());
        let b = ip_bytes(&ip);
        m.attr(IFA_LOCAL, &b).attr(IFA_ADDRESS, &b);
        m
    }

    /// A default route through `gateway` on link `index`.
    pub fn default_route(index: u32, gateway: IpAddr) -> Self {
        let mut m = Self::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        m.buf
            .extend_from_slice(&[family(&gateway), 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, 0, RTN_UNICAST]);
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.attr(RTA_GATEWAY, &ip_bytes(&gateway)).attr_u32(RTA_OIF, index);
        m
    }
}

/// The kernel's answer to one request: 0 or a negative errno.
pub fn ack_of(reply: &[u8], seq: u32) -> Option<i32> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= reply.len() {
        let len = u32::from_ne_bytes(reply[at..at + 4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(reply[at + 4..at + 6].try_into().ok()?);
        let got = u32::from_ne_bytes(reply[at + 8..at + 12].try_into().ok()?);
        if len < NLMSG_HDRLEN || at + len > reply.len() {
            return None;
        }
        if got == seq && kind == NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 {
            let code = &reply[at + NLMSG_HDRLEN..at + NLMSG_HDRLEN + 4];
            return Some(i32::from_ne_bytes(code.try_into().ok()?));
        }
        if got == seq && kind == NLMSG_DONE {
            return Some(0);
        }
        at += align4(len);
    }
    None
}

/// An rtnetlink socket in the opening thread's network namespace.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    pub fn open() -> io::Result<Self> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(io::Error::from)?;
        Ok(Self { fd, seq: 0 })
    }

    /// Send `m`, wait for its acknowledgement; the kernel's error as an
    /// `io::Error` (`AlreadyExists` for EEXIST, `NotFound` for ENODEV).
    pub fn request(&mut self, m: &Message) -> io::Result<()> {
        use nix::sys::socket::{recv, send, MsgFlags};
        self.seq = self.seq.wrapping_add(1);
        let bytes = m.finish(self.seq);
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty()).map_err(io::Error::from)?;
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            match ack_of(&buf[..n], self.seq) {
                Some(0) => return Ok(()),
                Some(code) => return Err(io::Error::from_raw_os_error(-code)),
                None => continue,
            }
        }
    }
}

/// The index of link `name` in the calling thread's namespace.
pub fn link_index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn header_and_length() {
        let m = Message::link_up(7).finish(42);
        assert_eq!(m.len(), 16 + 16);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().expect("4")), 32);
        assert_eq!(u16_at(&m, 4), RTM_NEWLINK);
        assert_eq!(u16_at(&m, 6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().expect("4")), 42);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().expect("4")), 7);
    }

    #[test]
    fn attributes_are_padded() {
        let m = Message::del_link("eth1").finish(1);
        // ifinfomsg, then IFLA_IFNAME "eth1\0" (4 + 5 = 9, padded to 12).
        assert_eq!(m.len(), 16 + 16 + 12);
        assert_eq!(u16_at(&m, 32), 9);
        assert_eq!(u16_at(&m, 34), IFLA_IFNAME);
        assert_eq!(&m[36..41], b"eth1\0");
    }

    #[test]
    fn veth_nests_the_peer() {
        let m = Message::new_veth("vethabc", 5, None, "eth0", 9, [2, 0, 0, 0, 0, 1]).finish(1);
        // The outer IFLA_LINKINFO's length covers everything after it.
        let linkinfo_at = 16 + 16 + align4(4 + 8) + 8;
        assert_eq!(u16_at(&m, linkinfo_at + 2), IFLA_LINKINFO | NLA_F_NESTED);
        assert_eq!(linkinfo_at + u16_at(&m, linkinfo_at) as usize, m.len());
        let s = String::from_utf8_lossy(&m);
        assert!(s.contains("veth\0") && s.contains("eth0\0"));
    }

    #[test]
    fn addresses_by_family() {
        let v4 = Message::new_addr(3, "10.1.2.3".parse().expect("ip"), 24).finish(1);
        assert_eq!(v4[16], libc::AF_INET as u8);
        assert_eq!(v4[17], 24);
        assert_eq!(v4.len(), 16 + 8 + 8 + 8);
        let v6 = Message::new_addr(3, "fd00::2".parse().expect("ip"), 64).finish(1);
        assert_eq!(v6[16], libc::AF_INET6 as u8);
        assert_eq!(v6[18], IFA_F_NODAD);
        assert_eq!(v6.len(), 16 + 8 + 20 + 20);
    }

    #[test]
    fn acks() {
        let mut reply = Vec::new();
        reply.extend_from_slice(&36u32.to_ne_bytes());
        reply.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        reply.extend_from_slice(&0u16.to_ne_bytes());
        reply.extend_from_slice(&5u32.to_ne_bytes());
        reply.extend_from_slice(&0u32.to_ne_bytes());
        reply.extend_from_slice(&(-17i32).to_ne_bytes());
        reply.extend_from_slice(&[0u8; 16]);
        assert_eq!(ack_of(&reply, 5), Some(-17));
        assert_eq!(ack_of(&reply, 6), None);
        assert_eq!(ack_of(&reply[..10], 5), None);
    }
}
