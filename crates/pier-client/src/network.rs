//! Networks: create, list, inspect, remove, prune, connect, disconnect.

use pier_api::network::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkPruneResponse,
};

use crate::client::{Client, RequestBody};
use crate::containers::Filters;
use crate::error::Error;
use crate::query::{path, Query};

impl Client {
    /// `POST /networks/create`.
    pub fn network_create(&self, req: &NetworkCreateRequest) -> Result<NetworkCreateResponse, Error> {
        self.request_json("POST", "/networks/create", &Query::new(), req)?
            .json("network create response")
    }

    /// `GET /networks?filters=`.
    pub fn network_list(&self, filters: &Filters) -> Result<Vec<Network>, Error> {
        let mut q = Query::new();
        q.push_opt("filters", filters.to_json());
        self.request("GET", "/networks", &q, RequestBody::Empty)?
            .json("network list")
    }

    /// `GET /networks/{id}`, the raw JSON.
    pub fn network_inspect_raw(&self, id: &str) -> Result<Vec<u8>, Error> {
        self.request("GET", &path("/networks/", id, ""), &Query::new(), RequestBody::Empty)?
            .bytes()
    }

    /// `DELETE /networks/{id}`.
    pub fn network_remove(&self, id: &str) -> Result<(), Error> {
        self.request("DELETE", &path("/networks/", id, ""), &Query::new(), RequestBody::Empty)?
            .bytes()
            .map(|_| ())
    }

    /// `POST /networks/prune?filters=`.
    pub fn network_prune(&self, filters: &Filters) -> Result<NetworkPruneResponse, Error> {
        let mut q = Query::new();
        q.push_opt("filters", filters.to_json());
        self.request("POST", "/networks/prune", &q, RequestBody::Empty)?
            .json("network prune response")
    }
}

impl Client {
    /// `POST /networks/{id}/connect`.
    pub fn network_connect(&self, network: &str, req: &NetworkConnectRequest) -> Result<(), Error> {
        self.request_json("POST", &path("/networks/", network, "/connect"), &Query::new(), req)?
            .bytes()
            .map(|_| ())
    }

    /// `POST /networks/{id}/disconnect`.
    pub fn network_disconnect(&self, network: &str, req: &NetworkDisconnectRequest) -> Result<(), Error> {
        self.request_json("POST", &path("/networks/", network, "/disconnect"), &Query::new(), req)?
            .bytes()
            .map(|_| ())
    }
}
