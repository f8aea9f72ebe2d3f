//! End-to-end: container networking on netavark (issue 15). Each test runs
//! its own pierd with its own default bridge device and subnets (test
//! daemons share the host), and its guard removes what the test made, also
//! when it fails: containers and networks through the API, then any
//! bridge, veth or iptables rule still naming the test's subnets.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};
use serde_json::{json, Value};

/// A daemon with networking on, on names and subnets of its own.
pub struct NetDaemon {
    pub d: Daemon,
    pub bridge: String,
    /// The default bridge's /24 (`10.A.B.0/24`).
    pub subnet: String,
    /// Where user networks' subnets come from (a /24 split into /26s).
    pub pool: String,
}

fn random_octets() -> (u8, u8) {
    let mut b = [0u8; 2];
    let f = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    f.expect("read /dev/urandom");
    (200 + b[0] % 50, b[1])
}

/// A /24 in 10.200.0.0-10.249.255.0 that no host route or address uses.
fn free_slash24(avoid: &[String]) -> (String, String) {
    let routes = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-o", "-4", "addr"])
            .output()
            .expect("ip addr")
            .stdout,
    )
    .into_owned()
        + &String::from_utf8_lossy(
            &Command::new("ip")
                .args(["-4", "route"])
                .output()
                .expect("ip route")
                .stdout,
        );
    loop {
        let (a, b) = random_octets();
        let prefix = format!("10.{a}.{b}.");
        if !routes.contains(&prefix) && !avoid.contains(&prefix) {
            return (prefix, format!("10.{a}.{b}.0/24"));
        }
    }
}

impl NetDaemon {
    /// `cli ARGS` (`pier` or `docker`) must succeed: its trimmed stdout.
    pub fn ok(&self, cli: &str, args: &[&str]) -> String {
        let o = self.d.cli_cmd(cli, args).output().expect("run cli");
        assert!(
            o.status.success(),
            "{cli} {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.d.daemon_log()
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// `cli ARGS` must fail: its trimmed stderr.
    pub fn fails(&self, cli: &str, args: &[&str]) -> String {
        let o = self.d.cli_cmd(cli, args).output().expect("run cli");
        assert!(!o.status.success(), "{cli} {args:?} should fail");
        String::from_utf8_lossy(&o.stderr).trim().to_string()
    }

    pub fn start() -> NetDaemon {
        Self::start_with(json!({}))
    }

    /// With more daemon.json keys (`extra`, an object).
    pub fn start_with(extra: serde_json::Value) -> NetDaemon {
        let (pfx, subnet) = free_slash24(&[]);
        let (_, pool) = free_slash24(std::slice::from_ref(&pfx));
        let (x, y) = random_octets();
        let bridge = format!("pt{x:02x}{y:02x}{:04x}", std::process::id() & 0xffff);
        let config = json!({
            "bridge": bridge,
            "bip": format!("{pfx}1/24"),
            "default-address-pools": [{"base": pool, "size": 26}],
        });
        let mut config = config;
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let d = Daemon::builder().config(&config.to_string()).start();
        NetDaemon {
            d,
            bridge,
            subnet,
            pool,
        }
    }

    /// The first three octets of a /24 (`10.A.B.`).
    fn prefix_of(cidr: &str) -> String {
        cidr.rsplit_once('.').map(|(p, _)| format!("{p}.")).unwrap_or_default()
    }

    /// Lines of `iptables-save` that name this test's subnets or devices.
    pub fn firewall_leftovers(&self) -> Vec<String> {
        let out = Command::new("iptables-save").output().expect("iptables-save");
        let text = String::from_utf8_lossy(&out.stdout);
        let needles = [
            Self::prefix_of(&self.subnet),
            Self::prefix_of(&self.pool),
            self.bridge.clone(),
        ];
        text.lines()
            .filter(|l| needles.iter().any(|n| l.contains(n.as_str())))
            .map(str::to_string)
            .collect()
    }

    /// Network devices of this test: its default bridge and the user
    /// networks' bridges it made (names from `ip -o link`).
    pub fn links(&self, extra: &[String]) -> Vec<String> {
        let out = Command::new("ip").args(["-o", "link"]).output().expect("ip link");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split(':')
                    .nth(1)
                    .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
            })
            .filter(|n| *n == self.bridge || extra.contains(n))
            .collect()
    }

