//! Exec endpoints: create, start (hijacked or detached), resize, inspect.

use pier_api::container::IdResponse;
use pier_api::exec::{ExecCreateRequest, ExecInspect, ExecStartRequest};

use crate::query::{path, Query};
use crate::{Client, Error, Hijacked, RequestBody};

impl Client {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, container: &str, req: &ExecCreateRequest) -> Result<IdResponse, Error> {
        self.request_json("POST", &path("/containers/", container, "/exec"), &Query::new(), req)?
            .json("exec create response")
    }

    /// `POST /exec/{id}/start` with `Detach: true`.
    pub fn exec_start_detached(&self, id: &str, req: &ExecStartRequest) -> Result<(), Error> {
        let mut req = req.clone();
        req.detach = true;
        self.request_json("POST", &path("/exec/", id, "/start"), &Query::new(), &req)?;
        Ok(())
    }

    /// `POST /exec/{id}/start`, hijacked: the exec's stdio stream.
    pub fn exec_start(&self, id: &str, req: &ExecStartRequest) -> Result<Hijacked, Error> {
        let body = serde_json::to_vec(req).map_err(|source| Error::Encode {
            path: path("/exec/", id, "/start"),
            source,
        })?;
        self.hijack("POST", &path("/exec/", id, "/start"), &Query::new(), Some(body))
    }

    /// `POST /exec/{id}/resize?h=&w=`.
    pub fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<(), Error> {
        let mut q = Query::new();
        q.push("h", height.to_string()).push("w", width.to_string());
        self.request("POST", &path("/exec/", id, "/resize"), &q, RequestBody::Empty)?;
        Ok(())
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect, Error> {
        self.request("GET", &path("/exec/", id, "/json"), &Query::new(), RequestBody::Empty)?
            .json("exec inspect")
    }
}
