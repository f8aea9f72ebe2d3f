//! Container name resolution on DNS networks through aardvark-dns, driven
//! as netavark drives it: one file per network under
//! `<config>/aardvark-dns/` (first line: the gateway addresses it listens
//! on; then one line per container: `id ipv4s ipv6s names`), one
//! aardvark-dns process for all of them (its pid in `aardvark.pid`),
//! started by the first entry, told of every change by SIGHUP, and ended
//! when the last file goes.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One container's line in a network's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub container_id: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    /// The container's name, then its aliases.
    pub names: Vec<String>,
}

impl Entry {
    fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.container_id,
            self.ipv4.join(","),
            self.ipv6.join(","),
            self.names.join(",")
        )
    }
}

/// A network file's new text: `entry` replacing any line of its container
/// (`None` removes it); `None` when no container is left.
pub fn edit(old: &str, gateways: &[String], container_id: &str, entry: Option<&Entry>) -> Option<String> {
    let mut lines: Vec<String> = old
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty() && l.split(' ').next() != Some(container_id))
        .map(str::to_string)
        .collect();
    if let Some(e) = entry {
        lines.push(e.line());
    }
    if lines.is_empty() {
        return None;
    }
    let mut out = gateways.join(",");
    out.push('\n');
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    Some(out)
}

/// The aardvark-dns of one config directory.
#[derive(Debug, Clone)]
pub struct Aardvark {
    pub binary: PathBuf,
    /// `<config>/aardvark-dns`.
    pub dir: PathBuf,
}

impl Aardvark {
    fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.join("aardvark.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        // Alive and still aardvark (not a zombie, not a reused pid).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(") ").map(|(_, s)| s.chars().next())?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        (state != Some('Z') && exe.file_name() == self.binary.file_name()).then_some(pid)
    }

    /// Write network `network`'s file with `entry` for `container_id` (or
    /// without it), then start aardvark-dns or have it reload.
    pub fn update(
        &self,
        network: &str,
        gateways: &[String],
        container_id: &str,
        entry: Option<&Entry>,
    ) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(network);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        match edit(&old, gateways, container_id, entry) {
            Some(text) => write_atomic(&path, &text)?,
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            },
        }
        let networks_left = std::fs::read_dir(&self.dir)?
            .flatten()
            .any(|e| !e.file_name().to_string_lossy().starts_with("aardvark"));
        match (self.pid(), networks_left) {
            (Some(pid), true) => signal(pid, nix::sys::signal::Signal::SIGHUP),
            (Some(pid), false) => {
                signal(pid, nix::sys::signal::Signal::SIGTERM)?;
                let _ = std::fs::remove_file(self.dir.join("aardvark.pid"));
                Ok(())
            }
            (None, true) => self.start(),
            (None, false) => Ok(()),
        }
    }

    /// aardvark-dns daemonizes: its first process returns once the server
    /// listens.
    fn start(&self) -> io::Result<()> {
        let status = Command::new(&self.binary)
            .arg("--config")
            .arg(&self.dir)
            .args(["-p", "53", "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("aardvark-dns failed to start ({status})")));
        }
        Ok(())
    }
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) -> io::Result<()> {
    // The pid comes from aardvark's own pid file, checked to be
    // aardvark-dns just before.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).map_err(io::Error::from)
}

fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp-pier");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, ip: &str) -> Entry {
        Entry {
            container_id: id.into(),
            ipv4: vec![ip.into()],
            ipv6: vec![],
            names: vec!["web".into(), "www".into()],
        }
    }

    #[test]
    fn entries_come_and_go() {
        let gw = vec!["10.1.0.1".to_string()];
        let one = edit("", &gw, "aa", Some(&entry("aa", "10.1.0.2"))).expect("text");
        assert_eq!(one, "10.1.0.1\naa 10.1.0.2  web,www\n");
        let two = edit(&one, &gw, "bb", Some(&entry("bb", "10.1.0.3"))).expect("text");
        assert_eq!(two.lines().count(), 3);
        // Replacing keeps one line per container.
        let again = edit(&two, &gw, "aa", Some(&entry("aa", "10.1.0.9"))).expect("text");
        assert_eq!(again.matches("aa ").count(), 1);
        assert!(again.contains("aa 10.1.0.9  web,www"));
        let less = edit(&again, &gw, "bb", None).expect("text");
        assert!(!less.contains("bb "));
        assert_eq!(edit(&less, &gw, "aa", None), None);
    }
}
