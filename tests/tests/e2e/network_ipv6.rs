//! End-to-end: IPv6 on a user network created with `--ipv6` and a ULA
//! subnet of the test's own (issue 15): addresses from the subnet in
//! inspect, a container reaches another over IPv6, and nothing of the
//! test is left behind (no bridge, no iptables or ip6tables rule).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use pier_testkit::wait_until;
use serde_json::Value;

use super::network_basic::NetDaemon;

/// `fdXX:XXXX:XXXX:XXXX` (a random ULA /64's first four groups).
fn random_ula() -> String {
    let mut b = [0u8; 7];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("read /dev/urandom");
    format!(
        "fd{:02x}:{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6]
    )
}

fn ip6tables_leftovers(prefix: &str) -> Vec<String> {
    let out = Command::new("ip6tables-save").output().expect("ip6tables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn containers_on_an_ipv6_network_reach_each_other() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let ula = random_ula();
    // ip6tables-save prints addresses compressed: match on the /64's groups
    // with leading zeros dropped.
    let shown: Vec<String> = ula
        .split(':')
        .map(|g| {
            let t = g.trim_start_matches('0');
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            }
        })
        .collect();
    let shown_prefix = shown.join(":");
    let subnet = format!("{ula}::/64");
    let id = n.ok("pier", &["network", "create", "--ipv6", "--subnet", &subnet, "six"]);
    let bridge = format!("br-{}", &id[..12]);
    let net: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "six"])).expect("json");
    let net = &net[0];
    assert_eq!(net["EnableIPv6"], true, "{net}");
    let configs = net["IPAM"]["Config"].as_array().expect("config");
    assert!(configs.iter().any(|c| c["Subnet"] == subnet.as_str()), "{net}");

    for name in ["one", "two"] {
        n.ok(
            "pier",
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "six",
                "busybox",
                "sleep",
                "300",
            ],
        );
    }
    let v6_of = |name: &str| -> (String, Value) {
        let c: Value = serde_json::from_str(&n.ok("pier", &["inspect", name])).expect("json");
        let ep = c[0]["NetworkSettings"]["Networks"]["six"].clone();
        (ep["GlobalIPv6Address"].as_str().unwrap_or_default().to_string(), ep)
    };
    let (a6, a_ep) = v6_of("one");
    let (b6, _) = v6_of("two");
    let a_addr: std::net::Ipv6Addr = a6.parse().unwrap_or_else(|_| panic!("a's v6 address: {a_ep}"));
    let b_addr: std::net::Ipv6Addr = b6.parse().expect("b's v6 address");
    let base = |a: &std::net::Ipv6Addr| u128::from(*a) >> 64;
    let want: std::net::Ipv6Addr = format!("{ula}::").parse().expect("ula");
    assert_eq!(base(&a_addr), base(&want), "{a_ep}");
    assert_eq!(base(&b_addr), base(&want));
    assert_eq!(a_addr, format!("{ula}::2").parse::<std::net::Ipv6Addr>().expect("ip"));
    assert_eq!(b_addr, format!("{ula}::3").parse::<std::net::Ipv6Addr>().expect("ip"));
    assert_eq!(a_ep["GlobalIPv6PrefixLen"], 64);
    // Compared as addresses: the ULA's groups may have leading zeros.
    let gateway = a_ep["IPv6Gateway"]
        .as_str()
        .and_then(|g| g.parse::<std::net::Ipv6Addr>().ok());
    assert_eq!(gateway, format!("{ula}::1").parse().ok(), "{a_ep}");
    // The network's view and /etc/hosts carry the v6 address too.
    let net: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "six"])).expect("json");
    let shown_v6: Vec<String> = net[0]["Containers"]
        .as_object()
        .expect("containers")
        .values()
        .filter_map(|c| c["IPv6Address"].as_str().map(str::to_string))
        .collect();
    assert!(shown_v6.contains(&format!("{a6}/64")), "{shown_v6:?}");
    let hosts = n.ok("pier", &["exec", "one", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&a6), "{hosts}");

    // a reaches b over IPv6 (DAD may hold the address a moment).
    let mut last = String::new();
    let reached = wait_until(Duration::from_secs(15), || {
        let o = d.pier(&["exec", "one", "ping", "-6", "-c1", "-W2", &b6]);
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o.status.success()
    });
    assert!(reached, "ping {b6}: {last}\n{}", d.daemon_log());

    // The native backend's ip6tables rules name the subnet while it runs.
    assert!(
        !ip6tables_leftovers(&shown_prefix).is_empty(),
        "no ip6tables rule names {shown_prefix}"
    );
    n.clean_and_check(&[bridge]);
    let left = ip6tables_leftovers(&shown_prefix);
    assert!(left.is_empty(), "ip6tables rules left: {left:?}");
}
