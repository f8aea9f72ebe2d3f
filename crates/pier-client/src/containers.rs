//! Container endpoints.

use pier_api::container::{
    ContainerCreateRequest, ContainerInspect, ContainerPruneResponse, ContainerSummary, IdResponse, WaitResponse,
};

use crate::client::{RequestBody, Response};
use crate::query::{path, Query};
use crate::{Client, Error};

pub use pier_api::filters::Filters;

/// Options of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<i64>,
    pub filters: Filters,
}

/// `condition=` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    #[default]
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitCondition::NotRunning => "not-running",
            WaitCondition::NextExit => "next-exit",
            WaitCondition::Removed => "removed",
        }
    }
}

/// A wait request whose response headers have arrived; the body (the
/// exit status) comes when the condition holds.
#[derive(Debug)]
pub struct PendingWait(Response);

impl PendingWait {
    /// Block until the daemon sends the result.
    pub fn result(self) -> Result<WaitResponse, Error> {
        self.0.json("wait response")
    }
}

fn id_path(id: &str, suffix: &str) -> String {
    path("/containers/", id, suffix)
}

impl Client {
    /// `POST /containers/create?name=`.
    pub fn container_create(&self, name: Option<&str>, req: &ContainerCreateRequest) -> Result<IdResponse, Error> {
        let mut q = Query::new();
        q.push_opt("name", name);
        self.request_json("POST", "/containers/create", &q, req)?
            .json("create response")
    }

    /// `POST /containers/{id}/start`; an already running container (304) is
    /// not an error, as in docker.
    pub fn container_start(&self, id: &str) -> Result<(), Error> {
        self.request("POST", &id_path(id, "/start"), &Query::new(), RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/stop?t=&signal=`; already stopped (304) is Ok.
    pub fn container_stop(&self, id: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<(), Error> {
        let mut q = Query::new();
        q.push_opt("signal", signal).push_opt("t", timeout);
        self.request("POST", &id_path(id, "/stop"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/restart?t=&signal=`.
    pub fn container_restart(&self, id: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<(), Error> {
        let mut q = Query::new();
        q.push_opt("signal", signal).push_opt("t", timeout);
        self.request("POST", &id_path(id, "/restart"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/kill?signal=` (daemon default SIGKILL).
    pub fn container_kill(&self, id: &str, signal: Option<&str>) -> Result<(), Error> {
        let mut q = Query::new();
        q.push_opt("signal", signal);
        self.request("POST", &id_path(id, "/kill"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/wait?condition=`: blocks until the condition
    /// holds.
    pub fn container_wait(&self, id: &str, cond: WaitCondition) -> Result<WaitResponse, Error> {
        let mut q = Query::new();
        q.push("condition", cond.as_str());
        self.request("POST", &id_path(id, "/wait"), &q, RequestBody::Empty)?
            .json("wait response")
    }

    /// Send `POST /containers/{id}/wait` and return once the daemon has
    /// answered with its headers (dockerd sends them at once), so a
    /// container started afterwards cannot exit unseen.
    pub fn container_wait_begin(&self, id: &str, cond: WaitCondition) -> Result<PendingWait, Error> {
        let mut q = Query::new();
        q.push("condition", cond.as_str());
        let resp = self.request("POST", &id_path(id, "/wait"), &q, RequestBody::Empty)?;
        Ok(PendingWait(resp))
    }

    /// `POST /containers/{id}/resize?h=&w=` (TTY containers).
    pub fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("h", height.to_string()).push("w", width.to_string());
        self.request("POST", &id_path(id, "/resize"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/rename?name=`.
    pub fn container_rename(&self, id: &str, new_name: &str) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("name", new_name);
        self.request("POST", &id_path(id, "/rename"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/pause`.
    pub fn container_pause(&self, id: &str) -> Result<(), Error> {
        self.request("POST", &id_path(id, "/pause"), &Query::new(), RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub fn container_unpause(&self, id: &str) -> Result<(), Error> {
        self.request("POST", &id_path(id, "/unpause"), &Query::new(), RequestBody::Empty)?;
        Ok(())
    }

    /// `GET /containers/{id}/top?ps_args=`.
    pub fn container_top(&self, id: &str, ps_args: &str) -> Result<pier_api::container::TopResponse, Error> {
        let mut q = Query::new();
        if !ps_args.is_empty() {
            q.push("ps_args", ps_args);
        }
        self.request("GET", &id_path(id, "/top"), &q, RequestBody::Empty)?
            .json("top response")
    }

    /// `POST /containers/{id}/update`: `body` holds the `Resources` fields
    /// and `RestartPolicy` to change.
    pub fn container_update(
        &self,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<pier_api::container::UpdateResponse, Error> {
        self.request_json("POST", &id_path(id, "/update"), &Query::new(), body)?
            .json("update response")
    }

    /// `DELETE /containers/{id}?force=&v=`.
    pub fn container_remove(&self, id: &str, force: bool, volumes: bool) -> Result<(), Error> {
        let mut q = Query::new();
        q.flag("force", force).flag("v", volumes);
        self.request("DELETE", &id_path(id, ""), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `DELETE /containers/{name}?link=1`: remove the link `name`
    /// (`parent/alias`), not a container.
    pub fn container_remove_link(&self, name: &str) -> Result<(), Error> {
        let mut q = Query::new();
        q.flag("link", true);
        self.request("DELETE", &format!("/containers/{name}"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `POST /containers/prune?filters=`.
    pub fn container_prune(&self, filters: &Filters) -> Result<ContainerPruneResponse, Error> {
        let mut q = Query::new();
        q.push_opt("filters", filters.to_json());
        self.request("POST", "/containers/prune", &q, RequestBody::Empty)?
            .json("container prune response")
    }

    /// `GET /containers/json?all=&limit=&filters=`.
    pub fn container_list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>, Error> {
        let mut q = Query::new();
        q.flag("all", opts.all)
            .push_opt("limit", opts.limit)
            .push_opt("filters", opts.filters.to_json());
        self.request("GET", "/containers/json", &q, RequestBody::Empty)?
            .json("container list")
    }

    /// `GET /containers/{id}/json`.
    pub fn container_inspect(&self, id: &str) -> Result<ContainerInspect, Error> {
        self.container_inspect_raw(id).and_then(|raw| {
            serde_json::from_slice(&raw).map_err(|source| Error::Json {
                what: "container inspect",
                path: id_path(id, "/json"),
                source,
            })
        })
    }

    /// `GET /containers/{id}/json`, the body as the daemon sent it (so the
    /// CLI can print every field in the daemon's order).
    pub fn container_inspect_raw(&self, id: &str) -> Result<Vec<u8>, Error> {
        self.request("GET", &id_path(id, "/json"), &Query::new(), RequestBody::Empty)?
            .bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_encode_as_docker_does() {
        let f = Filters::new();
        assert_eq!(f.to_json(), None);
        let f = f.with("status", "running").with("status", "exited").with("name", "web");
        assert_eq!(
            f.to_json().as_deref(),
            Some(r#"{"name":{"web":true},"status":{"exited":true,"running":true}}"#)
        );
    }
}
