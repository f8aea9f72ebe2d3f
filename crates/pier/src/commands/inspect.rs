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
    let template = a.format.as_deref().map(Template::parse).transpose()?;
    let mut found = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match fetch(client, kind, name) {
            Ok(raw) => found.push(String::from_utf8_lossy(&raw).into_owned()),
            Err(Error::Daemon { status: 404, message }) => {
                eprintln!("Error: {message}");
                failed = true;
            }
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
