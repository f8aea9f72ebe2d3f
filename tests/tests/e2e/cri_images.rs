//! End-to-end: the Kubernetes CRI server (issue 17): `Version`, `Status` and
//! the `ImageService`, driven through its gRPC socket with the Rust client
//! of `pier-cri-api`, against a real pierd and a local `docker-registry`
//! reached through `cri.registry-hosts` (the host map the Docker API's
//! pulls use too).

use std::path::{Path, PathBuf};

use pier_cri_api::tonic::{transport::Channel, Code};
use pier_cri_api::v1 as cri;
use pier_cri_api::v1::image_service_client::ImageServiceClient;
use pier_cri_api::v1::runtime_service_client::RuntimeServiceClient;
use pier_testkit::rootfs::tar_file as busybox_tar;
use pier_testkit::Daemon;
use serde_json::json;

use super::images::{Layout, Registry};

/// A short temp dir for the CRI socket (unix socket paths are short).
pub(crate) fn socket_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pc")
        .tempdir_in("/tmp")
        .expect("CRI socket dir")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Both CRI clients on `socket`.
pub(crate) struct Cri {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) runtime: RuntimeServiceClient<Channel>,
    pub(crate) images: ImageServiceClient<Channel>,
}

impl Cri {
    pub(crate) fn connect(socket: &Path, d: &Daemon) -> Cri {
        let rt = runtime();
        let channel = rt
            .block_on(pier_cri_api::connect_unix(socket.to_path_buf()))
            .unwrap_or_else(|e| panic!("connect {}: {e}\n{}", socket.display(), d.daemon_log()));
        Cri {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        }
    }

    fn spec(name: &str) -> Option<cri::ImageSpec> {
        Some(cri::ImageSpec {
            image: name.to_string(),
            ..Default::default()
        })
    }

    /// The pulled image's id, or the error's code and message.
    fn pull(&mut self, name: &str, auth: Option<cri::AuthConfig>) -> Result<String, (Code, String)> {
        let req = cri::PullImageRequest {
            image: Self::spec(name),
            auth,
            sandbox_config: None,
        };
        let images = &mut self.images;
        self.rt
            .block_on(images.pull_image(req))
            .map(|r| r.into_inner().image_ref)
            .map_err(|e| (e.code(), e.message().to_string()))
    }

    fn status(&mut self, name: &str) -> Option<cri::Image> {
        let req = cri::ImageStatusRequest {
            image: Self::spec(name),
            verbose: false,
        };
        let images = &mut self.images;
        self.rt
            .block_on(images.image_status(req))
            .unwrap_or_else(|e| panic!("ImageStatus {name}: {e}"))
            .into_inner()
            .image
    }

    fn list(&mut self, filter: &str) -> Vec<cri::Image> {
        let filter = (!filter.is_empty()).then(|| cri::ImageFilter {
            image: Self::spec(filter),
        });
        let images = &mut self.images;
        self.rt
            .block_on(images.list_images(cri::ListImagesRequest { filter }))
            .expect("ListImages")
            .into_inner()
            .images
    }

    fn remove(&mut self, name: &str) {
        let images = &mut self.images;
        self.rt
            .block_on(images.remove_image(cri::RemoveImageRequest {
                image: Self::spec(name),
            }))
            .unwrap_or_else(|e| panic!("RemoveImage {name}: {e}"));
    }
}

