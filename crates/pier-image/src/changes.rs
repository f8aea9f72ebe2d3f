//! `docker import --change` lines: the Dockerfile instructions that edit an
//! image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
//! VOLUME, WORKDIR), in exec (JSON) and shell forms. Pure code.

use crate::error::ImageError;
use crate::image::ImageConfig;

/// Applies `changes` in order to `config`.
pub fn apply_changes(config: &mut ImageConfig, changes: &[String]) -> Result<(), ImageError> {
    let mut cmd_set = false;
    for change in changes {
        apply_one(config, change, &mut cmd_set)?;
    }
    Ok(())
}

fn bad(change: &str, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidChange {
        change: change.to_string(),
        reason: reason.into(),
    }
}

fn apply_one(config: &mut ImageConfig, change: &str, cmd_set: &mut bool) -> Result<(), ImageError> {
    let line = change.trim();
    let (instruction, rest) = match line.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let instruction = instruction.to_ascii_uppercase();
    match instruction.as_str() {
        "CMD" => {
            config.cmd = Some(command(change, rest, "CMD")?);
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            config.entrypoint = Some(command(change, rest, "ENTRYPOINT")?);
            // As in a Dockerfile: a new entrypoint drops an inherited CMD.
            if !*cmd_set {
                config.cmd = None;
            }
        }
        "ENV" => {
            for (key, value) in pairs(change, rest, "ENV")? {
                let entry = format!("{key}={value}");
                let prefix = format!("{key}=");
                match config.env.iter_mut().find(|e| e.starts_with(&prefix)) {
                    Some(existing) => *existing = entry,
                    None => config.env.push(entry),
                }
            }
        }
        "LABEL" => {
            for (key, value) in pairs(change, rest, "LABEL")? {
                config.labels.insert(key, value);
            }
        }
        "WORKDIR" => {
            if rest.is_empty() {
                return Err(bad(change, "WORKDIR requires exactly one argument"));
            }
            let dir = unquote(change, rest)?;
            config.working_dir = if dir.starts_with('/') {
                clean_abs(&dir)
            } else {
                let base = if config.working_dir.is_empty() {
                    "/"
                } else {
                    &config.working_dir
                };
                clean_abs(&format!("{base}/{dir}"))
            };
        }
        "USER" => {
            if rest.is_empty() {
                return Err(bad(change, "USER requires exactly one argument"));
            }
            config.user = unquote(change, rest)?;
        }
        "STOPSIGNAL" => {
            let words = shell_words(change, rest)?;
            let [signal] = words.as_slice() else {
                return Err(bad(change, "STOPSIGNAL requires exactly one argument"));
            };
            config.stop_signal = Some(signal.clone());
        }
        "EXPOSE" => {
            let words = shell_words(change, rest)?;
            if words.is_empty() {
                return Err(bad(change, "EXPOSE requires at least one argument"));
            }
            for word in words {
                let port = exposed_port(change, &word)?;
                if !config.exposed_ports.contains(&port) {
                    config.exposed_ports.push(port);
                }
            }
            config.exposed_ports.sort();
        }
        "VOLUME" => {
            let paths = match json_array(rest) {
                Some(v) => v,
                None => shell_words(change, rest)?,
            };
            if paths.is_empty() || paths.iter().any(String::is_empty) {
                return Err(bad(change, "VOLUME specified can not be an empty string"));
            }
            for path in paths {
                if !config.volumes.contains(&path) {
                    config.volumes.push(path);
                }
            }
            config.volumes.sort();
        }
        "" => return Err(bad(change, "empty change")),
        "FROM" | "RUN" | "COPY" | "ADD" | "ARG" | "ONBUILD" | "HEALTHCHECK" | "SHELL" | "MAINTAINER" => {
            return Err(bad(change, format!("{instruction} is not a valid change command")))
        }
        other => return Err(bad(change, format!("unknown instruction: {other}"))),
    }
    Ok(())
}

