//! The opaque keyset cursor: a [`TaskCursor`] as base64url (no padding) of a small JSON
//! object. Opaque to clients, but not secret: decoding validates every field, so a tampered
//! cursor is refused with a clear error and can never reach storage in a shape the
//! repository does not expect.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Priority, TaskId};
use ports::{CursorKey, SortColumn, SortDirection, TaskCursor, TaskSort};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest cursor text accepted (a cursor over a 255-character title is about 1.5 KiB).
pub const MAX_CURSOR_LEN: usize = 4096;

/// Current wire version of the cursor.
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u8,
    s: String,
    o: String,
    k: Option<String>,
    i: TaskId,
}

/// The cursor as the text clients receive in `next_cursor`.
#[must_use]
pub fn encode_cursor(cursor: &TaskCursor) -> String {
    let key = match &cursor.key {
        CursorKey::Timestamp(at) | CursorKey::DueDate(Some(at)) => Some(format_instant(*at)),
        CursorKey::DueDate(None) => None,
        CursorKey::Title(title) => Some(title.clone()),
        CursorKey::Priority(priority) => Some(priority.as_str().to_owned()),
    };
    let wire = Wire {
        v: VERSION,
        s: cursor.sort.column.as_str().to_owned(),
        o: cursor.sort.direction.as_str().to_owned(),
        k: key,
        i: cursor.id,
    };
    // Serialising this struct of strings cannot fail; an empty cursor would be refused on
    // decode rather than misread.
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Reads a cursor made by [`encode_cursor`].
///
/// # Errors
/// A diagnostic text when the cursor is too long, not base64url, not the expected JSON, of
/// an unknown version, names an unknown sort, or carries a key that does not fit its sort
/// column.
pub fn decode_cursor(text: &str) -> Result<TaskCursor, String> {
    if text.len() > MAX_CURSOR_LEN {
        return Err(format!("longer than {MAX_CURSOR_LEN} characters"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "not a cursor issued by this service".to_owned())?;
    let wire: Wire = serde_json::from_slice(&bytes)
        .map_err(|_| "not a cursor issued by this service".to_owned())?;
    if wire.v != VERSION {
        return Err(format!("unsupported cursor version {}", wire.v));
    }
    let column = [
        SortColumn::CreatedAt,
        SortColumn::UpdatedAt,
        SortColumn::Title,
        SortColumn::DueDate,
        SortColumn::Priority,
    ]
    .into_iter()
    .find(|c| c.as_str() == wire.s)
    .ok_or_else(|| "unknown sort column".to_owned())?;
    let direction = match wire.o.as_str() {
        "asc" => SortDirection::Asc,
        "desc" => SortDirection::Desc,
        _ => return Err("unknown sort order".to_owned()),
    };
    let key = match (column, wire.k) {
        (SortColumn::CreatedAt | SortColumn::UpdatedAt, Some(at)) => {
            CursorKey::Timestamp(parse_instant(&at)?)
        }
        (SortColumn::DueDate, Some(at)) => CursorKey::DueDate(Some(parse_instant(&at)?)),
        (SortColumn::DueDate, None) => CursorKey::DueDate(None),
        (SortColumn::Title, Some(title)) => CursorKey::Title(title),
        (SortColumn::Priority, Some(priority)) => CursorKey::Priority(
            Priority::parse(&priority).map_err(|_| "invalid priority key".to_owned())?,
        ),
        _ => return Err("missing sort key".to_owned()),
    };
    Ok(TaskCursor {
        sort: TaskSort { column, direction },
        key,
        id: wire.i,
    })
}

fn format_instant(at: OffsetDateTime) -> String {
    // RFC 3339 keeps every nanosecond digit; formatting a UTC instant cannot fail for the
    // years PostgreSQL stores, and the fallback is refused on decode.
    at.format(&Rfc3339).unwrap_or_default()
}

fn parse_instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| "invalid timestamp key".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn id() -> TaskId {
        TaskId::from_uuid(Uuid::from_u128(42))
    }

    fn sort(column: SortColumn, direction: SortDirection) -> TaskSort {
        TaskSort { column, direction }
    }

    #[test]
    fn every_key_kind_round_trips() {
        let cursors = [
            TaskCursor {
                sort: sort(SortColumn::CreatedAt, SortDirection::Desc),
                key: CursorKey::Timestamp(datetime!(2026-01-02 03:04:05.123_456 UTC)),
                id: id(),
            },
            TaskCursor {
                sort: sort(SortColumn::UpdatedAt, SortDirection::Asc),
                key: CursorKey::Timestamp(datetime!(2026-01-02 03:04:05 UTC)),
                id: id(),
            },
            TaskCursor {
                sort: sort(SortColumn::Title, SortDirection::Asc),
                key: CursorKey::Title("50% \"off\" é ✓".to_owned()),
                id: id(),
            },
            TaskCursor {
                sort: sort(SortColumn::DueDate, SortDirection::Desc),
                key: CursorKey::DueDate(None),
                id: id(),
            },
            TaskCursor {
                sort: sort(SortColumn::DueDate, SortDirection::Asc),
                key: CursorKey::DueDate(Some(datetime!(2026-05-01 00:00 UTC))),
                id: id(),
            },
            TaskCursor {
                sort: sort(SortColumn::Priority, SortDirection::Desc),
                key: CursorKey::Priority(Priority::Urgent),
                id: id(),
            },
        ];
        for cursor in cursors {
            let text = encode_cursor(&cursor);
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{text}"
            );
            assert_eq!(decode_cursor(&text).unwrap(), cursor);
        }
    }

    #[test]
    fn malformed_or_tampered_cursors_are_refused() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let uuid = Uuid::from_u128(1);
        for bad in [
            String::new(),
            "not base64!".to_owned(),
            encode("not json"),
            encode("{}"),
            encode(&format!(
                r#"{{"v":2,"s":"title","o":"asc","k":"a","i":"{uuid}"}}"#
            )),
            encode(&format!(
                r#"{{"v":1,"s":"id; DROP TABLE tasks","o":"asc","k":"a","i":"{uuid}"}}"#
            )),
            encode(&format!(
                r#"{{"v":1,"s":"title","o":"sideways","k":"a","i":"{uuid}"}}"#
            )),
            encode(&format!(
                r#"{{"v":1,"s":"created_at","o":"asc","k":"yesterday","i":"{uuid}"}}"#
            )),
            encode(&format!(
                r#"{{"v":1,"s":"created_at","o":"asc","k":null,"i":"{uuid}"}}"#
            )),
            encode(&format!(
                r#"{{"v":1,"s":"priority","o":"asc","k":"critical","i":"{uuid}"}}"#
            )),
            encode(r#"{"v":1,"s":"title","o":"asc","k":"a","i":"not-a-uuid"}"#),
            encode(&format!(
                r#"{{"v":1,"s":"title","o":"asc","k":"a","i":"{uuid}","x":1}}"#
            )),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            assert!(decode_cursor(&bad).is_err(), "accepted {bad:?}");
        }
    }
}
