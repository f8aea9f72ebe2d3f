//! End-to-end: container logs (issue 6) — the docker CLI and the pier CLI
//! print the same bytes for every `logs` flag, rotation and compression are
//! read across in order, `-f` crosses rotations, lines written while pierd
//! is down are kept, the log configuration is validated and shown as
//! dockerd does, and a full disk neither blocks the container nor tears the
//! log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn running(d: &Daemon, name: &str) -> bool {
    let (st, v) = d.http_json("GET", &format!("/containers/{name}/json"), None);
    assert_eq!(st, 200, "inspect {name}: {v}");
    v["State"]["Running"].as_bool().expect("State.Running")
}

fn wait_exited(d: &Daemon, name: &str, secs: u64) {
    assert!(
        wait_until(Duration::from_secs(secs), || !running(d, name)),
        "{name} still running after {secs}s"
    );
}

/// `docker logs` and `pier logs` with the same flags print the same bytes
/// on stdout and on stderr; returns pier's stdout.
fn same_logs(d: &Daemon, flags: &[&str], name: &str) -> String {
    let mut args = vec!["logs"];
    args.extend_from_slice(flags);
    args.push(name);
    let p = d.pier(&args);
    let k = d.docker(&args);
    assert!(p.status.success(), "pier {args:?}: {}", err(&p));
    assert!(k.status.success(), "docker {args:?}: {}", err(&k));
    assert!(
        p.stdout == k.stdout,
        "stdout of {args:?} differs:\npier:   {:?}\ndocker: {:?}",
        out(&p),
        out(&k)
    );
    assert!(
        p.stderr == k.stderr,
        "stderr of {args:?} differs:\npier:   {:?}\ndocker: {:?}",
        err(&p),
        err(&k)
    );
    out(&p)
}

fn log_path(d: &Daemon, name: &str) -> PathBuf {
    let (_, v) = d.http_json("GET", &format!("/containers/{name}/json"), None);
    PathBuf::from(v["LogPath"].as_str().expect("LogPath"))
}

/// Asserts `got == want` showing only where they first differ.
fn same_seq(got: &[u32], want: &[u32], what: &str) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let show = |v: &[u32]| format!("{:?}", &v[at.saturating_sub(3)..(at + 5).min(v.len())]);
    panic!(
        "{what}: {} numbers, want {}; first difference at index {at}: got {} want {}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    );
}

fn numbers(text: &str) -> Vec<u32> {
    text.lines()
        .map(|l| l.trim().parse().unwrap_or_else(|_| panic!("not a number line: {l:?}")))
        .collect()
}

