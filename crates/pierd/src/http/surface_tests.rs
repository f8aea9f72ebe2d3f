//! The HTTP surface without root: a real daemon (image store, records,
//! container table) on a temp dir whose shims are in-process fakes, driven
//! through the real router and version middleware. No runc, no mounts, no
//! processes: these run as any user.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

use crate::config::DaemonConfig;
use crate::daemon::Daemon;
use crate::shim::fake::FakeShims;
use crate::shim::{ShimTimeouts, Shims};

struct Surface {
    root: tempfile::TempDir,
    fakes: Arc<FakeShims>,
    daemon: Arc<Daemon>,
    _stop: tokio::sync::watch::Sender<bool>,
}

struct Reply {
    status: StatusCode,
    api_version: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_string()
    }
}

fn config(root: &std::path::Path, fakes: &Arc<FakeShims>, timeouts: ShimTimeouts) -> DaemonConfig {
    // Neither binary exists: nothing here may run one.
    let mut cfg = DaemonConfig::new(
        root.join("data"),
        root.join("exec"),
        "/nonexistent/runc".into(),
        "/nonexistent/pier-shim".into(),
    );
    cfg.shims = Shims::fake(fakes.clone());
    cfg.shims.timeouts = timeouts;
    cfg
}

async fn start_daemon(cfg: DaemonConfig) -> (Arc<Daemon>, tokio::sync::watch::Sender<bool>) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let daemon = Daemon::new(cfg, rx).expect("daemon");
    daemon.restore().await.expect("restore");
    (daemon, stop)
}

impl Surface {
    async fn new() -> Self {
        Self::with_timeouts(ShimTimeouts::default()).await
    }

