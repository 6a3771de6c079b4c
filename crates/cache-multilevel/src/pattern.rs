//! The cache's key patterns: `*` matches any run of characters, anywhere; everything else
//! is literal.

/// True when `key` matches `pattern`.
#[must_use]
pub fn matches_pattern(pattern: &str, key: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = key.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else {
        // No star at all: an exact key.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn stars_match_anywhere() {
        assert!(matches_pattern("*", ""));
        assert!(matches_pattern("*", "anything"));
        assert!(matches_pattern("task:*", "task:1"));
        assert!(matches_pattern("task:*", "task:"));
        assert!(!matches_pattern("task:*", "tasks:1"));
        assert!(matches_pattern("*:u1", "user_tasks:u1"));
        assert!(!matches_pattern("*:u1", "user_tasks:u12"));
        assert!(matches_pattern(
            "tasks_paginated:*:1:10",
            "tasks_paginated:all:a:desc:1:10"
        ));
        assert!(!matches_pattern(
            "tasks_paginated:*:1:10",
            "tasks_paginated:all:a:desc:1:100"
        ));
        assert!(matches_pattern("a*b*c", "abc"));
        assert!(matches_pattern("a*b*c", "a-b-b-c"));
        assert!(!matches_pattern("a*b*c", "a-c-b"));
        assert!(!matches_pattern("ab*ba", "aba"));
        assert!(matches_pattern("**", "x"));
    }

    #[test]
    fn without_a_star_only_the_exact_key_matches() {
        assert!(matches_pattern("task:1", "task:1"));
        assert!(!matches_pattern("task:1", "task:10"));
        assert!(!matches_pattern("task:1", "task:"));
    }
}
