//! `pier inspect`: containers first, then images, as docker's generic
//! inspect does.

use anyhow::bail;
use pier_client::{Client, Error};

use crate::cli::InspectArgs;
use crate::commands::template::Template;
use crate::render::json::inspect_array;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    Container,
    Image,
}

fn fetch(client: &Client, kind: Kind, name: &str) -> Result<Vec<u8>, Error> {
    match kind {
        Kind::Container => client.container_inspect_raw(name),
        Kind::Image => client.image_inspect_raw(name),
        Kind::Any => match client.container_inspect_raw(name) {
            Err(e) if e.is_not_found() => match client.image_inspect_raw(name) {
                Err(e) if e.is_not_found() => Err(Error::Daemon {
                    status: 404,
                    message: format!("No such object: {name}"),
                }),
                r => r,
            },
            r => r,
        },
    }
}

pub fn inspect(client: &Client, a: &InspectArgs) -> anyhow::Result<i32> {
    let kind = match a.kind.as_deref() {
        None | Some("") => Kind::Any,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some(other) => bail!("\"{other}\" is not a valid value for --type"),
    };
    print_each(&a.names, a.format.as_deref(), |name| match fetch(client, kind, name) {
        Err(Error::Daemon { status: 404, message }) => Err(format!("Error: {message}")),
        other => other.map_err(|e| e.to_string()),
    })
}

/// docker's inspect output for `names`: each object `fetch` returns, as a
/// JSON array or through `--format`; a failure is printed as it says and
/// makes the exit code 1, the others are still shown.
pub fn print_each(
    names: &[String],
    format: Option<&str>,
    mut fetch: impl FnMut(&str) -> Result<Vec<u8>, String>,
) -> anyhow::Result<i32> {
    let template = format.map(Template::parse).transpose()?;
    let mut found = Vec::new();
    let mut failed = false;
    for name in names {
        match fetch(name) {
            Ok(raw) => found.push(String::from_utf8_lossy(&raw).into_owned()),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    match template {
        Some(t) => {
            for raw in &found {
                let v: serde_json::Value = serde_json::from_str(raw)?;
                println!("{}", t.render(&v));
            }
        }
        None => print!("{}", inspect_array(&found)),
    }
    Ok(i32::from(failed))
}
