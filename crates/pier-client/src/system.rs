//! System endpoints: ping, version, info.

use pier_api::system::{SystemInfo, SystemVersion};

use crate::client::RequestBody;
use crate::http::Headers;
use crate::query::Query;
use crate::{Client, Error};

/// What `HEAD /_ping` told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    pub api_version: Option<String>,
    pub os_type: Option<String>,
}

impl Client {
    /// `HEAD /_ping` (unversioned, as docker does).
    pub fn ping(&self) -> Result<Ping, Error> {
        let resp = self.send("HEAD", "/_ping", RequestBody::Empty, &Headers::new())?;
        let resp = crate::client::check_status(resp)?;
        Ok(Ping {
            api_version: resp.header("Api-Version").map(str::to_string),
            os_type: resp.header("OSType").map(str::to_string),
        })
    }

    /// `GET /version`.
    pub fn version(&self) -> Result<SystemVersion, Error> {
        self.request("GET", "/version", &Query::new(), RequestBody::Empty)?
            .json("version")
    }

    /// `GET /info`.
    pub fn info(&self) -> Result<SystemInfo, Error> {
        self.request("GET", "/info", &Query::new(), RequestBody::Empty)?
            .json("info")
    }
}
