//! The native backend's firewall: every rule names one container's
//! address, so a container's rules are added and deleted as one
//! `iptables-restore --noflush` transaction (one process, where netavark
//! runs iptables some thirty times), and no rule is shared between
//! containers. Pier's chains hang off the built-in ones:
//!
//! - nat `PIER-HOSTPORTS` (from PREROUTING and OUTPUT, for local
//!   destinations): published ports' DNAT; a connection from the host's
//!   loopback or from the container's own network is marked first;
//! - nat `PIER-POSTROUTING` (from POSTROUTING): masquerade of a container's
//!   traffic leaving its bridge, and of marked connections into it;
//! - filter `PIER-FORWARD` (first in FORWARD): new connections into a
//!   container from outside its bridge are dropped unless they were
//!   published (isolation between networks, as docker's); an internal
//!   network's containers cannot leave their bridge.
//!
//! Rule rendering is pure; [`Firewall`] runs the programs.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

pub const HOSTPORTS: &str = "PIER-HOSTPORTS";
pub const POSTROUTING: &str = "PIER-POSTROUTING";
pub const FORWARD: &str = "PIER-FORWARD";
/// The mark of connections that must be masqueraded into a container.
const MASQ_MARK: &str = "0x4000/0x4000";

/// A published port of one container address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `""`: every address of the host.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// One container address on one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ip: IpAddr,
    pub bridge: String,
    /// The network's subnets (CIDR text) of the same family.
    pub subnets: Vec<String>,
    pub internal: bool,
    /// Ports published to this address.
    pub ports: Vec<Published>,
}

/// `iptables-restore` lines for one family: (table, rule) where rule
/// starts with `-A CHAIN` or `-I CHAIN 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub lines: Vec<(&'static str, String)>,
}

fn host(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => format!("{v}/32"),
        IpAddr::V6(v) => format!("{v}/128"),
    }
}

fn destination(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v) => format!("{v}:{port}"),
        IpAddr::V6(v) => format!("[{v}]:{port}"),
    }
}

/// The rules of `addresses` (all of one family), tagged with `tag` (the
/// container's short id) in a comment.
pub fn rules(addresses: &[Address], tag: &str) -> Rules {
    let c = format!("-m comment --comment \"pier {tag}\"");
    let mut r = Rules::default();
    for a in addresses {
        let ip = host(&a.ip);
        let br = &a.bridge;
        let v4 = a.ip.is_ipv4();
        // filter: isolation first (inserted), then what is let through.
        r.lines.push((
            "filter",
            format!(
                "-I {FORWARD} 1 -d {ip} -o {br} ! -i {br} -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT {c} -j DROP"
            ),
        ));
        if a.internal {
            r.lines.push((
                "filter",
                format!("-I {FORWARD} 1 -s {ip} -i {br} ! -o {br} {c} -j DROP"),
            ));
        }
        r.lines
            .push(("filter", format!("-A {FORWARD} -d {ip} -o {br} {c} -j ACCEPT")));
        r.lines
            .push(("filter", format!("-A {FORWARD} -s {ip} -i {br} {c} -j ACCEPT")));
        if !a.internal {
            r.lines
                .push(("nat", format!("-A {POSTROUTING} -s {ip} ! -o {br} {c} -j MASQUERADE")));
        }
        if !a.ports.is_empty() {
            r.lines.push((
                "nat",
                format!("-A {POSTROUTING} -d {ip} -o {br} -m mark --mark {MASQ_MARK} {c} -j MASQUERADE"),
            ));
        }
        for p in &a.ports {
            let family_ok = match p.host_ip.parse::<IpAddr>() {
                Ok(h) => h.is_ipv4() == v4,
                Err(_) => p.host_ip.is_empty(),
            };
            if !family_ok {
                continue;
            }
            let proto = &p.protocol;
            let mut m = String::new();
            if !p.host_ip.is_empty() {
                m.push_str(&format!("-d {} ", p.host_ip));
            }
            m.push_str(&format!("-p {proto} -m {proto} --dport {}", p.host_port));
            let mut sources: Vec<String> = a.subnets.clone();
            if v4 {
                sources.insert(0, "127.0.0.0/8".to_string());
            }
            for s in sources {
                r.lines.push((
                    "nat",
                    format!("-A {HOSTPORTS} {m} -s {s} {c} -j MARK --set-xmark {MASQ_MARK}"),
                ));
            }
            r.lines.push((
                "nat",
                format!(
                    "-A {HOSTPORTS} {m} {c} -j DNAT --to-destination {}",
                    destination(&a.ip, p.container_port)
                ),
            ));
        }
    }
    r
}

