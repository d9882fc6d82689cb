//! Logs and metrics the platform feeds in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{LogLine, MetricPoint, MetricSample, StoreResult};

/// Logs and metrics the platform feeds in.
#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// Appends log lines, then trims the app's window to `max_lines` and lines after `cutoff`.
    async fn append_logs(
        &self,
        app_id: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The most recent `limit` lines since `since`, oldest first.
    async fn recent_logs(&self, app_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>>;

    /// Appends metric samples and drops samples before `cutoff`.
    async fn append_metrics(&self, app_id: Uuid, samples: &[MetricSample], cutoff: DateTime<Utc>) -> StoreResult<()>;

    /// A time series since `since`, oldest first.
    async fn metrics(
        &self,
        app_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>>;
}
