//! `pier pull`, `pier load`, `pier save`, `pier tag`, `pier image prune`,
//! and the pull `pier run` does for a missing image.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pier_client::{Client, ProgressMessage};

use crate::cli::{ImageCommand, ImagePruneArgs, InspectArgs, LoadArgs, PullArgs, SaveArgs, TagArgs};
use crate::render::units;

/// `name[:tag|@digest]` → (`fromImage`, `tag`) as docker's CLI sends them.
pub fn split_pull_reference(reference: &str) -> (String, String) {
    if let Some((name, digest)) = reference.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.rsplit_once(':') {
        Some((_, tag)) => {
            let name = &reference[..reference.len() - tag.len() - 1];
            (name.to_string(), tag.to_string())
        }
        None => (reference.to_string(), "latest".to_string()),
    }
}

/// docker's fully qualified form, printed after a pull:
/// `busybox` → `docker.io/library/busybox`.
pub fn qualified(name: &str) -> String {
    let first = name.split('/').next().unwrap_or(name);
    let has_domain = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// Draws a pull: per-layer bars on a terminal, docker's plain lines
/// otherwise.
struct PullView {
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    quiet: bool,
    /// Plain lines go to stderr (a pull inside `run`).
    to_stderr: bool,
}

impl PullView {
    fn new(quiet: bool, to_stderr: bool) -> Self {
        let tty = if to_stderr {
            io::stderr().is_terminal()
        } else {
            io::stdout().is_terminal()
        };
        PullView {
            multi: (!quiet && tty).then(MultiProgress::new),
            bars: HashMap::new(),
            quiet,
            to_stderr,
        }
    }

    fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn show(&mut self, m: &ProgressMessage) {
        if self.quiet {
            return;
        }
        let status = m.status.as_deref().unwrap_or("");
        let (Some(multi), Some(id)) = (&self.multi, m.id.as_deref()) else {
            if status != "Downloading" {
                match &m.id {
                    Some(id) => self.line(&format!("{id}: {status}")),
                    None => self.line(status),
                }
            }
            return;
        };
        if status.starts_with("Pulling from") {
            let _ = multi.println(format!("{id}: {status}"));
            return;
        }
        let bar = self.bars.entry(id.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(id.to_string());
            bar
        });
        match (status, &m.progress_detail) {
            ("Downloading", Some(d)) => {
                if let Some(total) = d.total.filter(|t| *t > 0) {
                    bar.set_length(total);
                }
                bar.set_position(d.current.unwrap_or(0));
                bar.set_message("Downloading");
            }
            ("Pull complete" | "Already exists", _) => {
                bar.set_style(
                    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.finish_with_message(status.to_string());
            }
            _ => bar.set_message(status.to_string()),
        }
    }
}

/// Pulls `reference`, drawing progress; prints docker's closing lines.
pub fn pull_image(client: &Client, reference: &str, platform: Option<&str>, quiet: bool) -> anyhow::Result<()> {
    let (name, tag) = split_pull_reference(reference);
    let mut view = PullView::new(quiet, false);
    let auth = crate::commands::registry_auth::header_for(&name);
    client.image_pull(&name, &tag, platform, auth.as_deref(), |m| view.show(m))?;
    let sep = if tag.starts_with("sha256:") { '@' } else { ':' };
    println!("{}{sep}{tag}", qualified(&name));
    Ok(())
}

pub fn pull(client: &Client, a: &PullArgs) -> anyhow::Result<i32> {
    if a.all_tags {
        bail!("--all-tags is not supported yet");
    }
    pull_image(client, &a.name, a.platform.as_deref(), a.quiet)?;
    Ok(0)
}

pub fn load(client: &Client, a: &LoadArgs) -> anyhow::Result<i32> {
    let mut input: Box<dyn Read> = match &a.input {
        Some(path) => Box::new(File::open(path).with_context(|| format!("open {path}"))?),
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(stdin.lock())
        }
    };
    client.image_load(&mut input, a.quiet, |m| {
        if let Some(s) = &m.stream {
            print!("{s}");
        } else if let Some(s) = &m.status {
            println!("{s}");
        }
    })?;
    Ok(0)
}

