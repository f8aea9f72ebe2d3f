//! End-to-end: `network connect` and `disconnect` (issue 15): a running
//! container gains and loses an interface live; a created one has its
//! networks changed before it starts (docker-compose's flow: create,
//! disconnect, connect with aliases, start); dockerd's refusals.

use std::time::Duration;

use pier_testkit::wait_until;
use serde_json::{json, Value};

use super::network_basic::{NetDaemon, HTTPD};

/// The bridge device of a user network.
fn bridge_of(n: &NetDaemon, name: &str) -> String {
    let v: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", name])).expect("json");
    let id = v[0]["Id"].as_str().expect("id");
    format!("br-{}", &id[..12])
}

/// A page fetched from `host` by a throwaway container on `network`.
fn fetch(n: &NetDaemon, network: &str, host: &str) -> String {
    let mut got = String::new();
    let cmd = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {host} 80");
    wait_until(Duration::from_secs(15), || {
        let o =
            n.d.pier_cmd(&["run", "--rm", "--network", network, "busybox", "sh", "-c", &cmd])
                .output()
                .expect("run");
        got = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        got.contains("hello-from-")
    });
    got
}

fn interfaces(n: &NetDaemon, c: &str) -> Vec<String> {
    let mut v: Vec<String> = n
        .ok("pier", &["exec", c, "ls", "/sys/class/net"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    n.ok("pier", &["network", "create", "front"]);
    n.ok("docker", &["network", "create", "back"]);
    let bridges = [bridge_of(&n, "front"), bridge_of(&n, "back")];
    let web = n.ok(
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
    assert_eq!(interfaces(&n, "web"), ["eth0", "lo"]);

    // Live connect with an alias: a second interface, resolvable there.
    n.ok("docker", &["network", "connect", "--alias", "api", "back", "web"]);
    assert_eq!(interfaces(&n, "web"), ["eth0", "eth1", "lo"]);
    let nets = d.inspect(&web)["NetworkSettings"]["Networks"].clone();
    let back = &nets["back"];
    assert_eq!(back["Aliases"], json!(["api"]), "{nets}");
    let back_ip = back["IPAddress"].as_str().expect("ip").to_string();
    assert!(!back_ip.is_empty(), "{nets}");
    assert!(
        nets["front"]["IPAddress"].as_str().is_some_and(|s| !s.is_empty()),
        "{nets}"
    );
    let addr = n.ok("pier", &["exec", "web", "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(addr.contains(&format!("{back_ip}/")), "{addr}");
    let page = fetch(&n, "back", "api");
    assert!(page.contains("hello-from-"), "{page}\n{}", d.daemon_log());
    let members: Value = serde_json::from_str(&n.ok("docker", &["network", "inspect", "back"])).expect("json");
    assert!(members[0]["Containers"].get(&web).is_some(), "{members}");

    // Twice: dockerd's 403; host: refused.
    let err = n.fails("docker", &["network", "connect", "back", "web"]);
    assert!(
        err.contains("endpoint with name web already exists in network back"),
        "{err}"
    );
    let (st, _) = d.http_json(
        "POST",
        "/networks/back/connect",
        Some(json!({"Container": "web"}).to_string().as_bytes()),
    );
    assert_eq!(st, 403);
    let err = n.fails("pier", &["network", "connect", "host", "web"]);
    assert!(
        err.contains("cannot connect container to host network - container must be created in host network mode"),
        "{err}"
    );

    // Live disconnect: the interface goes, the network is free again.
    n.ok("pier", &["network", "disconnect", "back", "web"]);
    assert_eq!(interfaces(&n, "web"), ["eth0", "lo"]);
    let nets = d.inspect(&web)["NetworkSettings"]["Networks"].clone();
    assert!(nets.get("back").is_none(), "{nets}");
    let members: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "back"])).expect("json");
    assert_eq!(members[0]["Containers"], json!({}), "{members}");
    let err = n.fails("docker", &["network", "disconnect", "back", "web"]);
    assert!(err.contains("is not connected to network back"), "{err}");
    // The first network too (it carried no ports here); then back again.
    n.ok("docker", &["network", "disconnect", "front", "web"]);
    assert_eq!(interfaces(&n, "web"), ["lo"]);
    n.ok("pier", &["network", "connect", "front", "web"]);
    assert_eq!(interfaces(&n, "web"), ["eth0", "lo"]);
    let page = fetch(&n, "front", "web");
    assert!(page.contains("hello-from-"), "{page}");
    // A restart keeps the connected list.
    n.ok("pier", &["network", "connect", "back", "web"]);
    n.ok("pier", &["restart", "-t", "1", "web"]);
    assert_eq!(interfaces(&n, "web"), ["eth0", "eth1", "lo"]);
    n.clean_and_check(&bridges);
}

#[test]
fn compose_connects_a_created_container_before_start() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let (st, v) = d.http_json(
        "POST",
        "/networks/create",
        Some(
            json!({"Name": "proj_default", "Driver": "bridge"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(st, 201, "{v}");
    n.ok("pier", &["network", "create", "side"]);
    let bridges = [bridge_of(&n, "proj_default"), bridge_of(&n, "side")];
    let body = json!({
        "Image": "busybox", "Cmd": ["sh", "-c", HTTPD],
        "HostConfig": {"NetworkMode": "proj_default"},
        "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}}},
    });
    let (st, v) = d.http_json(
        "POST",
        "/containers/create?name=proj-web-1",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(st, 201, "{v}");
    let id = v["Id"].as_str().expect("id").to_string();
    let short = &id[..12];
    let post = |path: &str, body: Value| d.http_json("POST", path, Some(body.to_string().as_bytes()));
    let (st, v) = post("/networks/proj_default/disconnect", json!({"Container": id}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(d.inspect(&id)["NetworkSettings"]["Networks"], json!({}));
    let (st, v) = post(
        "/networks/proj_default/connect",
        json!({"Container": id, "EndpointConfig": {"Aliases": ["web", short]}}),
    );
    assert_eq!(st, 200, "{v}");
    let ep = d.inspect(&id)["NetworkSettings"]["Networks"]["proj_default"].clone();
    assert_eq!(ep["Aliases"], json!(["web", short]), "{ep}");
    assert_eq!(ep["IPAddress"], "", "{ep}");
    // A second network with a static address, by the docker CLI.
    let side: Value = serde_json::from_str(&n.ok("pier", &["network", "inspect", "side"])).expect("json");
    let gw = side[0]["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .expect("gw")
        .to_string();
    let (pfx, last) = gw.rsplit_once('.').expect("dotted");
    let static_ip = format!("{pfx}.{}", last.parse::<u8>().expect("octet") + 10);
    n.ok(
        "docker",
        &["network", "connect", "--ip", &static_ip, "side", "proj-web-1"],
    );

    // Refusals, in dockerd's words and codes.
    let (st, v) = post(
        "/networks/bridge/connect",
        json!({"Container": id, "EndpointConfig": {"Aliases": ["x"]}}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("network-scoped aliases are only supported for user-defined networks"),
        "{v}"
    );
    let none = n.ok("pier", &["create", "--network", "none", "busybox", "true"]);
    let err = n.fails("docker", &["network", "connect", "side", &none]);
    assert!(
        err.contains(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode"
        ),
        "{err}"
    );
    let (st, _) = post("/networks/nosuch/connect", json!({"Container": id}));
    assert_eq!(st, 404);
    let (st, _) = post("/networks/side/connect", json!({"Container": "nosuch"}));
    assert_eq!(st, 404);

    n.ok("pier", &["start", "proj-web-1"]);
    let nets = d.inspect(&id)["NetworkSettings"]["Networks"].clone();
    assert_eq!(nets["side"]["IPAddress"], static_ip, "{nets}");
    assert_eq!(nets["proj_default"]["Aliases"], json!(["web", short]), "{nets}");
    for name in ["web", short, "proj-web-1"] {
        let page = fetch(&n, "proj_default", name);
        assert!(page.contains("hello-from-"), "{name}: {page}\n{}", d.daemon_log());
    }
    let ns = n.ok(
        "docker",
        &["run", "--rm", "--network", "side", "busybox", "nslookup", "proj-web-1"],
    );
    assert!(ns.contains(&format!("Address: {static_ip}")), "{ns}");
    n.clean_and_check(&bridges);
}

#[test]
fn legacy_links_on_the_default_bridge() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    let db = n.ok(
        "docker",
        &[
            "run",
            "-d",
            "--name",
            "db",
            "-e",
            "PASSWORD=x",
            "--expose",
            "5432",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let db_ip = d.inspect(&db)["NetworkSettings"]["IPAddress"]
        .as_str()
        .expect("ip")
        .to_string();
    let db_host = d.inspect(&db)["Config"]["Hostname"]
        .as_str()
        .expect("hostname")
        .to_string();
    n.ok(
        "docker",
        &[
            "run",
            "-d",
            "--name",
            "app",
            "--link",
            "db:dbalias",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let env = n.ok("pier", &["exec", "app", "env"]);
    for want in [
        "DBALIAS_NAME=/app/dbalias".to_string(),
        "DBALIAS_ENV_PASSWORD=x".to_string(),
        format!("DBALIAS_PORT=tcp://{db_ip}:5432"),
        format!("DBALIAS_PORT_5432_TCP_ADDR={db_ip}"),
        "DBALIAS_PORT_5432_TCP_PROTO=tcp".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} in {env}");
    }
    let hosts = n.ok("pier", &["exec", "app", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{db_ip}\tdbalias {db_host} db")), "{hosts}");
    let ping = n.ok("pier", &["exec", "app", "ping", "-c", "1", "-W", "2", "dbalias"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    assert_eq!(d.inspect("app")["HostConfig"]["Links"], json!(["/db:/app/dbalias"]));

    // rm --link drops it (applied at the next start).
    let (st, v) = d.http_json("DELETE", "/containers/app/dbalias?link=1", None);
    assert_eq!(st, 204, "{v}");
    assert_eq!(d.inspect("app")["HostConfig"]["Links"], Value::Null);
    let err = n.fails("pier", &["rm", "--link", "/app/dbalias"]);
    assert!(err.contains("No such container: app/dbalias"), "{err}");

    // A child that does not run fails the start, nothing left behind.
    n.ok(
        "pier",
        &["create", "--name", "app2", "--link", "db:x", "busybox", "sleep", "60"],
    );
    n.ok("pier", &["stop", "-t", "0", "db"]);
    let err = n.fails("docker", &["start", "app2"]);
    assert!(
        err.contains("Cannot link to a non running container: /db AS /app2/x"),
        "{err}"
    );
    n.clean_and_check(&[]);
}

#[test]
fn restart_keeps_addresses_and_host_mode_has_the_hosts_name() {
    let n = NetDaemon::start();
    let d = &n.d;
    d.import_busybox("busybox");
    n.ok("pier", &["network", "create", "front"]);
    let bridges = [bridge_of(&n, "front")];
    let id = n.ok(
        "docker",
        &[
            "run",
            "-d",
            "--name",
            "c1",
            "--network",
            "front",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let ep = |id: &str| d.inspect(id)["NetworkSettings"]["Networks"]["front"].clone();
    let before = ep(&id);
    let ip = before["IPAddress"].as_str().expect("ip").to_string();
    let mac = before["MacAddress"].as_str().expect("mac").to_string();
    let [a, b, c, x] = ip.parse::<std::net::Ipv4Addr>().expect("ip").octets();
    assert_eq!(mac, format!("02:42:{a:02x}:{b:02x}:{c:02x}:{x:02x}"));
    let inside = n.ok("pier", &["exec", "c1", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(inside, mac);
    // Stats report the container's interfaces.
    let (st, stats) = d.http_json("GET", "/containers/c1/stats?stream=false", None);
    assert_eq!(st, 200, "{stats}");
    assert!(stats["networks"].get("eth0").is_some(), "{}", stats["networks"]);
    n.ok("pier", &["restart", "-t", "0", "c1"]);
    let after = ep(&id);
    assert_eq!(after["IPAddress"], ip.as_str(), "{after}");
    assert_eq!(after["MacAddress"], mac.as_str(), "{after}");

    // --network host: the host's hostname, as dockerd.
    let host = String::from_utf8(std::fs::read("/proc/sys/kernel/hostname").expect("hostname")).expect("utf8");
    let got = n.ok("docker", &["run", "--rm", "--network", "host", "busybox", "hostname"]);
    assert_eq!(got, host.trim());
    n.clean_and_check(&bridges);
}