/// `iptables-restore --noflush` input adding (`add`) or deleting `rules`.
pub fn restore_input(rules: &Rules, add: bool) -> String {
    let mut out = String::new();
    for table in ["filter", "nat"] {
        let lines: Vec<&String> = rules
            .lines
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, l)| l)
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("*{table}\n"));
        for l in lines {
            if add {
                out.push_str(l);
            } else {
                out.push_str(&delete_form(l));
            }
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    out
}

/// `-A C spec` / `-I C 1 spec` as `-D C spec`.
fn delete_form(line: &str) -> String {
    let mut words = line.splitn(3, ' ');
    let verb = words.next().unwrap_or("");
    let chain = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("");
    let rest = if verb == "-I" {
        rest.strip_prefix("1 ").unwrap_or(rest)
    } else {
        rest
    };
    format!("-D {chain} {rest}")
}

/// What must be added for Pier's chains to exist and be jumped to, given
/// `iptables -S` of the nat and filter tables; `None` when all is there.
pub fn base_input(nat: &str, filter: &str) -> Option<String> {
    let has = |text: &str, line: &str| text.lines().any(|l| l.trim() == line);
    let mut out = String::new();
    let mut nat_lines = Vec::new();
    for chain in [HOSTPORTS, POSTROUTING] {
        if !has(nat, &format!("-N {chain}")) {
            nat_lines.push(format!(":{chain} - [0:0]"));
        }
    }
    for (from, to) in [
        ("PREROUTING", format!("-m addrtype --dst-type LOCAL -j {HOSTPORTS}")),
        ("OUTPUT", format!("-m addrtype --dst-type LOCAL -j {HOSTPORTS}")),
        ("POSTROUTING", format!("-j {POSTROUTING}")),
    ] {
        if !has(nat, &format!("-A {from} {to}")) {
            nat_lines.push(format!("-A {from} {to}"));
        }
    }
    let mut filter_lines = Vec::new();
    if !has(filter, &format!("-N {FORWARD}")) {
        filter_lines.push(format!(":{FORWARD} - [0:0]"));
    }
    if !has(filter, &format!("-A FORWARD -j {FORWARD}")) {
        filter_lines.push(format!("-I FORWARD 1 -j {FORWARD}"));
    }
    for (table, lines) in [("filter", filter_lines), ("nat", nat_lines)] {
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("*{table}\n"));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    (!out.is_empty()).then_some(out)
}

/// Runs `iptables`/`ip6tables` programs.
#[derive(Debug, Default)]
pub struct Firewall {
    /// Families whose base chains are known to be in place.
    based: Mutex<BTreeSet<bool>>,
}

fn program(v6: bool, restore: bool) -> &'static str {
    match (v6, restore) {
        (false, false) => "iptables",
        (false, true) => "iptables-restore",
        (true, false) => "ip6tables",
        (true, true) => "ip6tables-restore",
    }
}

fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("run {program}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Firewall {
    fn ensure_base(&self, v6: bool) -> Result<(), String> {
        let mut based = self.based.lock().unwrap_or_else(|p| p.into_inner());
        if based.contains(&v6) {
            return Ok(());
        }
        let nat = run(program(v6, false), &["-w", "-t", "nat", "-S"], None)?;
        let filter = run(program(v6, false), &["-w", "-t", "filter", "-S"], None)?;
        if let Some(input) = base_input(&nat, &filter) {
            run(program(v6, true), &["-w", "--noflush"], Some(&input))?;
        }
        based.insert(v6);
        Ok(())
    }

    /// Add `rules` of one family in one transaction.
    pub fn add(&self, rules: &Rules, v6: bool) -> Result<(), String> {
        if rules.lines.is_empty() {
            return Ok(());
        }
        self.ensure_base(v6)?;
        let input = restore_input(rules, true);
        match run(program(v6, true), &["-w", "--noflush"], Some(&input)) {
            Ok(_) => Ok(()),
            Err(first) => {
                // Someone may have flushed Pier's chains: check them again once.
                self.based.lock().unwrap_or_else(|p| p.into_inner()).remove(&v6);
                self.ensure_base(v6).map_err(|_| first.clone())?;
                run(program(v6, true), &["-w", "--noflush"], Some(&input)).map(|_| ())
            }
        }
    }

    /// Delete `rules`; rules already gone are no error (a teardown after a
    /// failed setup, or a second one).
    pub fn delete(&self, rules: &Rules, v6: bool) {
        if rules.lines.is_empty() {
            return;
        }
        let input = restore_input(rules, false);
        if run(program(v6, true), &["-w", "--noflush"], Some(&input)).is_ok() {
            return;
        }
        // One transaction fails as a whole if one rule is missing: delete
        // the rest one by one.
        for (table, line) in &rules.lines {
            let delete = delete_form(line);
            let words = shell_words(&delete);
            let mut args: Vec<&str> = vec!["-w", "-t", table];
            args.extend(words.iter().map(String::as_str));
            let _ = run(program(v6, false), &args, None);
        }
    }
}

