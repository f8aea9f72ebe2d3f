//! `GET /events`: the engine's events, decoded as they arrive.

use std::io::BufReader;
use std::os::unix::net::UnixStream;

use pier_api::events::Message;
use pier_api::filters::Filters;

use crate::body::Body;
use crate::client::RequestBody;
use crate::query::Query;
use crate::{Client, Error};

/// Query of the events endpoint. `since`/`until` are what the daemon
/// takes: unix seconds, optionally with a fraction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    pub since: Option<String>,
    pub until: Option<String>,
    pub filters: Filters,
}

/// The events of one `GET /events`.
pub struct EventStream {
    events: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Body<BufReader<UnixStream>>>, Message>,
    path: String,
}

impl Iterator for EventStream {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = &self.path;
        self.events.next().map(|r| {
            r.map_err(|source| Error::Json {
                what: "event",
                path: path.clone(),
                source,
            })
        })
    }
}

impl Client {
    /// `GET /events?since=&until=&filters=`: ends at `until`, or never.
    pub fn events(&self, opts: &EventsOptions) -> Result<EventStream, Error> {
        let mut q = Query::new();
        q.push_opt("since", opts.since.as_deref())
            .push_opt("until", opts.until.as_deref())
            .push_opt("filters", opts.filters.to_json());
        let resp = self.request("GET", "/events", &q, RequestBody::Empty)?;
        let path = resp.path.clone();
        Ok(EventStream {
            events: serde_json::Deserializer::from_reader(resp.body).into_iter(),
            path,
        })
    }
}
