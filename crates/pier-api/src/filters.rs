//! Docker's `filters=` query value, parsed in one place with one meaning
//! (moby's `api/types/filters`).
//!
//! The wire form is a JSON object of key -> set of values. Docker writes the
//! set as a map (`{"label":{"a=b":true}}`, since API 1.22) and still reads the
//! older list form (`{"label":["a=b"]}`); both parse to the same [`Filters`].
//! As in moby, a value is in the set whatever its boolean says, and one
//! request uses one form (a mix of both is refused).
//!
//! Values of one key are alternatives (any may match), except
//! [`Filters::match_kv_list`] (labels), where every value must match.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Key -> set of values of a `filters=` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

/// A filter the daemon refuses, with docker's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFilter {
    /// The JSON is neither of docker's forms.
    #[error("invalid filter")]
    Malformed,
    /// A key the endpoint does not know.
    #[error("invalid filter '{0}'")]
    Key(String),
    /// A boolean key without exactly one truthy or falsy value.
    #[error("invalid filter '{key}=[{}]'", values.join(" "))]
    Bool { key: String, values: Vec<String> },
    /// One value of a key the endpoint cannot use.
    #[error("invalid filter '{key}={value}'{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Value {
        key: String,
        value: String,
        reason: Option<String>,
    },
}

/// A `-f`/`--filter` flag without `=` (the CLI's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad format of filter (expected name=value)")]
pub struct BadFilterFlag;

impl Filters {
    pub fn new() -> Self {
        Self::default()
    }

    /// moby's `FromJSON`: empty text is no filter; the map form first, then
    /// the list form; anything else is [`InvalidFilter::Malformed`].
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        if text.is_empty() {
            return Ok(Self::new());
        }
        type MapForm = Option<BTreeMap<String, Option<BTreeMap<String, bool>>>>;
        type ListForm = Option<BTreeMap<String, Option<Vec<String>>>>;
        let fields = if let Ok(map) = serde_json::from_str::<MapForm>(text) {
            map.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default().into_keys().collect()))
                .collect()
        } else if let Ok(list) = serde_json::from_str::<ListForm>(text) {
            list.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default().into_iter().collect()))
                .collect()
        } else {
            return Err(InvalidFilter::Malformed);
        };
        Ok(Filters { fields })
    }

    /// The docker CLI's `--filter name=value`: the name trimmed and
    /// lowercased, the value trimmed; an empty flag adds nothing.
    pub fn add_flag(&mut self, flag: &str) -> Result<(), BadFilterFlag> {
        if flag.is_empty() {
            return Ok(());
        }
        let (name, value) = flag.split_once('=').ok_or(BadFilterFlag)?;
        self.add(name.trim().to_lowercase(), value.trim());
        Ok(())
    }

    /// Adds `value` to the set of `key`.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.fields.entry(key.into()).or_default().insert(value.into());
        self
    }

    /// Builder form of [`Filters::add`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.add(key, value);
        self
    }

    /// docker's `ToJSON`: `None` when empty, else the map form.
    pub fn to_json(&self) -> Option<String> {
        if self.fields.is_empty() {
            return None;
        }
        serde_json::to_string(self).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether `key` was given (even with no values).
    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// The values of `key` (none when absent), sorted.
    pub fn get(&self, key: &str) -> impl Iterator<Item = &str> {
        self.fields.get(key).into_iter().flatten().map(String::as_str)
    }

    /// Refuses the first key not in `accepted`.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), InvalidFilter> {
        match self.keys().find(|k| !accepted.contains(k)) {
            Some(k) => Err(InvalidFilter::Key(k.to_string())),
            None => Ok(()),
        }
    }

    /// Checks every value of `key` with `check` (`Err(reason)` refuses it).
    pub fn validate_values(
        &self,
        key: &str,
        check: impl Fn(&str) -> Result<(), Option<String>>,
    ) -> Result<(), InvalidFilter> {
        for value in self.get(key) {
            check(value).map_err(|reason| InvalidFilter::Value {
                key: key.to_string(),
                value: value.to_string(),
                reason,
            })?;
        }
        Ok(())
    }

    /// moby's `GetBoolOrDefault`: `default` when `key` is absent; an error
    /// when its values are neither or both of true (`1`/`true`) and false
    /// (`0`/`false`).
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool, InvalidFilter> {
        let Some(values) = self.fields.get(key) else {
            return Ok(default);
        };
        let has = |a: &str, b: &str| values.contains(a) || values.contains(b);
        let (is_true, is_false) = (has("1", "true"), has("0", "false"));
        if is_true == is_false {
            return Err(InvalidFilter::Bool {
                key: key.to_string(),
                values: values.iter().cloned().collect(),
            });
        }
        Ok(is_true)
    }

    /// Whether `source` is one of the values of `key` (true when `key` has
    /// no values).
    pub fn exact_match(&self, key: &str, source: &str) -> bool {
        self.fields.get(key).is_none_or(|v| v.is_empty() || v.contains(source))
    }

    /// [`Filters::exact_match`], or `source` starts with one of the values
    /// (ids by prefix).
    pub fn fuzzy_match(&self, key: &str, source: &str) -> bool {
        self.exact_match(key, source) || self.get(key).any(|p| source.starts_with(p))
    }

    /// moby's `MatchKVList` (labels): every value of `key`, `k` or `k=v`,
    /// is present in `sources` (true when `key` has no values).
    pub fn match_kv_list<'a>(&self, key: &str, sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let Some(wanted) = self.fields.get(key).filter(|v| !v.is_empty()) else {
            return true;
        };
        let sources: BTreeMap<&str, &str> = sources.into_iter().collect();
        wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => sources.get(k) == Some(&v),
            None => sources.contains_key(w.as_str()),
        })
    }
}

