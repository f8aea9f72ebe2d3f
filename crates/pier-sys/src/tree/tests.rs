//! Hostile trees in a temp dir: symlinks to "host" paths outside the root,
//! FIFOs and devices where files are expected. No container needed.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// Stands for the host: nothing may be read, written or removed here.
    host: PathBuf,
}

const SECRET: &[u8] = b"host secret 5f1d";

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let host = tmp.path().join("host");
    std::fs::create_dir_all(root.join("etc")).expect("root");
    std::fs::create_dir_all(host.join("dir")).expect("host");
    std::fs::write(host.join("secret"), SECRET).expect("secret");
    std::fs::write(host.join("dir/keep"), SECRET).expect("keep");
    Fixture { _tmp: tmp, root, host }
}

fn mkfifo(p: &Path) {
    rfs::mknodat(rfs::CWD, p, FileType::Fifo, Mode::from_raw_mode(0o644), 0).expect("mkfifo");
}

#[test]
fn open_in_root_keeps_symlinks_and_dotdot_inside() {
    let f = fixture();
    symlink(&f.host, f.root.join("abs")).expect("symlink");
    symlink("../../../../../../..", f.root.join("up")).expect("symlink");
    std::fs::write(f.root.join("inside"), b"in").expect("inside");
    let root = Dir::open(&f.root).expect("open");
    let err = root
        .open_in_root(Path::new("abs/secret"), OFlags::RDONLY)
        .expect_err("host path must not resolve");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    let fd = root
        .open_in_root(Path::new("/up/inside"), OFlags::RDONLY)
        .expect("dotdot stops at the root");
    let mut s = String::new();
    File::from(fd).read_to_string(&mut s).expect("read");
    assert_eq!(s, "in");
    assert!(root.dir_in_root(Path::new("/")).is_ok());
}

