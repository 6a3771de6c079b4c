//! PostgreSQL side of the service, built on diesel-async: the schema (as embedded diesel
//! migrations, run at start-up under an advisory lock and able to adopt a legacy database),
//! the connection pool that fails with a clear `PortError::Unavailable` instead of hanging
//! when PostgreSQL is down, the generated `table!` definitions, and idempotent seeding of
//! accounts. Repository implementations of the `ports` traits live here too.

pub mod audit;
pub mod authz;
pub mod migrations;
pub mod pool;
pub mod schema;
pub mod schema_gen;
pub mod seed;
pub mod tokens;
pub mod users;

pub use audit::PgAuditLog;
pub use authz::PgAuthzRepository;
pub use migrations::{MIGRATIONS, MigrationError};
pub use pool::{PgPool, PoolSettings, PooledConnection, map_diesel_error};
pub use tokens::{PgRefreshTokenStore, PgRevocationStore};
pub use users::PgUserRepository;
pub mod tasks;
pub use tasks::PgTaskRepository;
pub mod idempotency;
pub use idempotency::PgIdempotencyStore;