#[test]
fn cri_version_and_status_beside_the_docker_api() {
    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let mut d = Daemon::builder()
        .args(&["--cri-socket", &format!("unix://{}", socket.display())])
        .start();
    let mut c = Cri::connect(&socket, &d);
    let rt = &c.rt;
    let v = rt
        .block_on(c.runtime.version(cri::VersionRequest {
            version: "0.1.0".into(),
        }))
        .expect("Version")
        .into_inner();
    assert_eq!(v.runtime_name, "pier");
    assert_eq!(v.runtime_api_version, "v1");
    assert_eq!(v.version, "0.1.0");
    assert!(!v.runtime_version.is_empty());

    let s = rt
        .block_on(c.runtime.status(cri::StatusRequest { verbose: true }))
        .expect("Status")
        .into_inner();
    let conditions = s.status.expect("conditions").conditions;
    let ready = |t: &str| {
        conditions
            .iter()
            .find(|c| c.r#type == t)
            .map(|c| (c.status, c.reason.clone()))
    };
    assert_eq!(ready("RuntimeReady"), Some((true, String::new())));
    // The testkit gives CRI daemons a loopback-only CNI network.
    assert_eq!(ready("NetworkReady"), Some((true, String::new())));
    assert!(s.info["config"].contains("registry.k8s.io/pause:3.9"), "{:?}", s.info);

    // What is not built yet says so.
    let err = rt
        .block_on(
            c.runtime
                .checkpoint_container(cri::CheckpointContainerRequest::default()),
        )
        .expect_err("CheckpointContainer is not implemented");
    assert_eq!(err.code(), Code::Unimplemented);

    // The Docker API is unaffected.
    assert_eq!(d.request("GET", "/_ping", None).text(), "OK");
    drop(c);
    d.stop();
    assert!(!socket.exists(), "pierd removes its CRI socket when it stops");
}

#[test]
fn cri_is_off_unless_configured() {
    let d = Daemon::start();
    let sockets: Vec<PathBuf> = walk_sockets(&d.root);
    assert_eq!(sockets, vec![d.sock.clone()], "only the API socket: {sockets:?}");
}

fn walk_sockets(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_socket() {
                out.push(e.path());
            }
        }
    }
    out
}

