//! End-to-end: CRI pod sandboxes (issue 17): the infra container from
//! `cri.sandbox-image` (pulled through the registry host map), its
//! hostname, loopback-only network, status, list filters, stop and remove.

use pier_cri_api::tonic::Code;
use pier_cri_api::v1 as cri;
use pier_testkit::Daemon;
use serde_json::json;

use super::cri_images::{registry_with_images, socket_dir, Cri};

fn config(name: &str, app: &str) -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: format!("{name}-0"),
        labels: [("app".to_string(), app.to_string())].into(),
        annotations: [("note".to_string(), "hello".to_string())].into(),
        ..Default::default()
    }
}

#[test]
fn cri_pod_sandbox_lifecycle() {
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let config_json = json!({"cri": {
        "socket": format!("unix://{}", socket.display()),
        "registry-hosts": {"registry.k8s.io": format!("http://{}", registry.host())},
    }});
    let d = Daemon::builder().config(&config_json.to_string()).start();
    let mut c = Cri::connect(&socket, &d);
    let rt = &c.rt;
    let run = |c: &mut cri::runtime_service_client::RuntimeServiceClient<_>, cfg| {
        rt.block_on(c.run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(cfg),
            runtime_handler: String::new(),
        }))
        .map(|r| r.into_inner().pod_sandbox_id)
        .map_err(|e| format!("{e}"))
    };
    let id =
        run(&mut c.runtime, config("web", "web")).unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", d.daemon_log()));
    let status = |c: &mut cri::runtime_service_client::RuntimeServiceClient<_>, id: &str| {
        rt.block_on(c.pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        }))
        .map(|r| r.into_inner().status.expect("status"))
        .map_err(|e| e.code())
    };
    let s = status(&mut c.runtime, &id).expect("PodSandboxStatus");
    assert_eq!(s.state, cri::PodSandboxState::SandboxReady as i32);
    assert_eq!(s.metadata, config("web", "web").metadata);
    assert_eq!(s.labels["app"], "web");
    assert_eq!(s.annotations["note"], "hello");
    assert!(s.created_at > 1_700_000_000_000_000_000, "{}", s.created_at);
    // By a unique prefix too.
    assert_eq!(status(&mut c.runtime, &id[..12]).expect("by prefix").id, id);

    // The pause image came through the host map; the pod's UTS namespace
    // has its hostname, its network namespace only loopback.
    assert_eq!(d.docker_ok(&["exec", &id, "hostname"]).trim(), "web-0");
    let dev = d.docker_ok(&["exec", &id, "cat", "/proc/net/dev"]);
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, vec!["lo"], "{dev}");

    // The same pod again: refused (its name is taken).
    assert!(run(&mut c.runtime, config("web", "web")).is_err());
    let other = run(&mut c.runtime, config("db", "db")).expect("second pod");

    let list = |c: &mut cri::runtime_service_client::RuntimeServiceClient<_>, filter: cri::PodSandboxFilter| {
        let mut ids: Vec<String> = rt
            .block_on(c.list_pod_sandbox(cri::ListPodSandboxRequest { filter: Some(filter) }))
            .expect("ListPodSandbox")
            .into_inner()
            .items
            .into_iter()
            .map(|s| s.id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![id.clone(), other.clone()];
    both.sort();
    assert_eq!(list(&mut c.runtime, Default::default()), both);
    let by_label = cri::PodSandboxFilter {
        label_selector: [("app".to_string(), "db".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(list(&mut c.runtime, by_label), vec![other.clone()]);
    let by_id = cri::PodSandboxFilter {
        id: id[..12].to_string(),
        ..Default::default()
    };
    assert_eq!(list(&mut c.runtime, by_id), vec![id.clone()]);
    let not_ready = cri::PodSandboxFilter {
        state: Some(cri::PodSandboxStateValue {
            state: cri::PodSandboxState::SandboxNotready as i32,
        }),
        ..Default::default()
    };
    assert!(list(&mut c.runtime, not_ready.clone()).is_empty());

    // Stop (twice: idempotent), then it is NOTREADY.
    for _ in 0..2 {
        rt.block_on(c.runtime.stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.clone(),
        }))
        .unwrap_or_else(|e| panic!("StopPodSandbox: {e}\n{}", d.daemon_log()));
    }
    assert_eq!(
        status(&mut c.runtime, &id).expect("status").state,
        cri::PodSandboxState::SandboxNotready as i32
    );
    assert_eq!(list(&mut c.runtime, not_ready), vec![id.clone()]);

    // Remove (a running one too), then it is gone; removing again is fine.
    for sandbox in [&id, &other, &id] {
        rt.block_on(c.runtime.remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: sandbox.to_string(),
        }))
        .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}\n{}", d.daemon_log()));
    }
    assert_eq!(status(&mut c.runtime, &id).expect_err("removed"), Code::NotFound);
    assert!(list(&mut c.runtime, Default::default()).is_empty());
    // A Docker container is no sandbox.
    let plain = d.create("plain", "registry.k8s.io/pause:3.9", &["true"]);
    assert_eq!(
        status(&mut c.runtime, &plain).expect_err("not a sandbox"),
        Code::NotFound
    );
    d.docker_ok(&["rm", &plain]);
}

#[test]
fn cri_pod_sandbox_survives_a_pierd_restart() {
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let config_json = json!({"cri": {
        "socket": format!("unix://{}", socket.display()),
        "registry-hosts": {"registry.k8s.io": format!("http://{}", registry.host())},
    }});
    let mut d = Daemon::builder().config(&config_json.to_string()).start();
    let id = {
        let mut c = Cri::connect(&socket, &d);
        c.rt.block_on(c.runtime.run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(config("kept", "kept")),
            runtime_handler: String::new(),
        }))
        .map(|r| r.into_inner().pod_sandbox_id)
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", d.daemon_log()))
    };
    d.stop();
    d.start_again();
    let mut c = Cri::connect(&socket, &d);
    let items =
        c.rt.block_on(c.runtime.list_pod_sandbox(cri::ListPodSandboxRequest { filter: None }))
            .expect("ListPodSandbox")
            .into_inner()
            .items;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].id, id);
    assert_eq!(items[0].state, cri::PodSandboxState::SandboxReady as i32);
    assert_eq!(items[0].metadata, config("kept", "kept").metadata);
    c.rt.block_on(c.runtime.remove_pod_sandbox(cri::RemovePodSandboxRequest {
        pod_sandbox_id: id.clone(),
    }))
    .expect("RemovePodSandbox");
}
