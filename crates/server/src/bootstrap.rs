//! The optional admin account created or updated at start-up (D-33), so a fresh deployment
//! has a usable administrator without any well-known password.

use adapters_postgres::{
    PgPool,
    seed::{SeedAccount, ensure_account},
};
use domain::user::{Email, check_password};

use crate::config::AdminBootstrap;

/// Why the bootstrap account could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("ADMIN_BOOTSTRAP_EMAIL is not a valid email address")]
    InvalidEmail,
    #[error("ADMIN_BOOTSTRAP_PASSWORD does not satisfy the registration rules: {0}")]
    WeakPassword(String),
    #[error("could not hash the bootstrap password: {0}")]
    Hashing(String),
    #[error("could not store the bootstrap account: {0}")]
    Storage(#[from] ports::PortError),
}

/// Creates or updates the bootstrap admin: the given email and password, the roles `user`
/// and `admin`. Running it again with the same values changes nothing but the hash's salt.
///
/// # Errors
/// An invalid email, a password that breaks the registration rules, or a storage failure.
pub async fn ensure_admin(
    pool: &PgPool,
    bootstrap: &AdminBootstrap,
    bcrypt_cost: u32,
) -> Result<uuid::Uuid, BootstrapError> {
    let email = Email::parse(&bootstrap.email).map_err(|_| BootstrapError::InvalidEmail)?;
    let password = bootstrap.password.expose().to_owned();
    check_password(&password).map_err(|rule| BootstrapError::WeakPassword(rule.to_string()))?;
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, bcrypt_cost))
        .await
        .map_err(|error| BootstrapError::Hashing(error.to_string()))?
        .map_err(|error| BootstrapError::Hashing(error.to_string()))?;
    let username = username_for(email.as_str());
    let account = SeedAccount {
        username: &username,
        email: email.as_str(),
        password_hash: &hash,
        first_name: "Admin",
        last_name: "Bootstrap",
        department: "Administration",
        position: "Administrator",
        roles: &["user", "admin"],
    };
    Ok(ensure_account(pool, &account).await?)
}

/// A valid username (3 to 50 of letters, digits, `_`) derived from the email's local part.
fn username_for(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let mut name: String = local
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(50)
        .collect();
    while name.len() < 3 {
        name.push('_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::username_for;

    #[test]
    fn usernames_follow_the_registration_rules() {
        assert_eq!(username_for("root@example.com"), "root");
        assert_eq!(username_for("ops.team+1@example.com"), "ops_team_1");
        assert_eq!(username_for("a@example.com"), "a__");
        assert_eq!(username_for(&format!("{}@x.io", "é".repeat(60))).len(), 50);
    }
}