/// A registry holding `library/cribox:latest` (user 1000) and
/// `pause:3.9` (user nobody), both busybox.
pub(crate) fn registry_with_images(work: &Path) -> Registry {
    let registry = Registry::start();
    let busybox = std::fs::read(busybox_tar(work)).expect("busybox tar");
    let mut layout = Layout::new(&work.join("layout"));
    layout.user = "1000".into();
    let cribox = layout.image("amd64", std::slice::from_ref(&busybox), &["/bin/sh"]);
    layout.tag("cribox", cribox);
    layout.user = "nobody".into();
    let pause = layout.image(
        "amd64",
        &[busybox],
        &["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    layout.tag("pause", pause);
    layout.finish();
    registry.push(&layout.dir, "cribox", "library/cribox:latest", &[]);
    registry.push(&layout.dir, "pause", "pause:3.9", &[]);
    registry
}

#[test]
fn cri_images_pull_through_the_host_map_status_list_remove() {
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let endpoint = format!("http://{}", registry.host());
    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let config = json!({"cri": {
        "socket": format!("unix://{}", socket.display()),
        "registry-hosts": {"docker.io": endpoint, "registry.k8s.io": endpoint},
    }});
    let d = Daemon::builder().config(&config.to_string()).start();
    let mut c = Cri::connect(&socket, &d);

    // No tag means latest, no registry docker.io (sent to the local registry).
    let id = c
        .pull("cribox", None)
        .unwrap_or_else(|e| panic!("pull cribox: {e:?}\n{}", d.daemon_log()));
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let image = c.status("cribox").expect("cribox is there");
    assert_eq!(image.id, id);
    assert_eq!(image.repo_tags, vec!["docker.io/library/cribox:latest"]);
    assert_eq!(image.repo_digests.len(), 1, "{:?}", image.repo_digests);
    assert!(image.repo_digests[0].starts_with("docker.io/library/cribox@sha256:"));
    assert_eq!(image.uid, Some(cri::Int64Value { value: 1000 }));
    assert_eq!(image.username, "");
    assert!(image.size > 100_000, "busybox is not {} bytes", image.size);
    // The same image by tag, id, bare hex and digest.
    let digest = image.repo_digests[0].clone();
    for name in [
        "docker.io/library/cribox:latest",
        "cribox:latest",
        &id,
        &id[7..],
        &digest,
    ] {
        assert_eq!(c.status(name).map(|i| i.id), Some(id.clone()), "by {name}");
    }
    assert_eq!(c.status("cribox:other"), None);
    assert_eq!(c.status("nothere"), None);

    let pause_id = c.pull("registry.k8s.io/pause:3.9", None).expect("pull pause");
    let pause = c.status("registry.k8s.io/pause:3.9").expect("pause");
    assert_eq!((pause.uid, pause.username.as_str()), (None, "nobody"));
    assert_eq!(pause.id, pause_id);

    let mut all: Vec<String> = c.list("").into_iter().map(|i| i.id).collect();
    all.sort();
    let mut want = vec![id.clone(), pause_id.clone()];
    want.sort();
    assert_eq!(all, want);
    let only: Vec<String> = c.list("cribox").into_iter().map(|i| i.id).collect();
    assert_eq!(only, vec![id.clone()]);
    assert!(c.list("nothere").is_empty());

    // Not in the registry: NOT_FOUND.
    let err = c.pull("registry.k8s.io/missing:1", None).expect_err("missing image");
    assert_eq!(err.0, Code::NotFound, "{err:?}");

    // The filesystem holding images.
    let fs =
        c.rt.block_on(c.images.image_fs_info(cri::ImageFsInfoRequest {}))
            .expect("ImageFsInfo")
            .into_inner();
    let usage = &fs.image_filesystems[0];
    assert_eq!(
        usage.fs_id.as_ref().map(|f| f.mountpoint.clone()),
        Some(d.data_root.join("image").display().to_string())
    );
    assert!(usage.used_bytes.as_ref().is_some_and(|u| u.value > 100_000));
    assert!(usage.inodes_used.as_ref().is_some_and(|u| u.value > 1));

    // Remove; removing again (or something never there) succeeds.
    c.remove("registry.k8s.io/pause:3.9");
    assert_eq!(c.status(&pause_id), None);
    c.remove("registry.k8s.io/pause:3.9");
    c.remove("nothere");

    // The Docker API's pulls follow the same host map.
    d.docker_ok(&["pull", "registry.k8s.io/pause:3.9"]);
    assert_eq!(c.status("registry.k8s.io/pause:3.9").map(|i| i.id), Some(pause_id));
    c.remove(&id);
    assert_eq!(c.status("cribox"), None);
}

#[test]
fn cri_pull_with_auth_config() {
    let work = tempfile::tempdir().expect("work dir");
    let registry = Registry::start_with(true);
    let busybox = std::fs::read(busybox_tar(work.path())).expect("busybox tar");
    let mut layout = Layout::new(&work.path().join("layout"));
    let image = layout.image("amd64", &[busybox], &["/bin/sh"]);
    layout.tag("auth", image);
    layout.finish();
    registry.push(&layout.dir, "auth", "private/app:1", &["--dest-creds", "alice:secret"]);

    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let d = Daemon::builder()
        .args(&["--cri-socket", &format!("unix://{}", socket.display())])
        .start();
    let mut c = Cri::connect(&socket, &d);
    let name = format!("{}/private/app:1", registry.host());
    let err = c.pull(&name, None).expect_err("no credentials");
    assert_ne!(err.0, Code::Ok);
    let wrong = cri::AuthConfig {
        username: "alice".into(),
        password: "wrong".into(),
        ..Default::default()
    };
    assert!(c.pull(&name, Some(wrong)).is_err());
    let id = c
        .pull(
            &name,
            Some(cri::AuthConfig {
                username: "alice".into(),
                password: "secret".into(),
                ..Default::default()
            }),
        )
        .unwrap_or_else(|e| panic!("pull with auth: {e:?}\n{}", d.daemon_log()));
    assert_eq!(c.status(&name).map(|i| i.id), Some(id.clone()));
    c.remove(&id);
    // `auth` (base64 user:password) works too.
    let id2 = c
        .pull(
            &name,
            Some(cri::AuthConfig {
                auth: super::images::ALICE_AUTH.into(),
                ..Default::default()
            }),
        )
        .expect("pull with auth");
    assert_eq!(id2, id);
}
