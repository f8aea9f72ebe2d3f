//! The in-memory index of images and references, and docker's rules for
//! resolving, tagging and removing. Pure code: the store persists it.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ImageError;
use crate::image::Image;
use crate::reference::{is_full_hex_id, is_lower_hex, Reference};

/// Images by id and references by canonical form.
#[derive(Debug, Default)]
pub(crate) struct Index {
    images: BTreeMap<String, Image>,
    refs: BTreeMap<String, (Reference, String)>,
}

/// What a remove will do, decided before anything is touched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RemovePlan {
    pub id: String,
    /// Canonical references to drop.
    pub untag: Vec<String>,
    /// Whether the image itself goes.
    pub delete: bool,
}

/// `sha256:<hex>` → `<hex>`.
pub(crate) fn id_hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

impl Index {
    pub fn insert_image(&mut self, image: Image) {
        self.images.insert(image.id.clone(), image);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.images.contains_key(id)
    }

    /// Points `reference` at `id` (moving it from another image, as docker does).
    pub fn set_ref(&mut self, reference: Reference, id: &str) {
        self.refs.insert(reference.canonical(), (reference, id.to_string()));
    }

    pub fn remove_ref(&mut self, canonical: &str) -> Option<Reference> {
        self.refs.remove(canonical).map(|(r, _)| r)
    }

    /// Canonical reference → image id, for persisting.
    pub fn refs_by_canonical(&self) -> BTreeMap<String, String> {
        self.refs.iter().map(|(k, (_, id))| (k.clone(), id.clone())).collect()
    }

    /// The image with its references filled in.
    pub fn view(&self, id: &str) -> Option<Image> {
        let mut image = self.images.get(id)?.clone();
        let mut tags = BTreeSet::new();
        let mut digests = BTreeSet::new();
        for (r, _) in self.refs.values().filter(|(_, i)| i == id) {
            if r.digest().is_some() {
                digests.insert(r.to_string());
            } else {
                tags.insert(r.to_string());
            }
        }
        image.repo_tags = tags.into_iter().collect();
        image.repo_digests.extend(digests);
        image.repo_digests.sort();
        image.repo_digests.dedup();
        Some(image)
    }

    /// Every image, newest first.
    pub fn list(&self) -> Vec<Image> {
        let mut all: Vec<Image> = self.images.keys().filter_map(|id| self.view(id)).collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// Docker's lookup order: full id, reference, unique id prefix.
    pub fn resolve_id(&self, name_or_id: &str) -> Result<String, ImageError> {
        let not_found = || ImageError::NotFound {
            name: name_or_id.to_string(),
        };
        let hex = id_hex(name_or_id);
        if is_full_hex_id(hex) {
            let id = format!("sha256:{hex}");
            return if self.images.contains_key(&id) {
                Ok(id)
            } else {
                Err(not_found())
            };
        }
        if let Ok(r) = Reference::parse(name_or_id) {
            if let Some((_, id)) = self.refs.get(&r.canonical()) {
                return Ok(id.clone());
            }
        }
        if hex.is_empty() || !is_lower_hex(hex) {
            return Err(not_found());
        }
        let mut matches = self.images.keys().filter(|id| id_hex(id).starts_with(hex));
        match (matches.next(), matches.next()) {
            (Some(id), None) => Ok(id.clone()),
            _ => Err(not_found()),
        }
    }

    /// Docker's `ImageDelete` rules, minus the container check the caller does.
    pub fn plan_remove(&self, name_or_id: &str, force: bool) -> Result<RemovePlan, ImageError> {
        let id = self.resolve_id(name_or_id)?;
        let refs: Vec<&Reference> = self.refs.values().filter(|(_, i)| *i == id).map(|(r, _)| r).collect();
        let by_id = id.starts_with(name_or_id) || id_hex(&id).starts_with(name_or_id);
        if !by_id {
            // Resolved through a reference: untag it. When no tag is left,
            // the digest references go too and the image is deleted, as
            // docker does.
            let canonical = Reference::parse(name_or_id)?.canonical();
            let tags_left = refs
                .iter()
                .filter(|r| r.digest().is_none() && r.canonical() != canonical)
                .count();
            let mut untag = vec![canonical.clone()];
            if tags_left == 0 {
                untag.extend(
                    refs.iter()
                        .filter(|r| r.digest().is_some())
                        .map(|r| r.canonical())
                        .filter(|c| *c != canonical),
                );
            }
            return Ok(RemovePlan {
                id,
                untag,
                delete: tags_left == 0,
            });
        }
        if !force && !is_single_reference(&refs) {
            return Err(ImageError::Conflict {
                message: format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    &id_hex(&id)[..12]
                ),
            });
        }
        Ok(RemovePlan {
            id,
            untag: refs.iter().map(|r| r.canonical()).collect(),
            delete: true,
        })
    }

    pub fn remove_image(&mut self, id: &str) -> Option<Image> {
        self.refs.retain(|_, (_, i)| i != id);
        self.images.remove(id)
    }

    /// Whether any image uses the layer `diff_id`.
    pub fn layer_in_use(&self, diff_id: &str) -> bool {
        self.images.values().any(|i| i.diff_ids.iter().any(|d| d == diff_id))
    }
}

