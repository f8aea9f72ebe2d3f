//! Column-aligned tables, as docker's formatter writes them with Go's
//! tabwriter (minwidth 10, padding 3, spaces).

use std::io::Write;

use tabwriter::TabWriter;

/// Go's minwidth includes the padding; the tabwriter crate adds padding on
/// top of minwidth, so subtract it to get the same widths.
const GO_MINWIDTH: usize = 10;
const PADDING: usize = 3;

/// Render `header` and `rows` as aligned columns, one line each, each line
/// ending in a newline. Cells must not contain tabs or newlines.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    render_min(header, rows, GO_MINWIDTH)
}

/// [`render`] with Go's `minwidth` `go_minwidth` (`docker top` uses 20).
pub fn render_min(header: &[&str], rows: &[Vec<String>], go_minwidth: usize) -> String {
    let mut tw = TabWriter::new(Vec::new())
        .minwidth(go_minwidth.saturating_sub(PADDING))
        .padding(PADDING);
    let mut text = String::new();
    text.push_str(&header.join("\t"));
    text.push('\n');
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace(['\t', '\n'], " ")).collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    // Writing into a Vec cannot fail; into_inner flushes.
    let _ = tw.write_all(text.as_bytes());
    match tw.into_inner() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_go_tabwriter() {
        let out = render(
            &["CONTAINER ID", "IMAGE", "PORTS", "NAMES"],
            &[vec![
                "0123456789ab".into(),
                "busybox".into(),
                String::new(),
                "web".into(),
            ]],
        );
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     PORTS     NAMES\n\
             0123456789ab   busybox             web\n"
        );
    }

    #[test]
    fn header_only() {
        assert_eq!(render(&["REPOSITORY", "TAG"], &[]), "REPOSITORY   TAG\n");
    }
}
