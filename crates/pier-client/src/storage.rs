//! Volumes, container archives (`cp`), export, changes and commit.

use std::io::Read;

use base64::Engine;
use pier_api::volume::{
    CommitResponse, ContainerChange, PathStat, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
    PATH_STAT_HEADER,
};

use crate::client::{Client, RequestBody, Response};
use crate::containers::Filters;
use crate::error::Error;
use crate::query::{path, Query};

/// Decode the `X-Docker-Container-Path-Stat` header (base64 JSON).
pub fn decode_path_stat(header: &str) -> Option<PathStat> {
    let raw = base64::engine::general_purpose::STANDARD.decode(header.trim()).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// `POST /commit` parameters.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    pub changes: Vec<String>,
    pub pause: bool,
}

fn stat_of(resp: &Response) -> Result<PathStat, Error> {
    resp.header(PATH_STAT_HEADER)
        .and_then(decode_path_stat)
        .ok_or_else(|| Error::Daemon {
            status: resp.status(),
            message: format!("missing or bad {PATH_STAT_HEADER} header"),
        })
}

impl Client {
    /// `POST /volumes/create`.
    pub fn volume_create(&self, req: &VolumeCreateRequest) -> Result<Volume, Error> {
        self.request_json("POST", "/volumes/create", &Query::new(), req)?
            .json("volume")
    }

    /// `GET /volumes?filters=`.
    pub fn volume_list(&self, filters: &Filters) -> Result<VolumeListResponse, Error> {
        let mut q = Query::new();
        q.push_opt("filters", filters.to_json());
        self.request("GET", "/volumes", &q, RequestBody::Empty)?
            .json("volume list")
    }

    /// `GET /volumes/{name}`.
    pub fn volume_inspect(&self, name: &str) -> Result<Volume, Error> {
        self.request("GET", &path("/volumes/", name, ""), &Query::new(), RequestBody::Empty)?
            .json("volume")
    }

    /// `GET /volumes/{name}`, the raw JSON (for `--format`-less inspect).
    pub fn volume_inspect_raw(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.request("GET", &path("/volumes/", name, ""), &Query::new(), RequestBody::Empty)?
            .bytes()
    }

    /// `DELETE /volumes/{name}?force=`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), Error> {
        let mut q = Query::new();
        q.flag("force", force);
        self.request("DELETE", &path("/volumes/", name, ""), &q, RequestBody::Empty)?
            .bytes()
            .map(|_| ())
    }

    /// `POST /volumes/prune?filters=`.
    pub fn volume_prune(&self, filters: &Filters) -> Result<VolumePruneResponse, Error> {
        let mut q = Query::new();
        q.push_opt("filters", filters.to_json());
        self.request("POST", "/volumes/prune", &q, RequestBody::Empty)?
            .json("volume prune response")
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub fn archive_stat(&self, id: &str, container_path: &str) -> Result<PathStat, Error> {
        let mut q = Query::new();
        q.push("path", container_path);
        let resp = self.request("HEAD", &path("/containers/", id, "/archive"), &q, RequestBody::Empty)?;
        stat_of(&resp)
    }

    /// `GET /containers/{id}/archive?path=`: the stat and the tar body.
    pub fn archive_get(&self, id: &str, container_path: &str) -> Result<(PathStat, Response), Error> {
        let mut q = Query::new();
        q.push("path", container_path);
        let resp = self.request("GET", &path("/containers/", id, "/archive"), &q, RequestBody::Empty)?;
        Ok((stat_of(&resp)?, resp))
    }

    /// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=`.
    pub fn archive_put(
        &self,
        id: &str,
        container_path: &str,
        reader: &mut dyn Read,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    ) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("path", container_path);
        q.flag("noOverwriteDirNonDir", no_overwrite_dir_non_dir);
        q.flag("copyUIDGID", copy_uid_gid);
        self.request(
            "PUT",
            &path("/containers/", id, "/archive"),
            &q,
            RequestBody::Stream {
                content_type: "application/x-tar",
                reader,
            },
        )?
        .bytes()
        .map(|_| ())
    }

    /// `GET /containers/{id}/export`, copied to `out`.
    pub fn container_export(&self, id: &str, out: &mut dyn std::io::Write) -> Result<u64, Error> {
        let mut resp = self.request(
            "GET",
            &path("/containers/", id, "/export"),
            &Query::new(),
            RequestBody::Empty,
        )?;
        let p = resp.path.clone();
        std::io::copy(&mut resp.body, out).map_err(|source| Error::Io {
            op: "copy export",
            path: p,
            source,
        })
    }

    /// `GET /containers/{id}/changes`.
    pub fn container_changes(&self, id: &str) -> Result<Vec<ContainerChange>, Error> {
        let resp = self.request(
            "GET",
            &path("/containers/", id, "/changes"),
            &Query::new(),
            RequestBody::Empty,
        )?;
        let v: Option<Vec<ContainerChange>> = resp.json("container changes")?;
        Ok(v.unwrap_or_default())
    }

    /// `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=`.
    pub fn commit(&self, container: &str, opts: &CommitOptions) -> Result<CommitResponse, Error> {
        let mut q = Query::new();
        q.push("container", container);
        if !opts.repo.is_empty() {
            q.push("repo", opts.repo.as_str());
        }
        if !opts.tag.is_empty() {
            q.push("tag", opts.tag.as_str());
        }
        if !opts.comment.is_empty() {
            q.push("comment", opts.comment.as_str());
        }
        if !opts.author.is_empty() {
            q.push("author", opts.author.as_str());
        }
        for c in &opts.changes {
            q.push("changes", c.as_str());
        }
        // The daemon pauses unless told not to (docker's client sends 0).
        if !opts.pause {
            q.push("pause", "0");
        }
        self.request_json("POST", "/commit", &q, &serde_json::json!({}))?
            .json("commit response")
    }
}