#[test]
fn docker_cli_and_pier_cli_print_the_same_bytes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let script = "i=0; while [ $i -lt 5 ]; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.3; done; \
                  yes x | head -c 40000 | tr -d '\\n'; echo; printf 'no newline'";
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "cc",
        "-l",
        "app=web",
        "-e",
        "MODE=prod",
        "--log-opt",
        "labels=app",
        "--log-opt",
        "env=MODE",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    wait_exited(&d, "cc", 20);

    let all = same_logs(&d, &[], "cc");
    let long = "x".repeat(20000);
    assert_eq!(
        all,
        format!("out 0\nout 1\nout 2\nout 3\nout 4\n{long}\nno newline"),
        "a line over 16 KiB is rejoined, the last line without newline is kept"
    );
    let p = d.pier(&["logs", "cc"]);
    assert_eq!(err(&p), "err 0\nerr 1\nerr 2\nerr 3\nerr 4\n");

    let ts = same_logs(&d, &["-t"], "cc");
    let stamps: Vec<&str> = ts.lines().map(|l| l.split(' ').next().expect("stamp")).collect();
    for s in &stamps {
        assert_eq!(s.len(), 30, "RFC 3339 with 9 fixed decimals: {s}");
        assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
    }
    assert_eq!(
        ts.lines().nth(5).expect("long line").len(),
        31 + 20000,
        "one stamp per rejoined line"
    );
    let (since, until) = (stamps[2], stamps[3]);

    for flags in [
        &["--tail", "3"][..],
        &["--tail", "0"],
        &["--tail", "all"],
        &["-n", "1", "-t"],
        &["--since", since],
        &["--until", until],
        &["--since", since, "--until", until, "-t"],
        &["--since", "10m"],
        &["--details"],
        &["--details", "-t", "--tail", "2"],
    ] {
        same_logs(&d, flags, "cc");
    }
    assert_eq!(same_logs(&d, &["--tail", "2"], "cc"), format!("{long}\nno newline"));
    assert_eq!(same_logs(&d, &["--tail", "0"], "cc"), "");
    assert_eq!(
        same_logs(&d, &["--since", since], "cc"),
        format!("out 2\nout 3\nout 4\n{long}\nno newline")
    );
    assert_eq!(same_logs(&d, &["--until", until], "cc"), "out 0\nout 1\nout 2\nout 3\n");
    assert_eq!(
        same_logs(&d, &["--details", "--tail", "1"], "cc"),
        "MODE=prod,app=web no newline"
    );
    // `-f` on a stopped container prints everything and ends.
    assert_eq!(same_logs(&d, &["-f"], "cc"), all);
    let ndjson = std::fs::read_to_string(log_path(&d, "cc")).expect("read log");
    assert!(
        ndjson.contains(r#"{"log":"out 0\n","stream":"stdout","attrs":{"MODE":"prod","app":"web"},"time":""#),
        "{}",
        &ndjson[..200]
    );
}

#[test]
fn rotated_and_compressed_files_are_read_in_order() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "rr",
        "--log-opt",
        "max-size=8k",
        "--log-opt",
        "max-file=500",
        "--log-opt",
        "compress=true",
        "busybox",
        "seq",
        "1",
        "20000",
    ]);
    wait_exited(&d, "rr", 30);
    let path = log_path(&d, "rr");
    let dir = path.parent().expect("log dir");
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("read log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let gz = names.iter().filter(|n| n.ends_with(".gz")).count();
    assert!(gz > 50, "rotated files are gzipped: {names:?}");
    assert!(
        std::fs::metadata(&path).expect("live log").len() <= 8 << 10,
        "live file stays under max-size"
    );
    let expected: Vec<u32> = (1..=20000).collect();
    same_seq(&numbers(&same_logs(&d, &[], "rr")), &expected, "all");
    same_seq(
        &numbers(&same_logs(&d, &["--tail", "500"], "rr")),
        &expected[19500..],
        "tail 500",
    );
    same_seq(
        &numbers(&same_logs(&d, &["--tail", "15000"], "rr")),
        &expected[5000..],
        "tail 15000",
    );
    let t = same_logs(&d, &["-t", "--tail", "20000"], "rr");
    assert_eq!(t.lines().count(), 20000);

    // max-file bounds what is kept: the oldest files go.
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "kk",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "seq",
        "1",
        "10000",
    ]);
    wait_exited(&d, "kk", 30);
    let kp = log_path(&d, "kk");
    let kd = kp.parent().expect("dir");
    let logs: Vec<String> = std::fs::read_dir(kd)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    let kept = numbers(&same_logs(&d, &[], "kk"));
    assert_eq!(kept.last(), Some(&10000));
    assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "contiguous tail");
    assert!(kept.len() < 1000);
}

/// Spawns `cli logs -f name` with stdout to a file.
fn follow(d: &Daemon, cli: &str, name: &str, to: &Path) -> std::process::Child {
    let file = std::fs::File::create(to).expect("create output file");
    let mut cmd = if cli == "docker" {
        d.docker_cmd(&["logs", "-f", name])
    } else {
        d.pier_cmd(&["logs", "-f", name])
    };
    cmd.stdout(file).stderr(Stdio::piped()).spawn().expect("spawn logs -f")
}

fn wait_child(mut c: std::process::Child, secs: u64) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(Duration::from_secs(secs), || {
        status = c.try_wait().expect("wait logs -f");
        status.is_some()
    });
    status.unwrap_or_else(|| {
        let _ = c.kill();
        let _ = c.wait();
        panic!("logs -f did not end {secs}s after the container");
    })
}

