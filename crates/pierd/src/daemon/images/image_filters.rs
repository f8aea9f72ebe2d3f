//! `filters=` of `GET /images/json` and `POST /images/prune` (pure).

use pier_api::filters::Filters;
use pier_image::Image;

use crate::daemon::lifecycle::list::invalid_filter;
use crate::error::Result;

/// The image-list filters pier applies: `dangling`, `label`, `reference`.
/// (docker also takes `before`, `since` and `until`; pier refuses them
/// rather than ignoring them.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilters {
    filters: Filters,
    dangling: Option<bool>,
}

impl ImageFilters {
    pub fn parse(text: &str) -> Result<Self> {
        let filters = Filters::parse(text).map_err(invalid_filter)?;
        filters
            .validate(&["dangling", "label", "reference"])
            .map_err(invalid_filter)?;
        let dangling = match filters.contains("dangling") {
            true => Some(filters.get_bool("dangling", false).map_err(invalid_filter)?),
            false => None,
        };
        Ok(ImageFilters { filters, dangling })
    }

    /// The image as listed, or `None` when filtered out. With `reference`
    /// filters only the matching tags are listed, as docker does.
    pub fn apply(&self, image: &Image) -> Option<Image> {
        if self.dangling.is_some_and(|d| d != image.repo_tags.is_empty()) {
            return None;
        }
        let labels = image.config.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        if !self.filters.match_kv_list("label", labels) {
            return None;
        }
        if !self.filters.contains("reference") {
            return Some(image.clone());
        }
        let tags: Vec<String> = image
            .repo_tags
            .iter()
            .filter(|t| self.filters.get("reference").any(|p| familiar_match(p, t)))
            .cloned()
            .collect();
        if tags.is_empty() {
            return None;
        }
        Some(Image {
            repo_tags: tags,
            ..image.clone()
        })
    }
}

/// Whether `POST /images/prune` removes every unused image (`dangling=false`)
/// rather than only untagged ones (docker's default).
pub fn prune_all(text: &str) -> Result<bool> {
    let filters = Filters::parse(text).map_err(invalid_filter)?;
    filters.validate(&["dangling"]).map_err(invalid_filter)?;
    Ok(!filters.get_bool("dangling", true).map_err(invalid_filter)?)
}

/// docker's `reference.FamiliarMatch`: the pattern against `name:tag`, then
/// against `name`.
fn familiar_match(pattern: &str, repo_tag: &str) -> bool {
    let slash = repo_tag.rfind('/').map_or(0, |i| i + 1);
    let name = match repo_tag[slash..].rfind(':') {
        Some(i) => &repo_tag[..slash + i],
        None => repo_tag,
    };
    glob(pattern.as_bytes(), repo_tag.as_bytes()) || glob(pattern.as_bytes(), name.as_bytes())
}

/// Go's `path.Match` for `*` and `?` (neither crosses `/`); other bytes,
/// `[` included, match themselves.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => s.first().is_some_and(|&c| c != b'/') && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tags: &[&str]) -> Image {
        let mut i = Image {
            id: "sha256:feed".into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: vec![],
            created: 0,
            created_rfc3339: String::new(),
            size: 0,
            architecture: String::new(),
            os: String::new(),
            author: String::new(),
            comment: String::new(),
            config: Default::default(),
            diff_ids: vec![],
            parent: String::new(),
        };
        i.config.labels.insert("a".into(), "b".into());
        i
    }

    #[test]
    fn references_and_dangling() {
        let img = image(&["busybox:latest", "busybox:1.36", "127.0.0.1:5000/x/y:1"]);
        let f = |s: &str| ImageFilters::parse(s).expect("parse").apply(&img).map(|i| i.repo_tags);
        assert_eq!(
            f(r#"{"reference":["busybox"]}"#),
            Some(vec!["busybox:latest".into(), "busybox:1.36".into()])
        );
        assert_eq!(f(r#"{"reference":["busybox:1.*"]}"#), Some(vec!["busybox:1.36".into()]));
        assert_eq!(
            f(r#"{"reference":["127.0.0.1:5000/*/y"]}"#),
            Some(vec!["127.0.0.1:5000/x/y:1".into()])
        );
        assert_eq!(
            f(r#"{"reference":["*"]}"#).map(|t| t.len()),
            Some(2),
            "* does not cross /"
        );
        assert_eq!(f(r#"{"reference":["alpine"]}"#), None);
        assert_eq!(f(r#"{"dangling":["true"]}"#), None);
        assert!(f(r#"{"dangling":["false"],"label":["a=b"]}"#).is_some());
        assert_eq!(f(r#"{"label":["a=c"]}"#), None);
        assert!(ImageFilters::parse(r#"{"dangling":["true"]}"#)
            .expect("parse")
            .apply(&image(&[]))
            .is_some());
        assert_eq!(
            ImageFilters::parse(r#"{"since":["x"]}"#)
                .expect_err("since")
                .to_string(),
            "invalid filter 'since'"
        );
    }

    #[test]
    fn prune() {
        assert!(prune_all(r#"{"dangling":["false"]}"#).expect("list"));
        assert!(prune_all(r#"{"dangling":{"false":true}}"#).expect("map"));
        assert!(!prune_all(r#"{"dangling":["true"]}"#).expect("true"));
        assert!(!prune_all("{}").expect("none"));
        assert!(!prune_all("").expect("empty"));
        assert_eq!(prune_all("{").expect_err("json").to_string(), "invalid filter");
        assert_eq!(
            prune_all(r#"{"dangling":["maybe"]}"#).expect_err("bool").to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
    }
}
