//! The small part of Go's text/template that `inspect -f` is used with:
//! literal text, `{{.A.B}}`, `{{json .A}}`, `{{.}}`, with Go's value printing.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template parsing error: unclosed action in {0:?}")]
    Unclosed(String),
    #[error("template parsing error: unsupported action {{{{{0}}}}} (only .Field paths and json are supported)")]
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field { path: Vec<String>, json: bool },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

fn parse_path(s: &str) -> Option<Vec<String>> {
    if s == "." {
        return Some(Vec::new());
    }
    let rest = s.strip_prefix('.')?;
    let parts: Vec<String> = rest.split('.').map(str::to_string).collect();
    parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then_some(parts)
}

impl Template {
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError::Unclosed(src.to_string()))?;
            let action = after[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
            let (json, path_text) = match action.strip_prefix("json ") {
                Some(p) => (true, p.trim()),
                None => (false, action),
            };
            let path = parse_path(path_text).ok_or_else(|| TemplateError::Unsupported(action.to_string()))?;
            pieces.push(Piece::Field { path, json });
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    pub fn render(&self, v: &Value) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, json } => {
                    let mut cur = Some(v);
                    for k in path {
                        cur = cur.and_then(|c| c.get(k));
                    }
                    match (cur, json) {
                        (Some(x), true) => out.push_str(&x.to_string()),
                        (None, true) => out.push_str("null"),
                        (Some(x), false) => out.push_str(&go_value(x)),
                        (None, false) => out.push_str("<no value>"),
                    }
                }
            }
        }
        out
    }
}

/// How Go's `fmt` prints a decoded JSON value.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_value(&m[k.as_str()])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_json() {
        let v = serde_json::json!({"Id":"abc","State":{"Status":"exited","ExitCode":3,"Running":false},
            "Config":{"Cmd":["sh","-c"],"Labels":{"b":"2","a":"1"}}});
        let t = Template::parse("{{.Id}} {{ .State.Status }}/{{.State.ExitCode}} {{.State.Running}}").expect("parse");
        assert_eq!(t.render(&v), "abc exited/3 false");
        let t = Template::parse("{{json .Config.Cmd}} {{.Config.Cmd}} {{.Config.Labels}} {{.Nope}}").expect("parse");
        assert_eq!(t.render(&v), r#"["sh","-c"] [sh -c] map[a:1 b:2] <no value>"#);
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        assert!(Template::parse("{{.Id").is_err());
        assert!(Template::parse("{{range .Mounts}}{{end}}").is_err());
    }
}
