//! rolegate: the access-control API of a Platform-as-a-Service.
//!
//! Each app has one owner, collaborators and limited collaborators; one static matrix
//! ([`authz`]) says what each role may do, and one middleware
//! ([`authz::middleware::authorize`]) checks it before every handler runs.

pub mod api;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod console;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod kinds;
pub mod mail;
pub mod metrics;
pub mod secrets;
mod server;
pub mod state;
pub mod store;
pub mod sweep;

pub use server::{build_state, router, router_with, run, serve, shutdown_signal};
pub use state::AppState;