#[test]
fn follow_crosses_rotations_without_loss_and_ends_with_the_container() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let script =
        "sleep 1; j=0; while [ $j -lt 20 ]; do seq $((j*500+1)) $((j*500+500)); j=$((j+1)); usleep 100000; done";
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=1000",
        "--log-opt",
        "compress=true",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let p_out = d.root.join("pier-follow.out");
    let k_out = d.root.join("docker-follow.out");
    let p = follow(&d, "pier", "ff", &p_out);
    let k = follow(&d, "docker", "ff", &k_out);
    wait_exited(&d, "ff", 60);
    assert!(wait_child(p, 10).success());
    assert!(wait_child(k, 10).success());
    let expected: Vec<u32> = (1..=10000).collect();
    let pier_text = std::fs::read_to_string(&p_out).expect("pier output");
    same_seq(&numbers(&pier_text), &expected, "pier logs -f");
    same_seq(
        &numbers(&std::fs::read_to_string(&k_out).expect("docker output")),
        &expected,
        "docker logs -f",
    );
    assert_eq!(same_logs(&d, &[], "ff"), pier_text);

    // Following from the end of a live container: new lines only.
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "gg",
        "busybox",
        "sh",
        "-c",
        "echo old; sleep 2; echo new",
    ]);
    assert!(wait_until(Duration::from_secs(10), || d.pier_ok(&["logs", "gg"]) == "old\n"));
    let g_out = d.root.join("g.out");
    let file = std::fs::File::create(&g_out).expect("create");
    let g = d
        .pier_cmd(&["logs", "-f", "--tail", "0", "gg"])
        .stdout(file)
        .spawn()
        .expect("spawn");
    assert!(wait_child(g, 20).success());
    assert_eq!(std::fs::read_to_string(&g_out).expect("read"), "new\n");
}

#[test]
fn lines_written_while_pierd_is_down_are_kept() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "ww",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=100",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo $i; i=$((i+1)); usleep 10000; done",
    ]);
    let id = id.trim();
    assert!(
        wait_until(Duration::from_secs(10), || d.log_lines(id) >= 30),
        "the container is writing"
    );
    d.kill9();
    let at_kill = d.log_lines(id);
    assert!(
        wait_until(Duration::from_secs(10), || d.log_lines(id) >= at_kill + 50),
        "the container kept writing (and rotating) while pierd was down"
    );
    d.start_again();
    wait_exited(&d, "ww", 30);
    let expected: Vec<u32> = (0..300).collect();
    same_seq(&numbers(&same_logs(&d, &[], "ww")), &expected, "logs");
}

#[test]
fn log_config_is_validated_and_shown_as_dockerd_does() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        let run = |args: &[&str]| if cli == "docker" { d.docker(args) } else { d.pier(args) };
        let o = run(&["create", "--log-opt", "bogus=1", "busybox", "true"]);
        assert!(!o.status.success());
        assert!(
            err(&o).contains("unknown log opt 'bogus' for json-file log driver"),
            "{cli}: {}",
            err(&o)
        );
        let o = run(&["create", "--log-driver", "nope", "busybox", "true"]);
        assert!(!o.status.success());
        assert!(
            err(&o).contains("logger: no log driver named 'nope' is registered"),
            "{cli}: {}",
            err(&o)
        );
        let o = run(&["create", "--log-opt", "max-size=huge", "busybox", "true"]);
        assert!(!o.status.success(), "{cli}: bad max-size accepted");
    }
    let (st, _) = d.http_json(
        "POST",
        "/containers/create",
        Some(br#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"x":"1"}}}}"#),
    );
    assert_eq!(st, 400);

    d.pier_ok(&["create", "--name", "def", "busybox", "true"]);
    let (_, v) = d.http_json("GET", "/containers/def/json", None);
    assert_eq!(
        v["HostConfig"]["LogConfig"],
        serde_json::json!({"Type":"json-file","Config":{}}),
        "rotation is on by default, not shown (lifecycle_semantics checks it applies)"
    );
    assert!(v["LogPath"].as_str().expect("LogPath").ends_with("-json.log"));

    d.pier_ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    for cli in ["pier", "docker"] {
        let o = if cli == "docker" {
            d.docker(&["logs", "quiet"])
        } else {
            d.pier(&["logs", "quiet"])
        };
        assert_eq!(o.status.code(), Some(1), "{cli}");
        assert!(
            err(&o).contains("configured logging driver does not support reading"),
            "{cli}: {}",
            err(&o)
        );
    }
    assert!(!log_path(&d, "quiet").exists(), "the none driver writes no file");

    d.pier_ok(&[
        "run",
        "--name",
        "unb",
        "--log-opt",
        "max-size=-1",
        "busybox",
        "seq",
        "1",
        "3",
    ]);
    let (_, v) = d.http_json("GET", "/containers/unb/json", None);
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-size"], "-1");
}

