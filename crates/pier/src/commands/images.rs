//! `pier images`, `pier import`, `pier rmi`.

use std::fs::File;
use std::io::{self, Read};

use anyhow::Context;
use pier_api::image::ImageSummary;
use pier_client::Client;

use crate::cli::{ImagesArgs, ImportArgs, RmiArgs};
use crate::commands::{each_id, parse_filters};
use crate::render::text::{split_repo_tag, truncate_id};
use crate::render::{format, table, units};

pub const HEADER: [&str; 5] = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];

/// (repository, tag) pairs an image is listed under: one per tag, else one
/// per digest with tag `<none>`, else `<none>:<none>`.
pub fn names(img: &ImageSummary) -> Vec<(String, String)> {
    let tags: Vec<(String, String)> = img
        .repo_tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .map(|t| {
            let (repo, tag) = split_repo_tag(t);
            (repo.to_string(), tag.unwrap_or("<none>").to_string())
        })
        .collect();
    if !tags.is_empty() {
        return tags;
    }
    let digests: Vec<(String, String)> = img
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .filter(|(repo, _)| *repo != "<none>")
        .map(|(repo, _)| (repo.to_string(), "<none>".to_string()))
        .collect();
    if !digests.is_empty() {
        return digests;
    }
    vec![("<none>".to_string(), "<none>".to_string())]
}

pub fn render(images: &[ImageSummary], now: i64, trunc: bool) -> String {
    let mut rows = Vec::new();
    for img in images {
        let id = if trunc {
            truncate_id(&img.id).to_string()
        } else {
            img.id.clone()
        };
        let created = if img.created > 0 {
            units::time_ago(img.created, now)
        } else {
            "N/A".to_string()
        };
        let size = units::human_size(img.size as f64, 3);
        for (repo, tag) in names(img) {
            rows.push(vec![repo, tag, id.clone(), created.clone(), size.clone()]);
        }
    }
    table::render(&HEADER, &rows)
}

/// The table of `images --digests`: a DIGEST column after TAG.
pub fn render_digests(images: &[ImageSummary], now: i64, trunc: bool) -> String {
    let mut rows = Vec::new();
    for img in images {
        let id = if trunc {
            truncate_id(&img.id).to_string()
        } else {
            img.id.clone()
        };
        let created = units::time_ago(img.created, now);
        let size = units::human_size(img.size as f64, 3);
        for (repo, tag) in names(img) {
            let digest = img
                .repo_digests
                .iter()
                .filter_map(|d| d.split_once('@'))
                .find(|(r, _)| *r == repo)
                .map_or("<none>", |(_, d)| d);
            rows.push(vec![
                repo,
                tag,
                digest.to_string(),
                id.clone(),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    table::render(&["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"], &rows)
}

/// Fields `--format` templates see, as docker names them.
pub const FORMAT_HEADER: [(&str, &str); 7] = [
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("ID", "IMAGE ID"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
];

/// One object per listed (repository, tag), for `--format`.
pub fn format_rows(images: &[ImageSummary], now: i64, trunc: bool) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for img in images {
        let id = if trunc {
            truncate_id(&img.id).to_string()
        } else {
            img.id.clone()
        };
        let digest = img
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map_or("<none>", |(_, d)| d);
        for (repo, tag) in names(img) {
            rows.push(serde_json::json!({
                "Repository": repo, "Tag": tag, "ID": id, "Digest": digest,
                "CreatedSince": units::time_ago(img.created, now),
                "CreatedAt": pier_time::format_go_utc(img.created),
                "Size": units::human_size(img.size as f64, 3),
            }));
        }
    }
    rows
}

/// Unique ids in list order, as `images -q` prints them.
pub fn render_quiet(images: &[ImageSummary], trunc: bool) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for img in images {
        let id = if trunc { truncate_id(&img.id) } else { &img.id };
        if seen.insert(id.to_string()) {
            out.push_str(id);
            out.push('\n');
        }
    }
    out
}

pub fn images(client: &Client, a: &ImagesArgs) -> anyhow::Result<i32> {
    let mut filters = parse_filters(&a.filter)?;
    if let Some(r) = &a.reference {
        filters.add("reference", r.clone());
    }
    let list = client.image_list(a.all, &filters)?;
    let now = pier_time::now_unix();
    let out = match (&a.format, a.quiet) {
        (_, true) => render_quiet(&list, !a.no_trunc),
        (Some(f), false) => format::render(f, &format_rows(&list, now, !a.no_trunc), &FORMAT_HEADER)?,
        (None, false) if a.digests => render_digests(&list, now, !a.no_trunc),
        (None, false) => render(&list, now, !a.no_trunc),
    };
    print!("{out}");
    Ok(0)
}

/// Streams the tarball (`-` is stdin) to the daemon and prints its status
/// lines: the new image id. The reference goes in `repo=` whole, tag
/// included, exactly as docker's CLI sends it.
pub fn import(client: &Client, a: &ImportArgs) -> anyhow::Result<i32> {
    let mut source: Box<dyn Read> = if a.source == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&a.source).with_context(|| format!("open {}", a.source))?)
    };
    let reference = a.reference.as_deref().unwrap_or("");
    client.image_import(&mut source, reference, None, &a.change, a.message.as_deref(), |m| {
        if let Some(s) = &m.status {
            match &m.id {
                Some(id) => println!("{id}: {s}"),
                None => println!("{s}"),
            }
        }
    })?;
    Ok(0)
}

pub fn rmi(client: &Client, a: &RmiArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.images, false, |name| {
        for item in client.image_remove(name, a.force, a.no_prune)? {
            if let Some(u) = item.untagged {
                println!("Untagged: {u}");
            }
            if let Some(d) = item.deleted {
                println!("Deleted: {d}");
            }
        }
        Ok(())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(tags: &[&str], size: i64) -> ImageSummary {
        ImageSummary {
            id: "sha256:af47096251092caf59498806ab8d58e8173ecf5a182f024ce9d635b5b4a55d66".into(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            created: 1000,
            size,
            ..Default::default()
        }
    }

    #[test]
    fn table_like_docker() {
        let out = render(
            &[img(&["busybox:latest", "bb:1"], 4_261_234), img(&[], 100)],
            1000 + 3 * 86400,
            true,
        );
        let want = "\
REPOSITORY   TAG       IMAGE ID       CREATED      SIZE
busybox      latest    af4709625109   3 days ago   4.26MB
bb           1         af4709625109   3 days ago   4.26MB
<none>       <none>    af4709625109   3 days ago   100B
";
        assert_eq!(out, want);
    }

    #[test]
    fn quiet_dedups() {
        let list = [img(&["a:1"], 1), img(&["b:1"], 1)];
        assert_eq!(render_quiet(&list, true), "af4709625109\n");
        assert!(render_quiet(&list, false).starts_with("sha256:af47"));
    }

    #[test]
    fn digest_only_names() {
        let mut i = img(&["<none>:<none>"], 1);
        i.repo_digests = vec!["busybox@sha256:abc".into()];
        assert_eq!(names(&i), vec![("busybox".to_string(), "<none>".to_string())]);
    }
}
