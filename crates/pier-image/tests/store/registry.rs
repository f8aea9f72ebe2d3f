//! Pulls from a fake registry served on a loopback port by a thread: the
//! bearer-token and basic flows, manifest lists, plain/gzip/zstd layers,
//! a truncated download retried, a corrupt layer refused; and save/load
//! round trips and hostile load archives at the store level.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine;
use pier_image::distribution::{Credentials, RegistryOptions};
use pier_image::{ImageError, PullEvent, PullOptions};
use sha2::{Digest, Sha256};

use crate::support::{busybox_rootfs, gzip, r, require_root, Archive, TestStore};

const TOKEN: &str = "tok-123";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Bearer,
    Basic,
}

#[derive(Default)]
struct State {
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
    /// Blobs whose next download stops halfway.
    truncate_once: Vec<String>,
    /// Request paths served, in order.
    requests: Vec<String>,
}

struct FakeRegistry {
    port: u16,
    state: Arc<Mutex<State>>,
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl FakeRegistry {
    fn start(auth: Auth) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let state = shared.clone();
                std::thread::spawn(move || serve(conn, &state, auth, port));
            }
        });
        FakeRegistry { port, state }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn blob(&self, bytes: Vec<u8>) -> String {
        let d = sha(&bytes);
        self.state.lock().expect("state").blobs.insert(d.clone(), bytes);
        d
    }

    fn manifest(&self, reference: &str, media_type: &str, body: &serde_json::Value) -> String {
        let bytes = body.to_string().into_bytes();
        let d = sha(&bytes);
        let mut s = self.state.lock().expect("state");
        s.manifests
            .insert(reference.to_string(), (media_type.to_string(), bytes.clone()));
        s.manifests.insert(d.clone(), (media_type.to_string(), bytes));
        d
    }

    fn count(&self, path_suffix: &str) -> usize {
        let s = self.state.lock().expect("state");
        s.requests.iter().filter(|p| p.ends_with(path_suffix)).count()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>, auth: Auth, port: u16) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut authorization = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = v.trim().to_string();
            }
        }
    }
    let mut w = conn;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:secret")
    );
    let reply = |w: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8], cut: bool| {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = w.write_all(head.as_bytes());
        let body = if cut { &body[..body.len() / 2] } else { body };
        let _ = w.write_all(body);
    };
    state.lock().expect("state").requests.push(path.clone());
    if path.starts_with("/token") {
        if authorization == basic && path.contains("scope=repository%3Atest%2Fimg%3Apull") {
            reply(
                &mut w,
                "200 OK",
                &[],
                format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes(),
                false,
            );
        } else {
            reply(&mut w, "401 Unauthorized", &[], b"{}", false);
        }
        return;
    }
    let authorized = match auth {
        Auth::None => true,
        Auth::Bearer => authorization == format!("Bearer {TOKEN}"),
        Auth::Basic => authorization == basic,
    };
    if !authorized {
        let challenge = match auth {
            Auth::Bearer => format!(r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake""#),
            _ => r#"Basic realm="fake""#.to_string(),
        };
        reply(
            &mut w,
            "401 Unauthorized",
            &[("WWW-Authenticate", challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            false,
        );
        return;
    }
    let mut s = state.lock().expect("state");
    if let Some(reference) = path.strip_prefix("/v2/test/img/manifests/") {
        match s.manifests.get(reference) {
            Some((ct, body)) => {
                let (ct, body) = (ct.clone(), body.clone());
                drop(s);
                reply(&mut w, "200 OK", &[("Content-Type", ct)], &body, false);
            }
            None => {
                drop(s);
                reply(
                    &mut w,
                    "404 Not Found",
                    &[],
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                    false,
                );
            }
        }
    } else if let Some(digest) = path.strip_prefix("/v2/test/img/blobs/") {
        let cut = match s.truncate_once.iter().position(|d| d == digest) {
            Some(i) => {
                s.truncate_once.remove(i);
                true
            }
            None => false,
        };
        match s.blobs.get(digest).cloned() {
            Some(body) => {
                drop(s);
                reply(&mut w, "200 OK", &[], &body, cut);
            }
            None => {
                drop(s);
                reply(&mut w, "404 Not Found", &[], b"{}", false);
            }
        }
    } else {
        drop(s);
        reply(&mut w, "404 Not Found", &[], b"{}", false);
    }
}

/// Pushes a two-layer amd64 image (layers compressed as asked) and an arm64
/// one under a docker manifest list tagged `latest`; returns the layer
/// blob digests of the amd64 image.
fn push_image(reg: &FakeRegistry, top_compression: &str) -> (Vec<String>, String) {
    let base = busybox_rootfs();
    let top = Archive::new().dir("data/").file("data/hello.txt", b"hello\n").finish();
    let layers = [
        (base.clone(), gzip(&base)),
        (top.clone(), compress(&top, top_compression)),
    ];
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(raw, _)| sha(raw)).collect::<Vec<_>>()},
    })
    .to_string()
    .into_bytes();
    let config_len = config.len();
    let config_digest = reg.blob(config);
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(_, packed)| {
            let len = packed.len();
            serde_json::json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                               "digest": reg.blob(packed.clone()), "size": len})
        })
        .collect();
    let digests = descs
        .iter()
        .map(|d| d["digest"].as_str().expect("digest").to_string())
        .collect();
    let v2 = "application/vnd.docker.distribution.manifest.v2+json";
    let amd64 = serde_json::json!({"schemaVersion": 2, "mediaType": v2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config_len},
        "layers": descs});
    let amd64_digest = reg.manifest("amd64", v2, &amd64);
    let arm_config = serde_json::json!({"architecture": "arm64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string()
    .into_bytes();
    let arm_len = arm_config.len();
    let arm = serde_json::json!({"schemaVersion": 2, "mediaType": v2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": reg.blob(arm_config), "size": arm_len},
        "layers": []});
    let arm_digest = reg.manifest("arm64", v2, &arm);
    let list = serde_json::json!({"schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [
        {"mediaType": v2, "digest": arm_digest, "size": 1, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": v2, "digest": amd64_digest, "size": 1, "platform": {"architecture": "amd64", "os": "linux"}},
    ]});
    let list_digest = reg.manifest(
        "latest",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        &list,
    );
    (digests, list_digest)
}

fn compress(data: &[u8], how: &str) -> Vec<u8> {
    match how {
        "zstd" => zstd::encode_all(data, 3).expect("zstd"),
        "plain" => data.to_vec(),
        _ => gzip(data),
    }
}

fn options(credentials: Option<Credentials>) -> PullOptions {
    PullOptions {
        platform: Some("linux/amd64".into()),
        registry: RegistryOptions {
            insecure: Vec::new(),
            credentials,
            ..Default::default()
        },
    }
}

fn alice() -> Option<Credentials> {
    Some(Credentials {
        username: "alice".into(),
        password: "secret".into(),
    })
}

#[test]
fn bearer_pull_of_a_manifest_list_with_plain_and_zstd_layers() {
    require_root();
    for compression in ["plain", "zstd"] {
        let t = TestStore::new();
        let reg = FakeRegistry::start(Auth::Bearer);
        let (layers, list_digest) = push_image(&reg, compression);
        let reference = r(&format!("{}/test/img", reg.host()));

        let denied = t.store.resolve_remote(&reference, &options(None));
        assert!(matches!(denied, Err(ImageError::Unauthorized { .. })), "{denied:?}");

        let remote = t.store.resolve_remote(&reference, &options(alice())).expect("resolve");
        assert_eq!(remote.digest, list_digest);
        let events = Mutex::new(Vec::new());
        let pulled = t
            .store
            .pull_remote(remote, &|e| events.lock().expect("events").push(e))
            .expect("pull");
        assert!(pulled.fresh);
        assert_eq!(pulled.image.architecture, "amd64");
        assert_eq!(pulled.image.diff_ids.len(), 2);
        assert_eq!(
            pulled.image.repo_digests,
            vec![format!("{}/test/img@{list_digest}", reg.host())]
        );
        let events = events.into_inner().expect("events");
        for l in &layers {
            let id = pier_image::short_id(l);
            assert!(
                events.contains(&PullEvent::Status {
                    id: id.clone(),
                    status: "Pull complete".into()
                }),
                "{events:?}"
            );
            assert!(events
                .iter()
                .any(|e| matches!(e, PullEvent::Downloading { id: i, .. } if *i == id)));
        }
        let dirs = t
            .store
            .layer_dirs(&t.store.resolve(&reference.to_string()).expect("tagged"));
        assert_eq!(
            std::fs::read(dirs[0].join("data/hello.txt")).expect("top layer"),
            b"hello\n"
        );

        // Again: nothing is fetched, the image is up to date.
        let before = reg.count(&layers[0]);
        let remote = t.store.resolve_remote(&reference, &options(alice())).expect("resolve");
        let again = t.store.pull_remote(remote, &|_| {}).expect("pull again");
        assert!(!again.fresh);
        assert_eq!(reg.count(&layers[0]), before);
        assert_eq!(t.names("tmp"), Vec::<String>::new());

        // The saved archive loads into another store as the same image.
        let mut archive = Vec::new();
        t.store.save(&[reference.to_string()], &mut archive).expect("save");
        let other = TestStore::new();
        let loaded = other.store.load_archive(&archive[..]).expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].id, pulled.image.id);
        assert_eq!(loaded[0].tags, vec![reference.to_string()]);
        assert_eq!(other.names("tmp"), Vec::<String>::new());
    }
}

