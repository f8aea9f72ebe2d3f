//! A small blocking client for the distribution (registry v2) API: manifests
//! by tag or digest, blobs as streams, the bearer-token flow.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use super::auth::{parse_challenge, parse_token, Challenge, Credentials};
use super::manifest::{ACCEPT, MAX_DOCUMENT};
use crate::error::ImageError;
use crate::reference::Reference;

/// The Docker Hub's registry API host.
const HUB_REGISTRY: &str = "registry-1.docker.io";

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries (`host:port`) spoken to over plain HTTP; loopback
    /// registries always are.
    pub insecure: Vec<String>,
    pub credentials: Option<Credentials>,
    /// Registry host (`registry.k8s.io`, `docker.io`) -> endpoint URL
    /// (`http://127.0.0.1:5000`, no trailing `/`): requests for that
    /// registry go to the endpoint, plain HTTP if its scheme says so
    /// (containerd's `hosts.toml` `server`).
    pub endpoints: std::collections::BTreeMap<String, String>,
}

/// One repository on one registry.
pub struct Repository {
    agent: ureq::Agent,
    /// `https://host` or `http://host`.
    base: String,
    registry: String,
    path: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("base", &self.base)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Whether `host` (`host[:port]`) is on the loopback interface.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A fetched manifest document.
#[derive(Debug)]
pub struct Fetched {
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Repository {
    /// A client for `reference`'s repository.
    pub fn new(reference: &Reference, options: &RegistryOptions) -> Self {
        let registry = reference.domain().to_string();
        let host = if registry == crate::reference::DEFAULT_DOMAIN {
            HUB_REGISTRY.to_string()
        } else {
            registry.clone()
        };
        let plain = is_loopback(&host) || options.insecure.iter().any(|i| i == &registry);
        let base = match options.endpoints.get(&registry) {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("{}://{host}", if plain { "http" } else { "https" }),
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .redirects(8)
            .build();
        Repository {
            agent,
            base,
            registry,
            path: reference.path().to_string(),
            credentials: options.credentials.clone(),
            authorization: Mutex::new(None),
        }
    }

    /// `GET /v2/<name>/manifests/<tag or digest>`.
    pub fn manifest(&self, tag_or_digest: &str) -> Result<Fetched, ImageError> {
        let url = format!("{}/v2/{}/manifests/{tag_or_digest}", self.base, self.path);
        let resp = self.get(&url, &ACCEPT.join(", ")).map_err(|e| match e {
            ImageError::Registry { status: Some(404), .. } => ImageError::ManifestUnknown {
                reference: format!("{}/{}:{tag_or_digest}", self.registry, self.path),
            },
            e => e,
        })?;
        let content_type = resp.content_type().to_string();
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.transport(&url, e.to_string()))?;
        if body.len() as u64 > MAX_DOCUMENT {
            return Err(ImageError::InvalidManifest {
                reason: format!("manifest {tag_or_digest} is larger than {MAX_DOCUMENT} bytes"),
            });
        }
        Ok(Fetched { content_type, body })
    }

    /// `GET /v2/<name>/blobs/<digest>` as a stream, with its length if known.
    pub fn blob(&self, digest: &str) -> Result<(Box<dyn Read + Send + Sync>, Option<u64>), ImageError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.path);
        let resp = self.get(&url, "*/*")?;
        let len = resp.header("Content-Length").and_then(|l| l.parse().ok());
        Ok((resp.into_reader(), len))
    }