impl Serialize for Filters {
    /// The map form, `{"key":{"value":true}}`, as docker writes it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Set<'a>(&'a BTreeSet<String>);
        impl Serialize for Set<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for v in self.0 {
                    m.serialize_entry(v, &true)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, &Set(v))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_mean_the_same() {
        let list = Filters::parse(r#"{"label":["a=b"],"status":["running"]}"#).expect("list");
        let map = Filters::parse(r#"{"label":{"a=b":true},"status":{"running":true}}"#).expect("map");
        assert_eq!(list, map);
        assert_eq!(list.get("status").collect::<Vec<_>>(), ["running"]);
        // moby keeps a value whatever its boolean.
        let off = Filters::parse(r#"{"status":{"running":false}}"#).expect("false");
        assert_eq!(off.get("status").collect::<Vec<_>>(), ["running"]);
        assert!(Filters::parse("").expect("empty").is_empty());
        assert!(Filters::parse("null").expect("null").is_empty());
        assert!(Filters::parse("{}").expect("{}").is_empty());
    }

    #[test]
    fn malformed_is_docker_text() {
        for bad in ["{", "[1]", r#"{"a":1}"#, r#"{"a":[1]}"#, r#"{"a":{"b":"c"}}"#, "\"x\""] {
            let e = Filters::parse(bad).expect_err(bad);
            assert_eq!(e.to_string(), "invalid filter", "{bad}");
        }
    }

    #[test]
    fn round_trips_through_map_form() {
        let f = Filters::new()
            .with("status", "running")
            .with("status", "exited")
            .with("name", "web");
        let json = f.to_json().expect("json");
        assert_eq!(json, r#"{"name":{"web":true},"status":{"exited":true,"running":true}}"#);
        assert_eq!(Filters::parse(&json).expect("parse"), f);
        assert_eq!(Filters::new().to_json(), None);
    }

    #[test]
    fn flags_like_the_docker_cli() {
        let mut f = Filters::new();
        f.add_flag(" Status =exited").expect("flag");
        f.add_flag("label=a=b").expect("flag");
        f.add_flag("").expect("empty");
        assert_eq!(f.get("status").collect::<Vec<_>>(), ["exited"]);
        assert_eq!(f.get("label").collect::<Vec<_>>(), ["a=b"]);
        assert_eq!(
            f.add_flag("oops").expect_err("no =").to_string(),
            "bad format of filter (expected name=value)"
        );
    }

    #[test]
    fn validation_messages() {
        let f = Filters::new().with("bogus", "x").with("dangling", "maybe");
        assert_eq!(
            f.validate(&["dangling"]).expect_err("key").to_string(),
            "invalid filter 'bogus'"
        );
        assert_eq!(
            f.get_bool("dangling", false).expect_err("bool").to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
        let e = f
            .validate_values("bogus", |_| Err(Some("no".into())))
            .expect_err("value");
        assert_eq!(e.to_string(), "invalid filter 'bogus=x': no");
        let both = Filters::new().with("dangling", "true").with("dangling", "0");
        assert_eq!(
            both.get_bool("dangling", false).expect_err("both").to_string(),
            "invalid filter 'dangling=[0 true]'"
        );
        assert!(Filters::new().with("all", "1").get_bool("all", false).expect("1"));
        assert!(!Filters::new().get_bool("all", false).expect("absent"));
    }

    #[test]
    fn matching() {
        let f = Filters::new().with("label", "a").with("label", "b=c").with("id", "abc");
        assert!(f.match_kv_list("label", [("a", "x"), ("b", "c")]));
        assert!(!f.match_kv_list("label", [("a", "x"), ("b", "d")]));
        assert!(!f.match_kv_list("label", [("b", "c")]));
        assert!(f.match_kv_list("nothing", []));
        assert!(f.fuzzy_match("id", "abcdef"));
        assert!(!f.fuzzy_match("id", "xabc"));
        assert!(f.exact_match("name", "anything"));
    }
}
