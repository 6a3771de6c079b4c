//! Tasks: the status and priority vocabularies, the validated title, due-date parsing, the
//! task entity in its wire form (contract 7.1) and the validated create/update inputs.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{
    Date, OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339,
    macros::format_description,
};

use crate::{DomainError, TaskId, UserId, timefmt};

/// Where a task stands. The set is closed [D-9]; the wire form is lowercase snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskStatus {
    /// Not started (the default for new tasks).
    #[default]
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
    /// Abandoned.
    Cancelled,
}

impl TaskStatus {
    /// Every status, in contract order.
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Cancelled,
    ];

    /// The stored and wire text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the exact lowercase text; anything else is refused (statuses are matched
    /// case-sensitively, unlike priorities).
    ///
    /// # Errors
    /// [`DomainError::InvalidStatus`] for any other text.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| DomainError::InvalidStatus(text.to_owned()))
    }
}

/// How urgent a task is. Ordered `Low < Medium < High < Urgent`, which is also the sort
/// order of `sortBy=priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Whenever.
    Low,
    /// The default for new tasks.
    #[default]
    Medium,
    /// Soon.
    High,
    /// Now.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Urgent];

    /// The stored and wire text (always lowercase).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses without regard to ASCII case, because the web client sends `High` [D-41].
    ///
    /// # Errors
    /// [`DomainError::InvalidPriority`] for any other text.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| DomainError::InvalidPriority(text.to_owned()))
    }

    /// A small integer preserving the order (0 = low), for storage layers that sort by it.
    #[must_use]
    pub const fn rank(self) -> i16 {
        self as i16
    }
}

macro_rules! text_enum_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum_impls!(TaskStatus);
text_enum_impls!(Priority);

/// Maximum title length, in characters (not bytes).
pub const MAX_TITLE_CHARS: usize = 255;

/// Refuses text holding a NUL character (see [`DomainError::NulCharacter`]).
fn reject_nul(field: &'static str, text: &str) -> Result<(), DomainError> {
    if text.contains('\0') {
        Err(DomainError::NulCharacter(field))
    } else {
        Ok(())
    }
}

/// A task description as given: any length the body limit allows, but no NUL.
fn description(text: &str) -> Result<String, DomainError> {
    reject_nul("description", text)?;
    Ok(text.to_owned())
}

/// A task title: trimmed, 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskTitle(String);

impl TaskTitle {
    /// Trims surrounding whitespace and checks the length in characters.
    ///
    /// # Errors
    /// [`DomainError::InvalidTitle`] when the trimmed title is empty or over 255 characters;
    /// [`DomainError::NulCharacter`] when it holds a NUL.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        reject_nul("title", raw)?;
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS {
            return Err(DomainError::InvalidTitle);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The title text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The title as an owned string.
    #[must_use]
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for TaskTitle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TaskTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a due date given as an RFC 3339 timestamp or a plain `YYYY-MM-DD` date (midnight
/// UTC of that day) [D-41]. The result is in UTC.
///
/// # Errors
/// [`DomainError::InvalidDueDate`] when the text is neither form.
pub fn parse_due_date(text: &str) -> Result<OffsetDateTime, DomainError> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.to_offset(UtcOffset::UTC));
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| DomainError::InvalidDueDate(text.to_owned()))
}

/// A stored task, serialising exactly as the task object of contract 7.1.
///
/// `title` and `status` are kept as read from storage: rows written before validation
/// existed may hold titles the current rules would refuse, and they must still be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task id.
    pub id: TaskId,
    /// The owner; on the wire this is `user_id`.
    #[serde(rename = "user_id")]
    pub owner: UserId,
    /// The title.
    pub title: String,
    /// The description, `""` when none.
    pub description: String,
    /// Where the task stands.
    pub status: TaskStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// When it is due, `null` on the wire when none.
    #[serde(with = "timefmt::option")]
    pub due_date: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "timefmt")]
    pub created_at: OffsetDateTime,
    /// When it last changed; also the source of its ETag.
    #[serde(with = "timefmt")]
    pub updated_at: OffsetDateTime,
}

impl Task {
    /// Builds a new task owned by `owner` from validated input, stamped `now`.
    #[must_use]
    pub fn create(id: TaskId, owner: UserId, input: NewTask, now: OffsetDateTime) -> Self {
        Self {
            id,
            owner,
            title: input.title.into_inner(),
            description: input.description,
            status: input.status,
            priority: input.priority,
            due_date: input.due_date,
            created_at: now,
            updated_at: now,
        }
    }

    /// The task's entity tag, derived from `updated_at` (see [`etag_for`]).
    #[must_use]
    pub fn etag(&self) -> String {
        etag_for(self.updated_at)
    }
}