    /// A small blob (a config) read whole.
    pub fn small_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let (reader, _) = self.blob(digest)?;
        let mut body = Vec::new();
        reader
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.transport(digest, e.to_string()))?;
        if body.len() as u64 > MAX_DOCUMENT {
            return Err(ImageError::InvalidManifest {
                reason: format!("blob {digest} is larger than {MAX_DOCUMENT} bytes"),
            });
        }
        Ok(body)
    }

    fn transport(&self, url: &str, reason: String) -> ImageError {
        ImageError::Registry {
            registry: self.registry.clone(),
            status: None,
            reason: format!("{url}: {reason}"),
        }
    }

    /// GET with the current authorization; on 401 follow the challenge once.
    fn get(&self, url: &str, accept: &str) -> Result<ureq::Response, ImageError> {
        let auth = self.authorization.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match self.send(url, accept, auth.as_deref()) {
            Err(ureq::Error::Status(401, resp)) => {
                let challenge = resp.header("WWW-Authenticate").and_then(parse_challenge);
                let fresh = self.authorize(challenge)?;
                *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
                self.send(url, accept, Some(&fresh))
                    .map_err(|e| self.status_error(url, e))
            }
            other => other.map_err(|e| self.status_error(url, e)),
        }
    }

    // ureq's error is large, but it lives only between these two functions.
    #[allow(clippy::result_large_err)]
    fn send(&self, url: &str, accept: &str, auth: Option<&str>) -> Result<ureq::Response, ureq::Error> {
        let mut req = self.agent.get(url).set("Accept", accept);
        if let Some(a) = auth {
            req = req.set("Authorization", a);
        }
        req.call()
    }

    /// Turns a 401 challenge into an `Authorization` header value.
    fn authorize(&self, challenge: Option<Challenge>) -> Result<String, ImageError> {
        let denied = |reason: &str| ImageError::Unauthorized {
            registry: self.registry.clone(),
            repository: self.path.clone(),
            reason: reason.to_string(),
        };
        match challenge {
            Some(Challenge::Basic) => self
                .credentials
                .as_ref()
                .map(Credentials::basic_header)
                .ok_or_else(|| denied("the registry wants credentials")),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let scope = format!("repository:{}:pull", self.path);
                let mut req = self.agent.get(&realm).query("scope", &scope);
                if let Some(s) = &service {
                    req = req.query("service", s);
                }
                if let Some(c) = &self.credentials {
                    req = req.set("Authorization", &c.basic_header());
                }
                let resp = req.call().map_err(|e| match e {
                    ureq::Error::Status(code, _) => denied(&format!("token endpoint answered {code}")),
                    e => denied(&format!("token endpoint: {e}")),
                })?;
                let mut body = Vec::new();
                resp.into_reader()
                    .take(MAX_DOCUMENT)
                    .read_to_end(&mut body)
                    .map_err(|e| denied(&format!("read token: {e}")))?;
                let token = parse_token(&body).ok_or_else(|| denied("no token in the token answer"))?;
                Ok(format!("Bearer {token}"))
            }
            None => Err(denied("no usable WWW-Authenticate challenge")),
        }
    }

    fn status_error(&self, url: &str, e: ureq::Error) -> ImageError {
        match e {
            ureq::Error::Status(401 | 403, _) => ImageError::Unauthorized {
                registry: self.registry.clone(),
                repository: self.path.clone(),
                reason: "access denied".into(),
            },
            ureq::Error::Status(code, resp) => {
                let mut body = String::new();
                let _ = resp.into_reader().take(4096).read_to_string(&mut body);
                ImageError::Registry {
                    registry: self.registry.clone(),
                    status: Some(code),
                    reason: format!("{url}: {code} {}", registry_message(&body)),
                }
            }
            ureq::Error::Transport(t) => self.transport(url, t.to_string()),
        }
    }
}

/// The first `errors[].message` of a registry error body, or the body.
fn registry_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(e) => e
            .errors
            .first()
            .map(|i| format!("{}: {}", i.code.to_lowercase().replace('_', " "), i.message))
            .unwrap_or_default(),
        Err(_) => body.trim().chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker.io", "10.0.0.1:5000", "example.com:443"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn registry_messages() {
        assert_eq!(
            registry_message(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#),
            "manifest unknown: manifest unknown"
        );
        assert_eq!(registry_message("plain"), "plain");
    }

    #[test]
    fn picks_scheme_and_host() {
        let r = Repository::new(&Reference::parse("busybox").expect("ref"), &RegistryOptions::default());
        assert_eq!(r.base, "https://registry-1.docker.io");
        assert_eq!(r.path, "library/busybox");
        let r = Repository::new(
            &Reference::parse("127.0.0.1:5000/a/b").expect("ref"),
            &RegistryOptions::default(),
        );
        assert_eq!(r.base, "http://127.0.0.1:5000");
        let opts = RegistryOptions {
            insecure: vec!["reg.lan:5000".into()],
            ..Default::default()
        };
        let r = Repository::new(&Reference::parse("reg.lan:5000/x").expect("ref"), &opts);
        assert_eq!(r.base, "http://reg.lan:5000");
        // The host map sends a registry's requests to another endpoint.
        let opts = RegistryOptions {
            endpoints: [("registry.k8s.io".to_string(), "http://127.0.0.1:5000/".to_string())].into(),
            ..Default::default()
        };
        let r = Repository::new(&Reference::parse("registry.k8s.io/pause:3.9").expect("ref"), &opts);
        assert_eq!(r.base, "http://127.0.0.1:5000");
        assert_eq!(r.registry, "registry.k8s.io");
        let r = Repository::new(&Reference::parse("busybox").expect("ref"), &opts);
        assert_eq!(r.base, "https://registry-1.docker.io");
    }
}