#[test]
fn daemon_wide_log_config_applies() {
    let mut d = Daemon::builder()
        .config(r#"{"log-driver":"json-file","log-opts":{"max-size":"2k","max-file":"3"}}"#)
        .build();
    d.start_again();
    d.import_busybox("busybox");
    d.pier_ok(&["run", "--name", "aa", "busybox", "seq", "1", "1000"]);
    let (_, v) = d.http_json("GET", "/containers/aa/json", None);
    assert_eq!(
        v["HostConfig"]["LogConfig"],
        serde_json::json!({"Type":"json-file","Config":{"max-file":"3","max-size":"2k"}})
    );
    let p = log_path(&d, "aa");
    assert!(PathBuf::from(format!("{}.2", p.display())).exists());
    assert!(!PathBuf::from(format!("{}.3", p.display())).exists());
    assert_eq!(same_logs(&d, &["--tail", "1"], "aa"), "1000\n");
    // The container's own options win; the daemon's fill the rest in.
    d.pier_ok(&["create", "--name", "bb", "--log-opt", "max-file=7", "busybox", "true"]);
    let (_, v) = d.http_json("GET", "/containers/bb/json", None);
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Config"],
        serde_json::json!({"max-file":"7","max-size":"2k"})
    );
    drop(d);

    let mut d = Daemon::builder().config(r#"{"log-driver":"none"}"#).build();
    d.start_again();
    d.import_busybox("busybox");
    d.pier_ok(&["run", "--name", "nn", "busybox", "echo", "hi"]);
    let o = d.docker(&["logs", "nn"]);
    assert!(err(&o).contains("configured logging driver does not support reading"));
    let o = d.docker(&["info", "--format", "{{.LoggingDriver}}"]);
    assert_eq!(out(&o).trim(), "none");
}

#[test]
fn cri_driver_writes_cri_lines_and_logs_reads_them() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "--name",
        "kube",
        "--log-driver",
        "cri",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=50",
        "busybox",
        "sh",
        "-c",
        "seq 1 500; echo oops >&2; printf tail",
    ]);
    let path = log_path(&d, "kube");
    let text = std::fs::read_to_string(&path).expect("read live log");
    let last: Vec<&str> = text.lines().rev().take(2).collect();
    assert!(last[0].ends_with(" stdout P tail"), "{last:?}");
    assert!(last[1].ends_with(" stderr F oops"), "{last:?}");
    assert!(PathBuf::from(format!("{}.1", path.display())).exists(), "rotated");
    let out = same_logs(&d, &[], "kube");
    let want: String = (1..=500).map(|i| format!("{i}\n")).collect::<String>() + "tail";
    assert_eq!(out, want);
    same_logs(&d, &["-t", "--tail", "5"], "kube");
    assert_eq!(
        same_logs(&d, &["--tail", "3"], "kube"),
        "500\ntail",
        "oops went to stderr"
    );
    let (_, v) = d.http_json("GET", "/containers/kube/json", None);
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "cri");
}

/// Unmounts a mount point on drop (also when the test fails).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