/// An HTTP entity tag for a resource last changed at `updated_at`: a quoted string of the
/// Unix time in nanoseconds, so every successful update (which moves `updated_at`) yields a
/// new tag, and [`parse_etag`] recovers the instant for optimistic concurrency.
#[must_use]
pub fn etag_for(updated_at: OffsetDateTime) -> String {
    format!("\"{}\"", updated_at.unix_timestamp_nanos())
}

/// Recovers the `updated_at` instant from a tag made by [`etag_for`] (weak `W/` prefix
/// accepted); `None` when the tag is not one of ours.
#[must_use]
pub fn parse_etag(tag: &str) -> Option<OffsetDateTime> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
    let nanos: i128 = inner.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The raw fields of a task-creation request, as the HTTP layer received them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewTaskInput<'a> {
    /// Required title (untrimmed).
    pub title: &'a str,
    /// Optional description.
    pub description: Option<&'a str>,
    /// Optional status text.
    pub status: Option<&'a str>,
    /// Optional priority text, any case.
    pub priority: Option<&'a str>,
    /// Optional due date text (`None` for absent or JSON null).
    pub due_date: Option<&'a str>,
}

/// A validated task-creation request (contract 7.2), defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The validated title.
    pub title: TaskTitle,
    /// The description, `""` by default.
    pub description: String,
    /// `pending` by default.
    pub status: TaskStatus,
    /// `medium` by default.
    pub priority: Priority,
    /// `None` by default.
    pub due_date: Option<OffsetDateTime>,
}

impl NewTask {
    /// Validates the raw fields of 7.2 and applies the defaults.
    ///
    /// # Errors
    /// The first invalid field: title, description (NUL only), status, priority, then due
    /// date.
    pub fn validate(input: NewTaskInput<'_>) -> Result<Self, DomainError> {
        Ok(Self {
            title: TaskTitle::new(input.title)?,
            description: description(input.description.unwrap_or_default())?,
            status: input
                .status
                .map(TaskStatus::parse)
                .transpose()?
                .unwrap_or_default(),
            priority: input
                .priority
                .map(Priority::parse)
                .transpose()?
                .unwrap_or_default(),
            due_date: input.due_date.map(parse_due_date).transpose()?,
        })
    }
}

/// The `due_date` field of an update body, where absent and `null` mean different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DueDateInput<'a> {
    /// The key was not sent: leave the due date unchanged.
    #[default]
    Absent,
    /// The key was `null`: clear the due date.
    Null,
    /// A text to parse as in 7.2.
    Value(&'a str),
}

/// The raw fields of a task-update request (contract 7.5). `None` stands for absent or
/// `null`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskChangesInput<'a> {
    /// New title, if any.
    pub title: Option<&'a str>,
    /// New description, if any.
    pub description: Option<&'a str>,
    /// New status text, if any.
    pub status: Option<&'a str>,
    /// New priority text, if any.
    pub priority: Option<&'a str>,
    /// The due-date field.
    pub due_date: DueDateInput<'a>,
}

/// A validated task update: `None` fields stay as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskChanges {
    /// Replacement title.
    pub title: Option<TaskTitle>,
    /// Replacement description (never empty: an empty string means "unchanged").
    pub description: Option<String>,
    /// Replacement status.
    pub status: Option<TaskStatus>,
    /// Replacement priority.
    pub priority: Option<Priority>,
    /// `None` = unchanged, `Some(None)` = clear, `Some(Some(at))` = set.
    pub due_date: Option<Option<OffsetDateTime>>,
}

