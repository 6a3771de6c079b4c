//! Users: email and username value objects, the password policy, registration validation
//! in the exact check order of contract 4.1, the profile-update allow-list of 8.4, and the
//! profile object of 8.1.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{DomainError, UserId, timefmt};

/// Maximum length of an email address, in characters (the column is `varchar(255)`).
pub const MAX_EMAIL_CHARS: usize = 255;
/// Minimum password length, in characters (login refuses shorter ones too).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Maximum password length, in bytes of UTF-8 (bcrypt ignores anything past 72 bytes).
pub const MAX_PASSWORD_BYTES: usize = 72;
/// The characters that count as "special" for the password policy.
pub const PASSWORD_SPECIALS: &str = "!@#$%^&*()_+-=[]{}|;:,.<>?";

/// A syntactically valid email address, trimmed and lowercased [D-17].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Trims, lowercases and checks the address: exactly one `@`, a non-empty local part, a
    /// domain of non-empty dot-separated labels with at least one dot, no whitespace, at
    /// most 255 characters.
    ///
    /// # Errors
    /// [`DomainError::InvalidEmail`] when any rule fails.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let email = raw.trim().to_lowercase();
        let valid = email.chars().count() <= MAX_EMAIL_CHARS
            && !email.chars().any(char::is_whitespace)
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && domain.split('.').all(|label| !label.is_empty())
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err(DomainError::InvalidEmail)
        }
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address as an owned string.
    #[must_use]
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text of the username length rule (contract 4.1).
pub const USERNAME_TOO_SHORT: &str = "username must be at least 3 characters long";
/// Text of the username character rule (contract 4.1).
pub const USERNAME_BAD_CHARS: &str = "username can only contain letters, numbers, and underscores";

/// A username: trimmed, 3 to 50 characters, only ASCII letters, digits and `_`.
/// Comparison is exact and case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 50;
    /// Minimum length in characters.
    pub const MIN_CHARS: usize = 3;

    /// Trims and checks the content rules of 4.1.
    ///
    /// # Errors
    /// [`DomainError::InvalidUsername`] carrying the contract text of the first rule broken.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        if name.chars().count() < Self::MIN_CHARS {
            return Err(DomainError::InvalidUsername(USERNAME_TOO_SHORT.to_owned()));
        }
        if name.chars().count() > Self::MAX_CHARS
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(DomainError::InvalidUsername(USERNAME_BAD_CHARS.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The username.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The username as an owned string.
    #[must_use]
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A character class the password policy requires, in the order the message lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CharClass {
    /// `A`-`Z`.
    Uppercase,
    /// `a`-`z`.
    Lowercase,
    /// `0`-`9`.
    Digit,
    /// One of [`PASSWORD_SPECIALS`].
    Special,
}

impl CharClass {
    /// The contract's name of the class.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uppercase => "uppercase letter",
            Self::Lowercase => "lowercase letter",
            Self::Digit => "number",
            Self::Special => "special character",
        }
    }
}

/// Which password rule failed; `Display` is the contract's exact text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleViolation {
    /// Under 8 characters (a structural error at registration, see [`RegistrationInput`]).
    #[error("password must be at least 8 characters long")]
    TooShort,
    /// Over 72 bytes [D-18].
    #[error("password must be at most 72 bytes long")]
    TooLong,
    /// Missing character classes, in contract order.
    #[error("password must contain at least one {}", join_classes(.0))]
    MissingClasses(Vec<CharClass>),
}

fn join_classes(classes: &[CharClass]) -> String {
    classes
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The password policy of 4.1, also applied to the bootstrap admin password [D-33]:
/// at least 8 characters, at most 72 bytes, and at least one ASCII uppercase letter, ASCII
/// lowercase letter, ASCII digit and special character (others allowed, counting for none).
///
/// # Errors
/// The first rule broken, in the order: length in characters, length in bytes, classes.
pub fn check_password(password: &str) -> Result<(), PasswordRuleViolation> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRuleViolation::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRuleViolation::TooLong);
    }
    let has = |pred: &dyn Fn(char) -> bool| password.chars().any(pred);
    let missing: Vec<CharClass> = [
        (CharClass::Uppercase, has(&|c| c.is_ascii_uppercase())),
        (CharClass::Lowercase, has(&|c| c.is_ascii_lowercase())),
        (CharClass::Digit, has(&|c| c.is_ascii_digit())),
        (CharClass::Special, has(&|c| PASSWORD_SPECIALS.contains(c))),
    ]
    .into_iter()
    .filter_map(|(class, present)| (!present).then_some(class))
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(PasswordRuleViolation::MissingClasses(missing))
    }
}

