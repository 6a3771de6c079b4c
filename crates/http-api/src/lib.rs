//! The HTTP adapter of the task-management service, built on actix-web.
//!
//! It owns everything that is about HTTP and nothing else: the routes and their
//! request/response shapes, the request pipeline of contract section 3 (access log with
//! request id, panic recovery, metrics, security headers, rate limiting, CORS, body limit),
//! and the one mapping from application and port errors to the contract's status codes and
//! error bodies. The use cases it calls live in `application`; `server` hands it a ready
//! [`ApiState`].

mod admin_gate;
mod app;
pub mod auth;
mod body;
mod context;
pub mod errors;
pub mod middleware;
pub mod openapi;
mod ops;
pub mod routes;
mod state;

pub use app::{ExtraRoutes, HttpSettings, Pipeline, build_app};
pub use state::{ApiState, PrometheusRenderer};
