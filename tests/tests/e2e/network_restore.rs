//! End-to-end: networking across a kill -9 of pierd (issue 15): containers
//! keep serving, pierd comes back with the same allocations, an exit that
//! happens while it is down is torn down when it returns, `-P` and `pier
//! port`.

use std::net::Ipv4Addr;
use std::time::Duration;

use nix::sys::signal::Signal;
use pier_testkit::wait_until;

use super::network_basic::{free_ports, http_get, NetDaemon, HTTPD};

fn serves(port: u16) -> bool {
    wait_until(Duration::from_secs(10), || {
        http_get((Ipv4Addr::LOCALHOST, port)).is_some_and(|b| b.contains("hello-from-"))
    })
}

#[test]
fn allocations_survive_a_kill_9_and_exits_meanwhile_are_torn_down() {
    let mut n = NetDaemon::start();
    n.d.import_busybox("busybox");
    let [port, other_port] = free_ports::<2>();
    let publish = format!("127.0.0.1:{port}:80");
    let web = n.ok(
        "pier",
        &[
            "run", "-d", "--name", "web", "-p", &publish, "busybox", "sh", "-c", HTTPD,
        ],
    );
    let other_publish = format!("127.0.0.1:{other_port}:80");
    let brief = n.ok(
        "pier",
        &[
            "run",
            "-d",
            "--name",
            "brief",
            "-p",
            &other_publish,
            "busybox",
            "sh",
            "-c",
            HTTPD,
        ],
    );
    assert!(serves(port) && serves(other_port));
    let ip_of = |n: &NetDaemon, id: &str| {
        n.d.inspect(id)["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let web_ip = ip_of(&n, &web);
    let brief_pid = n.d.inspect(&brief)["State"]["Pid"].as_i64().expect("pid") as i32;

    n.d.kill9();
    assert!(serves(port), "the container serves while pierd is down");
    // An exit while pierd is down: recorded by the shim, torn down later.
    pier_testkit::process::signal(brief_pid, Signal::SIGKILL);
    assert!(wait_until(Duration::from_secs(10), || n.d.exit_record(&brief).exists()));
    n.d.start_again();

    // Same allocations; the exited container's are released.
    assert_eq!(ip_of(&n, &web), web_ip);
    let netns = n.d.exec_root.join("netns");
    assert!(
        wait_until(Duration::from_secs(10), || !netns.join(&brief).exists()),
        "the exited container's namespace is removed at restore"
    );
    assert!(netns.join(&web).exists());
    assert!(serves(port));
    // The port stays taken; the address is not given twice.
    let o =
        n.d.pier(&["run", "-d", "--name", "clash", "-p", &publish, "busybox", "sleep", "60"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("Bind for 127.0.0.1:{port} failed: port is already allocated")),
        "{err}"
    );
    let third = n.ok("pier", &["run", "-d", "--name", "third", "busybox", "sleep", "60"]);
    let third_ip = ip_of(&n, &third);
    assert!(!third_ip.is_empty() && third_ip != web_ip, "{third_ip} vs {web_ip}");
    // The brief container's port is free again: a new container takes it.
    n.ok("pier", &["start", "brief"]);
    assert!(serves(other_port));

    // -P with an exposed port, and pier port / docker port.
    let pub_all = n.ok(
        "pier",
        &[
            "run", "-d", "--name", "pall", "--expose", "80", "-P", "busybox", "sh", "-c", HTTPD,
        ],
    );
    let line = n.ok("pier", &["port", "pall"]);
    let host_port: u16 = line
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("pier port: {line}"));
    assert_eq!(
        n.ok("docker", &["port", &pub_all, "80"]),
        format!("0.0.0.0:{host_port}")
    );
    assert!(serves(host_port), "-P publishes on all addresses, 127.0.0.1 included");
    n.clean_and_check(&[]);
}
