//! Contents of the /etc/hostname, /etc/hosts and /etc/resolv.conf files
//! pierd writes into the container's directory and bind-mounts.

use std::net::IpAddr;

/// Docker's default hostname: the first 12 characters of the id.
pub fn default_hostname(id: &str) -> String {
    id.chars().take(12).collect()
}

/// /etc/hostname: the hostname and a newline, as docker writes it.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// An `--add-host NAME:IP` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub name: String,
    pub ip: String,
}

/// libnetwork's defaults, in its order.
const DEFAULT_HOSTS: &[(&str, &str)] = &[
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
];

/// /etc/hosts as docker writes it: the defaults, the `--add-host` entries,
/// then `IP\tHOSTNAME` when the container has an address on a network.
/// With loopback only (`ip: None`) docker adds no line for the hostname.
pub fn hosts_file(hostname: &str, ip: Option<IpAddr>, extra: &[HostEntry]) -> String {
    let mut out = String::new();
    for (addr, names) in DEFAULT_HOSTS {
        out.push_str(&format!("{addr}\t{names}\n"));
    }
    for e in extra {
        out.push_str(&format!("{}\t{}\n", e.ip, e.name));
    }
    if let Some(ip) = ip {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    out
}

/// Google's resolvers, docker's fallback when no usable nameserver is left.
const FALLBACK_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// True for a nameserver the container cannot reach from its own network
/// namespace: loopback (127.0.0.0/8, ::1), and IPv6 ones, since container
/// networks here have no IPv6 (docker drops those too when IPv6 is off).
fn unreachable_nameserver(addr: &str) -> bool {
    // A zone suffix (fe80::1%eth0) does not parse as an IpAddr.
    let bare = addr.split('%').next().unwrap_or(addr);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(_)) => true,
        Err(_) => false,
    }
}

/// The container's /etc/resolv.conf from the host's contents: loopback and
/// IPv6 `nameserver` lines removed, every other line kept; when no
/// nameserver is left, docker's fallback 8.8.8.8 and 8.8.4.4 are appended.
///
/// The caller picks the host file: docker reads
/// /run/systemd/resolve/resolv.conf when /etc/resolv.conf only names
/// systemd-resolved's 127.0.0.53.
pub fn resolv_conf(host_resolv_conf: &str) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host_resolv_conf.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            match words.next() {
                Some(addr) if unreachable_nameserver(addr) => continue,
                Some(_) => nameservers += 1,
                None => {}
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        for ns in FALLBACK_NAMESERVERS {
            out.push_str(&format!("nameserver {ns}\n"));
        }
    }
    out
}

/// `--dns`, `--dns-search` and `--dns-option` over the host's file, as
/// docker: each given list replaces the host's lines of its kind (a search
/// list of just `.` means none); what is not given comes from
/// [`resolv_conf`].
pub fn resolv_conf_with(
    host_resolv_conf: &str,
    dns: Option<&[String]>,
    search: Option<&[String]>,
    options: Option<&[String]>,
) -> String {
    let dns = dns.filter(|d| !d.is_empty());
    let search = search.filter(|s| !s.is_empty());
    let options = options.filter(|o| !o.is_empty());
    if dns.is_none() && search.is_none() && options.is_none() {
        return resolv_conf(host_resolv_conf);
    }
    let base = resolv_conf(host_resolv_conf);
    let mut out = String::new();
    for line in base.lines() {
        let first = line.split_whitespace().next();
        let replaced = match first {
            Some("nameserver") => dns.is_some(),
            Some("search") | Some("domain") => search.is_some(),
            Some("options") => options.is_some(),
            _ => false,
        };
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(dns) = dns {
        for ns in dns {
            out.push_str(&format!("nameserver {ns}\n"));
        }
    }
    if let Some(search) = search.filter(|s| !(s.len() == 1 && s[0] == ".")) {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if let Some(options) = options {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_first_twelve_of_id() {
        assert_eq!(default_hostname("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(hostname_file("0123456789ab"), "0123456789ab\n");
    }

    #[test]
    fn hosts_loopback_only_has_just_the_defaults() {
        assert_eq!(
            hosts_file("abc", None, &[]),
            "127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             ff00::0\tip6-mcastprefix\n\
             ff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n"
        );
    }

    #[test]
    fn hosts_extra_then_own_address() {
        let extra = [HostEntry {
            name: "db".into(),
            ip: "10.0.0.5".into(),
        }];
        let ip = "172.17.0.2".parse().ok();
        let hosts = hosts_file("abc", ip, &extra);
        assert!(hosts.ends_with("ff02::2\tip6-allrouters\n10.0.0.5\tdb\n172.17.0.2\tabc\n"));
    }

    #[test]
    fn resolv_conf_drops_loopback_and_keeps_the_rest() {
        let host = "# comment\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\n\
                    nameserver fe80::1%eth0\nsearch example.com\noptions edns0 trust-ad\n";
        assert_eq!(
            resolv_conf(host),
            "# comment\nnameserver 10.1.2.3\nsearch example.com\noptions edns0 trust-ad\n"
        );
    }

    #[test]
    fn resolv_conf_falls_back_to_google() {
        assert_eq!(
            resolv_conf("nameserver 127.0.0.1\nsearch lan\n"),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(resolv_conf(""), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }

    #[test]
    fn dns_overrides_replace_their_lines() {
        let host = "nameserver 10.0.0.1\nsearch corp\noptions ndots:2\n";
        assert_eq!(resolv_conf_with(host, None, None, None), resolv_conf(host));
        let dns = ["1.1.1.1".to_string()];
        let out = resolv_conf_with(host, Some(&dns), None, None);
        assert_eq!(out, "search corp\noptions ndots:2\nnameserver 1.1.1.1\n");
        let search = ["a.example".to_string(), "b.example".to_string()];
        let opts = ["timeout:1".to_string()];
        let out = resolv_conf_with(host, None, Some(&search), Some(&opts));
        assert_eq!(
            out,
            "nameserver 10.0.0.1\nsearch a.example b.example\noptions timeout:1\n"
        );
        let dot = [".".to_string()];
        assert_eq!(
            resolv_conf_with(host, None, Some(&dot), None),
            "nameserver 10.0.0.1\noptions ndots:2\n"
        );
    }
}