fn avail_bytes(path: &Path) -> u64 {
    let o = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(path)
        .output()
        .expect("stat -f");
    let s = out(&o);
    let mut it = s.split_whitespace().map(|v| v.parse::<u64>().expect("number"));
    it.next().expect("blocks") * it.next().expect("block size")
}

#[test]
fn a_full_disk_neither_blocks_the_container_nor_tears_the_log() {
    let mut d = Daemon::builder().config("{}").build();
    std::fs::create_dir_all(&d.data_root).expect("data root");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&d.data_root)
        .status()
        .expect("mount tmpfs");
    assert!(st.success(), "mount a 24 MiB tmpfs data root");
    let _unmount = Unmount(d.data_root.clone());
    d.start_again();
    d.import_busybox("busybox");
    // 36 MB of output into ~1 MiB of space, then a pause, then one more line.
    d.pier_ok(&[
        "create",
        "--name",
        "full",
        "--log-opt",
        "max-size=-1",
        "busybox",
        "sh",
        "-c",
        "sleep 1; seq 1 600000; sleep 3; echo after",
    ]);
    // Fill the disk but for ~1 MiB; the filler is removed later.
    let filler = d.data_root.join("filler");
    let free = avail_bytes(&d.data_root);
    let fill = free.saturating_sub(1 << 20);
    let st = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "status=none"])
        .arg(format!("of={}", filler.display()))
        .arg(format!("count={}", fill / (64 << 10)))
        .status()
        .expect("dd");
    assert!(st.success());
    d.pier_ok(&["start", "full"]);
    // The container is not blocked: it gets past its output quickly.
    assert!(
        wait_until(Duration::from_secs(30), || {
            let logged = std::fs::metadata(log_path(&d, "full")).map(|m| m.len()).unwrap_or(0);
            logged > 0 && !d.pier(&["exec", "full", "pidof", "seq"]).status.success()
        }),
        "the container blocked on its stdout with the disk full"
    );
    let left = avail_bytes(&d.data_root);
    let logged = std::fs::metadata(log_path(&d, "full")).map(|m| m.len()).unwrap_or(0);
    assert!(
        left < 256 << 10,
        "the disk filled up: {left} bytes free, log {logged} bytes"
    );
    std::fs::remove_file(&filler).expect("remove filler");
    wait_exited(&d, "full", 30);
    let o = d.pier(&["logs", "full"]);
    assert!(o.status.success(), "a reader never fails on a torn line: {}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"after"), "writing resumes when space is back");
    // Every line is whole: a number from the sequence, in order.
    let nums: Vec<u32> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("torn line {l:?}")))
        .collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]));
    assert!(nums.len() < 600000, "some output was dropped");
    let e = err(&o);
    assert!(
        e.contains("pier: log write failed,") && e.contains("bytes of log records were dropped"),
        "one marker record says what was lost: {e:?}"
    );
    assert_eq!(e.matches("pier: log write failed").count(), 1);
    drop(d);
}

#[test]
fn rotated_files_are_compressed_while_the_container_idles() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // A burst that rotates a few times, then silence: the shim gzips the
    // rotated files in idle slices, without waiting for new output or exit.
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "idle",
        "--log-opt",
        "max-size=256k",
        "--log-opt",
        "max-file=4",
        "--log-opt",
        "compress=true",
        "busybox",
        "sh",
        "-c",
        "seq 1 200000; sleep 1000",
    ]);
    let path = log_path(&d, "idle");
    let dir = path.parent().expect("log dir").to_path_buf();
    let settled = wait_until(Duration::from_secs(20), || {
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let gz = names.iter().filter(|n| n.ends_with(".gz")).count();
        let plain_rotated = names
            .iter()
            .filter(|n| n.contains("-json.log.") && !n.contains(".gz"))
            .count();
        gz == 3 && plain_rotated == 0
    });
    assert!(
        settled,
        "rotated files gzipped while idle: {:?}",
        std::fs::read_dir(&dir).map(|r| r.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    assert!(running(&d, "idle"), "the container is still running");
    d.pier_ok(&["rm", "-f", "idle"]);
}