impl TaskChanges {
    /// Applies the update semantics of 7.5: a string field that is absent, `null` or `""`
    /// leaves the stored value unchanged; `due_date` absent = unchanged, `null` = clear,
    /// text = parse.
    ///
    /// # Errors
    /// The first invalid field: title, description (NUL only), status, priority, then due
    /// date.
    pub fn validate(input: TaskChangesInput<'_>) -> Result<Self, DomainError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.filter(|s| !s.is_empty())
        }
        Ok(Self {
            title: given(input.title).map(TaskTitle::new).transpose()?,
            description: given(input.description).map(description).transpose()?,
            status: given(input.status).map(TaskStatus::parse).transpose()?,
            priority: given(input.priority).map(Priority::parse).transpose()?,
            due_date: match input.due_date {
                DueDateInput::Absent => None,
                DueDateInput::Null => Some(None),
                DueDateInput::Value(text) => Some(Some(parse_due_date(text)?)),
            },
        })
    }

    /// Applies the changes to `task` and sets `updated_at` to `now` (even when nothing
    /// else changes, as the contract requires).
    pub fn apply_to(&self, task: &mut Task, now: OffsetDateTime) {
        if let Some(title) = &self.title {
            task.title = title.as_str().to_owned();
        }
        if let Some(description) = &self.description {
            task.description.clone_from(description);
        }
        if let Some(status) = self.status {
            task.status = status;
        }
        if let Some(priority) = self.priority {
            task.priority = priority;
        }
        if let Some(due) = self.due_date {
            task.due_date = due;
        }
        task.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;
    use uuid::Uuid;

    #[test]
    fn status_round_trips_exact_lowercase_only() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(TaskStatus::InProgress.as_str(), "in_progress");
        assert!(TaskStatus::parse("Pending").is_err());
        assert!(TaskStatus::parse("in-progress").is_err());
        assert!(TaskStatus::parse("").is_err());
    }

    #[test]
    fn priority_parses_any_case_and_prints_lowercase() {
        assert_eq!(Priority::parse("High").unwrap(), Priority::High);
        assert_eq!(Priority::parse("URGENT").unwrap(), Priority::Urgent);
        assert_eq!(Priority::parse("low").unwrap().to_string(), "low");
        assert!(Priority::parse("critical").is_err());
        assert_eq!(
            serde_json::from_str::<Priority>("\"MeDiUm\"").unwrap(),
            Priority::Medium
        );
    }

    #[test]
    fn priority_orders_low_to_urgent() {
        assert!(Priority::Low < Priority::Medium);
        assert!(Priority::Medium < Priority::High);
        assert!(Priority::High < Priority::Urgent);
        assert_eq!(Priority::Urgent.rank(), 3);
    }

    #[test]
    fn title_is_trimmed_and_counted_in_characters() {
        assert_eq!(
            TaskTitle::new("  Buy milk \n").unwrap().as_str(),
            "Buy milk"
        );
        assert_eq!(TaskTitle::new("   "), Err(DomainError::InvalidTitle));
        assert_eq!(TaskTitle::new(""), Err(DomainError::InvalidTitle));
        let multibyte = "é".repeat(255);
        assert!(multibyte.len() > 255);
        assert!(TaskTitle::new(&multibyte).is_ok());
        assert!(TaskTitle::new(&"é".repeat(256)).is_err());
    }

    #[test]
    fn nul_characters_are_refused_in_titles_and_descriptions() {
        let nul = DomainError::NulCharacter;
        assert_eq!(TaskTitle::new("a\0b"), Err(nul("title")));
        let with_description = |description| NewTaskInput {
            title: "t",
            description: Some(description),
            ..NewTaskInput::default()
        };
        assert_eq!(
            NewTask::validate(with_description("x\0")),
            Err(nul("description"))
        );
        assert!(NewTask::validate(with_description("tab\tand newline\n")).is_ok());
        let change = TaskChangesInput {
            description: Some("\0"),
            ..TaskChangesInput::default()
        };
        assert_eq!(TaskChanges::validate(change), Err(nul("description")));
    }

    #[test]
    fn due_date_accepts_rfc3339_and_plain_dates() {
        assert_eq!(
            parse_due_date("2026-12-24T10:00:00+02:00").unwrap(),
            datetime!(2026-12-24 08:00 UTC)
        );
        assert_eq!(
            parse_due_date("2026-12-24").unwrap(),
            datetime!(2026-12-24 00:00 UTC)
        );
        for bad in [
            "",
            "24/12/2026",
            "2026-13-01",
            "2026-12-24T10:00:00",
            "tomorrow",
        ] {
            assert!(parse_due_date(bad).is_err(), "{bad}");
        }
    }

    fn sample_task() -> Task {
        Task {
            id: TaskId::from_uuid(Uuid::from_u128(1)),
            owner: UserId::from_uuid(Uuid::from_u128(2)),
            title: "Write report".into(),
            description: String::new(),
            status: TaskStatus::InProgress,
            priority: Priority::High,
            due_date: None,
            created_at: datetime!(2026-01-02 03:04:05.5 +01:00),
            updated_at: datetime!(2026-01-02 02:04:06 UTC),
        }
    }

    #[test]
    fn task_serialises_as_the_contract_object() {
        let json = serde_json::to_value(sample_task()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "user_id": "00000000-0000-0000-0000-000000000002",
                "title": "Write report",
                "description": "",
                "status": "in_progress",
                "priority": "high",
                "due_date": null,
                "created_at": "2026-01-02T02:04:05.5Z",
                "updated_at": "2026-01-02T02:04:06Z"
            })
        );
        let mut with_due = sample_task();
        with_due.due_date = Some(datetime!(2026-02-01 00:00 UTC));
        let text = serde_json::to_string(&with_due).unwrap();
        assert!(text.contains("\"due_date\":\"2026-02-01T00:00:00Z\""));
        assert_eq!(serde_json::from_str::<Task>(&text).unwrap(), with_due);
    }

    #[test]
    fn new_task_applies_defaults_and_validates() {
        let t = NewTask::validate(NewTaskInput {
            title: " Plan ",
            ..Default::default()
        })
        .unwrap();
        assert_eq!(t.title.as_str(), "Plan");
        assert_eq!(t.description, "");
        assert_eq!(t.status, TaskStatus::Pending);
        assert_eq!(t.priority, Priority::Medium);
        assert_eq!(t.due_date, None);

        let t = NewTask::validate(NewTaskInput {
            title: "x",
            description: Some("d"),
            status: Some("completed"),
            priority: Some("Urgent"),
            due_date: Some("2026-05-01"),
        })
        .unwrap();
        assert_eq!(t.status, TaskStatus::Completed);
        assert_eq!(t.priority, Priority::Urgent);
        assert_eq!(t.due_date, Some(datetime!(2026-05-01 00:00 UTC)));

        let bad_status = NewTaskInput {
            title: "x",
            status: Some("done"),
            ..Default::default()
        };
        assert!(matches!(
            NewTask::validate(bad_status),
            Err(DomainError::InvalidStatus(_))
        ));
        let bad_due = NewTaskInput {
            title: "x",
            due_date: Some("soon"),
            ..Default::default()
        };
        assert!(matches!(
            NewTask::validate(bad_due),
            Err(DomainError::InvalidDueDate(_))
        ));
    }

    #[test]
    fn empty_strings_leave_fields_unchanged_on_update() {
        let changes = TaskChanges::validate(TaskChangesInput {
            title: Some(""),
            description: Some(""),
            status: Some(""),
            priority: Some(""),
            due_date: DueDateInput::Absent,
        })
        .unwrap();
        assert_eq!(changes, TaskChanges::default());
        let mut task = sample_task();
        let before = task.clone();
        let now = datetime!(2026-03-01 00:00 UTC);
        changes.apply_to(&mut task, now);
        assert_eq!(task.updated_at, now);
        assert_eq!(task.title, before.title);
        assert_eq!(task.etag(), etag_for(now));
    }

    #[test]
    fn update_validates_and_applies_every_field() {
        let changes = TaskChanges::validate(TaskChangesInput {
            title: Some("  New  "),
            description: Some("desc"),
            status: Some("cancelled"),
            priority: Some("low"),
            due_date: DueDateInput::Value("2026-07-07"),
        })
        .unwrap();
        let mut task = sample_task();
        changes.apply_to(&mut task, datetime!(2026-03-01 00:00 UTC));
        assert_eq!(task.title, "New");
        assert_eq!(task.description, "desc");
        assert_eq!(task.status, TaskStatus::Cancelled);
        assert_eq!(task.priority, Priority::Low);
        assert_eq!(task.due_date, Some(datetime!(2026-07-07 00:00 UTC)));

        let clear = TaskChanges::validate(TaskChangesInput {
            due_date: DueDateInput::Null,
            ..Default::default()
        })
        .unwrap();
        clear.apply_to(&mut task, datetime!(2026-03-02 00:00 UTC));
        assert_eq!(task.due_date, None);

        for bad in [
            TaskChangesInput {
                title: Some("   "),
                ..Default::default()
            },
            TaskChangesInput {
                status: Some("open"),
                ..Default::default()
            },
            TaskChangesInput {
                due_date: DueDateInput::Value(""),
                ..Default::default()
            },
        ] {
            assert!(TaskChanges::validate(bad).is_err());
        }
    }

    #[test]
    fn etag_round_trips_and_rejects_foreign_tags() {
        let at = datetime!(2026-03-01 12:00:00.123456 UTC);
        let tag = etag_for(at);
        assert_eq!(parse_etag(&tag), Some(at));
        assert_eq!(parse_etag(&format!("W/{tag}")), Some(at));
        assert_eq!(parse_etag("\"abc\""), None);
        assert_eq!(parse_etag("123"), None);
        assert_ne!(etag_for(at), etag_for(at + time::Duration::microseconds(1)));
    }

    proptest! {
        #[test]
        fn title_never_accepts_more_than_255_chars(s in "\\PC{0,300}") {
            match TaskTitle::new(&s) {
                Ok(t) => {
                    let n = t.as_str().chars().count();
                    prop_assert!((1..=255).contains(&n));
                    prop_assert_eq!(t.as_str(), s.trim());
                }
                Err(_) => {
                    let n = s.trim().chars().count();
                    prop_assert!(n == 0 || n > 255);
                }
            }
        }

        #[test]
        fn priority_order_matches_rank(a in 0usize..4, b in 0usize..4) {
            let (pa, pb) = (Priority::ALL[a], Priority::ALL[b]);
            prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
            prop_assert_eq!(pa.cmp(&pb), pa.rank().cmp(&pb.rank()));
        }
    }
}
