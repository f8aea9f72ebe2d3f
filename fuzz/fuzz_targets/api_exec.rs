//! `POST /containers/{id}/exec` and `POST /exec/{id}/start`: the JSON
//! bodies, the detach-keys spec they carry, and the user they name resolved
//! against a container's passwd and group files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_api::exec::{ExecCreateRequest, ExecStartRequest};
use pierd::daemon::detach_keys;
use pierd::spec;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root,nobody\nnogroup:x:65534:\n";

fuzz_target!(|data: &[u8]| {
    // Bodies of either endpoint; the second half of a split input doubles
    // as passwd/group contents.
    if let Ok(r) = serde_json::from_slice::<ExecCreateRequest>(data) {
        if let Some(keys) = r.detach_keys.as_deref() {
            let _ = detach_keys::parse(keys);
        }
        let _ = detach_keys::choose(r.detach_keys.as_deref(), Some("ctrl-p,ctrl-q"));
        let _ = spec::resolve_user(r.user.as_deref().unwrap_or(""), PASSWD, GROUP);
        serde_json::to_vec(&r).expect("serializes");
    }
    if let Ok(s) = serde_json::from_slice::<ExecStartRequest>(data) {
        serde_json::to_vec(&s).expect("serializes");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = detach_keys::parse(text);
        // `user:group` against files the container controls.
        let mut parts = text.splitn(3, '\0');
        let (user, passwd, group) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(PASSWD),
            parts.next().unwrap_or(GROUP),
        );
        let _ = spec::resolve_user(user, passwd, group);
        let _ = spec::parse_signal(user);
    }
});
