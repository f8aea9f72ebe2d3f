//! Re-indenting JSON text without reparsing it into maps, so the daemon's
//! key order survives (what `docker inspect` prints).

/// Pretty-print one JSON value as Go's `json.Indent(prefix, indent)` does:
/// one element per line, `{}`/`[]` kept compact, strings untouched.
/// Input that is not JSON gets reformatted token by token, never dropped.
pub fn indent(raw: &str, prefix: &str, indent: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut need_newline = false; // just opened a container
    let chars: Vec<char> = raw.chars().collect();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(prefix);
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if need_newline {
            need_newline = false;
            if c == ']' || c == '}' {
                // Empty container: stay compact.
                depth -= 1;
                out.push(c);
                continue;
            }
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                need_newline = true;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

/// docker inspect's output: the values as one JSON array, 4-space indent.
pub fn inspect_array(values: &[String]) -> String {
    if values.is_empty() {
        return "[]\n".to_string();
    }
    let mut out = String::from("[\n");
    for (i, v) in values.iter().enumerate() {
        out.push_str("    ");
        out.push_str(&indent(v.trim(), "    ", "    "));
        if i + 1 < values.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_keeping_order_and_strings() {
        let raw = r#"{"Id":"a","Args":[],"Env":{},"State":{"Status":"running","Pid":42},"Cmd":["sh","-c","echo {x}, [y]: \"z\""]}"#;
        let want = r#"{
  "Id": "a",
  "Args": [],
  "Env": {},
  "State": {
    "Status": "running",
    "Pid": 42
  },
  "Cmd": [
    "sh",
    "-c",
    "echo {x}, [y]: \"z\""
  ]
}"#;
        assert_eq!(indent(raw, "", "  "), want);
    }

    #[test]
    fn array_like_docker_inspect() {
        let out = inspect_array(&[r#"{"Id":"a"}"#.to_string(), r#"{"Id":"b"}"#.to_string()]);
        assert_eq!(
            out,
            "[\n    {\n        \"Id\": \"a\"\n    },\n    {\n        \"Id\": \"b\"\n    }\n]\n"
        );
        assert_eq!(inspect_array(&[]), "[]\n");
    }

    #[test]
    fn reparses_to_same_value() {
        let raw = r#"{"a":[1,2,{"b":null,"c":"\\\""}],"d":true}"#;
        let pretty = indent(raw, "", "    ");
        let x: serde_json::Value = serde_json::from_str(raw).expect("raw");
        let y: serde_json::Value = serde_json::from_str(&pretty).expect("pretty");
        assert_eq!(x, y);
    }
}
