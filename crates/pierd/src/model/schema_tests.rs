//! The field table against the Engine API schema and the README: every
//! `Config`/`HostConfig` property of ../shared/reference's v1.50 spec is
//! classified, and the README's compatibility table shows each field with
//! its class.

use super::fields::{Class, Section, FIELDS};

fn reference() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/docker-engine-api-v1.50.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Engine API reference is needed beside the checkout ({}): {e}",
            path.display()
        )
    })
}

/// Property names of `definitions.<name>`, found by indentation: the
/// definition at two spaces, its `properties:` blocks below it, property
/// names one level deeper than each `properties:` line.
fn properties(yaml: &str, name: &str) -> Vec<String> {
    let header = format!("  {name}:");
    let mut lines = yaml.lines().skip_while(|l| *l != header).skip(1);
    let mut out = Vec::new();
    let mut props_indent: Option<usize> = None;
    for line in lines.by_ref() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent <= 2 {
            break;
        }
        match props_indent {
            Some(p) if indent <= p => props_indent = None,
            Some(p) if indent == p + 2 && trimmed.ends_with(':') => {
                out.push(trimmed.trim_end_matches(':').to_string());
                continue;
            }
            _ => {}
        }
        // Nested `properties:` (of a field's own type) are not fields.
        if trimmed == "properties:" && props_indent.is_none() {
            props_indent = Some(indent);
        }
    }
    out
}

#[test]
fn every_schema_field_is_classified() {
    let yaml = reference();
    let config = properties(&yaml, "ContainerConfig");
    let mut host = properties(&yaml, "Resources");
    host.extend(properties(&yaml, "HostConfig"));
    assert!(
        config.len() > 20 && host.len() > 60,
        "schema parse: {config:?} {host:?}"
    );
    let mut missing = Vec::new();
    for (section, names) in [(Section::Config, &config), (Section::HostConfig, &host)] {
        for n in names {
            if super::fields::lookup(section, n).is_none() {
                missing.push(format!("{}.{n}", section.as_str()));
            }
        }
    }
    assert!(missing.is_empty(), "fields without a class: {missing:?}");
}

#[test]
fn every_classified_field_exists_on_the_wire() {
    let config = super::build::to_map(&pier_api::container::ContainerConfig::default());
    let mut host = super::build::to_map(&pier_api::container::HostConfig {
        // Fields left out when empty, made present.
        annotations: Some([("a".into(), "b".into())].into()),
        storage_opt: Some([("a".into(), "b".into())].into()),
        tmpfs: Some([("a".into(), "b".into())].into()),
        sysctls: Some([("a".into(), "b".into())].into()),
        runtime: "x".into(),
        kernel_memory: 1,
        kernel_memory_tcp: 1,
        mounts: Some(vec![Default::default()]),
        init: Some(true),
        ..Default::default()
    });
    host.extend(super::build::to_map(&pier_api::container::ContainerConfig {
        healthcheck: Some(Default::default()),
        ..Default::default()
    }));
    for f in FIELDS {
        let present = match f.section {
            Section::Config => config.contains_key(f.name) || host.contains_key(f.name),
            Section::HostConfig => host.contains_key(f.name),
        };
        let skipped_when_empty = [
            "ExposedPorts",
            "ArgsEscaped",
            "NetworkDisabled",
            "MacAddress",
            "StopSignal",
            "StopTimeout",
            "Shell",
        ];
        assert!(
            present || skipped_when_empty.contains(&f.name),
            "{}.{} is classified but not a wire field",
            f.section.as_str(),
            f.name
        );
    }
}

#[test]
fn readme_table_matches_the_classification() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let mut wrong = Vec::new();
    for f in FIELDS {
        let key = format!("| `{}.{}` |", f.section.as_str(), f.name);
        let row = readme.lines().find(|l| l.starts_with(&key));
        match row {
            None => wrong.push(format!("{key} missing")),
            Some(row) => {
                let class = row[key.len()..].split('|').next().unwrap_or("").trim();
                if class != f.class.as_str() {
                    wrong.push(format!("{key} says {class:?}, the table says {:?}", f.class.as_str()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "README compatibility table out of date:\n{}",
        wrong.join("\n")
    );
    // The classes mean what the README says.
    for c in [Class::Applied, Class::Partly, Class::Refused, Class::Warned] {
        assert!(
            readme.contains(&format!("**{}**", c.as_str())),
            "README explains {}",
            c.as_str()
        );
    }
}
