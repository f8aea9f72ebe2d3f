//! End-to-end: images (issue 7). A real registry (Debian's
//! `docker-registry`) on a free loopback port, images built offline from
//! busybox-static as OCI layouts and pushed with `skopeo`, pulled through
//! pierd by the docker CLI, the pier CLI and raw HTTP; save, load, tag,
//! prune, rmi; hostile load archives.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use pier_testkit::rootfs::tar_file as busybox_tar;
use pier_testkit::{wait_until, Daemon};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::stdout;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A `docker-registry` serving a temp directory; killed by pid on drop.
pub(crate) struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// `alice:secret` for a registry's htpasswd file (bcrypt, made once).
const HTPASSWD: &str = "alice:$2b$12$WgEEmZdom.8FgRsAYs9oqeB3AjeUFvAw4.gKJJ42YBbOcMbjMmyoa\n";
/// base64 of `alice:secret`, as `docker login` stores it.
pub(crate) const ALICE_AUTH: &str = "YWxpY2U6c2VjcmV0";

impl Registry {
    pub(crate) fn start() -> Registry {
        Self::start_with(false)
    }

    /// With `auth`, the registry wants alice's password (basic auth).
    pub(crate) fn start_with(auth: bool) -> Registry {
        let bin = Path::new("/usr/bin/docker-registry");
        assert!(
            bin.exists(),
            "/usr/bin/docker-registry is missing: apt-get install docker-registry (scripts/deps.sh)"
        );
        assert!(
            Command::new("skopeo")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "skopeo is missing: apt-get install skopeo (scripts/deps.sh)"
        );
        let dir = tempfile::tempdir().expect("registry dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: pier-test\n",
            dir.path().join("data").display()
        );
        if auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, HTPASSWD).expect("write htpasswd");
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: pier-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let r = Registry { child, port, dir };
        assert!(
            wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port))
                .is_ok()),
            "registry did not listen: {}",
            r.log()
        );
        r
    }

    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many GETs of `path` the registry answered.
    fn gets(&self, path: &str) -> usize {
        let needle = format!("http.request.uri=\"{path}\"");
        self.log()
            .lines()
            .filter(|l| {
                l.contains("response completed") && l.contains("http.request.method=GET") && l.contains(&needle)
            })
            .count()
    }

    /// Where the registry keeps a blob's bytes.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `skopeo copy` from the OCI layout to `repo:tag` on this registry.
    pub(crate) fn push(&self, layout: &Path, name: &str, dest: &str, extra: &[&str]) {
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra)
            .arg(format!("oci:{}:{name}", layout.display()))
            .arg(format!("docker://{}/{dest}", self.host()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {name} -> {dest} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Registry {
    /// A raw `GET` on the registry (HTTP/1.0, so the body ends at close).
    fn get(&self, path: &str, accept: &str) -> String {
        use std::io::Read;
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect registry");
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n",
            self.host()
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read registry answer");
        out
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip finish")
}

/// A tar of `(name, content)` files (`None` content: a directory).
fn tar_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in entries {
        let mut h = tar::Header::new_gnu();
        match content {
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_mtime(1_700_000_000);
                if name.contains("..") {
                    // tar refuses such names; hostile archives need them raw.
                    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                    h.set_cksum();
                    b.append(&h, *data).expect("append raw file");
                } else {
                    b.append_data(&mut h, name, *data).expect("append file");
                }
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                h.set_mtime(1_700_000_000);
                b.append_data(&mut h, name, std::io::empty()).expect("append dir");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

/// An OCI image layout being written.
pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
    refs: Vec<Value>,
    /// The images' config `User` (none when empty).
    pub(crate) user: String,
}

impl Layout {
    pub(crate) fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir layout");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        Layout {
            dir: dir.to_path_buf(),
            refs: Vec::new(),
            user: String::new(),
        }
    }

    fn blob(&self, bytes: &[u8]) -> (String, usize) {
        let d = sha(bytes);
        std::fs::write(
            self.dir.join("blobs/sha256").join(d.trim_start_matches("sha256:")),
            bytes,
        )
        .expect("blob");
        (d, bytes.len())
    }

    /// Writes an image of the given uncompressed layers (gzip-compressed);
    /// returns its manifest descriptor.
    pub(crate) fn image(&self, arch: &str, layers: &[Vec<u8>], cmd: &[&str]) -> Value {
        self.image_with(arch, layers, cmd, "gzip")
    }

    /// Like [`Layout::image`], with layers `gzip`, `zstd` or `plain`.
    fn image_with(&self, arch: &str, layers: &[Vec<u8>], cmd: &[&str], compression: &str) -> Value {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
        let mut config = json!({
            "architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"], "Labels": {"pier.test": "multi"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if !self.user.is_empty() {
            config["config"]["User"] = json!(self.user);
        }
        let (cd, cs) = self.blob(config.to_string().as_bytes());
        let layer_descs: Vec<Value> = layers
            .iter()
            .map(|l| {
                let (bytes, media_type) = match compression {
                    "zstd" => (
                        zstd::encode_all(&l[..], 3).expect("zstd"),
                        "application/vnd.oci.image.layer.v1.tar+zstd",
                    ),
                    "plain" => (l.clone(), "application/vnd.oci.image.layer.v1.tar"),
                    _ => (gzip(l), "application/vnd.oci.image.layer.v1.tar+gzip"),
                };
                let (d, s) = self.blob(&bytes);
                json!({"mediaType": media_type, "digest": d, "size": s})
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": layer_descs,
        });
        let (md, ms) = self.blob(manifest.to_string().as_bytes());
        json!({"mediaType": OCI_MANIFEST, "digest": md, "size": ms,
               "platform": {"architecture": arch, "os": "linux"}})
    }

    pub(crate) fn tag(&mut self, name: &str, mut descriptor: Value) {
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        self.refs.push(descriptor);
    }

    /// A nested index of `manifests`, as a descriptor.
    fn index(&self, manifests: Vec<Value>) -> Value {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let (d, s) = self.blob(index.to_string().as_bytes());
        json!({"mediaType": OCI_INDEX, "digest": d, "size": s})
    }

    pub(crate) fn finish(&self) {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs});
        std::fs::write(self.dir.join("index.json"), index.to_string()).expect("index.json");
    }
}

/// Layers: busybox; then `/data/old.txt` and `/etc/gone.txt`; then a
/// whiteout of `/etc/gone.txt`, an opaque `/data` and `/data/new.txt`.
fn multi_layers(work: &Path) -> Vec<Vec<u8>> {
    let busybox = std::fs::read(busybox_tar(work)).expect("read busybox tar");
    let two = tar_of(&[
        ("data/", None),
        ("data/old.txt", Some(b"old\n")),
        ("data/sub/", None),
        ("data/sub/deep.txt", Some(b"deep\n")),
        ("etc/", None),
        ("etc/gone.txt", Some(b"gone\n")),
    ]);
    let three = tar_of(&[
        ("data/", None),
        ("data/.wh..wh..opq", Some(b"")),
        ("data/new.txt", Some(b"hello from layer three\n")),
        ("etc/", None),
        ("etc/.wh.gone.txt", Some(b"")),
    ]);
    vec![busybox, two, three]
}

/// The test images, pushed: `test/multi:{oci,v2,all}` (all: amd64 + arm64).
struct Fixture {
    registry: Registry,
    _work: tempfile::TempDir,
    layer_digests: Vec<String>,
}

fn fixture() -> Fixture {
    let registry = Registry::start();
    let work = tempfile::tempdir().expect("work dir");
    let mut layout = Layout::new(&work.path().join("layout"));
    let layers = multi_layers(work.path());
    let main = layout.image(
        "amd64",
        &layers,
        &[
            "/bin/sh",
            "-c",
            "cat /data/new.txt; ls /data; test -e /etc/gone.txt || echo gone",
        ],
    );
    let tiny = tar_of(&[("arch.txt", Some(b"arm64\n"))]);
    let arm = layout.image("arm64", std::slice::from_ref(&tiny), &["/arch.txt"]);
    let all = layout.index(vec![main.clone(), arm]);
    let cmd = ["/bin/sh", "-c", "cat /data/new.txt"];
    let zstd = layout.image_with("amd64", &layers, &cmd, "zstd");
    layout.tag("multi", main);
    layout.tag("all", all);
    layout.tag("zstd", zstd);
    layout.finish();
    registry.push(&layout.dir, "multi", "test/multi:oci", &[]);
    registry.push(&layout.dir, "multi", "test/multi:v2", &["--format", "v2s2"]);
    registry.push(&layout.dir, "all", "test/multi:all", &["--all"]);
    registry.push(&layout.dir, "zstd", "test/multi:zstd", &[]);
    let layer_digests = layers.iter().map(|l| sha(&gzip(l))).collect();
    Fixture {
        registry,
        _work: work,
        layer_digests,
    }
}

fn combined(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn store_tmp_is_empty(d: &Daemon) -> bool {
    std::fs::read_dir(d.data_root.join("image/tmp"))
        .map(|r| r.count() == 0)
        .unwrap_or(false)
}

#[test]
fn docker_cli_pulls_runs_saves_and_loads_multi_layer_images() {
    let f = fixture();
    let d = Daemon::start();
    let host = f.registry.host();
    let oci = format!("{host}/test/multi:oci");

    let out = d.docker(&["pull", &oci]);
    let text = combined(&out);
    assert!(out.status.success(), "docker pull: {text}\n{}", d.daemon_log());
    assert!(text.contains("oci: Pulling from test/multi"), "{text}");
    assert!(text.contains("Pull complete"), "{text}");
    assert!(text.contains("Digest: sha256:"), "{text}");
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {oci}")),
        "{text}"
    );

    // Three layers stacked as lowerdirs, whiteout and opaque dir applied.
    let run = d.docker_ok(&["run", "--rm", &oci]);
    assert_eq!(run.trim(), "hello from layer three\nnew.txt\ngone", "{run}");

    // Pulling again is a no-op; the v2 manifest shares every layer.
    let again = d.docker_ok(&["pull", &oci]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {oci}")),
        "{again}"
    );
    let v2 = format!("{host}/test/multi:v2");
    let text = d.docker_ok(&["pull", &v2]);
    assert!(text.contains("Already exists"), "{text}");
    let ids = d.docker_ok(&["images", "--format", "{{.ID}}", "--no-trunc"]);
    let unique: std::collections::BTreeSet<&str> = ids.lines().collect();
    assert_eq!(
        unique.len(),
        1,
        "oci and v2 manifests of one config are one image: {ids}"
    );
    let digests = d.docker_ok(&["images", "--digests", &format!("{host}/test/multi")]);
    assert!(digests.contains("sha256:"), "{digests}");

    // A multi-platform index: the host's platform by default, or the one asked.
    let all = format!("{host}/test/multi:all");
    d.docker_ok(&["pull", &all]);
    assert_eq!(
        d.docker_ok(&["image", "inspect", "-f", "{{.Architecture}}", &all])
            .trim(),
        "amd64"
    );
    let arm = d.docker(&["pull", "--platform", "linux/arm64", &format!("{host}/test/multi:all")]);
    assert!(arm.status.success(), "{}", combined(&arm));
    assert_eq!(
        d.docker_ok(&["image", "inspect", "-f", "{{.Architecture}}", &all])
            .trim(),
        "arm64"
    );
    let none = d.docker(&["pull", "--platform", "linux/s390x", &all]);
    assert!(!none.status.success());
    assert!(
        combined(&none).contains("no matching manifest for linux/s390x"),
        "{}",
        combined(&none)
    );
    // By digest: the image gets a repo digest, no tag.
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .expect("digest line")
        .to_string();
    let by_digest = format!("{host}/test/multi@{digest}");
    let out = d.docker_ok(&["pull", &by_digest]);
    assert!(out.contains("Status:"), "{out}");
    let digests = d.docker_ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &by_digest]);
    assert!(digests.contains(&by_digest), "{digests}");
    let missing = d.docker(&["pull", &format!("{host}/test/nothing:here")]);
    assert!(!missing.status.success());
    assert!(combined(&missing).contains("not found"), "{}", combined(&missing));

    // While a container uses the image, one of its several names goes
    // without -f (as with docker); a delete by id is refused.
    let cid = d.docker_ok(&["create", &oci]).trim().to_string();
    d.docker_ok(&["tag", &oci, "saved:1"]);
    d.docker_ok(&["tag", &oci, "extra:1"]);
    assert_eq!(d.docker_ok(&["rmi", "extra:1"]).trim(), "Untagged: extra:1");
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "saved:1"]).trim().to_string();
    let refused = d.docker(&["rmi", &id]);
    assert!(!refused.status.success());
    assert!(
        combined(&refused).contains("(must be forced)"),
        "{}",
        combined(&refused)
    );
    d.docker_ok(&["rm", &cid]);

    // save, rmi, load, run.
    let archive = d.root.join("saved.tar");
    d.docker_ok(&["save", "-o", archive.to_str().expect("utf-8"), "saved:1"]);
    let listing = Command::new("tar").arg("-tf").arg(&archive).output().expect("tar -t");
    let names = stdout(&listing);
    for want in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(names.lines().any(|l| l == want), "{want} in {names}");
    }
    d.docker_ok(&["rmi", "saved:1", &oci, &v2]);
    let load = d.docker_ok(&["load", "-i", archive.to_str().expect("utf-8")]);
    assert!(load.contains("Loaded image: saved:1"), "{load}");
    let run = d.docker_ok(&["run", "--rm", "saved:1"]);
    assert_eq!(run.trim(), "hello from layer three\nnew.txt\ngone", "{run}");
    assert!(store_tmp_is_empty(&d), "image/tmp is empty after pulls and loads");

    // skopeo reads our save as a docker archive too.
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .expect("skopeo inspect");
    assert!(
        out.status.success(),
        "skopeo inspect docker-archive: {}",
        combined(&out)
    );

    let _ = f.layer_digests;
}

