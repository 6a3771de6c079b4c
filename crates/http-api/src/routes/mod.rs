//! Application routes under `/api/v1`, one module per area.

pub mod auth;
pub mod authz;
pub mod cache;
pub mod jobs;
pub mod tasks;
pub mod users;