    async fn with_timeouts(timeouts: ShimTimeouts) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let fakes = FakeShims::new();
        let (daemon, stop) = start_daemon(config(root.path(), &fakes, timeouts)).await;
        Surface {
            root,
            fakes,
            daemon,
            _stop: stop,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Reply {
        use tower_layer::Layer;
        let app = axum::middleware::from_fn(super::version_prefix).layer(super::router(self.daemon.clone()));
        let mut req = Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req.body(Body::from(body.unwrap_or_default())).expect("request");
        let resp = app.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let api_version = resp
            .headers()
            .get("Api-Version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            api_version,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, json: Option<serde_json::Value>) -> Reply {
        self.call(Method::POST, path, json.map(|j| j.to_string().into_bytes()))
            .await
    }

    /// Import a one-file image as `repo:tag`.
    async fn import(&self, repo: &str, tag: &str) {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(3);
        b.append_data(&mut h, "etc/hi", &b"hi\n"[..]).expect("tar");
        let tar = b.into_inner().expect("tar");
        let r = self
            .call(
                Method::POST,
                &format!("/images/create?fromSrc=-&repo={repo}&tag={tag}"),
                Some(tar),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "import: {}", r.text());
    }

    async fn create(&self, name: &str) -> String {
        let r = self
            .post(
                &format!("/containers/create?name={name}"),
                Some(serde_json::json!({"Image": "img:1", "Cmd": ["sleep", "1000"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create: {}", r.text());
        r.json()["Id"].as_str().expect("Id").to_string()
    }

    async fn running(&self, id: &str) -> bool {
        let r = self.get(&format!("/containers/{id}/json")).await;
        assert_eq!(r.status, StatusCode::OK, "inspect: {}", r.text());
        r.json()["State"]["Running"] == true
    }

    async fn wait_until_exited(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running(id).await {
            assert!(Instant::now() < deadline, "container {id} did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn versions_and_routing() {
    let s = Surface::new().await;
    for path in ["/_ping", "/v1.24/_ping", "/v1.41/_ping", "/v1.50/_ping"] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.text(), "OK", "{path}");
        assert_eq!(r.api_version.as_deref(), Some("1.50"), "{path}");
    }
    let v = s.get("/v1.44/version").await;
    assert_eq!(v.status, StatusCode::OK);
    assert_eq!(v.json()["ApiVersion"], "1.50");
    assert_eq!(v.json()["MinAPIVersion"], "1.24");
    let old = s.get("/v1.23/version").await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        old.message(),
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    assert_eq!(old.api_version.as_deref(), Some("1.50"));
    let new = s.get("/v1.51/version").await;
    assert_eq!(new.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        new.message(),
        "client version 1.51 is too new. Maximum supported API version is 1.50"
    );
    assert_eq!(s.get("/v1.x/version").await.status, StatusCode::BAD_REQUEST);
    let missing = s.get("/v1.50/nothing/here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.message(), "page not found");
    let wrong = s.call(Method::DELETE, "/containers/json", None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s.get("/containers/json").await.json(), serde_json::json!([]));
}

#[tokio::test]
async fn unknown_objects_are_404() {
    let s = Surface::new().await;
    let cases = [
        (Method::GET, "/containers/nope/json", "No such container: nope"),
        (Method::POST, "/v1.45/containers/nope/start", "No such container: nope"),
        (Method::POST, "/containers/nope/kill", "No such container: nope"),
        (Method::DELETE, "/containers/nope", "No such container: nope"),
        (Method::GET, "/exec/nope/json", "No such exec instance: nope"),
        (Method::POST, "/exec/nope/resize?h=1&w=1", "No such exec instance: nope"),
        (Method::GET, "/images/nope:1/json", "No such image: nope:1"),
        (Method::DELETE, "/images/nope:1", "No such image: nope:1"),
        (Method::GET, "/volumes/nope", "get nope: no such volume"),
    ];
    for (method, path, message) in cases {
        let body = (method == Method::POST && path.contains("exec")).then(Vec::new);
        let r = s.call(method.clone(), path, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.text());
        assert_eq!(r.message(), message, "{method} {path}");
    }
}

#[tokio::test]
async fn create_validation() {
    let s = Surface::new().await;
    s.import("img", "1").await;
    let bad = s.call(Method::POST, "/containers/create", Some(b"{".to_vec())).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.message().starts_with("invalid JSON"), "{}", bad.message());
    let no_image = s.post("/containers/create", Some(serde_json::json!({}))).await;
    assert_eq!(no_image.status, StatusCode::BAD_REQUEST, "{}", no_image.text());
    let unknown = s
        .post("/containers/create", Some(serde_json::json!({"Image": "nope:1"})))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());
    assert_eq!(unknown.message(), "No such image: nope:1");
    let name = s
        .post(
            "/containers/create?name=a%20b",
            Some(serde_json::json!({"Image": "img:1"})),
        )
        .await;
    assert_eq!(name.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        name.message(),
        "Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    );
    let signal = s
        .post(
            "/containers/create",
            Some(serde_json::json!({"Image": "img:1", "StopSignal": "SIGNOPE"})),
        )
        .await;
    assert_eq!(signal.status, StatusCode::BAD_REQUEST, "{}", signal.text());
    let no_cmd = s
        .post("/containers/create", Some(serde_json::json!({"Image": "img:1"})))
        .await;
    assert_eq!(no_cmd.status, StatusCode::BAD_REQUEST, "{}", no_cmd.text());
    let id = s.create("one").await;
    let dup = s
        .post(
            "/containers/create?name=one",
            Some(serde_json::json!({"Image": "img:1", "Cmd": ["true"]})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.message(),
        format!("Conflict. The container name \"/one\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")
    );
    // Nothing ran: creating needs no shim.
    assert_eq!(s.fakes.count(), 0);
}

#[tokio::test]
async fn lifecycle_through_fake_shims() {
    let s = Surface::new().await;
    s.import("img", "1").await;
    let id = s.create("life").await;
    let not_running = s.post(&format!("/containers/{id}/kill"), None).await;
    assert_eq!(not_running.status, StatusCode::CONFLICT);
    assert_eq!(not_running.message(), format!("Container {id} is not running"));
    assert_eq!(
        s.post(&format!("/containers/{id}/start"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.post(&format!("/containers/{id}/start"), None).await.status,
        StatusCode::NOT_MODIFIED
    );
    assert!(s.running(&id).await);
    let list = s.get("/containers/json").await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let exec = s
        .post(
            &format!("/containers/{id}/exec"),
            Some(serde_json::json!({"Cmd": ["true"]})),
        )
        .await;
    assert_eq!(exec.status, StatusCode::CREATED, "{}", exec.text());
    let busy = s.call(Method::DELETE, &format!("/containers/{id}"), None).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(
        s.post(&format!("/containers/{id}/kill?signal=KILL"), None).await.status,
        StatusCode::NO_CONTENT
    );
    s.wait_until_exited(&id).await;
    let inspect = s.get(&format!("/containers/{id}/json")).await.json();
    assert_eq!(inspect["State"]["ExitCode"], 137);
    let wait = s.post(&format!("/containers/{id}/wait"), None).await;
    assert_eq!(wait.json()["StatusCode"], 137);
    let exec = s
        .post(
            &format!("/containers/{id}/exec"),
            Some(serde_json::json!({"Cmd": ["true"]})),
        )
        .await;
    assert_eq!(exec.status, StatusCode::CONFLICT);
    let rm = s.call(Method::DELETE, &format!("/containers/{id}"), None).await;
    assert_eq!(rm.status, StatusCode::NO_CONTENT, "{}", rm.text());
    assert_eq!(
        s.get(&format!("/containers/{id}/json")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A shim that stops answering (SIGSTOP) costs its own container's callers
/// a timeout; listing, inspecting, other containers and a daemon restart
/// do not wait for it.
#[tokio::test]
async fn a_wedged_shim_blocks_nobody_else() {
    let timeouts = ShimTimeouts {
        answer: Duration::from_millis(300),
        runtime: Duration::from_millis(500),
    };
    let s = Surface::with_timeouts(timeouts).await;
    s.import("img", "1").await;
    let stuck = s.create("stuck").await;
    let other = s.create("other").await;
    for id in [&stuck, &other] {
        assert_eq!(
            s.post(&format!("/containers/{id}/start"), None).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert!(s.fakes.wedge(&stuck, true));

    let t = Instant::now();
    assert_eq!(s.get("/containers/json").await.json().as_array().map(Vec::len), Some(2));
    assert!(s.running(&stuck).await);
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "list/inspect took {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let kill = s.post(&format!("/containers/{stuck}/kill"), None).await;
    assert_eq!(kill.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", kill.text());
    assert!(kill.message().contains("did not answer kill"), "{}", kill.message());
    assert!(t.elapsed() < Duration::from_secs(2), "kill took {:?}", t.elapsed());

    // The other container is served as usual.
    assert_eq!(
        s.post(&format!("/containers/{other}/kill"), None).await.status,
        StatusCode::NO_CONTENT
    );
    s.wait_until_exited(&other).await;

    // A restarted daemon comes up within one answer timeout and keeps the
    // silent container running.
    let t = Instant::now();
    let (daemon, _stop) = start_daemon(config(s.root.path(), &s.fakes, timeouts)).await;
    assert!(t.elapsed() < Duration::from_secs(2), "restore took {:?}", t.elapsed());
    let c = daemon.lookup(&stuck).expect("restored");
    assert!(c.record().state.is_running());
    // Once it answers again, its exit is seen.
    assert!(s.fakes.wedge(&stuck, false));
    assert!(s.fakes.exit(&stuck, 3));
    let mut live = c.subscribe();
    tokio::time::timeout(Duration::from_secs(10), live.wait_for(|l| !l.record.state.is_running()))
        .await
        .expect("exit seen after the shim answers again")
        .expect("live");
    assert_eq!(c.record().state.exit_code, 3);
}

/// A lost shim (SIGKILL) leaves its container to the runtime: it is shown
/// running with a `State.Error`; `rm -f` fails while the runtime cannot end
/// it and keeps the record; once the runtime can, the container goes. (The
/// same with runc: e2e `security_faults`.)
#[tokio::test]
async fn a_lost_shim_is_ended_through_the_runtime_and_its_record_kept_until_then() {
    let timeouts = ShimTimeouts {
        answer: Duration::from_millis(300),
        runtime: Duration::from_millis(500),
    };
    let s = Surface::with_timeouts(timeouts).await;
    s.import("img", "1").await;
    let id = s.create("lost").await;
    assert_eq!(
        s.post(&format!("/containers/{id}/start"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(s.fakes.lose(&id, true));
    let t = Instant::now();
    let error = loop {
        let st = s.get(&format!("/containers/{id}/json")).await.json()["State"].clone();
        let error = st["Error"].as_str().unwrap_or_default().to_string();
        if error.contains("shim lost") {
            assert_eq!(st["Running"], true, "{st}");
            break error;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no lost-shim error: {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(error.contains("running"), "{error}");

    let rm = s.call(Method::DELETE, &format!("/containers/{id}?force=1"), None).await;
    assert_eq!(rm.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", rm.text());
    assert!(rm.message().contains("through the runtime"), "{}", rm.message());
    assert!(s.running(&id).await, "the record is kept, still running");

    s.fakes.unjam(&id);
    let rm = s.call(Method::DELETE, &format!("/containers/{id}?force=1"), None).await;
    assert_eq!(rm.status, StatusCode::NO_CONTENT, "{}", rm.text());
    assert_eq!(
        s.get(&format!("/containers/{id}/json")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn stats_and_disk_usage_without_runtime() {
    let s = Surface::new().await;
    let du = s.get("/system/df").await;
    assert_eq!(du.status, StatusCode::OK);
    assert_eq!(
        du.json(),
        serde_json::json!({"LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "BuildCache": []})
    );
    s.import("img", "1").await;
    let id = s.create("idle").await;
    // Not running: docker's empty sample, at once.
    let r = s.get("/containers/idle/stats?stream=false").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["name"], "/idle");
    assert_eq!(v["read"], "0001-01-01T00:00:00Z");
    assert_eq!(v["pids_stats"], serde_json::json!({}));
    assert!(v.get("networks").is_none());
    let r = s.get("/containers/idle/stats?stream=1&one-shot=1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "cannot have stream=true and one-shot=true");
    assert_eq!(
        s.get("/containers/nope/stats?stream=0").await.status,
        StatusCode::NOT_FOUND
    );

    let v = s.get("/system/df").await.json();
    assert_eq!(v["Images"][0]["Containers"], 1);
    assert_eq!(v["Images"][0]["SharedSize"], 0);
    assert_eq!(v["Images"][0]["Size"], v["LayersSize"]);
    assert_eq!(v["Containers"][0]["Id"], id.as_str());
    assert_eq!(v["Containers"][0]["State"], "created");
    let v = s.get("/v1.50/system/df?type=image&type=container").await.json();
    assert_eq!(v["Volumes"], serde_json::Value::Null);
    assert_eq!(v["BuildCache"], serde_json::Value::Null);
    assert_eq!(v["Images"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn pause_state_and_update_without_root() {
    let s = Surface::new().await;
    s.import("img", "1").await;
    let id = s.create("pz").await;
    let r = s.post("/containers/pz/pause", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.message(), format!("container {id} is not running"));
    assert_eq!(
        s.post("/containers/pz/start", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.post("/containers/pz/pause", None).await.status,
        StatusCode::NO_CONTENT
    );
    let st = s.get("/containers/pz/json").await.json()["State"].clone();
    assert_eq!(
        (st["Status"].as_str(), st["Paused"].as_bool()),
        (Some("paused"), Some(true))
    );
    let list = s
        .get("/containers/json?filters=%7B%22status%22%3A%5B%22paused%22%5D%7D")
        .await
        .json();
    assert_eq!(list[0]["State"], "paused");
    assert!(list[0]["Status"].as_str().is_some_and(|t| t.ends_with("(Paused)")));
    let r = s
        .post("/containers/pz/exec", Some(serde_json::json!({"Cmd": ["true"]})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.message(), "Container pz is paused, unpause the container before exec");
    // An update reaches a paused container and is stored.
    let r = s
        .post(
            "/containers/pz/update",
            Some(serde_json::json!({"CpuShares": 512, "PidsLimit": 9})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    let hc = s.get("/containers/pz/json").await.json()["HostConfig"].clone();
    assert_eq!(
        (hc["CpuShares"].as_i64(), hc["PidsLimit"].as_i64()),
        (Some(512), Some(9))
    );
    let r = s
        .post("/containers/pz/update", Some(serde_json::json!({"CpuPeriod": 10})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
    );
    // A kill thaws and ends it: the paused state goes with the exit.
    assert_eq!(s.post("/containers/pz/kill", None).await.status, StatusCode::NO_CONTENT);
    s.wait_until_exited(&id).await;
    let st = s.get("/containers/pz/json").await.json()["State"].clone();
    assert_eq!(
        (st["Status"].as_str(), st["Paused"].as_bool()),
        (Some("exited"), Some(false))
    );
    let r = s.post("/containers/pz/unpause", None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.message(), format!("Container {id} is not paused"));
    let r = s.get("/containers/pz/top").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        s.post("/containers/nope/update", Some(serde_json::json!({})))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// `GET /events` over the journal: the history between `since` and
/// `until` (a past `until` ends the stream), filters, docker's JSON.
#[tokio::test]
async fn events_history_and_filters() {
    let s = Surface::new().await;
    let t0 = pier_time::now_nanos();
    s.import("img", "1").await;
    let id = s.create("ev").await;
    assert_eq!(
        s.post(&format!("/containers/{id}/start"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.post(&format!("/containers/{id}/kill?signal=KILL"), None).await.status,
        StatusCode::NO_CONTENT
    );
    s.wait_until_exited(&id).await;
    assert_eq!(
        s.post(&format!("/containers/{id}/rename?name=ev2"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(Method::DELETE, &format!("/containers/{id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    let seconds = |n: i64| format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
    let (since, until) = (seconds(t0), seconds(pier_time::now_nanos() + 1));
    let sref = &s;
    let events = |filters: &str| {
        let path = format!("/events?since={since}&until={until}&filters={}", urlencode(filters));
        async move {
            let r = sref.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.text()
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("event json"))
                .collect::<Vec<_>>()
        }
    };
    let actions = |evs: &[serde_json::Value]| {
        evs.iter()
            .map(|e| e["Action"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let all = events("").await;
    assert_eq!(
        actions(&all),
        ["tag", "import", "create", "start", "kill", "die", "rename", "destroy"].map(String::from),
        "{all:?}"
    );
    let kill = &all[4];
    assert_eq!(kill["Actor"]["Attributes"]["signal"], "9");
    assert_eq!(kill["status"], "kill");
    assert_eq!(kill["id"], id.as_str());
    assert_eq!(kill["from"], "img:1");
    assert_eq!(all[5]["Actor"]["Attributes"]["exitCode"], "137");
    assert_eq!(all[6]["Actor"]["Attributes"]["oldName"], "/ev");
    assert_eq!(all[6]["Actor"]["Attributes"]["name"], "ev2");
    let containers = events(r#"{"type":["container"]}"#).await;
    assert_eq!(containers.len(), 6);
    let by_name = events(r#"{"container":["ev2"]}"#).await;
    assert_eq!(actions(&by_name), ["rename", "destroy"].map(String::from));
    let by_event = events(r#"{"event":["die","start"]}"#).await;
    assert_eq!(actions(&by_event), ["start", "die"].map(String::from));
    let by_image = events(r#"{"image":["img"]}"#).await;
    // Not `import`: its name is the image id, as in dockerd.
    assert_eq!(by_image.len(), 7, "{by_image:?}");
    let bad = s.get("/events?since=x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let reversed = s.get(&format!("/events?since={until}&until={since}")).await;
    assert_eq!(reversed.status, StatusCode::BAD_REQUEST, "{}", reversed.text());
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