#[test]
fn concurrent_pulls_fetch_each_layer_once_and_failures_clean_up() {
    let f = fixture();
    let d = Daemon::start();
    let host = f.registry.host();
    let image = format!("{host}/test/multi:oci");
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let sock = d.sock.clone();
            let image = image.clone();
            std::thread::spawn(move || {
                let out = Command::new("docker")
                    .args(["pull", &image])
                    .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                    .output()
                    .expect("docker pull");
                (out.status.success(), combined(&out))
            })
        })
        .collect();
    for t in threads {
        let (ok, text) = t.join().expect("join");
        assert!(ok, "{text}\n{}", d.daemon_log());
    }
    for digest in &f.layer_digests {
        assert_eq!(
            f.registry.gets(&format!("/v2/test/multi/blobs/{digest}")),
            1,
            "layer {digest} fetched once"
        );
    }

    // A corrupt blob in the registry: the pull fails after its retries and
    // leaves nothing behind.
    d.docker_ok(&["rmi", &image]);
    let top = f.layer_digests.last().expect("layers");
    let file = f.registry.blob_file(top);
    let len = std::fs::metadata(&file).expect("blob file").len();
    std::fs::write(&file, vec![0x1f; len as usize]).expect("corrupt blob");
    let out = d.docker(&["pull", &image]);
    let text = combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("invalid archive") || text.contains("digest mismatch"),
        "{text}"
    );
    assert!(store_tmp_is_empty(&d), "image/tmp is empty after a failed pull");
    assert!(
        d.docker_ok(&["images", "-q"]).trim().is_empty(),
        "no image after a failed pull"
    );
}

