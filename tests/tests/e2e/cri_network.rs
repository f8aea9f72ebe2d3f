//! End-to-end: CRI pod networks through CNI (issue 17) with Debian's real
//! plugins (`containernetworking-plugins` in /usr/lib/cni). Each test
//! writes its own conflist into a temp conf dir: a bridge named
//! `pier-cni-<random>` with a 10.A.B.0/24 of its own through host-local
//! (its `dataDir` in the temp dir), no default route, portmap chained. Its
//! guard removes what a failed test leaves (veths, the bridge, iptables
//! lines naming the test's subnet, bridge, network or pods), and each test
//! checks at its end that nothing of it is left.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pier_cri_api::tonic::Code;
use pier_cri_api::v1 as cri;
use pier_testkit::{wait_until, Daemon};
use serde_json::json;

use super::cri_images::{registry_with_images, socket_dir, Cri};
use super::images::Registry;
use super::network_basic::{free_port, http_get};

/// One test's CNI network on the host.
struct CniNet {
    dir: tempfile::TempDir,
    /// The network's and its bridge's name.
    name: String,
    /// `10.A.B.`
    prefix: String,
    /// iptables chains seen naming this test's pods (portmap's `CNI-DN-…`).
    chains: std::cell::RefCell<Vec<String>>,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("read /dev/urandom");
    b
}