/// CMD/ENTRYPOINT argument: a JSON array (exec form) or a shell command.
fn command(change: &str, rest: &str, name: &str) -> Result<Vec<String>, ImageError> {
    if let Some(argv) = json_array(rest) {
        return Ok(argv);
    }
    if rest.is_empty() {
        return Err(bad(change, format!("{name} requires at least one argument")));
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

/// `k=v k2="v 2"`, or the legacy single pair `key value with spaces`.
fn pairs(change: &str, rest: &str, name: &str) -> Result<Vec<(String, String)>, ImageError> {
    let words = shell_words(change, rest)?;
    let Some(first) = words.first() else {
        return Err(bad(change, format!("{name} requires at least one argument")));
    };
    if !first.contains('=') {
        let value = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
        if value.is_empty() {
            return Err(bad(change, format!("{name} must have two arguments")));
        }
        return Ok(vec![(first.clone(), unquote(change, value)?)]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(bad(change, format!("{name} names can not be blank"))),
        })
        .collect()
}

fn exposed_port(change: &str, word: &str) -> Result<String, ImageError> {
    let (port, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    let valid_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let range_ok = match port.split_once('-') {
        Some((a, b)) => valid_port(a) && valid_port(b),
        None => valid_port(port),
    };
    if !range_ok || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(change, format!("invalid port {word:?}")));
    }
    Ok(format!("{port}/{proto}"))
}

/// The whole of `rest` as one word, with shell quoting removed and
/// whitespace kept.
fn unquote(change: &str, rest: &str) -> Result<String, ImageError> {
    Ok(words(change, rest, false)?.concat())
}

/// Splits on unquoted whitespace; handles '…', "…" and backslash escapes.
fn shell_words(change: &str, s: &str) -> Result<Vec<String>, ImageError> {
    words(change, s, true)
}

fn words(change: &str, s: &str, split: bool) -> Result<Vec<String>, ImageError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if split && c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(bad(change, "unterminated single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(bad(change, "unterminated double quote")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(bad(change, "unterminated double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Lexically cleans an absolute path: `/a/./b/../c/` is `/a/c`.
fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> ImageConfig {
        let mut c = ImageConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &changes).expect("apply");
        c
    }

    fn err(change: &str) -> String {
        let mut c = ImageConfig::default();
        apply_changes(&mut c, &[change.to_string()])
            .expect_err(change)
            .to_string()
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = apply(&[r#"CMD ["/bin/sh", "-c", "echo hi"]"#]);
        assert_eq!(c.cmd, Some(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()]));
        let c = apply(&["cmd echo  hi"]);
        assert_eq!(c.cmd, Some(vec!["/bin/sh".into(), "-c".into(), "echo  hi".into()]));
        let c = apply(&["CMD [\"top\"]", "ENTRYPOINT [\"/bin/busybox\"]"]);
        assert_eq!(c.entrypoint, Some(vec!["/bin/busybox".into()]));
        assert_eq!(c.cmd, Some(vec!["top".into()]));
        let mut c = ImageConfig {
            cmd: Some(vec!["old".into()]),
            ..Default::default()
        };
        apply_changes(&mut c, &["ENTRYPOINT [\"x\"]".to_string()]).expect("apply");
        assert_eq!(c.cmd, None);
        let c = apply(&["ENTRYPOINT []"]);
        assert_eq!(c.entrypoint, Some(vec![]));
        // Malformed JSON falls back to the shell form, as in a Dockerfile.
        let c = apply(&["CMD [oops"]);
        assert_eq!(c.cmd, Some(vec!["/bin/sh".into(), "-c".into(), "[oops".into()]));
    }

    #[test]
    fn env_and_labels() {
        let c = apply(&[
            "ENV A=1 B=\"two words\" C=it\\'s",
            "ENV LEGACY value with  spaces",
            "ENV A=3",
            "LABEL maintainer=\"me <m@x>\" version=1",
            "LABEL single value",
        ]);
        assert_eq!(c.env, ["A=3", "B=two words", "C=it's", "LEGACY=value with  spaces"]);
        assert_eq!(c.labels["maintainer"], "me <m@x>");
        assert_eq!(c.labels["version"], "1");
        assert_eq!(c.labels["single"], "value");
    }

    #[test]
    fn workdir_user_and_the_rest() {
        let c = apply(&[
            "WORKDIR /app",
            "WORKDIR sub/../src",
            "USER nobody:nogroup",
            "EXPOSE 80 53/UDP 8000-8002",
            "VOLUME [\"/data\", \"/logs\"]",
            "VOLUME /cache",
            "STOPSIGNAL SIGQUIT",
        ]);
        assert_eq!(c.working_dir, "/app/src");
        assert_eq!(c.user, "nobody:nogroup");
        assert_eq!(c.exposed_ports, ["53/udp", "80/tcp", "8000-8002/tcp"]);
        assert_eq!(c.volumes, ["/cache", "/data", "/logs"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
    }

    #[test]
    fn refuses_what_import_cannot_do() {
        assert!(err("RUN echo").contains("RUN is not a valid change command"));
        assert!(err("FROM busybox").contains("not a valid change command"));
        assert!(err("BOGUS x").contains("unknown instruction: BOGUS"));
        assert!(err("CMD").contains("requires at least one argument"));
        assert!(err("ENV").contains("requires at least one argument"));
        assert!(err("ENV =x").contains("can not be blank"));
        assert!(err("EXPOSE http").contains("invalid port"));
        assert!(err("USER").contains("USER requires"));
        assert!(err("ENV A=\"open").contains("unterminated"));
        assert!(err("").contains("empty change"));
    }
}
