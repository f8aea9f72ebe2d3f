//! End-to-end: user networks (issue 15): the network API and CLI, name
//! resolution between containers through aardvark-dns, inspect's
//! `NetworkSettings`, `ps`'s ports, and the refusals dockerd makes.

use std::time::Duration;

use pier_testkit::wait_until;
use serde_json::{json, Value};

use super::network_basic::{free_port, NetDaemon, HTTPD};

#[test]
fn containers_on_a_user_network_resolve_each_other() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let id = n.ok("pier", &["network", "create", "front"]);
    assert_eq!(id.len(), 64, "{id}");
    let net: Value = serde_json::from_str(&n.ok("docker", &["network", "inspect", "front"])).expect("json");
    let net = &net[0];
    assert_eq!(net["Name"], "front");
    assert_eq!(net["Driver"], "bridge");
    assert_eq!(net["Scope"], "local");
    // The first /26 of the test's pool, the gateway its first address.
    let subnet = net["IPAM"]["Config"][0]["Subnet"].as_str().expect("subnet").to_string();
    let pool_prefix = n.pool.trim_end_matches("0/24");
    assert_eq!(subnet, format!("{pool_prefix}0/26"));
    assert_eq!(net["IPAM"]["Config"][0]["Gateway"], format!("{pool_prefix}1"));
    let bridge = format!("br-{}", &id[..12]);

    n.ok(
        "pier",
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            HTTPD,
        ],
    );
    // The other container finds it by name and fetches its page (with
    // nc: busybox-static's wget crashes in glibc's static NSS).
    let mut got = String::new();
    let fetched = wait_until(Duration::from_secs(15), || {
        let o = d
            .pier_cmd(&[
                "run",
                "--rm",
                "--network",
                "front",
                "busybox",
                "sh",
                "-c",
                "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc web 80",
            ])
            .output()
            .expect("run");
        got = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        got.contains("hello-from-")
    });
    assert!(fetched, "nc web 80: {got}\n{}", d.daemon_log());
    let ns = n.ok(
        "docker",
        &["run", "--rm", "--network", "front", "busybox", "nslookup", "web"],
    );
    assert!(ns.contains(&format!("Address: {pool_prefix}2")), "{ns}");
    // An alias and a static address; refused on the default bridge.
    let static_ip = format!("{pool_prefix}50");
    let api = n.ok(
        "docker",
        &[
            "run",
            "-d",
            "--name",
            "api",
            "--network",
            "front",
            "--network-alias",
            "www",
            "--ip",
            &static_ip,
            "busybox",
            "sleep",
            "60",
        ],
    );
    let ns = n.ok(
        "pier",
        &["run", "--rm", "--network", "front", "busybox", "nslookup", "www"],
    );
    assert!(ns.contains(&format!("Address: {static_ip}")), "{ns}");
    let ep = &d.inspect(&api)["NetworkSettings"]["Networks"]["front"];
    assert_eq!(ep["Aliases"], json!(["www"]));
    assert_eq!(ep["IPAddress"], static_ip);
    let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "bridge"},
        "NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": ["x"]}}}});
    let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("network-scoped alias is supported only for containers in user defined networks"),
        "{v}"
    );
    n.ok("pier", &["rm", "-f", "api"]);
    // resolv.conf names aardvark on the gateway.
    let resolv = n.ok("pier", &["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains(&format!("nameserver {pool_prefix}1")), "{resolv}");

    // Inspect: the network and its container; the container's settings.
    let net: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "front"])).expect("json");
    let containers = net[0]["Containers"].as_object().expect("containers").clone();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let (cid, c) = containers.iter().next().expect("one");
    assert_eq!(c["Name"], "web");
    assert_eq!(c["IPv4Address"], format!("{pool_prefix}2/26"));
    let settings = &d.inspect(cid)["NetworkSettings"];
    let ep = &settings["Networks"]["front"];
    assert_eq!(ep["IPAddress"], format!("{pool_prefix}2"));
    assert_eq!(ep["IPPrefixLen"], 26);
    assert_eq!(ep["Gateway"], format!("{pool_prefix}1"));
    assert_eq!(ep["NetworkID"], id);
    assert_eq!(ep["DNSNames"][0], "web");
    assert_eq!(
        settings["IPAddress"], "",
        "legacy fields come from the default bridge only"
    );

    // In use: refused; predefined: refused; duplicate, bad driver: refused.
    let err = n.fails("docker", &["network", "rm", "front"]);
    assert!(err.contains("has active endpoints"), "{err}");
    let err = n.fails("pier", &["network", "rm", "bridge"]);
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );
    let err = n.fails("docker", &["network", "create", "front"]);
    assert!(err.contains("network with name front already exists"), "{err}");
    let err = n.fails("docker", &["network", "create", "-d", "nosuch", "x"]);
    assert!(err.contains("plugin \"nosuch\" not found"), "{err}");
    let err = n.fails("pier", &["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");

    // ls shows the predefined networks and ours; filters work.
    let names = n.ok("docker", &["network", "ls", "--format", "{{.Name}}"]);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names, ["bridge", "front", "host", "none"]);
    let custom = n.ok(
        "pier",
        &["network", "ls", "-q", "--filter", "type=custom", "--no-trunc"],
    );
    assert_eq!(custom, id);

    n.ok("pier", &["rm", "-f", "web"]);
    n.ok(
        "pier",
        &[
            "network",
            "create",
            "--subnet",
            "10.99.1.0/24",
            "--label",
            "k=v",
            "spare",
        ],
    );
    let pruned = n.ok("docker", &["network", "prune", "-f"]);
    assert!(pruned.contains("front") && pruned.contains("spare"), "{pruned}");
    n.clean_and_check(&[bridge]);
}

#[test]
fn published_ports_show_in_inspect_and_ps() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = n.ok(
        "pier",
        &[
            "run", "-d", "--name", "web", "-p", &publish, "-p", "81/udp", "busybox", "sh", "-c", HTTPD,
        ],
    );
    let settings = &d.inspect(&id)["NetworkSettings"];
    assert_eq!(
        settings["Ports"]["80/tcp"],
        json!([{"HostIp": "127.0.0.1", "HostPort": port.to_string()}])
    );
    let udp = settings["Ports"]["81/udp"][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("a udp host port");
    let (lo, hi) = {
        let t = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("range");
        let v: Vec<u16> = t.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        (v[0], v[1])
    };
    assert!((lo..=hi).contains(&udp), "{udp} in {lo}-{hi}");
    let pfx = n.subnet.trim_end_matches("0/24");
    assert_eq!(settings["IPAddress"], format!("{pfx}2"));
    assert_eq!(settings["Networks"]["bridge"]["IPAddress"], format!("{pfx}2"));
    let ps = n.ok("docker", &["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    assert!(ps.contains(&format!("0.0.0.0:{udp}->81/udp")), "{ps}");
    n.clean_and_check(&[]);
}