fn cmd_out(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl CniNet {
    /// A fresh network (a /24 in 10.150-199.x.0 no host address or route
    /// uses), its conflist written; no CNI config at all with `!written`.
    fn new(written: bool) -> CniNet {
        let used = cmd_out("ip", &["-o", "-4", "addr"]) + &cmd_out("ip", &["-4", "route"]);
        let (prefix, name) = loop {
            let [a, b, c, d, e] = random_bytes::<5>();
            let prefix = format!("10.{}.{b}.", 150 + a % 50);
            if !used.contains(&prefix) {
                break (prefix, format!("pier-cni-{c:02x}{d:02x}{e:02x}"));
            }
        };
        let dir = tempfile::tempdir().expect("CNI temp dir");
        std::fs::create_dir_all(dir.path().join("net.d")).expect("net.d");
        let net = CniNet {
            dir,
            name,
            prefix,
            chains: Default::default(),
        };
        if written {
            let conflist = json!({
                "cniVersion": "1.0.0",
                "name": net.name,
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": net.name,
                        "isGateway": true,
                        "ipMasq": false,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": format!("{}0/24", net.prefix)}]],
                            "dataDir": net.ipam_dir(),
                        }
                    },
                    {"type": "portmap", "capabilities": {"portMappings": true}}
                ]
            });
            // A later file in lexical order is not the one used.
            std::fs::write(net.conf_dir().join("99-ignored.conflist"), "{").expect("write");
            std::fs::write(net.conf_dir().join("10-pod.conflist"), conflist.to_string()).expect("write conflist");
        }
        net
    }

    fn conf_dir(&self) -> PathBuf {
        self.dir.path().join("net.d")
    }

    fn ipam_dir(&self) -> PathBuf {
        self.dir.path().join("ipam")
    }

    /// daemon.json for a CRI daemon on `socket` using this network.
    fn daemon(&self, socket: &Path, registry: &Registry) -> Daemon {
        let config = json!({"cri": {
            "socket": format!("unix://{}", socket.display()),
            "registry-hosts": {"registry.k8s.io": format!("http://{}", registry.host())},
            "cni-conf-dir": self.conf_dir(),
            "cni-bin-dirs": ["/nonexistent/cni", "/usr/lib/cni"],
        }});
        Daemon::builder().config(&config.to_string()).start()
    }

    /// host-local's address files (`10.A.B.C`) with their contents.
    fn ip_files(&self) -> Vec<(String, String)> {
        std::fs::read_dir(self.ipam_dir().join(&self.name))
            .map(|r| {
                r.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&self.prefix))
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read_to_string(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Host devices enslaved to the bridge (the pods' veths).
    fn veths(&self) -> Vec<String> {
        cmd_out("ip", &["-o", "link"])
            .lines()
            .filter(|l| l.contains(&format!("master {} ", self.name)))
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
            .collect()
    }

    fn bridge_exists(&self) -> bool {
        Command::new("ip")
            .args(["link", "show", &self.name])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Lines of `iptables-save` naming this test's subnet, bridge, network,
    /// pods (`ids`) or the chains seen for them; chains seen are kept.
    fn firewall(&self, ids: &[String]) -> Vec<(String, String)> {
        let mut table = String::new();
        let mut out = Vec::new();
        for line in cmd_out("iptables-save", &[]).lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            }
            let ours = line.contains(&self.prefix)
                || line.contains(&self.name)
                || ids.iter().any(|id| line.contains(id.as_str()))
                || self.chains.borrow().iter().any(|c| line.contains(c.as_str()));
            if !ours {
                continue;
            }
            for word in line.split_whitespace() {
                let w = word.trim_start_matches(':');
                if w.starts_with("CNI-DN-") && !self.chains.borrow().iter().any(|c| c == w) {
                    self.chains.borrow_mut().push(w.to_string());
                }
            }
            out.push((table.clone(), line.to_string()));
        }
        out
    }

    /// After a test: nothing of it on the host (the bridge the conflist
    /// made is removed first, as the test's own).
    fn check_clean(&self, d: &Daemon, ids: &[String]) {
        let _ = Command::new("ip").args(["link", "del", &self.name]).output();
        let netns = d.exec_root.join("netns");
        let quiet = wait_until(Duration::from_secs(10), || {
            self.firewall(ids).is_empty()
                && self.veths().is_empty()
                && !self.bridge_exists()
                && self.ip_files().is_empty()
                && std::fs::read_dir(&netns).map_or(true, |mut r| r.next().is_none())
        });
        assert!(
            quiet,
            "left behind: rules {:?}, veths {:?}, bridge {}, ips {:?}, netns {:?}\n{}",
            self.firewall(ids),
            self.veths(),
            self.bridge_exists(),
            self.ip_files(),
            std::fs::read_dir(&netns).map(|r| r.flatten().map(|e| e.file_name()).collect::<Vec<_>>()),
            d.daemon_log()
        );
    }
}

impl Drop for CniNet {
    fn drop(&mut self) {
        for v in self.veths() {
            let _ = Command::new("ip").args(["link", "del", &v]).output();
        }
        let _ = Command::new("ip").args(["link", "del", &self.name]).output();
        // Rules first, then the chains they jumped to.
        let lines = self.firewall(&[]);
        for (table, line) in &lines {
            if let Some(rule) = line.strip_prefix("-A ") {
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(format!("iptables -t {table} -D {rule}"))
                    .output();
            }
        }
        for chain in self.chains.borrow().iter() {
            let _ = Command::new("iptables").args(["-t", "nat", "-F", chain]).output();
            let _ = Command::new("iptables").args(["-t", "nat", "-X", chain]).output();
        }
    }
}

fn pod(name: &str) -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "netns-test".into(),
            attempt: 0,
        }),
        hostname: format!("{name}-host"),
        ..Default::default()
    }
}

impl Cri {
    fn run_pod(&mut self, config: cri::PodSandboxConfig) -> Result<String, (Code, String)> {
        self.rt
            .block_on(self.runtime.run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            }))
            .map(|r| r.into_inner().pod_sandbox_id)
            .map_err(|e| (e.code(), e.message().to_string()))
    }

    fn pod_status(&mut self, id: &str) -> cri::PodSandboxStatus {
        self.rt
            .block_on(self.runtime.pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: false,
            }))
            .expect("PodSandboxStatus")
            .into_inner()
            .status
            .expect("a status")
    }

    fn stop_pod(&mut self, id: &str) {
        self.rt
            .block_on(self.runtime.stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            }))
            .expect("StopPodSandbox");
    }

    fn remove_pod(&mut self, id: &str) {
        self.rt
            .block_on(self.runtime.remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            }))
            .expect("RemovePodSandbox");
    }

    fn network_condition(&mut self) -> cri::RuntimeCondition {
        let status = self
            .rt
            .block_on(self.runtime.status(cri::StatusRequest { verbose: false }))
            .expect("Status")
            .into_inner()
            .status
            .expect("status");
        status
            .conditions
            .into_iter()
            .find(|c| c.r#type == "NetworkReady")
            .expect("a NetworkReady condition")
    }
}

