//! `pier events`: the engine's events as they happen (or, with `--until`,
//! those of a time range), printed as docker's CLI prints them.

use std::io::Write;

use clap::Args;
use pier_client::{Client, EventsOptions};
use serde_json::Value;

use crate::commands::template::Template;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'json' or a Go template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long = "since", value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long = "until", value_name = "string")]
    pub until: Option<String>,
}

/// The events query for the flags (times relative to `now`, unix seconds).
pub fn options(a: &EventsArgs, now: i64) -> anyhow::Result<EventsOptions> {
    let conv = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| pier_time::since_value(s, now))
            .transpose()
            .map_err(Into::into)
    };
    Ok(EventsOptions {
        since: conv(&a.since)?,
        until: conv(&a.until)?,
        filters: super::parse_filters(&a.filter)?,
    })
}

/// docker CLI's `makeTemplate`: none for the default form, `{{json .}}`
/// for `json`.
pub fn template(format: Option<&str>) -> Result<Option<Template>, crate::commands::template::TemplateError> {
    match format {
        None | Some("") => Ok(None),
        Some("json") => Template::parse("{{json .}}").map(Some),
        Some(f) => Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n")).map(Some),
    }
}

pub fn events(client: &Client, a: &EventsArgs) -> anyhow::Result<i32> {
    let tmpl = match template(a.format.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Error parsing format: {e}");
            return Ok(64);
        }
    };
    let opts = options(a, pier_time::now_unix())?;
    let stream = client.events(&opts)?;
    let mut out = std::io::stdout().lock();
    let whole_json = a
        .format
        .as_deref()
        .is_some_and(|f| f == "json" || f.trim() == "{{json .}}");
    for e in stream {
        let e = e?;
        let line = match &tmpl {
            // Go's field order, which a JSON value would not keep.
            Some(_) if whole_json => format!("{}\n", serde_json::to_string(&e).unwrap_or_default()),
            Some(t) => format!("{}\n", t.render(&serde_json::to_value(&e).unwrap_or_default())),
            None => pretty(&serde_json::to_value(&e).unwrap_or_default()),
        };
        if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    Ok(0)
}

/// docker CLI's `prettyPrintEvent`: `<time> <type> <action> <id> (k=v, …)`.
pub fn pretty(e: &Value) -> String {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut line = String::new();
    let nanos = e.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
    let secs = e.get("time").and_then(Value::as_i64).unwrap_or(0);
    if nanos != 0 {
        line.push_str(&pier_time::format_fixed(nanos));
        line.push(' ');
    } else if secs != 0 {
        line.push_str(&pier_time::format_fixed(secs.saturating_mul(1_000_000_000)));
        line.push(' ');
    }
    let actor = e.get("Actor");
    let id = actor
        .and_then(|a| a.get("ID"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    line.push_str(&format!("{} {} {id}", s("Type"), s("Action")));
    if let Some(attrs) = actor.and_then(|a| a.get("Attributes")).and_then(Value::as_object) {
        if !attrs.is_empty() {
            let mut keys: Vec<&String> = attrs.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}={}", attrs[k.as_str()].as_str().unwrap_or_default()))
                .collect();
            line.push_str(&format!(" ({})", parts.join(", ")));
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_as_docker() {
        let e = serde_json::json!({"status": "start", "id": "abc", "from": "busybox", "Type": "container",
            "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}},
            "scope": "local", "time": 1_700_000_000i64, "timeNano": 1_700_000_000_123_456_789i64});
        assert_eq!(
            pretty(&e),
            "2023-11-14T22:13:20.123456789Z container start abc (image=busybox, name=web)\n"
        );
        let t = template(Some("json")).expect("json").expect("some");
        assert_eq!(t.render(&e), e.to_string());
        let t = template(Some("{{.Type}} {{.Actor.Attributes.name}}"))
            .expect("ok")
            .expect("some");
        assert_eq!(t.render(&e), "container web");
        assert!(template(Some("{{.Type")).is_err());
        assert!(template(None).expect("none").is_none());
    }

    #[test]
    fn relative_times_become_timestamps() {
        let a = EventsArgs {
            filter: vec!["type=container".into()],
            format: None,
            since: Some("10m".into()),
            until: Some("1700000000.5".into()),
        };
        let o = options(&a, 1_700_000_600).expect("options");
        assert_eq!(o.since.as_deref(), Some("1700000000"));
        assert_eq!(o.until.as_deref(), Some("1700000000.5"));
        assert_eq!(o.filters.to_json().as_deref(), Some(r#"{"type":{"container":true}}"#));
    }
}