/// A docker-save archive of `manifest` plus `files`.
fn save_archive(manifest: &Value, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut entries: Vec<(&str, Option<&[u8]>)> = files.iter().map(|(n, c)| (*n, Some(*c))).collect();
    let manifest = manifest.to_string();
    entries.push(("manifest.json", Some(manifest.as_bytes())));
    tar_of(&entries)
}

fn load_fails(d: &Daemon, archive: &[u8], want: &str) {
    let path = d.root.join("hostile.tar");
    std::fs::write(&path, archive).expect("write archive");
    let out = d.docker(&["load", "-i", path.to_str().expect("utf-8")]);
    let text = combined(&out);
    assert!(!out.status.success(), "load of a hostile archive succeeded: {text}");
    assert!(text.contains(want), "want {want:?} in {text}");
    assert!(store_tmp_is_empty(d), "image/tmp is empty after a refused load");
    assert!(
        d.docker_ok(&["images", "-q"]).trim().is_empty(),
        "no image after a refused load"
    );
}

#[test]
fn hostile_load_archives_are_refused() {
    let d = Daemon::start();
    let layer = tar_of(&[("hello.txt", Some(b"hi\n"))]);
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}})
    .to_string();

    // A manifest naming a file outside the archive.
    let m = json!([{"Config": "config.json", "RepoTags": ["evil:1"], "Layers": ["../../../../etc/passwd"]}]);
    load_fails(
        &d,
        &save_archive(&m, &[("config.json", config.as_bytes()), ("layer.tar", &layer)]),
        "points outside the archive",
    );
    // A symlinked member pointing outside.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "layer.tar", "../../../etc/shadow")
        .expect("symlink");
    let m = json!([{"Config": "config.json", "RepoTags": ["evil:2"], "Layers": ["layer.tar"]}]);
    let mut files = b.into_inner().expect("tar");
    files.truncate(files.len() - 1024);
    let rest = save_archive(&m, &[("config.json", config.as_bytes())]);
    files.extend_from_slice(&rest);
    load_fails(&d, &files, "points outside the archive");
    // A layer whose content is not what the config says.
    let other = tar_of(&[("hello.txt", Some(b"tampered\n"))]);
    let m = json!([{"Config": "config.json", "RepoTags": ["evil:3"], "Layers": ["layer.tar"]}]);
    load_fails(
        &d,
        &save_archive(&m, &[("config.json", config.as_bytes()), ("layer.tar", &other)]),
        "digest mismatch",
    );
    // A layer escaping its directory.
    let escape = tar_of(&[("../escape.txt", Some(b"x"))]);
    let config2 = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&escape)]}})
    .to_string();
    let m = json!([{"Config": "config.json", "RepoTags": ["evil:4"], "Layers": ["layer.tar"]}]);
    load_fails(
        &d,
        &save_archive(&m, &[("config.json", config2.as_bytes()), ("layer.tar", &escape)]),
        "refusing archive entry",
    );
    // Not an image archive at all.
    load_fails(
        &d,
        &tar_of(&[("x", Some(b"y"))]),
        "invalid archive: does not contain a manifest.json",
    );
}

