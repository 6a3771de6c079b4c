//! Test harness shared by every integration test of the workspace.
//!
//! Each test gets its own PostgreSQL database, cloned from a template that is migrated once
//! per run, and its own Redis key prefix, so tests run in parallel without seeing each
//! other's data. Where no PostgreSQL or Redis answers, the harness says so clearly (or starts
//! a private `redis-server` when the binary is installed).

pub mod db;
pub mod proxy;
pub mod redis;
pub mod snapshot;

pub use db::TestDatabase;
pub use proxy::TcpProxy;
pub use redis::TestRedis;
