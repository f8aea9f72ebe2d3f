//! docker's JSON progress messages (`jsonmessage.JSONMessage`): the stream
//! of objects `POST /images/create` (pull, import), `POST /images/load` and
//! push answer with. pierd writes them, pier-client reads them.

use serde::{Deserialize, Serialize};

/// One message of a progress stream. Fields are in docker's order; unset
/// ones are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressMessage {
    /// Text lines (`POST /images/load` answers with these).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `{"current":N,"total":M}` of a download (`{}` on plain statuses).
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// The text bar docker prints (`[=====>   ]  1.2MB/3.4MB`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ProgressErrorDetail>,
    /// The error text again (older clients read this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
}

impl ProgressMessage {
    /// `{"status": ...}`.
    pub fn status(status: impl Into<String>) -> Self {
        ProgressMessage {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// `{"stream": ...}` (a line of text).
    pub fn stream(text: impl Into<String>) -> Self {
        ProgressMessage {
            stream: Some(text.into()),
            ..Default::default()
        }
    }

    /// `{"errorDetail":{"message":...},"error":...}`.
    pub fn failure(message: impl Into<String>) -> Self {
        let message = message.into();
        ProgressMessage {
            error_detail: Some(ProgressErrorDetail {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }

    /// The error this message reports, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.error_detail
            .as_ref()
            .map(|d| d.message.as_str())
            .filter(|m| !m.is_empty())
            .or(self.error.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let download = ProgressMessage {
            status: Some("Downloading".into()),
            progress_detail: Some(ProgressDetail {
                current: Some(1),
                total: Some(2),
            }),
            progress: Some("[>] 1B/2B".into()),
            id: Some("abc".into()),
            ..Default::default()
        };
        let json = serde_json::to_string(&download).expect("json");
        assert_eq!(
            json,
            r#"{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[>] 1B/2B","id":"abc"}"#
        );
        assert_eq!(serde_json::from_str::<ProgressMessage>(&json).expect("back"), download);
        assert_eq!(
            serde_json::to_string(&ProgressMessage::failure("boom")).expect("json"),
            r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#
        );
        assert_eq!(ProgressMessage::failure("boom").error_message(), Some("boom"));
        assert_eq!(ProgressMessage::status("x").error_message(), None);
    }
}
