//! `pier cp`: copy files between a container and the local filesystem, with
//! docker's rules for where things land (an existing directory receives the
//! source by name; a missing destination becomes the copy; `SRC/.` copies a
//! directory's content), `-` for a tar stream on stdin/stdout.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use pier_api::volume::file_mode;
use pier_client::Client;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Suppress progress output during copy
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    #[arg(value_name = "SRC")]
    pub src: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `container:path` (a local path with a `/` before any `:` is local).
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

/// The last element of a path (`/a/b/` -> `b`, `/` -> ``).
fn base_name(p: &str) -> String {
    let t = p.trim_end_matches('/');
    t.rsplit('/').next().unwrap_or("").to_string()
}

fn parent_of(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

/// Where an entry named `name` (relative, from the source archive whose top
/// element is `from`) lands: the top element renamed to `to` (empty `to`:
/// drop it, the content case). `None` for an entry that would escape.
pub fn rebase(name: &Path, from: &str, to: &str) -> Option<PathBuf> {
    let mut comps = name.components().filter(|c| !matches!(c, Component::CurDir));
    let mut out = PathBuf::new();
    match comps.next() {
        Some(Component::Normal(first)) if first.to_string_lossy() == from || from.is_empty() => {
            if from.is_empty() {
                out.push(first);
            } else if !to.is_empty() {
                out.push(to);
            }
        }
        Some(Component::Normal(first)) => out.push(first),
        None => {
            if !to.is_empty() {
                out.push(to);
            }
            return Some(out);
        }
        _ => return None,
    }
    for c in comps {
        match c {
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

pub fn cp(client: &Client, a: &CpArgs) -> anyhow::Result<i32> {
    match (split_container(&a.src), split_container(&a.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, p)), None) => copy_from(client, c, p, &a.dest),
        (None, Some((c, p))) => copy_to(client, &a.src, c, p, a.archive),
    }
}

fn copy_from(client: &Client, container: &str, src: &str, dest: &str) -> anyhow::Result<i32> {
    let src = if src.starts_with('/') {
        src.to_string()
    } else {
        format!("/{src}")
    };
    let (stat, mut resp) = client.archive_get(container, &src)?;
    if dest == "-" {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut resp.body, &mut out).context("write archive to stdout")?;
        out.flush().context("write archive to stdout")?;
        return Ok(0);
    }
    let is_dir = stat.mode & file_mode::DIR != 0;
    let content_only = src.ends_with("/.") && is_dir;
    let dest_path = Path::new(dest);
    let dest_is_dir = dest_path.is_dir();
    if !dest_is_dir && (dest.ends_with('/') || dest.ends_with("/.")) && !is_dir {
        bail!("destination directory \"{dest}\" must exist");
    }
    let (dir, from, to): (PathBuf, String, String) = if content_only {
        std::fs::create_dir_all(dest_path).with_context(|| format!("create {dest}"))?;
        (dest_path.to_path_buf(), stat.name.clone(), String::new())
    } else if dest_is_dir {
        (dest_path.to_path_buf(), stat.name.clone(), stat.name.clone())
    } else {
        let parent = dest_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!("no such directory: {}", parent.display());
        }
        (parent.to_path_buf(), stat.name.clone(), base_name(dest))
    };
    extract_local(&mut resp.body, &dir, &from, &to)?;
    Ok(0)
}

fn extract_local(body: &mut dyn Read, dir: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(body);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries().context("read archive")? {
        let mut entry = entry.context("read archive")?;
        let name = entry.path().context("read entry name")?.into_owned();
        let Some(rel) = rebase(&name, from, to) else {
            bail!("refusing entry {} outside the destination", name.display());
        };
        let target = dir.join(&rel);
        if rel.as_os_str().is_empty() {
            continue;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("extract {}", target.display()))?;
    }
    Ok(())
}

fn copy_to(client: &Client, src: &str, container: &str, dest: &str, archive: bool) -> anyhow::Result<i32> {
    let dest = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("/{dest}")
    };
    if src == "-" {
        let mut stdin = std::io::stdin().lock();
        client.archive_put(container, &dest, &mut stdin, true, archive)?;
        return Ok(0);
    }
    let src_path = Path::new(src);
    let md = std::fs::symlink_metadata(src_path).with_context(|| format!("stat {src}"))?;
    let content_only = src.ends_with("/.") && md.is_dir();
    let (extract_at, name) = match client.archive_stat(container, &dest) {
        Ok(st) if st.mode & file_mode::DIR != 0 => {
            (dest.clone(), if content_only { String::new() } else { base_name(src) })
        }
        Ok(_) if md.is_dir() => bail!("cannot copy a directory to a file: {dest}"),
        Ok(_) => (parent_of(&dest), base_name(&dest)),
        Err(e) if e.status() == Some(404) => {
            if dest.ends_with('/') {
                bail!("destination directory \"{dest}\" must exist");
            }
            (parent_of(&dest), base_name(&dest))
        }
        Err(e) => return Err(e.into()),
    };
    let (mut reader, writer) = std::io::pipe().context("create pipe")?;
    let src_owned = src_path.to_path_buf();
    let builder = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        if content_only {
            b.append_dir_all(".", &src_owned)?;
        } else if md.is_dir() {
            b.append_dir_all(&name, &src_owned)?;
        } else {
            b.append_path_with_name(&src_owned, &name)?;
        }
        b.finish()
    });
    let put = client.archive_put(container, &extract_at, &mut reader, true, archive);
    drop(reader);
    let built = builder
        .join()
        .map_err(|_| anyhow::anyhow!("archive {src}: builder panicked"))?;
    put?;
    built.with_context(|| format!("archive {src}"))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_args() {
        assert_eq!(split_container("c:/x"), Some(("c", "/x")));
        assert_eq!(split_container("/local:x"), None);
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("plain"), None);
    }

    #[test]
    fn rebasing() {
        assert_eq!(rebase(Path::new("d/a"), "d", "e"), Some(PathBuf::from("e/a")));
        assert_eq!(rebase(Path::new("d"), "d", "e"), Some(PathBuf::from("e")));
        assert_eq!(rebase(Path::new("d/a"), "d", ""), Some(PathBuf::from("a")));
        assert_eq!(rebase(Path::new("d/../x"), "d", "e"), None);
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
