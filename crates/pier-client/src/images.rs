//! Image endpoints.

use std::io::Read;

use pier_api::image::{ImageDeleteItem, ImageInspect, ImagePruneResponse, ImageSummary};
use pier_api::progress::ProgressMessage;

use crate::client::RequestBody;
use crate::containers::Filters;
use crate::query::{path, Query};
use crate::{Client, Error};

/// Decode a progress stream (JSON objects one after another), calling
/// `each` per message as it arrives. A message carrying an error ends the
/// stream with [`Error::Progress`].
pub fn read_progress<R: Read>(r: R, path: &str, mut each: impl FnMut(&ProgressMessage)) -> Result<(), Error> {
    for m in serde_json::Deserializer::from_reader(r).into_iter::<ProgressMessage>() {
        let m = m.map_err(|source| Error::Json {
            what: "progress message",
            path: path.to_string(),
            source,
        })?;
        if let Some(message) = m.error_message() {
            return Err(Error::Progress {
                message: message.to_string(),
            });
        }
        each(&m);
    }
    Ok(())
}

fn name_path(name: &str, suffix: &str) -> String {
    path("/images/", name, suffix)
}

impl Client {
    /// `POST /images/create?fromSrc=-&repo=&tag=`: import a rootfs tarball
    /// streamed from `reader` (chunked). `each` sees every progress message;
    /// the daemon's last status is the new image id.
    pub fn image_import(
        &self,
        reader: &mut dyn Read,
        repo: &str,
        tag: Option<&str>,
        changes: &[String],
        message: Option<&str>,
        each: impl FnMut(&ProgressMessage),
    ) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("fromSrc", "-").push("repo", repo).push_opt("tag", tag);
        for c in changes {
            q.push("changes", c);
        }
        q.push_opt("message", message);
        let resp = self.request(
            "POST",
            "/images/create",
            &q,
            RequestBody::Stream {
                content_type: "application/x-tar",
                reader,
            },
        )?;
        let path = resp.path.clone();
        read_progress(resp.body, &path, each)
    }

    /// `POST /images/create?fromImage=&tag=&platform=`: pull, calling
    /// `each` per progress message. `registry_auth` is the base64url JSON
    /// `X-Registry-Auth` header, if any.
    pub fn image_pull(
        &self,
        from_image: &str,
        tag: &str,
        platform: Option<&str>,
        registry_auth: Option<&str>,
        each: impl FnMut(&ProgressMessage),
    ) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("fromImage", from_image).push("tag", tag);
        q.push_opt("platform", platform.filter(|p| !p.is_empty()));
        let target = self.versioned(&format!("/images/create{}", q.encode()))?;
        let mut headers = crate::http::Headers::new();
        if let Some(a) = registry_auth {
            headers.push("X-Registry-Auth", a);
        }
        let resp = crate::client::check_status(self.send("POST", &target, RequestBody::Empty, &headers)?)?;
        let path = resp.path.clone();
        read_progress(resp.body, &path, each)
    }

    /// `POST /images/load?quiet=`: load an image archive read from `reader`;
    /// `each` sees the daemon's messages (`Loaded image: …`).
    pub fn image_load(
        &self,
        reader: &mut dyn Read,
        quiet: bool,
        each: impl FnMut(&ProgressMessage),
    ) -> Result<(), Error> {
        let mut q = Query::new();
        q.flag("quiet", quiet);
        let resp = self.request(
            "POST",
            "/images/load",
            &q,
            RequestBody::Stream {
                content_type: "application/x-tar",
                reader,
            },
        )?;
        let path = resp.path.clone();
        read_progress(resp.body, &path, each)
    }

    /// `GET /images/get?names=…`: the archive of `names`, copied to `out`.
    pub fn image_save(&self, names: &[String], out: &mut dyn std::io::Write) -> Result<u64, Error> {
        let mut q = Query::new();
        for n in names {
            q.push("names", n.as_str());
        }
        let mut resp = self.request("GET", "/images/get", &q, RequestBody::Empty)?;
        let path = resp.path.clone();
        std::io::copy(&mut resp.body, out).map_err(|source| Error::Io {
            op: "copy image archive",
            path,
            source,
        })
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("repo", repo);
        if !tag.is_empty() {
            q.push("tag", tag);
        }
        self.request("POST", &name_path(name, "/tag"), &q, RequestBody::Empty)?
            .bytes()
            .map(|_| ())
    }

    /// `POST /images/prune?filters=`: `all` removes every unused image,
    /// not just untagged ones.
    pub fn image_prune(&self, all: bool) -> Result<ImagePruneResponse, Error> {
        let mut q = Query::new();
        if all {
            q.push_opt("filters", Filters::new().with("dangling", "false").to_json());
        }
        self.request("POST", "/images/prune", &q, RequestBody::Empty)?
            .json("image prune response")
    }

    /// `GET /images/json?all=&filters=`.
    pub fn image_list(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>, Error> {
        let mut q = Query::new();
        q.flag("all", all).push_opt("filters", filters.to_json());
        self.request("GET", "/images/json", &q, RequestBody::Empty)?
            .json("image list")
    }

    /// `GET /images/{name}/json`.
    pub fn image_inspect(&self, name: &str) -> Result<ImageInspect, Error> {
        let raw = self.image_inspect_raw(name)?;
        serde_json::from_slice(&raw).map_err(|source| Error::Json {
            what: "image inspect",
            path: name_path(name, "/json"),
            source,
        })
    }

    /// `GET /images/{name}/json`, the body as sent.
    pub fn image_inspect_raw(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.request("GET", &name_path(name, "/json"), &Query::new(), RequestBody::Empty)?
            .bytes()
    }

    /// `DELETE /images/{name}?force=&noprune=`.
    pub fn image_remove(&self, name: &str, force: bool, no_prune: bool) -> Result<Vec<ImageDeleteItem>, Error> {
        let mut q = Query::new();
        q.flag("force", force).flag("noprune", no_prune);
        self.request("DELETE", &name_path(name, ""), &q, RequestBody::Empty)?
            .json("image delete response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_stream() {
        let wire = b"{\"status\":\"Importing\"}\n{\"status\":\"sha256:ab\"}\r\n";
        let mut got = Vec::new();
        read_progress(&wire[..], "/x", |m| got.push(m.status.clone())).expect("read");
        assert_eq!(got, vec![Some("Importing".to_string()), Some("sha256:ab".to_string())]);
        let wire = br#"{"status":"a"}{"errorDetail":{"message":"not a tar"},"error":"not a tar"}"#;
        let err = read_progress(&wire[..], "/x", |_| {}).expect_err("error");
        assert_eq!(err.to_string(), "not a tar");
    }
}