/// Remove every container of `d` (a failed test's pods).
fn remove_containers(d: &Daemon) {
    if let Ok(r) = d.try_request("GET", "/containers/json?all=1", None) {
        for c in r.json().as_array().into_iter().flatten() {
            if let Some(id) = c["Id"].as_str() {
                let _ = d.try_request("DELETE", &format!("/containers/{id}?force=1"), None);
            }
        }
    }
}

const HTTPD: &str = "mkdir -p /www && echo hello-from-the-pod > /www/index.html && exec httpd -f -p 8080 -h /www";

#[test]
fn cri_pod_gets_a_cni_network_host_ports_dns_and_sysctls() {
    let net = CniNet::new(true);
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let sockets = socket_dir();
    let socket = sockets.path().join("cri.sock");
    let d = net.daemon(&socket, &registry);
    let mut c = Cri::connect(&socket, &d);
    let ready = c.network_condition();
    assert!(ready.status, "{ready:?}");

    let host_port = free_port();
    let mut config = pod("web");
    config.port_mappings = vec![cri::PortMapping {
        protocol: cri::Protocol::Tcp as i32,
        container_port: 8080,
        host_port: i32::from(host_port),
        host_ip: String::new(),
    }];
    config.dns_config = Some(cri::DnsConfig {
        servers: vec!["10.96.0.10".into()],
        searches: vec!["netns-test.svc.cluster.local".into(), "svc.cluster.local".into()],
        options: vec!["ndots:5".into()],
    });
    config.linux = Some(cri::LinuxPodSandboxConfig {
        sysctls: [
            ("net.ipv4.ip_unprivileged_port_start".to_string(), "0".to_string()),
            ("kernel.shm_rmid_forced".to_string(), "1".to_string()),
        ]
        .into(),
        ..Default::default()
    });
    let id = c
        .run_pod(config)
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", d.daemon_log()));
    let ids = vec![id.clone()];
    let guard = scopeguard(&d);

    // The pod's IP is the first of the subnet's after the gateway; the
    // host-local file names the sandbox (CNI_CONTAINERID) and eth0.
    let status = c.pod_status(&id);
    let ip = status.network.as_ref().map(|n| n.ip.clone()).unwrap_or_default();
    assert_eq!(ip, format!("{}2", net.prefix), "{status:?}\n{}", d.daemon_log());
    let files = net.ip_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].1.contains(&id) && files[0].1.contains("eth0"), "{files:?}");
    assert_eq!(net.veths().len(), 1);
    // Inside: eth0 with that address, lo up, the pod's sysctls.
    let addr = d.docker_ok(&["exec", &id, "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("inet {ip}/24")), "{addr}");
    let lo = d.docker_ok(&["exec", &id, "ip", "-o", "link", "show", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    let sysctl = |path: &str| d.docker_ok(&["exec", &id, "cat", path]).trim().to_string();
    assert_eq!(sysctl("/proc/sys/net/ipv4/ip_unprivileged_port_start"), "0");
    assert_eq!(sysctl("/proc/sys/kernel/shm_rmid_forced"), "1");
    assert_eq!(d.docker_ok(&["exec", &id, "hostname"]).trim(), "web-host");
    // dns_config is the pod's resolv.conf.
    let resolv = d.docker_ok(&["exec", &id, "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.96.0.10\n"), "{resolv}");
    assert!(
        resolv.contains("search netns-test.svc.cluster.local svc.cluster.local\n"),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5\n"), "{resolv}");
    assert_eq!(resolv.matches("nameserver").count(), 1, "{resolv}");

    // A server in the pod's network namespace (a Docker-API container
    // joining the sandbox, as a pod's container does), reached at the
    // pod's IP and through the host port (portmap) on 127.0.0.1.
    let web = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-u",
        "0",
        "--network",
        &format!("container:{id}"),
        "registry.k8s.io/pause:3.9",
        "sh",
        "-c",
        HTTPD,
    ]);
    let joined = d.docker_ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert_eq!(joined, resolv);
    let pod_ip: Ipv4Addr = ip.parse().expect("an IPv4 address");
    for addr in [(pod_ip, 8080), (Ipv4Addr::LOCALHOST, host_port)] {
        let mut body = None;
        let answered = wait_until(Duration::from_secs(10), || {
            body = http_get(addr);
            body.as_deref().is_some_and(|b| b.contains("hello-from-the-pod"))
        });
        assert!(answered, "no answer on {addr:?}: {body:?}\n{}", d.daemon_log());
    }
    let rules = net.firewall(&ids);
    assert!(
        rules.iter().any(|(_, l)| l.contains(&format!("--dports {host_port}"))),
        "portmap's rules: {rules:?}"
    );
    assert!(!net.chains.borrow().is_empty(), "{rules:?}");
    d.docker_ok(&["rm", "-f", web.trim()]);

    // Stop: DEL removed the veth, the address file, the rules and the
    // namespace file; no IP is reported; a second stop is fine.
    c.stop_pod(&id);
    assert!(net.veths().is_empty(), "{:?}", net.veths());
    assert!(net.ip_files().is_empty(), "{:?}", net.ip_files());
    assert!(net.firewall(&ids).is_empty(), "{:?}", net.firewall(&ids));
    assert_eq!(c.pod_status(&id).network.map(|n| n.ip).unwrap_or_default(), "");
    c.stop_pod(&id);
    c.remove_pod(&id);
    drop(guard);
    net.check_clean(&d, &ids);
}

/// Removes a failed test's containers before the daemon goes.
struct Guard<'a>(&'a Daemon);

fn scopeguard(d: &Daemon) -> Guard<'_> {
    Guard(d)
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        remove_containers(self.0);
    }
}