pub fn save(client: &Client, a: &SaveArgs) -> anyhow::Result<i32> {
    match &a.output {
        Some(path) => {
            let tmp = format!("{path}.pier-tmp");
            let result = (|| -> anyhow::Result<()> {
                let mut file = File::create(&tmp).with_context(|| format!("create {tmp}"))?;
                client.image_save(&a.images, &mut file)?;
                file.sync_all().with_context(|| format!("sync {tmp}"))?;
                std::fs::rename(&tmp, path).with_context(|| format!("rename {tmp}"))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let mut out = io::stdout().lock();
            if out.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            client.image_save(&a.images, &mut out)?;
            out.flush().context("flush stdout")?;
        }
    }
    Ok(0)
}

pub fn tag(client: &Client, a: &TagArgs) -> anyhow::Result<i32> {
    let (repo, tag) = match a.target.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (a.target.as_str(), ""),
    };
    client.image_tag(&a.source, repo, tag)?;
    Ok(0)
}

pub fn prune(client: &Client, a: &ImagePruneArgs) -> anyhow::Result<i32> {
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        io::stdout().flush().context("flush stdout")?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).context("read answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let pruned = client.image_prune(a.all)?;
    let items = pruned.images_deleted.unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for item in items {
            if let Some(u) = item.untagged {
                println!("untagged: {u}");
            }
            if let Some(d) = item.deleted {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        units::human_size(pruned.space_reclaimed as f64, 3)
    );
    Ok(0)
}

/// `pier image <verb>`.
pub fn image(client: &Client, cmd: ImageCommand) -> anyhow::Result<i32> {
    use crate::commands::{images, inspect};
    match cmd {
        ImageCommand::Ls(a) => images::images(client, &a),
        ImageCommand::Inspect(a) => inspect::inspect(
            client,
            &InspectArgs {
                kind: Some("image".to_string()),
                ..a
            },
        ),
        ImageCommand::Prune(a) => prune(client, &a),
        ImageCommand::Rm(a) => images::rmi(client, &a),
        ImageCommand::Pull(a) => pull(client, &a),
        ImageCommand::Load(a) => load(client, &a),
        ImageCommand::Save(a) => save(client, &a),
        ImageCommand::Tag(a) => tag(client, &a),
        ImageCommand::Import(a) => images::import(client, &a),
    }
}

/// docker's run and create: say the image is missing and pull it, all on
/// stderr so stdout keeps only the container's id or output.
pub fn pull_for_run(client: &Client, image: &str, missing: bool, quiet: bool) -> anyhow::Result<()> {
    let (name, tag) = split_pull_reference(image);
    let sep = if tag.starts_with("sha256:") { '@' } else { ':' };
    if missing && !quiet {
        eprintln!("Unable to find image '{name}{sep}{tag}' locally");
    }
    let mut view = PullView::new(quiet, true);
    let auth = crate::commands::registry_auth::header_for(&name);
    client.image_pull(&name, &tag, None, auth.as_deref(), |m| view.show(m))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references_like_docker() {
        let s = |r: &str| split_pull_reference(r);
        assert_eq!(s("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(s("busybox:1.36"), ("busybox".into(), "1.36".into()));
        assert_eq!(s("127.0.0.1:5000/a/b"), ("127.0.0.1:5000/a/b".into(), "latest".into()));
        assert_eq!(s("127.0.0.1:5000/a/b:v2"), ("127.0.0.1:5000/a/b".into(), "v2".into()));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(s(&format!("x/y@{d}")), ("x/y".into(), d.clone()));
    }

    #[test]
    fn qualifies_names() {
        assert_eq!(qualified("busybox"), "docker.io/library/busybox");
        assert_eq!(qualified("user/app"), "docker.io/user/app");
        assert_eq!(qualified("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(qualified("localhost/a"), "localhost/a");
        assert_eq!(qualified("quay.io/a/b"), "quay.io/a/b");
    }
}
