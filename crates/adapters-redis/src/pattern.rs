//! Translation of the cache's `*` patterns into Redis `SCAN MATCH` globs.

/// Escapes the Redis glob metacharacters (`*?[]\`) of a literal string.
#[must_use]
pub fn escape_glob(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 4);
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds the glob matching `namespace` + any key matching `pattern`, where `*` in the
/// pattern matches any run of characters and every other character is literal.
#[must_use]
pub fn namespaced_glob(namespace: &str, pattern: &str) -> String {
    let mut out = escape_glob(namespace);
    let mut parts = pattern.split('*');
    if let Some(first) = parts.next() {
        out.push_str(&escape_glob(first));
    }
    for part in parts {
        out.push('*');
        out.push_str(&escape_glob(part));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_parts_are_escaped_and_stars_are_kept() {
        assert_eq!(namespaced_glob("p:cache:", "task:*"), "p:cache:task:*");
        assert_eq!(namespaced_glob("p:cache:", "*:1"), "p:cache:*:1");
        assert_eq!(namespaced_glob("p:cache:", "a*b"), "p:cache:a*b");
        assert_eq!(namespaced_glob("p[1]:cache:", "q?*"), r"p\[1\]:cache:q\?*");
        assert_eq!(namespaced_glob("", r"x\y"), r"x\\y");
        assert_eq!(namespaced_glob("n:", "*"), "n:*");
    }
}
