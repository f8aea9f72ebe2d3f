//! Image references, parsed and normalised as docker's `distribution/reference`
//! does: `busybox` is `docker.io/library/busybox:latest`, shown as `busybox:latest`.
//!
//! Pure code: no IO.

use std::fmt;
use std::str::FromStr;

use crate::error::ImageError;

/// The registry a reference without a domain belongs to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A normalised image reference: `domain/path[:tag][@digest]`.
///
/// Invariant: a reference without a digest always has a tag (`latest` when
/// none was given), so every stored reference names exactly one image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises `s` (`busybox`, `repo:tag`, `host:port/a/b:tag`,
    /// `name@sha256:<64 hex>`); adds the tag `latest` when neither tag nor
    /// digest is given.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let (name, tag, digest) = split_reference(s)?;
        let (domain, path) = split_domain(s, name)?;
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Builds the reference of docker's `?repo=&tag=` query pair: `repo` is a
    /// name (a tag in it is kept unless `tag` is non-empty and replaces it).
    pub fn from_repo_tag(repo: &str, tag: &str) -> Result<Self, ImageError> {
        let mut reference = Reference::parse(repo)?;
        if !tag.is_empty() {
            if !is_tag(tag) {
                return Err(invalid(&format!("{repo}:{tag}"), None));
            }
            reference.tag = Some(tag.to_string());
            reference.digest = None;
        }
        Ok(reference)
    }

    /// The registry host (and port): `docker.io`, `127.0.0.1:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<hex>`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The fully qualified repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as docker shows it: `busybox`, `user/app`,
    /// `127.0.0.1:5000/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The fully qualified form, `docker.io/library/busybox:latest`: the key
    /// the store files references under.
    pub fn canonical(&self) -> String {
        let mut s = self.name();
        push_suffix(&mut s, self.tag(), self.digest());
        s
    }
}

fn push_suffix(s: &mut String, tag: Option<&str>, digest: Option<&str>) {
    if let Some(tag) = tag {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = digest {
        s.push('@');
        s.push_str(digest);
    }
}

impl fmt::Display for Reference {
    /// Docker's familiar form: `busybox:latest`, `127.0.0.1:5000/x/y:1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.familiar_name();
        push_suffix(&mut s, self.tag(), self.digest());
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn invalid(reference: &str, detail: Option<String>) -> ImageError {
    let reason = match detail {
        Some(d) => format!("invalid reference format: {d}"),
        None => "invalid reference format".to_string(),
    };
    ImageError::InvalidReference {
        reference: reference.to_string(),
        reason,
    }
}

/// Splits `name[:tag][@digest]` and checks tag and digest syntax.
fn split_reference(s: &str) -> Result<(&str, Option<&str>, Option<String>), ImageError> {
    if s.is_empty() {
        return Err(invalid(s, None));
    }
    if is_full_hex_id(s) {
        return Err(ImageError::InvalidReference {
            reference: s.to_string(),
            reason: format!("invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"),
        });
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            if !is_digest(digest) {
                return Err(invalid(s, None));
            }
            (rest, Some(digest.to_string()))
        }
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        if !is_tag(tag) {
            return Err(invalid(s, None));
        }
    }
    if name.is_empty() {
        return Err(invalid(s, None));
    }
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(invalid(
            s,
            Some(format!(
                "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
            )),
        ));
    }
    Ok((name, tag, digest))
}