/// Docker's `isSingleReference`: at most one tag, all in one repository.
fn is_single_reference(refs: &[&Reference]) -> bool {
    let tags = refs.iter().filter(|r| r.digest().is_none()).count();
    let names: BTreeSet<String> = refs.iter().map(|r| r.name()).collect();
    tags <= 1 && names.len() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(hex_char: char, created: i64) -> Image {
        Image {
            id: format!("sha256:{}", hex_char.to_string().repeat(64)),
            repo_tags: vec![],
            repo_digests: vec![],
            created,
            created_rfc3339: String::new(),
            size: 0,
            architecture: "amd64".into(),
            os: "linux".into(),
            author: String::new(),
            comment: String::new(),
            config: Default::default(),
            diff_ids: vec![format!("sha256:{}", "d".repeat(64))],
            parent: String::new(),
        }
    }

    fn r(s: &str) -> Reference {
        Reference::parse(s).expect(s)
    }

    fn index() -> (Index, String, String) {
        let mut ix = Index::default();
        let a = image('a', 1);
        let b = image('b', 2);
        let (ida, idb) = (a.id.clone(), b.id.clone());
        ix.insert_image(a);
        ix.insert_image(b);
        ix.set_ref(r("busybox"), &ida);
        ix.set_ref(r("busybox:1"), &ida);
        ix.set_ref(r("other"), &idb);
        (ix, ida, idb)
    }

    #[test]
    fn resolves_by_ref_id_and_prefix() {
        let (ix, ida, idb) = index();
        assert_eq!(ix.resolve_id("busybox").expect("tag"), ida);
        assert_eq!(ix.resolve_id("docker.io/library/busybox:1").expect("tag"), ida);
        assert_eq!(ix.resolve_id(&ida).expect("id"), ida);
        assert_eq!(ix.resolve_id(id_hex(&ida)).expect("hex"), ida);
        assert_eq!(ix.resolve_id("b").expect("prefix"), idb);
        assert_eq!(ix.resolve_id("sha256:bbb").expect("prefix"), idb);
        for missing in ["busybox:2", "c", "", "sha256:", &"c".repeat(64), "Bad Name"] {
            assert!(
                matches!(ix.resolve_id(missing), Err(ImageError::NotFound { .. })),
                "{missing}"
            );
        }
    }

    #[test]
    fn views_and_lists() {
        let (ix, ida, _) = index();
        let a = ix.view(&ida).expect("view");
        assert_eq!(a.repo_tags, ["busybox:1", "busybox:latest"]);
        let all = ix.list();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].repo_tags, ["other:latest"]);
    }

    #[test]
    fn remove_by_tag_untags_until_last() {
        let (ix, ida, _) = index();
        let plan = ix.plan_remove("busybox:1", false).expect("plan");
        assert_eq!(plan.untag, ["docker.io/library/busybox:1"]);
        assert!(!plan.delete);
        let plan = ix.plan_remove("other", false).expect("plan");
        assert!(plan.delete);
        assert_eq!(plan.id, format!("sha256:{}", "b".repeat(64)));
        let _ = ida;
    }

    #[test]
    fn removing_the_last_tag_drops_digest_references() {
        let (mut ix, ida, _) = index();
        let digest = format!("docker.io/library/busybox@sha256:{}", "e".repeat(64));
        ix.set_ref(r(&digest), &ida);
        let plan = ix.plan_remove("busybox:1", false).expect("plan");
        assert!(!plan.delete, "busybox:latest is left");
        ix.remove_ref(&plan.untag[0]);
        let plan = ix.plan_remove("busybox", false).expect("plan");
        assert!(plan.delete);
        assert_eq!(plan.untag, ["docker.io/library/busybox:latest", digest.as_str()]);
        let plan = ix.plan_remove(&digest, false).expect("by digest");
        assert!(!plan.delete, "a tag is left");
    }

    #[test]
    fn remove_by_id_with_several_tags_needs_force() {
        let (ix, ida, _) = index();
        match ix.plan_remove("aaaa", false) {
            Err(ImageError::Conflict { message }) => assert_eq!(
                message,
                "conflict: unable to delete aaaaaaaaaaaa (must be forced) - image is referenced in multiple repositories"
            ),
            other => panic!("{other:?}"),
        }
        let plan = ix.plan_remove(&ida, true).expect("forced");
        assert!(plan.delete);
        assert_eq!(plan.untag.len(), 2);
        let plan = ix.plan_remove("b", false).expect("single tag");
        assert!(plan.delete);
        assert_eq!(plan.untag, ["docker.io/library/other:latest"]);
    }

    #[test]
    fn moving_a_tag_leaves_the_old_image_dangling() {
        let (mut ix, _, idb) = index();
        ix.set_ref(r("busybox"), &idb);
        assert_eq!(ix.view(&idb).expect("b").repo_tags, ["busybox:latest", "other:latest"]);
        let removed = ix.remove_image(&idb).expect("removed");
        assert_eq!(removed.id, idb);
        assert!(ix.resolve_id("busybox").is_err());
        assert!(ix.layer_in_use(&format!("sha256:{}", "d".repeat(64))));
    }
}
