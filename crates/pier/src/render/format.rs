//! `--format` for list commands, docker style: a Go template per row, or
//! `table <template>` for aligned columns under a header row.

use serde_json::{Map, Value};

use crate::commands::template::{Template, TemplateError};
use crate::render::table;

/// Render `rows` (one JSON object per row) with `format`; `header` maps
/// field names to column titles for the `table` form.
pub fn render(format: &str, rows: &[Value], header: &[(&str, &str)]) -> Result<String, TemplateError> {
    // docker turns the two-character sequences \t and \n into the real ones.
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    if let Some(t) = format.strip_prefix("table") {
        let t = Template::parse(t.trim_start())?;
        let titles: Map<String, Value> = header
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let head = t.render(&Value::Object(titles));
        let head_cells: Vec<&str> = head.split('\t').collect();
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| t.render(r).split('\t').map(str::to_string).collect())
            .collect();
        return Ok(table::render(&head_cells, &body));
    }
    let t = Template::parse(&format)?;
    Ok(rows.iter().map(|r| format!("{}\n", t.render(r))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_table() {
        let rows = vec![
            serde_json::json!({"ID":"abc","Names":"web"}),
            serde_json::json!({"ID":"def","Names":"db"}),
        ];
        let header = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
        assert_eq!(render("{{.Names}}", &rows, &header).expect("render"), "web\ndb\n");
        assert_eq!(
            render("table {{.ID}}\\t{{.Names}}", &rows, &header).expect("render"),
            "CONTAINER ID   NAMES\nabc            web\ndef            db\n"
        );
    }
}