#[test]
fn cri_pod_network_is_deleted_after_a_pierd_kill_9() {
    let net = CniNet::new(true);
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let sockets = socket_dir();
    let socket = sockets.path().join("cri.sock");
    let mut d = net.daemon(&socket, &registry);
    let host_port = free_port();
    let mut config = pod("kept");
    config.port_mappings = vec![cri::PortMapping {
        protocol: cri::Protocol::Tcp as i32,
        container_port: 8080,
        host_port: i32::from(host_port),
        host_ip: "127.0.0.1".into(),
    }];
    let (id, ip) = {
        let mut c = Cri::connect(&socket, &d);
        let id = c
            .run_pod(config)
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", d.daemon_log()));
        let ip = c.pod_status(&id).network.map(|n| n.ip).unwrap_or_default();
        (id, ip)
    };
    assert!(ip.starts_with(&net.prefix), "{ip}");
    // A second pod whose infra process dies while pierd is down.
    let gone = {
        let mut c = Cri::connect(&socket, &d);
        c.run_pod(pod("gone"))
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", d.daemon_log()))
    };
    let ids = vec![id.clone(), gone.clone()];
    assert!(!net.firewall(&ids).is_empty());
    assert_eq!(net.ip_files().len(), 2);
    let gone_pid = d.inspect(&gone)["State"]["Pid"].as_i64().expect("a pid");
    d.kill9();
    let killed = Command::new("kill")
        .args(["-9", &gone_pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    d.start_again();
    // The new pierd settles that exit: DEL for the dead pod only.
    let settled = wait_until(Duration::from_secs(10), || {
        net.ip_files().len() == 1 && net.veths().len() == 1
    });
    assert!(settled, "{:?} {:?}\n{}", net.ip_files(), net.veths(), d.daemon_log());
    assert!(net.ip_files()[0].1.contains(&id), "{:?}", net.ip_files());
    let guard = scopeguard(&d);
    let mut c = Cri::connect(&socket, &d);
    // Still set up, still reported.
    let status = c.pod_status(&id);
    assert_eq!(status.state, cri::PodSandboxState::SandboxReady as i32);
    assert_eq!(status.network.map(|n| n.ip).unwrap_or_default(), ip);
    let dead = c.pod_status(&gone);
    assert_eq!(dead.state, cri::PodSandboxState::SandboxNotready as i32);
    assert_eq!(dead.network.map(|n| n.ip).unwrap_or_default(), "");
    c.remove_pod(&gone);
    // The new pierd's stop runs DEL from what the old one recorded.
    c.stop_pod(&id);
    assert!(net.veths().is_empty(), "{:?}", net.veths());
    assert!(net.ip_files().is_empty(), "{:?}", net.ip_files());
    assert!(net.firewall(&ids).is_empty(), "{:?}", net.firewall(&ids));
    c.remove_pod(&id);
    drop(guard);
    net.check_clean(&d, &ids);
}

#[test]
fn cri_without_cni_config_only_host_network_pods_run() {
    let net = CniNet::new(false);
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let sockets = socket_dir();
    let socket = sockets.path().join("cri.sock");
    let d = net.daemon(&socket, &registry);
    let guard = scopeguard(&d);
    let mut c = Cri::connect(&socket, &d);
    let cond = c.network_condition();
    assert!(!cond.status);
    assert_eq!(cond.reason, "NetworkPluginNotReady");
    assert_eq!(
        cond.message,
        format!(
            "Network plugin returns error: cni plugin not initialized: no network config found in {}",
            net.conf_dir().display()
        )
    );
    // A pod on the pod network is refused, and nothing is made.
    let (code, message) = c.run_pod(pod("nonet")).expect_err("no network");
    assert_eq!(code, Code::FailedPrecondition);
    assert!(message.contains("cni plugin not initialized"), "{message}");
    let listed = d.docker_ok(&["ps", "-aq"]);
    assert_eq!(listed.trim(), "");

    // A host-network pod runs, in the host's network, PID and IPC
    // namespaces when asked.
    let node = cri::NamespaceMode::Node as i32;
    let mut host = pod("hostnet");
    host.linux = Some(cri::LinuxPodSandboxConfig {
        security_context: Some(cri::LinuxSandboxSecurityContext {
            namespace_options: Some(cri::NamespaceOption {
                network: node,
                pid: node,
                ipc: node,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = c
        .run_pod(host.clone())
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", d.daemon_log()));
    for ns in ["net", "pid", "ipc"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("own namespace");
        let theirs = d.docker_ok(&["exec", &id, "readlink", &format!("/proc/self/ns/{ns}")]);
        assert_eq!(theirs.trim(), mine.to_string_lossy(), "{ns}");
    }
    assert_eq!(c.pod_status(&id).network.map(|n| n.ip).unwrap_or_default(), "");
    assert!(!d.exec_root.join("netns").join(&id).exists());
    // A net.* sysctl cannot be set in the host's network namespace.
    let mut bad = host;
    bad.metadata.as_mut().expect("metadata").name = "hostnet-sysctl".into();
    if let Some(l) = bad.linux.as_mut() {
        l.sysctls = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
    }
    let (code, message) = c.run_pod(bad).expect_err("refused");
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(message.contains("not allowed in host network namespace"), "{message}");
    c.stop_pod(&id);
    c.remove_pod(&id);
    drop(guard);
    net.check_clean(&d, &[id]);
}