    fn netns_files(&self) -> Vec<String> {
        std::fs::read_dir(self.d.exec_root.join("netns"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Remove every container and user network, then assert nothing of
    /// the test is left on the host.
    pub fn clean_and_check(&self, bridges: &[String]) {
        remove_everything(&self.d);
        let quiet = wait_until(Duration::from_secs(10), || {
            self.firewall_leftovers().is_empty() && self.links(bridges).is_empty() && self.netns_files().is_empty()
        });
        assert!(
            quiet,
            "left behind: rules {:?}, links {:?}, netns {:?}\n{}",
            self.firewall_leftovers(),
            self.links(bridges),
            self.netns_files(),
            self.d.daemon_log()
        );
        let aardvark = self.d.exec_root.join("netavark/aardvark-dns");
        let entries: Vec<String> = std::fs::read_dir(&aardvark)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with("aardvark"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(entries.is_empty(), "aardvark entries left: {entries:?}");
    }
}

fn remove_everything(d: &Daemon) {
    if let Ok(r) = d.try_request("GET", "/containers/json?all=1", None) {
        if let Some(list) = r.json().as_array() {
            for c in list {
                if let Some(id) = c["Id"].as_str() {
                    let _ = d.try_request("DELETE", &format!("/containers/{id}?force=1"), None);
                }
            }
        }
    }
    if let Ok(r) = d.try_request("GET", "/networks", None) {
        if let Some(list) = r.json().as_array() {
            for n in list {
                if let Some(id) = n["Id"].as_str() {
                    let _ = d.try_request("DELETE", &format!("/networks/{id}"), None);
                }
            }
        }
    }
}

impl Drop for NetDaemon {
    fn drop(&mut self) {
        remove_everything(&self.d);
        // Whatever a failed test left: this test's devices and rules.
        let mut names = vec![self.bridge.clone()];
        let out = Command::new("ip").args(["-o", "link"]).output();
        if let Ok(out) = out {
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                if l.contains(&format!("master {}", self.bridge)) {
                    if let Some(n) = l.split(':').nth(1) {
                        names.push(n.trim().split('@').next().unwrap_or("").to_string());
                    }
                }
            }
        }
        for n in names {
            let _ = Command::new("ip").args(["link", "del", &n]).output();
        }
        let mut table = String::from("filter");
        let out = Command::new("iptables-save").output();
        let leftovers = self.firewall_leftovers();
        if let Ok(out) = out {
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(t) = l.strip_prefix('*') {
                    table = t.to_string();
                }
                if leftovers.iter().any(|x| x == l) {
                    if let Some(rule) = l.strip_prefix("-A ") {
                        let _ = Command::new("sh")
                            .arg("-c")
                            .arg(format!("iptables -t {table} -D {rule}"))
                            .output();
                    }
                }
            }
        }
    }
}

/// An HTTP GET to `addr` on the host; the body, when one came.
pub fn http_get(addr: (Ipv4Addr, u16)) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A port no one listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct such ports (held together while picked, so the kernel
/// cannot hand out one twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("addr").port())
}

fn run_ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.pier(args);
    assert!(
        o.status.success(),
        "pier {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.daemon_log()
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A busybox web server whose page names the container's hostname.
pub const HTTPD: &str = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www";

#[test]
fn default_bridge_gives_an_address_and_publishes_a_port() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = run_ok(
        d,
        &[
            "run", "-d", "--name", "web", "-p", &publish, "busybox", "sh", "-c", HTTPD,
        ],
    );
    // Its address is on the default bridge's subnet, its gateway the bip.
    let addr = run_ok(d, &["exec", "web", "ip", "-o", "-4", "addr", "show", "eth0"]);
    let pfx = NetDaemon::prefix_of(&n.subnet);
    assert!(addr.contains(&format!("inet {pfx}2/24")), "{addr}");
    let hosts = run_ok(d, &["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{pfx}2\t{}", &id[..12])), "{hosts}");
    // The host reaches it through the published port.
    let mut body = None;
    let answered = wait_until(Duration::from_secs(10), || {
        body = http_get((Ipv4Addr::LOCALHOST, port));
        body.as_deref().is_some_and(|b| b.contains("hello-from-"))
    });
    assert!(answered, "no answer on 127.0.0.1:{port}: {body:?}");
    // The bridge exists while the container runs.
    assert_eq!(n.links(&[]), vec![n.bridge.clone()]);
    assert!(!n.firewall_leftovers().is_empty(), "netavark's rules are there");
    // Stopped: the teardown removes the rules, the veth and the bridge.
    run_ok(d, &["stop", "-t", "1", "web"]);
    assert!(
        wait_until(Duration::from_secs(10), || n.firewall_leftovers().is_empty()
            && n.links(&[]).is_empty()),
        "after stop: {:?} {:?}",
        n.firewall_leftovers(),
        n.links(&[])
    );
    // Started again: networked again.
    run_ok(d, &["start", "web"]);
    let answered = wait_until(Duration::from_secs(10), || {
        http_get((Ipv4Addr::LOCALHOST, port)).is_some_and(|b| b.contains("hello-from-"))
    });
    assert!(answered, "no answer after a restart");
    n.clean_and_check(&[]);
}

#[test]
fn none_and_host_modes() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let links = run_ok(d, &["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "loopback only: {links}");
    assert!(links.contains("lo:"), "{links}");
    let host_links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().expect("ip").stdout)
        .lines()
        .count();
    let inside = run_ok(d, &["run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"]);
    // The host's devices (others may come and go meanwhile: roughly as many).
    assert!(
        inside.lines().count() + 2 >= host_links && inside.lines().count() > 1,
        "{inside}"
    );
    let resolv = run_ok(
        d,
        &["run", "--rm", "--network", "host", "busybox", "cat", "/etc/resolv.conf"],
    );
    assert_eq!(
        resolv.trim(),
        std::fs::read_to_string("/etc/resolv.conf").expect("resolv").trim()
    );
    n.clean_and_check(&[]);
}

#[test]
fn a_taken_host_port_fails_the_start_and_leaves_nothing() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let holder = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let publish = format!("{port}:80");
    let o = d.pier(&["run", "-d", "--name", "clash", "-p", &publish, "busybox", "sleep", "60"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("failed to bind host port for 0.0.0.0:{port}")) && err.contains("address already in use"),
        "{err}"
    );
    let state: Value = d.inspect("clash")["State"].clone();
    assert_eq!(state["Running"], false);
    assert!(n.firewall_leftovers().is_empty(), "{:?}", n.firewall_leftovers());
    drop(holder);
    n.clean_and_check(&[]);
}