/// A plain-text password on its way to the hasher; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password that has passed the policy.
    #[must_use]
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret text, for the hasher only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A stored bcrypt hash. It is a secret too: `Debug` and `Display` print `[redacted]`, and
/// it has no serde form, so it cannot leak into a response or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash read from storage or produced by the hasher.
    #[must_use]
    pub fn new(hash: String) -> Self {
        Self(hash)
    }

    /// The hash text, for verification and storage only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The raw registration body (4.1). It derives `Deserialize` so the HTTP layer can read the
/// JSON straight into it: a wrong type is a serde error (an "Invalid request data" answer),
/// unknown fields are ignored, and missing fields are `None`.
#[derive(Clone, Default, Deserialize)]
pub struct RegistrationInput {
    /// Required.
    pub username: Option<String>,
    /// Required.
    pub email: Option<String>,
    /// Required.
    pub password: Option<String>,
    /// Required.
    pub first_name: Option<String>,
    /// Required.
    pub last_name: Option<String>,
    /// Optional.
    pub department: Option<String>,
    /// Optional.
    pub position: Option<String>,
}

impl fmt::Debug for RegistrationInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationInput")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("department", &self.department)
            .field("position", &self.position)
            .finish()
    }
}

/// Why a registration body was refused, split as the contract's two 400 answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// Structural: missing or empty required field, bad email syntax, a length limit
    /// exceeded. Answered `{"error": "Invalid request data", "details": <text>}`.
    #[error("Invalid request data: {0}")]
    InvalidRequest(String),
    /// A content rule; the text is one of the contract's exact texts. Answered
    /// `{"error": "Validation failed", "details": <text>}`.
    #[error("Validation failed: {0}")]
    Validation(String),
}

impl RegistrationError {
    /// The contract's `error` value for this failure.
    #[must_use]
    pub fn error_text(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "Invalid request data",
            Self::Validation(_) => "Validation failed",
        }
    }

    /// The `details` text.
    #[must_use]
    pub fn details(&self) -> &str {
        match self {
            Self::InvalidRequest(d) | Self::Validation(d) => d,
        }
    }
}

/// A registration that passed every check of 4.1, values trimmed and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRegistration {
    /// Trimmed username.
    pub username: Username,
    /// Normalised email.
    pub email: Email,
    /// The password, to be hashed.
    pub password: Password,
    /// Trimmed, non-empty.
    pub first_name: String,
    /// Trimmed, non-empty.
    pub last_name: String,
    /// Trimmed, `""` when absent.
    pub department: String,
    /// Trimmed, `""` when absent.
    pub position: String,
}

fn required<'a>(field: &str, value: Option<&'a String>) -> Result<&'a str, RegistrationError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(RegistrationError::InvalidRequest(format!(
            "{field} is required"
        ))),
    }
}

fn max_chars(field: &str, value: &str, max: usize) -> Result<(), RegistrationError> {
    if value.chars().count() > max {
        Err(RegistrationError::InvalidRequest(format!(
            "{field} must be at most {max} characters"
        )))
    } else {
        Ok(())
    }
}

impl RegistrationInput {
    /// Runs the checks of 4.1 in contract order, the first failure answering: first the
    /// structural ones ([`RegistrationError::InvalidRequest`]), then the content rules
    /// ([`RegistrationError::Validation`]) in the order username length, username
    /// characters, first name, last name, password bytes, password classes. Uniqueness of
    /// email and username is the caller's next step (email first).
    ///
    /// # Errors
    /// The first failing check.
    pub fn validate(&self) -> Result<ValidRegistration, RegistrationError> {
        let invalid = RegistrationError::InvalidRequest;
        // Structural checks.
        let username = required("username", self.username.as_ref())?;
        let username_chars = username.chars().count();
        if !(Username::MIN_CHARS..=Username::MAX_CHARS).contains(&username_chars) {
            return Err(invalid("username must be 3 to 50 characters".into()));
        }
        let email_raw = required("email", self.email.as_ref())?;
        let email =
            Email::parse(email_raw).map_err(|_| invalid("email must be a valid address".into()))?;
        let password = required("password", self.password.as_ref())?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(invalid("password must be at least 8 characters".into()));
        }
        let first_name = required("first_name", self.first_name.as_ref())?;
        max_chars("first_name", first_name, 50)?;
        let last_name = required("last_name", self.last_name.as_ref())?;
        max_chars("last_name", last_name, 50)?;
        let department = self.department.as_deref().unwrap_or_default();
        max_chars("department", department, 100)?;
        let position = self.position.as_deref().unwrap_or_default();
        max_chars("position", position, 100)?;