/// Split a rule into arguments (double quotes group words, as in the
/// comment match).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Address {
        Address {
            ip: "10.9.0.2".parse().expect("ip"),
            bridge: "br0".into(),
            subnets: vec!["10.9.0.0/24".into()],
            internal: false,
            ports: vec![Published {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }],
        }
    }

    #[test]
    fn a_published_container() {
        let r = rules(&[web()], "abc");
        let text = restore_input(&r, true);
        let want = "\
*filter
-I PIER-FORWARD 1 -d 10.9.0.2/32 -o br0 ! -i br0 -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -m comment --comment \"pier abc\" -j DROP
-A PIER-FORWARD -d 10.9.0.2/32 -o br0 -m comment --comment \"pier abc\" -j ACCEPT
-A PIER-FORWARD -s 10.9.0.2/32 -i br0 -m comment --comment \"pier abc\" -j ACCEPT
COMMIT
*nat
-A PIER-POSTROUTING -s 10.9.0.2/32 ! -o br0 -m comment --comment \"pier abc\" -j MASQUERADE
-A PIER-POSTROUTING -d 10.9.0.2/32 -o br0 -m mark --mark 0x4000/0x4000 -m comment --comment \"pier abc\" -j MASQUERADE
-A PIER-HOSTPORTS -d 127.0.0.1 -p tcp -m tcp --dport 8080 -s 127.0.0.0/8 -m comment --comment \"pier abc\" -j MARK --set-xmark 0x4000/0x4000
-A PIER-HOSTPORTS -d 127.0.0.1 -p tcp -m tcp --dport 8080 -s 10.9.0.0/24 -m comment --comment \"pier abc\" -j MARK --set-xmark 0x4000/0x4000
-A PIER-HOSTPORTS -d 127.0.0.1 -p tcp -m tcp --dport 8080 -m comment --comment \"pier abc\" -j DNAT --to-destination 10.9.0.2:80
COMMIT
";
        assert_eq!(text, want);
        let del = restore_input(&r, false);
        assert!(del.contains("-D PIER-FORWARD -d 10.9.0.2/32 -o br0 ! -i br0"));
        assert!(!del.contains("-A ") && !del.contains("-I "));
    }

    #[test]
    fn internal_and_families() {
        let mut a = web();
        a.internal = true;
        a.ports.clear();
        let text = restore_input(&rules(&[a], "x"), true);
        assert!(text.contains("-s 10.9.0.2/32 -i br0 ! -o br0 -m comment --comment \"pier x\" -j DROP"));
        assert!(!text.contains("MASQUERADE"));
        let v6 = Address {
            ip: "fd00::2".parse().expect("ip"),
            bridge: "br0".into(),
            subnets: vec!["fd00::/64".into()],
            internal: false,
            ports: web().ports,
        };
        // A v4 host address publishes nothing on v6.
        assert!(!restore_input(&rules(std::slice::from_ref(&v6), "x"), true).contains("--to-destination"));
        let mut all = v6;
        all.ports[0].host_ip = String::new();
        let text = restore_input(&rules(&[all], "x"), true);
        assert!(text.contains("--to-destination [fd00::2]:80"));
        assert!(!text.contains("127.0.0.0/8"));
    }

    #[test]
    fn base_chains_only_when_missing() {
        let nat = "-P PREROUTING ACCEPT\n-N PIER-HOSTPORTS\n-N PIER-POSTROUTING\n\
                   -A PREROUTING -m addrtype --dst-type LOCAL -j PIER-HOSTPORTS\n\
                   -A OUTPUT -m addrtype --dst-type LOCAL -j PIER-HOSTPORTS\n-A POSTROUTING -j PIER-POSTROUTING\n";
        let filter = "-P FORWARD ACCEPT\n-N PIER-FORWARD\n-A FORWARD -j PIER-FORWARD\n";
        assert_eq!(base_input(nat, filter), None);
        let fresh = base_input("-P PREROUTING ACCEPT\n", "-P FORWARD ACCEPT\n").expect("missing");
        assert!(fresh.contains(":PIER-FORWARD - [0:0]\n-I FORWARD 1 -j PIER-FORWARD\n"));
        assert!(fresh.contains(":PIER-HOSTPORTS - [0:0]"));
        assert!(fresh.contains("-A POSTROUTING -j PIER-POSTROUTING"));
    }

    #[test]
    fn words() {
        assert_eq!(
            shell_words("-D C -m comment --comment \"pier abc\" -j DROP"),
            ["-D", "C", "-m", "comment", "--comment", "pier abc", "-j", "DROP"]
        );
    }
}
