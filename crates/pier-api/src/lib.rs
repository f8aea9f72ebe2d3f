//! Docker Engine API types, stream framing and version negotiation for Pier.
//!
//! This crate is the wire contract between `pier` (and any Docker client) and
//! `pierd`. It holds plain serde types named as the API names them
//! (`docs: ../shared/reference/docker-engine-api-v1.50.yaml`), the 8-byte
//! stdcopy frame format used by non-TTY attach/logs/exec streams, and the API
//! version rules.
//!
//! It must not do IO, and must not depend on any other pier crate. Domain code
//! in `pierd` converts these types at its HTTP edge.

pub mod container;
pub mod events;
pub mod exec;
pub mod filters;
pub mod image;
pub mod network;
pub mod progress;
pub mod stats;
pub mod stdcopy;
pub mod system;
pub mod version;
pub mod volume;

use serde::{Deserialize, Serialize};

/// The JSON body of every error response: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

/// Serde helper: accept a JSON string or array of strings (older clients send
/// `"Cmd": "echo hi"`), or null.
pub(crate) mod string_or_vec {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    pub fn deserialize<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(match Option::<OneOrMany>::deserialize(d)? {
            None => None,
            Some(OneOrMany::One(s)) => Some(vec![s]),
            Some(OneOrMany::Many(v)) => Some(v),
        })
    }
}

/// Serde helper: read a JSON `null` as the type's zero value, as Go's
/// decoder leaves a scalar field untouched by `null`.
pub(crate) mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }
}