        // Content rules.
        let username = Username::parse(username).map_err(|e| match e {
            DomainError::InvalidUsername(text) => RegistrationError::Validation(text),
            other => RegistrationError::Validation(other.to_string()),
        })?;
        let first_name = first_name.trim();
        if first_name.is_empty() {
            return Err(RegistrationError::Validation(
                "first name is required".into(),
            ));
        }
        let last_name = last_name.trim();
        if last_name.is_empty() {
            return Err(RegistrationError::Validation(
                "last name is required".into(),
            ));
        }
        check_password(password).map_err(|v| RegistrationError::Validation(v.to_string()))?;

        Ok(ValidRegistration {
            username,
            email,
            password: Password::new(password.to_owned()),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            department: department.trim().to_owned(),
            position: position.trim().to_owned(),
        })
    }
}

/// Why a profile update body was refused; answered
/// `{"error": "Invalid request body", "details": <text>}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProfileUpdateError(pub String);

/// A validated profile update (8.4): only these four fields can ever change through it
/// [D-4]. `None` fields stay as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileChanges {
    /// Trimmed, 1 to 50 characters.
    pub first_name: Option<String>,
    /// Trimmed, 1 to 50 characters.
    pub last_name: Option<String>,
    /// Trimmed, at most 100 characters (may be empty).
    pub department: Option<String>,
    /// Trimmed, at most 100 characters (may be empty).
    pub position: Option<String>,
}

impl ProfileChanges {
    /// Validates a JSON object body against the allow-list of 8.4: any other key is refused
    /// with `field '<key>' cannot be updated`, an empty object is refused, and each value
    /// must be a string within its rule.
    ///
    /// # Errors
    /// [`ProfileUpdateError`] with the details text of the first problem found (unknown
    /// keys are reported before bad values).
    pub fn from_json_object(
        body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ProfileUpdateError> {
        if body.is_empty() {
            return Err(ProfileUpdateError(
                "at least one of first_name, last_name, department, position is required".into(),
            ));
        }
        if let Some(key) = body.keys().find(|k| {
            !matches!(
                k.as_str(),
                "first_name" | "last_name" | "department" | "position"
            )
        }) {
            return Err(ProfileUpdateError(format!(
                "field '{key}' cannot be updated"
            )));
        }
        let field =
            |key: &str, min: usize, max: usize| -> Result<Option<String>, ProfileUpdateError> {
                let Some(value) = body.get(key) else {
                    return Ok(None);
                };
                let text = value
                    .as_str()
                    .ok_or_else(|| ProfileUpdateError(format!("field '{key}' must be a string")))?
                    .trim();
                let chars = text.chars().count();
                if chars < min || chars > max {
                    return Err(ProfileUpdateError(format!(
                        "field '{key}' must be {min} to {max} characters"
                    )));
                }
                Ok(Some(text.to_owned()))
            };
        Ok(Self {
            first_name: field("first_name", 1, 50)?,
            last_name: field("last_name", 1, 50)?,
            department: field("department", 0, 100)?,
            position: field("position", 0, 100)?,
        })
    }

    /// Applies the changes to a profile and sets `updated_at` to `now`.
    pub fn apply_to(&self, profile: &mut UserProfile, now: OffsetDateTime) {
        for (src, dst) in [
            (&self.first_name, &mut profile.first_name),
            (&self.last_name, &mut profile.last_name),
            (&self.department, &mut profile.department),
            (&self.position, &mut profile.position),
        ] {
            if let Some(v) = src {
                dst.clone_from(v);
            }
        }
        profile.updated_at = now;
    }
}

/// A user account as shown to clients: the profile object of 8.1 (plus the optional
/// `department`, `position`, `is_active`, `last_login_at`). It has no password field at
/// all, so no response can ever carry the hash. Nullable name columns read as `""`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The user id.
    pub id: UserId,
    /// The username as stored.
    pub username: String,
    /// The email as stored.
    pub email: String,
    /// `""` when unset.
    pub first_name: String,
    /// `""` when unset.
    pub last_name: String,
    /// `""` when unset.
    pub department: String,
    /// `""` when unset.
    pub position: String,
    /// Whether the account may log in.
    pub is_active: bool,
    /// The last successful login, `null` when never.
    #[serde(with = "timefmt::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "timefmt")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "timefmt")]
    pub updated_at: OffsetDateTime,
}

