//! The volume endpoints' operations: create, list with filters, inspect,
//! remove (409 while a container uses it) and prune.

use std::sync::Arc;

use pier_api::filters::Filters;
use pier_api::volume::{Volume, VolumeCreateRequest};

use crate::daemon::lifecycle::list::invalid_filter;
use crate::daemon::storage::mounts::map_volume_error;
use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::volumes::{dir_size, NewVolume, VolumeError, VolumeInfo};

/// Docker's filter JSON (either encoding, `pier_api::filters`).
pub fn parse_filters(raw: &str) -> Result<Filters> {
    Filters::parse(raw).map_err(invalid_filter)
}

fn labels_of(v: &VolumeInfo) -> impl Iterator<Item = (&str, &str)> {
    v.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))
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
            d.event("volume", "create", &v.name, &[("driver", "local")]);
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

    pub async fn volume_list(self: &Arc<Self>, filters: Filters) -> Result<Vec<Volume>> {
        self.blocking_with("list volumes", move |d| {
            filters
                .validate(&["dangling", "name", "label", "driver"])
                .map_err(invalid_filter)?;
            let dangling = match filters.contains("dangling") {
                true => Some(filters.get_bool("dangling", false).map_err(invalid_filter)?),
                false => None,
            };
            let mut out = Vec::new();
            for v in d.volumes.list().map_err(map_volume_error)? {
                let mut names = filters.get("name").peekable();
                let name_ok = names.peek().is_none() || names.any(|n| v.name.contains(n));
                let ok = name_ok
                    && filters.exact_match("driver", &v.driver)
                    && filters.match_kv_list("label", labels_of(&v))
                    && dangling.is_none_or(|want| want == d.volume_users(&v.name).is_empty());
                if ok {
                    out.push(to_api(&v));
                }
            }
            Ok(out)
        })
        .await
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
                Ok(()) => {
                    d.event("volume", "destroy", &name, &[("driver", "local")]);
                    Ok(())
                }
                Err(VolumeError::NotFound(_)) if force => Ok(()),
                Err(e) => Err(map_volume_error(e)),
            }
        })
        .await
    }

    /// dockerd's `VolumesService.Prune`: unused `local` volumes created
    /// without driver options, only anonymous ones unless the filter says
    /// `all=true` (the HTTP layer adds it for requests below API 1.42);
    /// `label` and `label!` filters too.
    pub async fn volume_prune(self: &Arc<Self>, filters: Filters) -> Result<(Vec<String>, u64)> {
        self.blocking_with("prune volumes", move |d| {
            let all = prune_all(&filters)?;
            filters.validate(&["label", "label!", "all"]).map_err(invalid_filter)?;
            let mut deleted = Vec::new();
            let mut reclaimed = 0;
            for v in d.volumes.list().map_err(map_volume_error)? {
                if !all && !v.is_anonymous() {
                    continue;
                }
                if v.driver != "local" || !v.options.is_empty() {
                    continue;
                }
                if !filters.match_kv_list("label", labels_of(&v))
                    || (filters.contains("label!") && filters.match_kv_list("label!", labels_of(&v)))
                {
                    continue;
                }
                if !d.volume_users(&v.name).is_empty() {
                    continue;
                }
                let size = dir_size(&v.mountpoint);
                match d.volumes.remove(&v.name) {
                    Ok(()) => {
                        d.event("volume", "destroy", &v.name, &[("driver", "local")]);
                        deleted.push(v.name.clone());
                        reclaimed += size;
                    }
                    Err(e) => tracing::warn!(volume = %v.name, error = %e, "prune volume"),
                }
            }
            // dockerd logs one `prune` event with no actor id.
            d.event("volume", "prune", "", &[("reclaimed", &reclaimed.to_string())]);
            Ok((deleted, reclaimed))
        })
        .await
    }
}

/// dockerd's `withPrune`: the one value of the `all` filter, as Go's
/// `strconv.ParseBool` reads it; absent means anonymous volumes only.
pub fn prune_all(filters: &Filters) -> Result<bool> {
    let values: Vec<&str> = filters.get("all").collect();
    match values.as_slice() {
        [] => Ok(false),
        [one] => match *one {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            other => Err(Error::InvalidParameter(format!(
                "invalid filter 'all': strconv.ParseBool: parsing {other:?}: invalid syntax"
            ))),
        },
        many => Err(Error::InvalidParameter(format!(
            "invalid filter 'all=[{}]': only one value is expected",
            many.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_both_encodings() {
        let f = parse_filters(r#"{"dangling":["true"],"label":["a=b"]}"#).expect("parse");
        assert!(f.get_bool("dangling", false).expect("bool"));
        assert_eq!(f.get("label").collect::<Vec<_>>(), ["a=b"]);
        assert_eq!(parse_filters("[1]").expect_err("array").to_string(), "invalid filter");
        // Like dockerd, one request uses one form.
        let mixed = r#"{"dangling":["true"],"label":{"a=b":true}}"#;
        assert_eq!(parse_filters(mixed).expect_err("mixed").to_string(), "invalid filter");
    }

    #[test]
    fn prune_all_reads_one_go_bool() {
        let f = |raw: &str| prune_all(&parse_filters(raw).expect("parse"));
        assert!(!f("").expect("absent"));
        assert!(f(r#"{"all":["true"]}"#).expect("true"));
        assert!(f(r#"{"all":["1"]}"#).expect("1"));
        assert!(!f(r#"{"all":["False"]}"#).expect("False"));
        assert_eq!(
            f(r#"{"all":["yes"]}"#).expect_err("yes").to_string(),
            r#"invalid filter 'all': strconv.ParseBool: parsing "yes": invalid syntax"#
        );
        assert_eq!(
            f(r#"{"all":["false","true"]}"#).expect_err("two").to_string(),
            "invalid filter 'all=[false true]': only one value is expected"
        );
    }
}
