//! End-to-end: what the native network backend promises beyond the
//! shared network tests (issue 15): networks are isolated from each other
//! unless a port is published, an internal network's containers cannot
//! leave it, a container reaches a published port of its own network
//! (hairpin), and the netavark backend is still selectable.

use std::time::Duration;

use pier_testkit::wait_until;
use serde_json::{json, Value};

use super::network_basic::{free_port, http_get, NetDaemon, HTTPD};

/// `pier run -d --name web ARGS busybox sh -c HTTPD`.
fn serve(n: &NetDaemon, args: &[&str]) {
    let mut all = vec!["run", "-d", "--name", "web"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["busybox", "sh", "-c", HTTPD]);
    n.ok("pier", &all);
}

fn ip_on(n: &NetDaemon, container: &str, network: &str) -> String {
    let v: Value = serde_json::from_str(&n.ok("pier", &["inspect", container])).expect("json");
    v[0]["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .expect("address")
        .to_string()
}

/// Whether a throwaway container on `network` gets a page from `ip:port`.
fn fetches(n: &NetDaemon, network: &str, ip: &str, port: u16) -> bool {
    let o =
        n.d.pier_cmd(&[
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} {port}"),
        ])
        .output()
        .expect("run");
    String::from_utf8_lossy(&o.stdout).contains("hello-from-")
}

#[test]
fn networks_are_isolated_unless_published_and_internal_stays_inside() {
    let n = NetDaemon::start();
    n.d.import_busybox("busybox");
    let a = n.ok("pier", &["network", "create", "na"]);
    let b = n.ok("pier", &["network", "create", "nb"]);
    let inner = n.ok("pier", &["network", "create", "--internal", "ni"]);
    let port = free_port();
    serve(&n, &["--network", "na", "-p", &format!("{port}:80")]);
    let web = ip_on(&n, "web", "na");
    // Its own network reaches it; it answers the host on the published port.
    assert!(
        wait_until(Duration::from_secs(15), || fetches(&n, "na", &web, 80)),
        "same network\n{}",
        n.d.daemon_log()
    );
    // Another network does not reach its address...
    assert!(!fetches(&n, "nb", &web, 80), "nb reached na's container directly");
    // ...but does reach the published port on the host's address (as
    // docker), and so does its own network (hairpin through the DNAT).
    let gw_b: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "nb"])).expect("json");
    let gw_b = gw_b[0]["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .expect("gateway")
        .to_string();
    assert!(fetches(&n, "nb", &gw_b, port), "nb through the published port");
    let gw_a: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "na"])).expect("json");
    let gw_a = gw_a[0]["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .expect("gateway")
        .to_string();
    assert!(fetches(&n, "na", &gw_a, port), "hairpin on na");
    // The host's loopback publishes too.
    let page = http_get((std::net::Ipv4Addr::LOCALHOST, port)).unwrap_or_default();
    assert!(page.contains("hello-from-"), "{page}");
    // An internal network's container reaches its neighbour but nothing
    // outside its bridge (here: the other network's gateway, published).
    n.ok(
        "pier",
        &[
            "run",
            "-d",
            "--name",
            "inside",
            "--network",
            "ni",
            "busybox",
            "sh",
            "-c",
            HTTPD,
        ],
    );
    let inside = ip_on(&n, "inside", "ni");
    assert!(wait_until(Duration::from_secs(15), || fetches(&n, "ni", &inside, 80)));
    assert!(!fetches(&n, "ni", &gw_a, port), "an internal network left its bridge");
    let bridges: Vec<String> = [a, b, inner].iter().map(|id| format!("br-{}", &id[..12])).collect();
    n.clean_and_check(&bridges);
}

#[test]
fn the_netavark_backend_is_still_selectable() {
    let n = NetDaemon::start_with(json!({"network-backend": "netavark"}));
    n.d.import_busybox("busybox");
    let port = free_port();
    serve(&n, &["-p", &format!("127.0.0.1:{port}:80")]);
    let served = wait_until(Duration::from_secs(15), || {
        http_get((std::net::Ipv4Addr::LOCALHOST, port)).is_some_and(|p| p.contains("hello-from-"))
    });
    assert!(served, "{}", n.d.daemon_log());
    // netavark's chains, not Pier's, carry this container's DNAT.
    let rules = String::from_utf8_lossy(
        &std::process::Command::new("iptables-save")
            .args(["-t", "nat"])
            .output()
            .expect("iptables-save")
            .stdout,
    )
    .into_owned();
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("-A NETAVARK-DN-") && l.contains(&format!("--dport {port}"))),
        "{rules}"
    );
    n.clean_and_check(&[]);
}
