//! The Prometheus alerts and the Grafana dashboards under `deploy/` only use metrics the
//! service exports: a renamed or removed metric would otherwise leave a panel empty or an
//! alert silently never firing. A metric counts as exported when its name (without the
//! `_bucket`, `_sum` or `_count` suffix of a histogram) is a string literal in some crate's
//! sources, where the `metrics` macros and their descriptions name it.

#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Series that Prometheus or the exporters produce, not the service.
const NOT_OURS: [&str; 1] = ["up"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Metric names in PromQL text: the identifier before each `{` label selector.
fn selected_metrics(text: &str) -> BTreeSet<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    for (brace, _) in text.match_indices("{job=") {
        let before = &text[..brace];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_name_char(*c))
            .last()
            .map_or(brace, |(i, _)| i);
        if start < brace {
            names.insert(before[start..].to_owned());
        }
    }
    names
}

/// Every string literal of the crates' sources that could be a metric name.
fn source_literals() -> BTreeSet<String> {
    let mut files = Vec::new();
    files_under(&workspace_root().join("crates"), "rs", &mut files);
    let mut literals = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            if !piece.is_empty()
                && piece
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                literals.insert(piece.to_owned());
            }
        }
    }
    literals
}

#[test]
fn every_metric_in_alerts_and_dashboards_is_exported_by_the_service() {
    let root = workspace_root();
    let mut files = Vec::new();
    files_under(&root.join("deploy/prometheus"), "yml", &mut files);
    files_under(&root.join("deploy/grafana"), "json", &mut files);
    let mut used = BTreeSet::new();
    for file in &files {
        used.extend(selected_metrics(&std::fs::read_to_string(file).unwrap()));
    }
    assert!(
        used.len() >= 20,
        "too few metrics found, is the parsing broken? {used:?}"
    );
    let exported = source_literals();
    let unknown: Vec<&String> = used
        .iter()
        .filter(|name| !NOT_OURS.contains(&name.as_str()))
        .filter(|name| {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            !exported.contains(base) && !exported.contains(name.as_str())
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "deploy/ uses metrics the service does not export: {unknown:?}"
    );
}

#[test]
fn metric_names_are_read_from_selectors() {
    let names = selected_metrics(
        r#"sum(rate(http_requests_total{job="api"}[5m])) / up{job=\"api\"} + foo"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["http_requests_total", "up"]
    );
}