#[test]
fn child_dir_and_open_file_never_follow() {
    let f = fixture();
    symlink(f.host.join("dir"), f.root.join("d")).expect("symlink dir");
    symlink(f.host.join("secret"), f.root.join("s")).expect("symlink file");
    mkfifo(&f.root.join("fifo"));
    std::fs::write(f.root.join("plain"), b"ok").expect("plain");
    let root = Dir::open(&f.root).expect("open");
    let e = root.child_dir(OsStr::new("d")).expect_err("symlinked dir");
    assert!(matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)), "{e}");
    assert!(root.open_file(OsStr::new("s"), None).expect("open").is_none());
    // A FIFO is opened without waiting and refused.
    assert!(root.open_file(OsStr::new("fifo"), None).expect("fifo").is_none());
    // The inode the walk saw, or nothing.
    let st = root.stat_at(OsStr::new("plain")).expect("stat");
    let (mut file, _) = root
        .open_file(OsStr::new("plain"), Some(&st))
        .expect("open")
        .expect("regular");
    let mut s = String::new();
    file.read_to_string(&mut s).expect("read");
    assert_eq!(s, "ok");
    std::fs::remove_file(f.root.join("plain")).expect("rm");
    std::fs::write(f.root.join("plain"), b"other").expect("rewrite");
    assert!(root.open_file(OsStr::new("plain"), Some(&st)).expect("open").is_none());
    for bad in ["", ".", "..", "a/b"] {
        assert!(root.stat_at(OsStr::new(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn names_are_sorted_and_read_from_the_fd() {
    let f = fixture();
    for n in ["b", "a", "c"] {
        std::fs::write(f.root.join(n), b"").expect("file");
    }
    let root = Dir::open(&f.root).expect("open");
    // Renaming the directory does not change what the fd lists.
    let moved = f.root.with_file_name("moved");
    std::fs::rename(&f.root, &moved).expect("rename");
    symlink(&f.host, &f.root).expect("swap for a symlink");
    assert_eq!(root.names().expect("names"), ["a", "b", "c", "etc"]);
}

#[test]
fn remove_all_removes_symlinks_not_their_targets() {
    let f = fixture();
    let t = f.root.join("tree");
    std::fs::create_dir_all(t.join("sub/deeper")).expect("tree");
    std::fs::write(t.join("sub/deeper/f"), b"x").expect("file");
    symlink(f.host.join("dir"), t.join("sub/link-to-host-dir")).expect("symlink");
    symlink(f.host.join("secret"), t.join("link-to-host-file")).expect("symlink");
    mkfifo(&t.join("fifo"));
    let root = Dir::open(&f.root).expect("open");
    root.remove_all(OsStr::new("tree")).expect("remove");
    assert!(!t.exists());
    assert_eq!(std::fs::read(f.host.join("dir/keep")).expect("kept"), SECRET);
    assert_eq!(std::fs::read(f.host.join("secret")).expect("kept"), SECRET);
    // A top-level symlink to a host directory: the link goes, the dir stays.
    symlink(f.host.join("dir"), f.root.join("top")).expect("symlink");
    root.remove_all(OsStr::new("top")).expect("remove link");
    assert!(f.host.join("dir/keep").exists());
    root.remove_all(OsStr::new("missing")).expect("missing is fine");
}

#[test]
fn create_never_through_symlinks() {
    let f = fixture();
    symlink(f.host.join("secret"), f.root.join("planted")).expect("symlink");
    symlink(f.host.join("dir"), f.root.join("planted-dir")).expect("symlink");
    let root = Dir::open(&f.root).expect("open");
    let e = root.create_file(OsStr::new("planted"), 0o644).expect_err("exists");
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    assert!(root.create_dir(OsStr::new("planted-dir"), 0o755).is_err());
    root.chown_at(OsStr::new("planted"), 1234, 1234)
        .expect("chown the link");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(f.host.join("secret")).expect("md").uid(), 0);
    assert_eq!(std::fs::read(f.host.join("secret")).expect("kept"), SECRET);
    let d = root.create_dir(OsStr::new("new"), 0o700).expect("mkdir");
    d.create_file(OsStr::new("f"), 0o600).expect("file");
    assert!(f.root.join("new/f").is_file());
}

#[test]
fn read_small_is_confined_capped_and_never_blocks() {
    let f = fixture();
    let etc = f.root.join("etc");
    std::fs::write(etc.join("passwd"), b"root:x:0:0::/root:/bin/sh\n").expect("passwd");
    let root = Dir::open(&f.root).expect("open");
    assert_eq!(
        read_small(&root, Path::new("/etc/passwd"), 1 << 20).expect("read"),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    // A symlink to the host's file is read inside the root: not there.
    symlink(f.host.join("secret"), etc.join("group")).expect("symlink");
    assert!(matches!(
        read_small(&root, Path::new("/etc/group"), 1 << 20),
        Err(ReadSmallError::NotFound)
    ));
    // A symlink to itself: a loop, not a host lookup.
    symlink("/etc/loop", etc.join("loop")).expect("symlink");
    assert!(matches!(
        read_small(&root, Path::new("/etc/loop"), 1 << 20),
        Err(ReadSmallError::NotRegular)
    ));
    // A FIFO: refused at once, no writer waited for.
    mkfifo(&etc.join("fifo"));
    assert!(matches!(
        read_small(&root, Path::new("etc/fifo"), 1 << 20),
        Err(ReadSmallError::NotRegular)
    ));
    // A device: never read.
    rfs::mknodat(
        rfs::CWD,
        etc.join("zero"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        rfs::makedev(1, 5),
    )
    .expect("mknod /dev/zero (needs root)");
    assert!(matches!(
        read_small(&root, Path::new("etc/zero"), 1 << 20),
        Err(ReadSmallError::NotRegular)
    ));
    std::fs::write(etc.join("big"), vec![b'x'; 4097]).expect("big");
    assert!(matches!(
        read_small(&root, Path::new("etc/big"), 4096),
        Err(ReadSmallError::TooLarge { cap: 4096 })
    ));
    assert!(matches!(
        read_small(&root, Path::new("etc/none"), 4096),
        Err(ReadSmallError::NotFound)
    ));
}