#[test]
fn basic_auth_and_the_platform_choice() {
    require_root();
    let t = TestStore::new();
    let reg = FakeRegistry::start(Auth::Basic);
    push_image(&reg, "gzip");
    let reference = r(&format!("{}/test/img", reg.host()));
    let mut opts = options(alice());
    opts.platform = Some("linux/arm64".into());
    let remote = t.store.resolve_remote(&reference, &opts).expect("resolve arm64");
    let pulled = t.store.pull_remote(remote, &|_| {}).expect("pull arm64");
    assert_eq!(pulled.image.architecture, "arm64");
    opts.platform = Some("linux/riscv64".into());
    let none = t.store.resolve_remote(&reference, &opts);
    assert!(matches!(none, Err(ImageError::NoMatchingPlatform { .. })), "{none:?}");
    let missing = t
        .store
        .resolve_remote(&r(&format!("{}/test/img:nope", reg.host())), &options(alice()));
    assert!(
        matches!(missing, Err(ImageError::ManifestUnknown { .. })),
        "{missing:?}"
    );
}

#[test]
fn a_cut_download_is_retried_and_a_corrupt_layer_is_refused() {
    require_root();
    let t = TestStore::new();
    let reg = FakeRegistry::start(Auth::None);
    let (layers, _) = push_image(&reg, "gzip");
    reg.state.lock().expect("state").truncate_once.push(layers[0].clone());
    let reference = r(&format!("{}/test/img", reg.host()));
    let remote = t.store.resolve_remote(&reference, &options(None)).expect("resolve");
    t.store.pull_remote(remote, &|_| {}).expect("pull after a retry");
    assert_eq!(reg.count(&layers[0]), 2, "the cut layer was fetched twice");
    assert_eq!(t.names("tmp"), Vec::<String>::new());

    // A layer whose bytes are not its digest: refused after the retries.
    let t = TestStore::new();
    {
        let mut s = reg.state.lock().expect("state");
        let blob = s.blobs.get_mut(&layers[1]).expect("blob");
        *blob = gzip(&Archive::new().file("evil.txt", b"evil").finish());
    }
    let remote = t.store.resolve_remote(&reference, &options(None)).expect("resolve");
    let err = t.store.pull_remote(remote, &|_| {}).expect_err("corrupt layer");
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err:?}");
    assert_eq!(t.names("tmp"), Vec::<String>::new());
    assert!(t.store.list().expect("list").is_empty());

    // A layer longer than its manifest says: cut off, refused.
    {
        let mut s = reg.state.lock().expect("state");
        let blob = s.blobs.get_mut(&layers[1]).expect("blob");
        *blob = gzip(&Archive::new().file("big.bin", &vec![7u8; 1 << 20]).finish());
        blob.extend_from_slice(&vec![0u8; 1 << 20]);
    }
    let remote = t.store.resolve_remote(&reference, &options(None)).expect("resolve");
    let err = t.store.pull_remote(remote, &|_| {}).expect_err("long layer");
    assert!(err.to_string().contains("longer than"), "{err}");
    assert_eq!(t.names("tmp"), Vec::<String>::new());
}

