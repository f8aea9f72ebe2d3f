//! The volume endpoints' operations: create, list with filters, inspect,
//! remove (409 while a container uses it) and prune.

use std::collections::BTreeMap;
use std::sync::Arc;

use pier_api::volume::{Volume, VolumeCreateRequest};

use super::mounts::map_volume_error;
use super::Daemon;
use crate::error::{Error, Result};
use crate::volumes::{dir_size, NewVolume, VolumeError, VolumeInfo, ANONYMOUS_LABEL};

/// Docker's filter JSON in either encoding (`{"k":["v"]}`, `{"k":{"v":true}}`).
pub fn parse_filters(raw: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    if raw.trim().is_empty() {
        return Ok(out);
    }
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| Error::InvalidParameter(format!("invalid filter: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(Error::InvalidParameter("invalid filter: not an object".to_string()));
    };
    for (k, v) in obj {
        let values: Vec<String> = match v {
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            serde_json::Value::Object(o) => o.keys().cloned().collect(),
            _ => return Err(Error::InvalidParameter(format!("invalid filter: {k}"))),
        };
        out.insert(k.clone(), values);
    }
    Ok(out)
}

fn truthy(v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(Error::InvalidParameter(format!("invalid filter 'dangling={other}'"))),
    }
}

/// `label=key` or `label=key=value` against a label map.
fn label_matches(labels: &BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

pub fn to_api(v: &VolumeInfo) -> Volume {
    Volume {
        created_at: v.created_at.clone(),
        driver: v.driver.clone(),
        labels: v.labels.clone(),
        mountpoint: v.mountpoint.display().to_string(),
        name: v.name.clone(),
        options: v.options.clone(),
        scope: "local".to_string(),
        usage_data: None,
    }
}

impl Daemon {
    /// [`Daemon::blocking`] with the daemon at hand.
    async fn blocking_with<T: Send + 'static>(
        self: &Arc<Self>,
        what: &'static str,
        f: impl FnOnce(&Daemon) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let d = self.clone();
        Daemon::blocking(what, move || f(&d)).await
    }

    pub async fn volume_create(self: &Arc<Self>, req: VolumeCreateRequest) -> Result<Volume> {
        self.blocking_with("create volume", move |d| {
            let (v, _) = d
                .volumes
                .create(NewVolume {
                    name: req.name,
                    driver: req.driver,
                    options: req.driver_opts.unwrap_or_default(),
                    labels: req.labels.unwrap_or_default(),
                })
                .map_err(map_volume_error)?;
            Ok(to_api(&v))
        })
        .await
    }

    pub async fn volume_inspect(self: &Arc<Self>, name: String) -> Result<Volume> {
        self.blocking_with("inspect volume", move |d| {
            d.volumes.get(&name).map(|v| to_api(&v)).map_err(map_volume_error)
        })
        .await
    }

    pub async fn volume_list(self: &Arc<Self>, filters: BTreeMap<String, Vec<String>>) -> Result<Vec<Volume>> {
        self.blocking_with("list volumes", move |d| {
            for k in filters.keys() {
                if !matches!(k.as_str(), "dangling" | "name" | "label" | "driver") {
                    return Err(Error::InvalidParameter(format!("invalid filter '{k}'")));
                }
            }
            let mut out = Vec::new();
            for v in d.volumes.list().map_err(map_volume_error)? {
                if !d.volume_matches(&v, &filters)? {
                    continue;
                }
                out.push(to_api(&v));
            }
            Ok(out)
        })
        .await
    }

    fn volume_matches(&self, v: &VolumeInfo, filters: &BTreeMap<String, Vec<String>>) -> Result<bool> {
        if let Some(names) = filters.get("name") {
            if !names.iter().any(|n| v.name.contains(n.as_str())) {
                return Ok(false);
            }
        }
        if let Some(drivers) = filters.get("driver") {
            if !drivers.contains(&v.driver) {
                return Ok(false);
            }
        }
        if let Some(labels) = filters.get("label") {
            if !labels.iter().all(|l| label_matches(&v.labels, l)) {
                return Ok(false);
            }
        }
        if let Some(d) = filters.get("dangling") {
            for want in d {
                let dangling = self.volume_users(&v.name).is_empty();
                if truthy(want)? != dangling {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    pub async fn volume_remove(self: &Arc<Self>, name: String, force: bool) -> Result<()> {
        self.blocking_with("remove volume", move |d| {
            let users = d.volume_users(&name);
            if !users.is_empty() {
                return Err(Error::Conflict(format!(
                    "remove {name}: volume is in use - [{}]",
                    users.join(", ")
                )));
            }
            match d.volumes.remove(&name) {
                Ok(()) => Ok(()),
                Err(VolumeError::NotFound(_)) if force => Ok(()),
                Err(e) => Err(map_volume_error(e)),
            }
        })
        .await
    }

    /// Docker ≥ 23: only anonymous volumes unless `all=true`; `label` filters too.
    pub async fn volume_prune(self: &Arc<Self>, filters: BTreeMap<String, Vec<String>>) -> Result<(Vec<String>, u64)> {
        self.blocking_with("prune volumes", move |d| {
            let all = filters
                .get("all")
                .map(|v| v.iter().any(|x| x == "true" || x == "1"))
                .unwrap_or(false);
            let mut deleted = Vec::new();
            let mut reclaimed = 0;
            for v in d.volumes.list().map_err(map_volume_error)? {
                if !all && !v.labels.contains_key(ANONYMOUS_LABEL) {
                    continue;
                }
                if let Some(labels) = filters.get("label") {
                    if !labels.iter().all(|l| label_matches(&v.labels, l)) {
                        continue;
                    }
                }
                if let Some(labels) = filters.get("label!") {
                    if labels.iter().any(|l| label_matches(&v.labels, l)) {
                        continue;
                    }
                }
                if !d.volume_users(&v.name).is_empty() {
                    continue;
                }
                let size = dir_size(&v.mountpoint);
                match d.volumes.remove(&v.name) {
                    Ok(()) => {
                        deleted.push(v.name.clone());
                        reclaimed += size;
                    }
                    Err(e) => tracing::warn!(volume = %v.name, error = %e, "prune volume"),
                }
            }
            Ok((deleted, reclaimed))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_both_encodings() {
        let f = parse_filters(r#"{"dangling":["true"],"label":{"a=b":true}}"#).expect("parse");
        assert_eq!(f["dangling"], ["true"]);
        assert_eq!(f["label"], ["a=b"]);
        assert!(parse_filters("[1]").is_err());
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "b".to_string());
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=b"));
        assert!(!label_matches(&labels, "a=c"));
    }
}
