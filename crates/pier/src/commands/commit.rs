//! `pier commit`: a new image from a container's changes.

use clap::{ArgAction, Args};
use pier_client::{Client, CommitOptions};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long = "author")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long = "pause", default_value_t = true, action = ArgAction::Set, value_name = "bool")]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `repo[:tag]`, the tag split at the last `:` after the last `/`.
pub fn split_reference(r: &str) -> (String, String) {
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), String::new()),
    }
}

pub fn commit(client: &Client, a: &CommitArgs) -> anyhow::Result<i32> {
    let (repo, tag) = a.reference.as_deref().map(split_reference).unwrap_or_default();
    let resp = client.commit(
        &a.container,
        &CommitOptions {
            repo,
            tag,
            comment: a.message.clone().unwrap_or_default(),
            author: a.author.clone().unwrap_or_default(),
            changes: a.change.clone(),
            pause: a.pause,
        },
    )?;
    println!("{}", resp.id);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("a/b:1"), ("a/b".into(), "1".into()));
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x".into(), String::new())
        );
        assert_eq!(split_reference("x"), ("x".into(), String::new()));
    }
}
