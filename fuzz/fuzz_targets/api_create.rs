//! `POST /containers/create`: the JSON body as pierd's HTTP edge reads it
//! (pier-api wire types), then the pure `model::build` with an image's
//! defaults, inspect's `render`, and the record's JSON round trip.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pier_api::container::ContainerCreateRequest;
use pier_image::ImageConfig;
use pierd::model::{self, ContainerSpec, Defaults, HostSupport};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<ContainerCreateRequest>(data) else {
        return;
    };
    // What the wire types accept must serialize (inspect echoes it back).
    serde_json::to_vec(&req).expect("a parsed request serializes");
    let image = ImageConfig {
        env: vec!["PATH=/usr/bin:/bin".into()],
        cmd: Some(vec!["sh".into()]),
        labels: [("from".to_string(), "image".to_string())].into(),
        exposed_ports: vec!["80/tcp".into()],
        volumes: vec!["/data".into()],
        stop_signal: Some("SIGQUIT".into()),
        ..Default::default()
    };
    let opts = BTreeMap::new();
    // One host that checks nothing, one like this machine (two CPUs, no
    // blkio weight, a nofile hard limit the daemon cannot raise).
    let this_host = HostSupport {
        swap_limit: true,
        blkio_weight: false,
        blkio_weight_device: false,
        cpus: Some("0-1".into()),
        mems: Some("0".into()),
        rlimit_hard: [("nofile".to_string(), 20_000)].into(),
    };
    for (cgroup_v2, apparmor, host) in [(false, false, HostSupport::unchecked()), (true, true, &this_host)] {
        let defaults = Defaults {
            log_driver: "json-file",
            log_opts: &opts,
            runtime: "runc",
            ncpu: 2,
            cgroup_v2,
            apparmor,
            host,
            bridge_default: cgroup_v2,
        };
        let Ok(built) = model::build(ID, &req, &image, &defaults) else {
            continue;
        };
        let spec = &built.spec;
        let _ = model::render::config(spec, &req.config.image);
        let _ = model::render::host_config(spec);
        // container.json keeps the spec: reading it back must give the
        // same container.
        let json = serde_json::to_vec(spec).expect("spec serializes");
        let back: ContainerSpec = serde_json::from_slice(&json).expect("spec reads back");
        assert_eq!(&back, spec, "spec changed through its record");
    }
});