#[test]
fn pier_cli_pulls_runs_tags_saves_loads_and_prunes() {
    let f = fixture();
    let d = Daemon::start();
    let host = f.registry.host();
    let oci = format!("{host}/test/multi:oci");

    // `run` pulls a missing image by itself, as docker's CLI does.
    let out = d.pier(&["run", "--rm", &oci]);
    assert!(out.status.success(), "{}\n{}", combined(&out), d.daemon_log());
    assert_eq!(stdout(&out), "hello from layer three\nnew.txt\ngone");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Unable to find image '{oci}' locally")),
        "{}",
        combined(&out)
    );

    let text = d.pier_ok(&["pull", &format!("{host}/test/multi:v2")]);
    assert!(text.contains("Already exists"), "{text}");
    assert!(text.contains("Status: Downloaded newer image for"), "{text}");
    assert!(text.trim_end().ends_with(&format!("{host}/test/multi:v2")), "{text}");
    let missing = d.pier(&["pull", &format!("{host}/test/absent")]);
    assert!(!missing.status.success());
    assert!(
        combined(&missing).contains("manifest unknown"),
        "{}",
        combined(&missing)
    );

    d.pier_ok(&["tag", &oci, "mine/app:7"]);
    let listed = d.pier_ok(&["images", "--digests"]);
    assert!(listed.lines().next().is_some_and(|h| h.contains("DIGEST")), "{listed}");
    assert!(listed.contains("mine/app"), "{listed}");
    let arch = d.pier_ok(&["image", "inspect", "-f", "{{.Architecture}}", "mine/app:7"]);
    assert_eq!(arch.trim(), "amd64");

    // save to a file, remove every tag, load it back.
    let archive = d.root.join("pier-save.tar");
    d.pier_ok(&["save", "-o", archive.to_str().expect("utf-8"), "mine/app:7"]);
    d.pier_ok(&["rmi", "mine/app:7", &oci, &format!("{host}/test/multi:v2")]);
    assert!(d.pier_ok(&["images", "-q"]).trim().is_empty());
    let load = d.pier_ok(&["load", "-i", archive.to_str().expect("utf-8")]);
    assert!(load.contains("Loaded image: mine/app:7"), "{load}");
    assert_eq!(
        d.pier_ok(&["run", "--rm", "mine/app:7", "cat", "/data/new.txt"]).trim(),
        "hello from layer three"
    );

    // prune: dangling images only, then -a for every unused one.
    d.pier_ok(&["pull", &format!("{host}/test/multi:all")]);
    d.pier_ok(&["pull", "--platform", "linux/arm64", &format!("{host}/test/multi:all")]);
    let before = d.pier_ok(&["images", "-q"]).lines().count();
    assert_eq!(
        before, 2,
        "the amd64 image stays as mine/app:7, the arm64 one is tagged all"
    );
    let pruned = d.pier_ok(&["image", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    let pruned = d.pier_ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    assert!(d.pier_ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn oci_layout_archives_load_and_zstd_layers_pull() {
    let f = fixture();
    let d = Daemon::start();
    let host = f.registry.host();
    // docker's CLI pulls a missing image on its own when create answers 404.
    let out = d.docker(&["run", "--rm", &format!("{host}/test/multi:oci"), "cat", "/data/new.txt"]);
    assert!(out.status.success(), "{}\n{}", combined(&out), d.daemon_log());
    assert_eq!(stdout(&out), "hello from layer three");
    assert!(combined(&out).contains("Unable to find image"), "{}", combined(&out));
    // zstd-compressed layers (skopeo compresses plain ones on push: those
    // are covered by docker-save loads and pier-image's registry tests).
    let tag = "zstd";
    let manifest = f.registry.get(&format!("/v2/test/multi/manifests/{tag}"), OCI_MANIFEST);
    assert!(manifest.contains("tar+zstd"), "{tag} layers in {manifest}");
    let image = format!("{host}/test/multi:{tag}");
    let out = d.docker(&["pull", &image]);
    assert!(out.status.success(), "{}\n{}", combined(&out), d.daemon_log());
    assert_eq!(d.docker_ok(&["run", "--rm", &image]).trim(), "hello from layer three");
    d.docker_ok(&["rmi", &image]);

    // An OCI image layout in a tar, as skopeo writes it.
    let layout = d.root.join("oci-archive.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/test/multi:oci"))
        .arg(format!("oci-archive:{}:{host}/test/from-layout:1", layout.display()))
        .output()
        .expect("skopeo copy to oci-archive");
    assert!(out.status.success(), "{}", combined(&out));
    let load = d.docker_ok(&["load", "-i", layout.to_str().expect("utf-8")]);
    assert!(
        load.contains(&format!("Loaded image: {host}/test/from-layout:1")),
        "{load}"
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            &format!("{host}/test/from-layout:1"),
            "cat",
            "/data/new.txt"
        ])
        .trim(),
        "hello from layer three"
    );
}