/// A docker-save archive: `manifest.json` plus `files`.
fn save_archive(manifest: &serde_json::Value, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut a = Archive::new();
    for (name, data) in files {
        a = a.file(name, data);
    }
    a.file("manifest.json", manifest.to_string().as_bytes()).finish()
}

#[test]
fn not_image_archives_fail_in_dockerds_words() {
    require_root();
    let mut noise = vec![0u8; 2048];
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "invalid archive: does not contain a manifest.json"),
        (noise, "archive/tar: invalid tar header"),
        (b"hello".to_vec(), "unexpected EOF"),
        (
            Archive::new().file("hello.txt", b"hi\n").finish(),
            "invalid archive: does not contain a manifest.json",
        ),
    ];
    for (archive, want) in cases {
        let t = TestStore::new();
        let err = t.store.load_archive(&archive[..]).expect_err(want);
        assert!(matches!(err, ImageError::NotAnImageArchive { .. }), "{err:?}");
        assert_eq!(err.to_string(), want);
        t.assert_empty();
    }
}

#[test]
fn hostile_load_archives_leave_nothing() {
    require_root();
    let layer = Archive::new().file("hello.txt", b"hi\n").finish();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}})
    .to_string();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            save_archive(
                &serde_json::json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["../../etc/passwd"]}]),
                &[("c.json", config.as_bytes()), ("l.tar", &layer)],
            ),
            "points outside the archive",
        ),
        (
            save_archive(
                &serde_json::json!([{"Config": "/etc/hostname", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]),
                &[("c.json", config.as_bytes()), ("l.tar", &layer)],
            ),
            "not in the archive",
        ),
        (
            save_archive(
                &serde_json::json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]),
                &[
                    ("c.json", config.as_bytes()),
                    ("l.tar", &Archive::new().file("hello.txt", b"changed\n").finish()),
                ],
            ),
            "digest mismatch",
        ),
        (
            save_archive(
                &serde_json::json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": []}]),
                &[("c.json", config.as_bytes())],
            ),
            "lists 0 layers but its config 1",
        ),
        (
            Archive::new()
                .symlink("l.tar", "../../../etc/shadow")
                .file(
                    "manifest.json",
                    br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]"#,
                )
                .file("c.json", config.as_bytes())
                .finish(),
            "points outside the archive",
        ),
    ];
    for (archive, want) in cases {
        let t = TestStore::new();
        let err = t.store.load_archive(&archive[..]).expect_err(want);
        assert!(err.to_string().contains(want), "want {want:?}: {err}");
        t.assert_empty();
    }
    // The OCI layout path checks blob digests too.
    let t = TestStore::new();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": format!("sha256:{}", "0".repeat(64)), "size": 2}]});
    let archive = Archive::new()
        .file("index.json", index.to_string().as_bytes())
        .file(&format!("blobs/sha256/{}", "0".repeat(64)), b"{}")
        .finish();
    let err = t.store.load_archive(&archive[..]).expect_err("bad blob");
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    t.assert_empty();
}
