//! Files generated from code and checked in (the diesel schema, the OpenAPI document): a
//! test compares the file with what the code generates now, so an unintended change fails
//! CI, or rewrites the file when the developer asks for it.

use std::path::Path;

/// Compares the file at `path` with `generated`. When the environment variable `update_var`
/// is set (to anything but empty or `0`) the file is rewritten instead.
///
/// # Panics
/// When the two differ: the message lists the differing lines and `regenerate`, the command
/// that rewrites the file. Also when the file cannot be written.
pub fn assert_file_matches(path: &Path, generated: &str, update_var: &str, regenerate: &str) {
    if std::env::var_os(update_var).is_some_and(|value| !value.is_empty() && value != "0") {
        std::fs::write(path, generated)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current != generated {
        let diff = line_diff(&current, generated);
        panic!(
            "{} does not match what the code generates ({} differing lines, `-` file, `+` \
             generated):\n{}\nIf the change is intended, regenerate it with: {regenerate}",
            path.display(),
            diff.len(),
            diff.join("\n")
        );
    }
}

/// Lines only in one of the two texts (a readable summary, not a minimal diff).
fn line_diff(current: &str, generated: &str) -> Vec<String> {
    let current_lines: Vec<&str> = current.lines().collect();
    let generated_lines: Vec<&str> = generated.lines().collect();
    let mut out: Vec<String> = current_lines
        .iter()
        .filter(|line| !generated_lines.contains(line))
        .map(|line| format!("- {line}"))
        .collect();
    out.extend(
        generated_lines
            .iter()
            .filter(|line| !current_lines.contains(line))
            .map(|line| format!("+ {line}")),
    );
    if out.is_empty() {
        out.push("(same lines in a different order)".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_names_lines_on_either_side() {
        assert_eq!(line_diff("a\nb\n", "a\nc\n"), ["- b", "+ c"]);
        assert_eq!(
            line_diff("a\nb\n", "b\na\n"),
            ["(same lines in a different order)"]
        );
    }
}
