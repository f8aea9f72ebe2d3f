//! Registry authentication, pure parts: the `WWW-Authenticate` challenge,
//! the token answer, credentials from a docker `config.json`, and the
//! `X-Registry-Auth` header docker's CLI sends.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use serde::Deserialize;

/// A user name and password (or identity token) for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `Basic <base64(user:password)>`.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }

    /// Credentials for `registry` (`docker.io`, `127.0.0.1:5000`) in the
    /// text of a docker `config.json` (`auths.<host>.auth` or
    /// `username`/`password`). Credential helpers are not consulted.
    pub fn from_docker_config(text: &str, registry: &str) -> Option<Credentials> {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            auths: BTreeMap<String, Entry>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Entry {
            auth: String,
            username: String,
            password: String,
        }
        let config: Config = serde_json::from_str(text).ok()?;
        let keys = config_keys(registry);
        let entry = config
            .auths
            .iter()
            .find(|(k, _)| keys.iter().any(|want| strip_scheme(k) == *want))
            .map(|(_, e)| e)?;
        if !entry.auth.is_empty() {
            let decoded = STANDARD.decode(entry.auth.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (username, password) = text.split_once(':')?;
            return Some(Credentials {
                username: username.to_string(),
                password: password.to_string(),
            });
        }
        (!entry.username.is_empty()).then(|| Credentials {
            username: entry.username.clone(),
            password: entry.password.clone(),
        })
    }

    /// The `X-Registry-Auth` header: base64url JSON `{"username","password"}`
    /// (docker's CLI sends `{}` when it has nothing).
    pub fn from_registry_auth_header(value: &str) -> Option<Credentials> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct AuthConfig {
            username: String,
            password: String,
            identitytoken: String,
        }
        let value = value.trim();
        let bytes = URL_SAFE
            .decode(value)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value))
            .or_else(|_| STANDARD.decode(value))
            .ok()?;
        let a: AuthConfig = serde_json::from_slice(&bytes).ok()?;
        if !a.identitytoken.is_empty() {
            return Some(Credentials {
                username: "<token>".into(),
                password: a.identitytoken,
            });
        }
        (!a.username.is_empty()).then_some(Credentials {
            username: a.username,
            password: a.password,
        })
    }
}

fn strip_scheme(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The keys docker's config may file `registry` under.
fn config_keys(registry: &str) -> Vec<&str> {
    if registry == "docker.io" {
        vec!["index.docker.io", "docker.io", "registry-1.docker.io"]
    } else {
        vec![registry]
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

/// `k="v", k2=v2` (values may hold commas inside quotes).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next().is_none() || key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

/// The token endpoint's answer: `token` or `access_token`.
pub fn parse_token(body: &[u8]) -> Option<String> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Answer {
        token: String,
        access_token: String,
    }
    let a: Answer = serde_json::from_slice(body).ok()?;
    [a.token, a.access_token].into_iter().find(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="x""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Digest x"), None);
    }

    #[test]
    fn reads_docker_config_auths() {
        let auth = STANDARD.encode("me:secret");
        let text = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"username":"u","password":"p"}}}}}}"#
        );
        let c = Credentials::from_docker_config(&text, "docker.io").expect("hub");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "secret"));
        let c = Credentials::from_docker_config(&text, "127.0.0.1:5000").expect("local");
        assert_eq!(c.username, "u");
        assert!(Credentials::from_docker_config(&text, "quay.io").is_none());
        assert!(Credentials::from_docker_config("not json", "quay.io").is_none());
        assert!(
            !format!("{c:?}").contains("password"),
            "debug output hides the password"
        );
    }

    #[test]
    fn reads_registry_auth_header_and_tokens() {
        let h = URL_SAFE.encode(r#"{"username":"a","password":"b"}"#);
        assert_eq!(
            Credentials::from_registry_auth_header(&h),
            Some(Credentials {
                username: "a".into(),
                password: "b".into()
            })
        );
        assert_eq!(Credentials::from_registry_auth_header(&URL_SAFE.encode("{}")), None);
        assert_eq!(parse_token(br#"{"access_token":"t2"}"#).as_deref(), Some("t2"));
        assert_eq!(
            parse_token(br#"{"token":"t1","access_token":"t2"}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(parse_token(b"{}"), None);
    }
}