/// Docker's `splitDockerDomain` plus syntax checks of both halves.
fn split_domain(whole: &str, name: &str) -> Result<(String, String), ImageError> {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    if !is_domain(&domain) {
        return Err(invalid(whole, None));
    }
    if remainder.to_lowercase() != remainder {
        return Err(invalid(
            whole,
            Some(format!("repository name ({remainder}) must be lowercase")),
        ));
    }
    if !remainder.split('/').all(is_path_component) {
        return Err(invalid(whole, None));
    }
    // docker checks the length of the normalised name (`docker.io/library/…`):
    // a name that fits only in its short form would not parse back.
    if domain.len() + 1 + remainder.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(invalid(
            whole,
            Some(format!(
                "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
            )),
        ));
    }
    Ok((domain, remainder))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`, host being dotted domain components or a bracketed IPv6.
fn is_domain(d: &str) -> bool {
    let is_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        return after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
    }
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    host.split('.').all(is_domain_component) && port.is_none_or(is_port)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty() && b.len() <= TAG_LENGTH_MAX && word(b[0]) && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
pub(crate) fn is_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && is_lower_hex(hex),
        Some(("sha512", hex)) => hex.len() == 128 && is_lower_hex(hex),
        _ => false,
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A bare 64-character lowercase hex string: an image id, not a name.
pub(crate) fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `image_reference` fuzz target: a 250-character name
    /// passed the length check in its short form, but its canonical form
    /// (`docker.io/library/…`, the store's key) was refused on re-parse.
    #[test]
    fn length_limit_applies_to_the_normalised_name() {
        let short = "a".repeat(237);
        assert_eq!(Reference::parse(&short).expect("fits").name().len(), 255);
        let long = "a".repeat(238);
        let e = Reference::parse(&long).expect_err("too long once normalised");
        assert!(e.to_string().contains("must not be more than 255 characters"), "{e}");
    }

    fn canon(s: &str) -> String {
        Reference::parse(s).expect(s).canonical()
    }

    fn familiar(s: &str) -> String {
        Reference::parse(s).expect(s).to_string()
    }

    fn reason(s: &str) -> String {
        match Reference::parse(s) {
            Err(ImageError::InvalidReference { reason, .. }) => reason,
            other => panic!("{s}: expected invalid reference, got {other:?}"),
        }
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_docker_hub_names() {
        assert_eq!(canon("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(canon("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(canon("user/app"), "docker.io/user/app:latest");
        assert_eq!(canon("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            canon("index.docker.io/library/busybox:x"),
            "docker.io/library/busybox:x"
        );
        assert_eq!(familiar("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(familiar("docker.io/user/app:v1"), "user/app:v1");
        assert_eq!(familiar("library/a/b"), "library/a/b:latest");
    }

    #[test]
    fn registries_with_ports_and_paths() {
        let r = Reference::parse("127.0.0.1:5000/x/y:1").expect("parse");
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.path(), "x/y");
        assert_eq!(r.tag(), Some("1"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/x/y:1");
        assert_eq!(familiar("localhost/foo"), "localhost/foo:latest");
        assert_eq!(familiar("localhost:5000/foo"), "localhost:5000/foo:latest");
        assert_eq!(familiar("quay.io/a/b-c_d.e__f"), "quay.io/a/b-c_d.e__f:latest");
        assert_eq!(familiar("[::1]:5000/foo:t"), "[::1]:5000/foo:t");
        assert_eq!(familiar("Registry.Example/foo"), "Registry.Example/foo:latest");
        assert_eq!(familiar("a---b/c"), "a---b/c:latest");
    }

    #[test]
    fn digests() {
        let s = format!("busybox@sha256:{HEX}");
        let r = Reference::parse(&s).expect("parse");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(r.to_string(), s);
        let both = format!("busybox:1@sha256:{HEX}");
        assert_eq!(familiar(&both), both);
        assert!(Reference::parse("busybox@sha256:abc").is_err());
        assert!(Reference::parse(&format!("busybox@sha256:{}", HEX.to_uppercase())).is_err());
        assert!(Reference::parse(&format!("busybox@md5:{HEX}")).is_err());
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in [
            "",
            ":",
            ":tag",
            "a:",
            "a::b",
            "a:b:c",
            "-a",
            "a-",
            "a..b",
            "a/",
            "/a",
            "a//b",
            "a:-tag",
            "a b",
            "a@",
            "localhost:port/x",
            "a.b:5000:6000/x",
            "a/b:tag/x",
        ] {
            assert!(
                reason(bad).starts_with("invalid reference format"),
                "{bad}: {}",
                reason(bad)
            );
        }
        let long_tag = format!("a:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
        let long_name = "a".repeat(256);
        assert!(reason(&long_name).contains("255"));
    }

    #[test]
    fn lowercase_rules() {
        assert_eq!(
            reason("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(reason("quay.io/Foo").contains("must be lowercase"));
        // An uppercase first component is a domain, as docker reads it.
        assert_eq!(canon("Foo/bar"), "Foo/bar:latest");
        // Tags may hold uppercase.
        assert_eq!(canon("a:V1.0_x-y"), "docker.io/library/a:V1.0_x-y");
    }

    #[test]
    fn refuses_hex_ids_as_names() {
        assert!(reason(HEX).contains("64-byte hexadecimal"));
    }

    #[test]
    fn repo_and_tag_query() {
        let r = Reference::from_repo_tag("busybox", "").expect("parse");
        assert_eq!(r.to_string(), "busybox:latest");
        let r = Reference::from_repo_tag("busybox", "1.0").expect("parse");
        assert_eq!(r.to_string(), "busybox:1.0");
        let r = Reference::from_repo_tag("busybox:old", "new").expect("parse");
        assert_eq!(r.to_string(), "busybox:new");
        assert!(Reference::from_repo_tag("busybox", "a b").is_err());
    }
}
