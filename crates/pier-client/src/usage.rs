//! Usage endpoints: container stats (a stream of samples) and disk usage.

use std::io::BufReader;
use std::os::unix::net::UnixStream;

use pier_api::stats::StatsResponse;
use pier_api::system::DiskUsage;

use crate::body::Body;
use crate::client::RequestBody;
use crate::query::{path, Query};
use crate::{Client, Error};

/// The samples of `GET /containers/{id}/stats`, decoded as they arrive.
pub struct StatsStream {
    samples:
        serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Body<BufReader<UnixStream>>>, StatsResponse>,
    path: String,
}

impl Iterator for StatsStream {
    type Item = Result<StatsResponse, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = &self.path;
        self.samples.next().map(|r| {
            r.map_err(|source| Error::Json {
                what: "stats sample",
                path: path.clone(),
                source,
            })
        })
    }
}

impl Client {
    /// `GET /containers/{id}/stats?stream=`: one sample per second while
    /// `stream`, else one (with `precpu_stats` filled).
    pub fn container_stats(&self, id: &str, stream: bool) -> Result<StatsStream, Error> {
        let mut q = Query::new();
        q.push("stream", if stream { "1" } else { "0" });
        let resp = self.request("GET", &path("/containers/", id, "/stats"), &q, RequestBody::Empty)?;
        let p = resp.path.clone();
        Ok(StatsStream {
            samples: serde_json::Deserializer::from_reader(resp.body).into_iter(),
            path: p,
        })
    }

    /// `GET /system/df`.
    pub fn disk_usage(&self) -> Result<DiskUsage, Error> {
        self.request("GET", "/system/df", &Query::new(), RequestBody::Empty)?
            .json("disk usage")
    }
}
