//! The `X-Registry-Auth` header docker's CLI sends with a pull: the
//! credentials `docker login` stored in `config.json` for the image's
//! registry (`auths.<host>.auth`), as base64url JSON. Credential helpers
//! are not consulted.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;

/// The registry host of an image name, as docker splits it.
pub fn registry_of(name: &str) -> &str {
    match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// The header value for `registry` from the text of a `config.json`.
pub fn header_from_config(text: &str, registry: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_str(text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let wanted: &[&str] = if registry == "docker.io" {
        &["index.docker.io", "docker.io", "registry-1.docker.io"]
    } else {
        &[registry]
    };
    let (key, entry) = auths.iter().find(|(k, _)| {
        let host = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        wanted.contains(&host)
    })?;
    let (username, password) = match entry.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) {
        Some(auth) => {
            let decoded = String::from_utf8(STANDARD.decode(auth.trim()).ok()?).ok()?;
            let (u, p) = decoded.split_once(':')?;
            (u.to_string(), p.to_string())
        }
        None => (
            entry.get("username")?.as_str()?.to_string(),
            entry.get("password")?.as_str()?.to_string(),
        ),
    };
    let json = serde_json::json!({"username": username, "password": password, "serveraddress": key});
    Some(URL_SAFE.encode(json.to_string()))
}

/// The header for `image` from `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`, if they hold credentials for its registry.
pub fn header_for(image: &str) -> Option<String> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    header_from_config(&text, registry_of(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("user/app"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/a/b"), "127.0.0.1:5000");
        assert_eq!(registry_of("quay.io/x/y"), "quay.io");
        assert_eq!(registry_of("localhost/x"), "localhost");
    }

    #[test]
    fn headers_from_config() {
        let auth = STANDARD.encode("me:pw");
        let text = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"r:5000":{{"username":"u","password":"p"}}}}}}"#
        );
        let decode = |h: String| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE.decode(h).expect("b64")).expect("json")
        };
        let hub = decode(header_from_config(&text, "docker.io").expect("hub"));
        assert_eq!(
            (hub["username"].as_str(), hub["password"].as_str()),
            (Some("me"), Some("pw"))
        );
        let local = decode(header_from_config(&text, "r:5000").expect("local"));
        assert_eq!(local["username"], "u");
        assert!(header_from_config(&text, "quay.io").is_none());
        assert!(header_from_config("{", "quay.io").is_none());
    }
}
