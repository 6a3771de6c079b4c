//! The `task-api` binary's library half: it reads the configuration, builds the adapters
//! (PostgreSQL, Redis), wires them into the ports the application services need, and runs
//! the HTTP server and the background tasks until a shutdown signal.
//!
//! `main` and the integration tests call the same [`Application::build`], so tests exercise
//! exactly what production runs, on port 0.

// Set here rather than in `main` so that the integration tests and benches run on the same
// allocator as production.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod accounts;
pub mod audit_retention;
pub mod bootstrap;
mod coherence;
pub mod config;
mod services;
mod startup;
pub mod telemetry;

pub use startup::{Application, CacheLevels, StartOptions, wait_for_database};