/// The user entity is its profile; the hash lives only in the storage record
/// (`ports::users::UserRecord`).
pub type User = UserProfile;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    #[test]
    fn email_is_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@example",
            "jane@@example.com",
            "ja ne@example.com",
            "jane@example..com",
            "jane@.com",
            "a@b@c.com",
        ] {
            assert_eq!(Email::parse(bad), Err(DomainError::InvalidEmail), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn username_rules_follow_the_contract_texts() {
        assert_eq!(Username::parse(" john_1 ").unwrap().as_str(), "john_1");
        assert_eq!(
            Username::parse(" ab "),
            Err(DomainError::InvalidUsername(USERNAME_TOO_SHORT.into()))
        );
        assert_eq!(
            Username::parse("john-doe"),
            Err(DomainError::InvalidUsername(USERNAME_BAD_CHARS.into()))
        );
        assert!(Username::parse("jöhn").is_err());
    }

    #[test]
    fn password_policy_texts_are_exact() {
        assert_eq!(check_password("Abcdef1!"), Ok(()));
        assert_eq!(
            check_password("Abc1!").unwrap_err().to_string(),
            "password must be at least 8 characters long"
        );
        assert_eq!(
            check_password(&format!("Aa1!{}", "x".repeat(69)))
                .unwrap_err()
                .to_string(),
            "password must be at most 72 bytes long"
        );
        assert_eq!(
            check_password("abcdefg1").unwrap_err().to_string(),
            "password must contain at least one uppercase letter, special character"
        );
        assert_eq!(
            check_password("éééééééé").unwrap_err().to_string(),
            "password must contain at least one uppercase letter, lowercase letter, number, special character"
        );
        assert_eq!(
            check_password("ABCDEFGH~").unwrap_err().to_string(),
            "password must contain at least one lowercase letter, number, special character"
        );
        for special in PASSWORD_SPECIALS.chars() {
            assert_eq!(
                check_password(&format!("Abcdef1{special}")),
                Ok(()),
                "{special}"
            );
        }
    }

    #[test]
    fn password_limit_counts_bytes_not_characters() {
        // 36 two-byte characters: 72 bytes, allowed; one more byte is too long.
        let base = format!("Aa1!{}", "é".repeat(34));
        assert_eq!(base.len(), 72);
        assert_eq!(check_password(&base), Ok(()));
        assert_eq!(
            check_password(&format!("{base}x")),
            Err(PasswordRuleViolation::TooLong)
        );
    }

    #[test]
    fn secrets_never_print() {
        let hash = PasswordHash::new("$2b$10$abcdef".into());
        assert_eq!(format!("{hash:?}"), "[redacted]");
        assert_eq!(hash.to_string(), "[redacted]");
        assert_eq!(hash.expose(), "$2b$10$abcdef");
        let input = full_input();
        assert!(!format!("{input:?}").contains("Secure"));
        assert!(!format!("{:?}", input.validate().unwrap()).contains("Secure"));
    }

    fn full_input() -> RegistrationInput {
        RegistrationInput {
            username: Some(" jane_doe ".into()),
            email: Some("Jane@Example.com".into()),
            password: Some("SecurePass@456".into()),
            first_name: Some(" Jane ".into()),
            last_name: Some("Doe".into()),
            department: Some(" Engineering ".into()),
            position: None,
        }
    }

    #[test]
    fn valid_registration_is_normalised() {
        let ok = full_input().validate().unwrap();
        assert_eq!(ok.username.as_str(), "jane_doe");
        assert_eq!(ok.email.as_str(), "jane@example.com");
        assert_eq!(ok.password.expose(), "SecurePass@456");
        assert_eq!(ok.first_name, "Jane");
        assert_eq!(ok.department, "Engineering");
        assert_eq!(ok.position, "");
    }

    type Mutation = Box<dyn Fn(&mut RegistrationInput)>;

    fn kind(input: &RegistrationInput) -> (&'static str, String) {
        let err = input.validate().unwrap_err();
        (err.error_text(), err.details().to_owned())
    }

    #[test]
    fn structural_failures_are_invalid_request_data() {
        let cases: Vec<Mutation> = vec![
            Box::new(|i| i.username = None),
            Box::new(|i| i.username = Some(String::new())),
            Box::new(|i| i.username = Some("ab".into())),
            Box::new(|i| i.username = Some("a".repeat(51))),
            Box::new(|i| i.email = None),
            Box::new(|i| i.email = Some("not-an-email".into())),
            Box::new(|i| i.password = Some("Ab1!".into())),
            Box::new(|i| i.first_name = Some(String::new())),
            Box::new(|i| i.last_name = Some("x".repeat(51))),
            Box::new(|i| i.department = Some("x".repeat(101))),
            Box::new(|i| i.position = Some("x".repeat(101))),
        ];
        for (n, mutate) in cases.iter().enumerate() {
            let mut input = full_input();
            mutate(&mut input);
            assert_eq!(kind(&input).0, "Invalid request data", "case {n}");
        }
    }

    #[test]
    fn content_rules_are_validation_failed_with_exact_texts() {
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|i| i.username = Some("  ab  ".into())),
                "username must be at least 3 characters long",
            ),
            (
                Box::new(|i| i.username = Some("jane.doe".into())),
                "username can only contain letters, numbers, and underscores",
            ),
            (
                Box::new(|i| i.first_name = Some("   ".into())),
                "first name is required",
            ),
            (
                Box::new(|i| i.last_name = Some(" ".into())),
                "last name is required",
            ),
            (
                Box::new(|i| i.password = Some(format!("Aa1!{}", "x".repeat(69)))),
                "password must be at most 72 bytes long",
            ),
            (
                Box::new(|i| i.password = Some("password".into())),
                "password must contain at least one uppercase letter, number, special character",
            ),
        ];
        for (mutate, text) in cases {
            let mut input = full_input();
            mutate(&mut input);
            assert_eq!(kind(&input), ("Validation failed", text.to_owned()));
        }
    }

    #[test]
    fn structural_checks_come_before_content_rules() {
        let mut input = full_input();
        input.username = Some("bad.name".into()); // content rule
        input.position = Some("x".repeat(101)); // structural
        assert_eq!(kind(&input).0, "Invalid request data");
        // Among content rules, the username comes before the password.
        let mut input = full_input();
        input.username = Some("bad.name".into());
        input.password = Some("password".into());
        assert_eq!(kind(&input).1, USERNAME_BAD_CHARS);
    }

    #[test]
    fn registration_input_reads_json_and_ignores_unknown_fields() {
        let input: RegistrationInput =
            serde_json::from_str(r#"{"username":"abc","role":"admin","email":"a@b.co"}"#).unwrap();
        assert_eq!(input.username.as_deref(), Some("abc"));
        assert!(serde_json::from_str::<RegistrationInput>(r#"{"username":5}"#).is_err());
    }

    fn object(json: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn profile_changes_allow_only_four_fields() {
        let ok =
            ProfileChanges::from_json_object(&object(r#"{"first_name":" Ann ","department":""}"#))
                .unwrap();
        assert_eq!(ok.first_name.as_deref(), Some("Ann"));
        assert_eq!(ok.department.as_deref(), Some(""));
        assert_eq!(ok.last_name, None);

        let err =
            ProfileChanges::from_json_object(&object(r#"{"first_name":"Ann","password":"x"}"#))
                .unwrap_err();
        assert_eq!(err.0, "field 'password' cannot be updated");
        assert!(ProfileChanges::from_json_object(&object("{}")).is_err());
        for bad in [
            r#"{"first_name":"  "}"#,
            r#"{"first_name":null}"#,
            r#"{"last_name":5}"#,
            r#"{"position":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
        ] {
            assert!(
                ProfileChanges::from_json_object(&object(bad)).is_err(),
                "{bad}"
            );
        }
    }

    fn profile() -> UserProfile {
        UserProfile {
            id: UserId::from_uuid(Uuid::from_u128(0x10)),
            username: "admin_user".into(),
            email: "admin@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            department: String::new(),
            position: String::new(),
            is_active: true,
            last_login_at: None,
            created_at: datetime!(2026-01-01 00:00 UTC),
            updated_at: datetime!(2026-01-01 00:00 UTC),
        }
    }

    #[test]
    fn profile_serialises_without_any_password_field() {
        let json = serde_json::to_value(profile()).unwrap();
        assert_eq!(json["id"], "00000000-0000-0000-0000-000000000010");
        assert_eq!(json["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(json["last_login_at"], serde_json::Value::Null);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(!keys.iter().any(|k| k.contains("password")));
        for key in ["username", "email", "first_name", "last_name", "updated_at"] {
            assert!(keys.contains(&key), "{key}");
        }
    }

    #[test]
    fn profile_changes_apply() {
        let mut p = profile();
        let changes = ProfileChanges {
            last_name: Some("Smith".into()),
            ..Default::default()
        };
        changes.apply_to(&mut p, datetime!(2026-02-01 00:00 UTC));
        assert_eq!(p.last_name, "Smith");
        assert_eq!(p.updated_at, datetime!(2026-02-01 00:00 UTC));
    }
}
