//! Environment merging, in docker's order.
//!
//! Docker keeps two lists. The container's `Config.Env` (what inspect shows)
//! is the request's `-e` list followed by the image's entries whose key the
//! request does not set ([`merge_env`]). The process environment is
//! `PATH=<default>`, `HOSTNAME=<hostname>`, `TERM=xterm` (tty only), with
//! `Config.Env` replacing those by key or appended after them
//! ([`process_env`]); `docker run busybox env` prints PATH, HOSTNAME, then
//! the rest. HOME is not set here: runc (and crun) add `HOME=<passwd home>`
//! when it is absent, after everything else, exactly as under docker.

/// Docker's default PATH for Linux containers.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// The container's `Config.Env`: the request's entries, then the image's
/// entries whose key the request does not set.
pub fn merge_env(image_env: &[String], request_env: &[String]) -> Vec<String> {
    let mut env = request_env.to_vec();
    for entry in image_env {
        if !request_env.iter().any(|r| key(r) == key(entry)) {
            env.push(entry.clone());
        }
    }
    env
}

/// Docker's `ReplaceOrAppendEnvValues`: each override replaces the default
/// with the same key in place or is appended; a bare `KEY` (no `=`) removes
/// `KEY`. Unlike docker, an override whose key was already appended
/// replaces that entry too, so no key appears twice.
pub fn replace_or_append_env(defaults: &[String], overrides: &[String]) -> Vec<String> {
    let mut env: Vec<Option<String>> = defaults.iter().cloned().map(Some).collect();
    for entry in overrides {
        let k = key(entry);
        let slot = env.iter_mut().find(|e| e.as_deref().is_some_and(|e| key(e) == k));
        match (entry.contains('='), slot) {
            (true, Some(slot)) => *slot = Some(entry.clone()),
            (true, None) => env.push(Some(entry.clone())),
            (false, Some(slot)) => *slot = None,
            (false, None) => {}
        }
    }
    env.into_iter().flatten().collect()
}

/// The init process's environment from the container's `Config.Env`
/// (docker's `CreateDaemonEnvironment`). For an exec, pass the result and
/// the exec's `-e` list to [`replace_or_append_env`].
pub fn process_env(config_env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut defaults = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={hostname}")];
    if tty {
        defaults.push("TERM=xterm".to_string());
    }
    replace_or_append_env(&defaults, config_env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn request_first_then_image_entries_it_does_not_set() {
        let image = v(&["PATH=/opt/bin:/bin", "LANG=C", "A=image"]);
        let request = v(&["A=req", "B=2"]);
        assert_eq!(
            merge_env(&image, &request),
            v(&["A=req", "B=2", "PATH=/opt/bin:/bin", "LANG=C"])
        );
    }

    #[test]
    fn process_env_starts_with_path_and_hostname() {
        assert_eq!(
            process_env(&[], "0123456789ab", false),
            v(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=0123456789ab"])
        );
        assert_eq!(
            process_env(&v(&["X=1"]), "h", true),
            v(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h", "TERM=xterm", "X=1"])
        );
    }

    #[test]
    fn image_path_replaces_default_in_place() {
        let config = merge_env(&v(&["PATH=/opt/bin", "LANG=C"]), &v(&["FOO=bar"]));
        assert_eq!(
            process_env(&config, "h", false),
            v(&["PATH=/opt/bin", "HOSTNAME=h", "FOO=bar", "LANG=C"])
        );
    }

    #[test]
    fn bare_key_unsets_and_duplicates_collapse() {
        assert_eq!(
            replace_or_append_env(&v(&["A=1", "B=2"]), &v(&["A", "C=3", "C=4", "D"])),
            v(&["B=2", "C=4"])
        );
    }

    #[test]
    fn values_may_contain_equals() {
        assert_eq!(replace_or_append_env(&v(&["A=x=y"]), &v(&["A=1=2"])), v(&["A=1=2"]));
    }
}
