//! The HTTP test suite: the real server, on a real database, over real HTTP. Every test
//! runs on SQLite, and on Postgres when `ROLEGATE_TEST_POSTGRES_URL` is set.

mod common;

mod access_batch;
mod access_pool;
mod accounts;
mod apps;
mod authorization;
mod cli;
mod collaborators;
mod connections;
mod console;
mod contract;
mod databases;
mod docs;
mod exhaustive;
mod failover;
mod hardening;
mod input;
mod invitations;
mod jwt;
mod least_privilege;
mod matrix;
mod metrics;
mod operations;
mod platform;
mod properties;
mod races;
mod read_only;
mod resources;
mod runtime;
mod settings;
mod state_machine;
mod takeover;
mod tfa;
mod trust;