/// `--network container:<name>` joins the donor's network namespace (the
/// same nsfs inode, its /etc/hosts and an address reachable from it), with
/// dockerd's refusals at create and at start.
#[test]
fn container_mode_joins_the_donors_namespace() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let donor = run_ok(d, &["run", "-d", "--name", "donor", "busybox", "sleep", "300"]);
    let joiner = run_ok(
        d,
        &["run", "-d", "--network", "container:donor", "busybox", "sleep", "300"],
    );
    let other = run_ok(d, &["run", "-d", "busybox", "sleep", "300"]);
    let netns = |id: &str| {
        let pid = d.inspect(id)["State"]["Pid"].as_i64().expect("pid");
        std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link")
    };
    assert_eq!(netns(&donor), netns(&joiner));
    assert_ne!(netns(&donor), netns(&other));
    assert_eq!(d.inspect(&joiner)["HostConfig"]["NetworkMode"], "container:donor");
    assert_eq!(
        run_ok(d, &["exec", &joiner, "cat", "/etc/hosts"]),
        run_ok(d, &["exec", &donor, "cat", "/etc/hosts"])
    );
    // The same interfaces: the donor's address is the joiner's.
    let addr = |id: &str| run_ok(d, &["exec", id, "ip", "-o", "-4", "addr"]);
    assert_eq!(addr(&donor), addr(&joiner));
    // dockerd's refusals at create, for both CLIs.
    for (flags, msg) in [
        (
            vec!["-p", "8080:80"],
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            vec!["--hostname", "x"],
            "conflicting options: hostname and the network mode",
        ),
        (
            vec!["--dns", "1.1.1.1"],
            "conflicting options: dns and the network mode",
        ),
        (
            vec!["--add-host", "a:1.2.3.4"],
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
    ] {
        for cli in ["pier", "docker"] {
            let mut args = vec!["create", "--network", "container:donor"];
            args.extend(&flags);
            args.extend(["busybox", "true"]);
            let o = d.cli_cmd(cli, &args).output().expect("create");
            assert!(!o.status.success(), "{cli} {args:?}");
            assert!(
                String::from_utf8_lossy(&o.stderr).contains(msg),
                "{cli} {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // A stopped donor: the start fails with dockerd's 409, nothing runs.
    run_ok(d, &["stop", "-t", "0", &donor]);
    let late = run_ok(d, &["create", "--network", "container:donor", "busybox", "true"]);
    let o = d.pier(&["start", &late]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("cannot join network namespace of a non running container: container donor is exited"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    run_ok(d, &["rm", "-f", &donor, &joiner, &other, &late]);
}