#[test]
fn credentials_from_docker_config_reach_an_authenticated_registry() {
    let registry = Registry::start_with(true);
    let work = tempfile::tempdir().expect("work dir");
    let mut layout = Layout::new(&work.path().join("layout"));
    let busybox = std::fs::read(busybox_tar(work.path())).expect("busybox tar");
    let image = layout.image("amd64", &[busybox], &["/bin/sh", "-c", "echo authenticated"]);
    layout.tag("auth", image);
    layout.finish();
    registry.push(&layout.dir, "auth", "private/app:1", &["--dest-creds", "alice:secret"]);

    let d = Daemon::start();
    let image = format!("{}/private/app:1", registry.host());
    let denied = d.docker(&["pull", &image]);
    assert!(!denied.status.success());
    assert!(
        combined(&denied).contains("pull access denied"),
        "{}",
        combined(&denied)
    );

    let config_dir = work.path().join("docker-config");
    std::fs::create_dir_all(&config_dir).expect("mkdir docker config");
    std::fs::write(
        config_dir.join("config.json"),
        json!({"auths": {registry.host(): {"auth": ALICE_AUTH}}}).to_string(),
    )
    .expect("write config.json");
    // docker's CLI sends X-Registry-Auth from its config.json.
    let out = d
        .docker_cmd(&["pull", &image])
        .env("DOCKER_CONFIG", &config_dir)
        .output()
        .expect("docker pull");
    assert!(out.status.success(), "{}\n{}", combined(&out), d.daemon_log());
    d.docker_ok(&["rmi", &image]);
    // So does pier's.
    let out = d
        .pier_cmd(&["run", "--rm", &image])
        .env("DOCKER_CONFIG", &config_dir)
        .output()
        .expect("pier run");
    assert!(out.status.success(), "{}\n{}", combined(&out), d.daemon_log());
    assert_eq!(stdout(&out), "authenticated");
}
