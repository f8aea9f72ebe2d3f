//! Manifests, indexes and platforms (OCI and Docker v2 schema 2), pure.

use serde::{Deserialize, Serialize};

use crate::error::ImageError;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// What the client accepts when asking for a manifest.
pub const ACCEPT: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// The largest manifest or config read into memory.
pub const MAX_DOCUMENT: u64 = 8 << 20;

/// A content descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An image platform (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this process runs on, in Go's naming.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            other => other,
        };
        Platform {
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            variant: (architecture == "arm64").then(|| "v8".to_string()),
        }
    }

    /// Parses `os[/arch[/variant]]`; an empty string is the host.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        if s.is_empty() {
            return Ok(Platform::host());
        }
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || ImageError::InvalidPlatform {
            platform: s.to_string(),
        };
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let host = Platform::host();
        Ok(Platform {
            os: parts[0].to_lowercase(),
            architecture: parts.get(1).map_or(host.architecture, |a| normalise_arch(a)),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// Whether an image of platform `other` runs here (a missing variant
    /// matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || normalise_arch(&self.architecture) != normalise_arch(&other.architecture) {
            return false;
        }
        match (&self.variant, &other.variant) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalise_arch(a: &str) -> String {
    match a {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.to_lowercase(),
    }
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An image index or docker manifest list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// A fetched manifest document, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

/// Classifies a manifest document by its content type, or by its shape
/// when the type is missing or generic.
pub fn parse_document(content_type: &str, body: &[u8]) -> Result<Document, ImageError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        schema_version: u32,
        #[serde(default)]
        media_type: String,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
        #[serde(default)]
        fs_layers: Option<serde_json::Value>,
    }
    let bad = |reason: String| ImageError::InvalidManifest { reason };
    let probe: Probe = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    let kind = [content_type, probe.media_type.as_str()]
        .into_iter()
        .find(|t| ACCEPT.contains(t))
        .unwrap_or("");
    if probe.schema_version == 1 || probe.fs_layers.is_some() {
        return Err(bad("schema 1 manifests are not supported".into()));
    }
    let is_index = matches!(kind, OCI_INDEX | DOCKER_LIST) || (kind.is_empty() && probe.manifests.is_some());
    if is_index {
        serde_json::from_slice(body)
            .map(Document::Index)
            .map_err(|e| bad(e.to_string()))
    } else {
        serde_json::from_slice(body)
            .map(Document::Manifest)
            .map_err(|e| bad(e.to_string()))
    }
}

/// The manifest of `index` for `platform` (docker picks the first match).
pub fn select_platform<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| matches!(d.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST | ""))
        .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
}

/// Checks a digest string is `sha256:<64 lowercase hex>` and returns the hex.
pub fn sha256_hex(digest: &str) -> Result<&str, ImageError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if crate::reference::is_full_hex_id(hex) => Ok(hex),
        _ => Err(ImageError::InvalidManifest {
            reason: format!("unsupported digest {digest:?}: only sha256 is supported"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(arch: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(str::to_string),
            }),
            annotations: Default::default(),
        }
    }

    #[test]
    fn picks_the_platform() {
        let index = Index {
            schema_version: 2,
            media_type: OCI_INDEX.into(),
            manifests: vec![
                d("arm", Some("v7"), "a"),
                d("arm64", Some("v8"), "b"),
                d("amd64", None, "c"),
            ],
        };
        let pick = |p: &str| select_platform(&index, &Platform::parse(p).expect("platform")).map(|d| d.digest.clone());
        assert_eq!(pick("linux/amd64").as_deref(), Some("c"));
        assert_eq!(pick("linux/arm64").as_deref(), Some("b"));
        assert_eq!(pick("linux/arm/v7").as_deref(), Some("a"));
        assert_eq!(pick("linux/arm/v6"), None);
        assert_eq!(pick("linux/s390x"), None);
        assert!(Platform::parse("linux//x").is_err());
        assert_eq!(
            Platform::parse("linux/arm64/v8").expect("p").to_string(),
            "linux/arm64/v8"
        );
    }

    #[test]
    fn classifies_documents() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:1","size":1},"layers":[]}"#;
        assert!(matches!(parse_document("", m), Ok(Document::Manifest(_))));
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(parse_document("application/json", i), Ok(Document::Index(_))));
        assert!(matches!(parse_document(OCI_INDEX, i), Ok(Document::Index(_))));
        let v1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(parse_document("", v1).is_err());
        assert!(parse_document("", b"nope").is_err());
    }

    #[test]
    fn digests() {
        assert!(sha256_hex(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(sha256_hex("sha512:aa").is_err());
        assert!(sha256_hex("sha256:../../etc").is_err());
    }
}
