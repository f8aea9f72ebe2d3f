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

/// The containers that use an image (ids), as the caller finds them: the
/// first running one (paused and restarting count) and the first stopped
/// one. The store knows no containers; the daemon does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageUsers {
    pub running: Option<String>,
    pub stopped: Option<String>,
}

impl ImageUsers {
    fn any(&self) -> Option<&str> {
        self.running.as_deref().or(self.stopped.as_deref())
    }
}

/// dockerd's `stringid.TruncateID`: the first 12 hex digits.
fn truncate_id(id: &str) -> &str {
    let hex = id.rsplit(':').next().unwrap_or(id);
    &hex[..hex.len().min(12)]
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

    /// Docker's `ImageDelete` rules for an image no container uses.
    #[cfg(test)]
    pub fn plan_remove(&self, name_or_id: &str, force: bool) -> Result<RemovePlan, ImageError> {
        self.plan_remove_used(name_or_id, force, &ImageUsers::default())
    }

    /// dockerd's `ImageDelete` rules (`daemon/images/image_delete.go`),
    /// with the containers that use the image:
    ///
    /// - By reference: the reference goes (with the same repository's
    ///   digest references once its last tag goes). Without `force` that is
    ///   refused when it is the image's only name and a container uses the
    ///   image. Once no reference is left, the image is deleted, unless a
    ///   container uses it: then it stays, untagged (as dockerd's
    ///   containerd store keeps it), so the container still starts.
    /// - By id: a running container refuses (even with `force`); without
    ///   `force`, so do a stopped one and references in several
    ///   repositories. Otherwise every reference goes and the image is
    ///   deleted, or kept untagged while a (stopped) container uses it.
    pub fn plan_remove_used(
        &self,
        name_or_id: &str,
        force: bool,
        users: &ImageUsers,
    ) -> Result<RemovePlan, ImageError> {
        let id = self.resolve_id(name_or_id)?;
        let refs: Vec<&Reference> = self.refs.values().filter(|(_, i)| *i == id).map(|(r, _)| r).collect();
        let by_id = id.starts_with(name_or_id) || id_hex(&id).starts_with(name_or_id);
        let short_id = truncate_id(&id);
        let conflict = |hard: bool, what: String| ImageError::Conflict {
            message: format!(
                "conflict: unable to delete {short_id} ({}) - {what}",
                if hard { "cannot be forced" } else { "must be forced" }
            ),
        };
        if !by_id {
            let named = Reference::parse(name_or_id)?;
            if !force && is_single_reference(&refs) {
                if let Some(user) = users.any() {
                    return Err(ImageError::Conflict {
                        message: format!(
                            "conflict: unable to remove repository reference {name_or_id:?} (must force) - container {} is using its referenced image {short_id}",
                            truncate_id(user)
                        ),
                    });
                }
            }
            let canonical = named.canonical();
            let mut untag = vec![canonical.clone()];
            // A tag removed: when no other tag of that repository is left,
            // its digest references go too (dockerd does the same).
            if named.digest().is_none() {
                let same_repo = |r: &&&Reference| r.name() == named.name();
                let tag_left = refs
                    .iter()
                    .filter(same_repo)
                    .any(|r| r.digest().is_none() && r.canonical() != canonical);
                if !tag_left {
                    untag.extend(
                        refs.iter()
                            .filter(same_repo)
                            .filter(|r| r.digest().is_some())
                            .map(|r| r.canonical()),
                    );
                }
            }
            let left = refs.iter().filter(|r| !untag.contains(&r.canonical())).count();
            return Ok(RemovePlan {
                id,
                untag,
                delete: left == 0 && users.any().is_none(),
            });
        }
        if let Some(user) = &users.running {
            return Err(conflict(
                true,
                format!("image is being used by running container {}", truncate_id(user)),
            ));
        }
        if !force {
            if !refs.is_empty() && !is_single_reference(&refs) {
                return Err(conflict(false, "image is referenced in multiple repositories".into()));
            }
            if let Some(user) = &users.stopped {
                return Err(conflict(
                    false,
                    format!("image is being used by stopped container {}", truncate_id(user)),
                ));
            }
        }
        Ok(RemovePlan {
            id,
            untag: refs.iter().map(|r| r.canonical()).collect(),
            delete: users.stopped.is_none(),
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

    fn users(running: Option<&str>, stopped: Option<&str>) -> ImageUsers {
        ImageUsers {
            running: running.map(|c| format!("{}{}", c, "0".repeat(64 - c.len()))),
            stopped: stopped.map(|c| format!("{}{}", c, "0".repeat(64 - c.len()))),
        }
    }

    fn conflict(r: Result<RemovePlan, ImageError>) -> String {
        match r {
            Err(ImageError::Conflict { message }) => message,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn a_used_image_is_untagged_never_deleted() {
        let (ix, _, idb) = index();
        let stopped = users(None, Some("c1c1c1c1c1c1"));
        // Its only name, without force: dockerd's 409.
        assert_eq!(
            conflict(ix.plan_remove_used("other", false, &stopped)),
            "conflict: unable to remove repository reference \"other\" (must force) - container c1c1c1c1c1c1 is using its referenced image bbbbbbbbbbbb"
        );
        // With force, by name, stopped or running: untagged, kept.
        for u in [&stopped, &users(Some("a1a1a1a1a1a1"), None)] {
            let plan = ix.plan_remove_used("other", true, u).expect("forced");
            assert_eq!(plan.untag, ["docker.io/library/other:latest"]);
            assert!(!plan.delete, "a used image stays");
            assert_eq!(plan.id, idb);
        }
        // One of several tags: untagged without force.
        let plan = ix.plan_remove_used("busybox:1", false, &stopped).expect("untag");
        assert!(!plan.delete);
        // By id: a running container refuses even with force.
        let running = users(Some("a1a1a1a1a1a1"), None);
        assert_eq!(
            conflict(ix.plan_remove_used(&idb, true, &running)),
            "conflict: unable to delete bbbbbbbbbbbb (cannot be forced) - image is being used by running container a1a1a1a1a1a1"
        );
        assert_eq!(
            conflict(ix.plan_remove_used("bbbb", false, &stopped)),
            "conflict: unable to delete bbbbbbbbbbbb (must be forced) - image is being used by stopped container c1c1c1c1c1c1"
        );
        let plan = ix.plan_remove_used("bbbb", true, &stopped).expect("forced by id");
        assert_eq!(plan.untag, ["docker.io/library/other:latest"]);
        assert!(!plan.delete, "a used image stays");
        // Unused: deleted as before.
        assert!(
            ix.plan_remove_used("bbbb", false, &ImageUsers::default())
                .expect("unused")
                .delete
        );
    }

    #[test]
    fn digest_references_of_another_repository_keep_the_image() {
        let (mut ix, ida, _) = index();
        let digest = format!("docker.io/library/mirror@sha256:{}", "e".repeat(64));
        ix.set_ref(r(&digest), &ida);
        ix.remove_ref("docker.io/library/busybox:1");
        let plan = ix.plan_remove("busybox", false).expect("plan");
        assert_eq!(plan.untag, ["docker.io/library/busybox:latest"]);
        assert!(!plan.delete, "mirror@sha256 still names it");
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
