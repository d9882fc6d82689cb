//! Logs and metrics the platform feeds in: what the store returns, and the rows it decodes them
//! from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

/// A line of an app's log.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct LogLine {
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// Where it came from (`web-1`, `router`, `build`...).
    pub source: String,
    /// The text.
    pub message: String,
}

/// A metric sample.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct MetricPoint {
    /// When.
    pub time: DateTime<Utc>,
    /// Value.
    pub value: f64,
}

/// A metric sample with its kind, as the platform sends it.
pub struct MetricSample {
    /// `cpu`, `memory` or `requests`.
    pub kind: &'static str,
    /// When.
    pub time: DateTime<Utc>,
    /// Value.
    pub value: f64,
}
