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

/// `2024-01-02 15:04:05 +0000 UTC`, how docker prints `CreatedAt`.
pub fn created_at(unix: i64) -> String {
    let days = unix.div_euclid(86400);
    let secs = unix.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
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

    #[test]
    fn dates() {
        assert_eq!(created_at(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(created_at(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
    }
}
