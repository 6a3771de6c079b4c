//! Request bodies as JSON, parsed the same way by every route (contract 1.2): whatever the
//! `Content-Type` says, the body is parsed as JSON; and no string in it, key or value, may
//! hold a NUL character. PostgreSQL text cannot store NUL, so such a body is refused here
//! as the route's own 400 instead of failing at the database as a 500.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Why a body was refused; its text goes into the 400's `details` or `message`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("invalid JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("strings must not contain NUL characters")]
    Nul,
}

/// The body as a JSON value.
pub(crate) fn json_value(body: &[u8]) -> Result<Value, BodyError> {
    let value: Value = serde_json::from_slice(body)?;
    if holds_nul(&value) {
        return Err(BodyError::Nul);
    }
    Ok(value)
}

/// The body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    match json_value(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(BodyError::NotAnObject),
    }
}

/// The body, which must be a JSON object, as `T` (unknown fields ignored unless `T` says
/// otherwise).
pub(crate) fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    Ok(serde_json::from_value(Value::Object(json_object(body)?))?)
}

/// The body as `T`, whatever JSON shape `T` accepts.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    Ok(serde_json::from_value(json_value(body)?)?)
}

/// Whether any string or key in `value` holds a NUL. The parser's depth limit (128)
/// bounds the recursion.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains('\0') || holds_nul(item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_anywhere_is_refused_and_an_escaped_backslash_is_not_nul() {
        for body in [
            r#"{"a": "x\u0000"}"#,
            r#"{"a\u0000": 1}"#,
            r#"{"a": [{"b": ["\u0000"]}]}"#,
            r#""\u0000""#,
        ] {
            assert!(
                matches!(json_value(body.as_bytes()), Err(BodyError::Nul)),
                "{body}"
            );
        }
        let literal = json_object(br#"{"a": "\\u0000"}"#).expect("a backslash, then u0000");
        assert_eq!(literal["a"], "\\u0000");
    }

    #[test]
    fn shapes_are_checked() {
        assert!(matches!(json_object(b"[]"), Err(BodyError::NotAnObject)));
        assert!(matches!(json_object(b"{"), Err(BodyError::Malformed(_))));
        assert!(matches!(
            parse_object::<Vec<u8>>(b"[1]"),
            Err(BodyError::NotAnObject)
        ));
        assert_eq!(parse::<Vec<u8>>(b"[1, 2]").ok(), Some(vec![1, 2]));
    }
}
