//! Database add-ons: requests that exclude each other (restores, upgrades), and the logs and
//! metrics the platform feeds in for one database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, LogLine, MetricPoint, MetricSample, NewRequest, Recorded, StoreResult, UserRef};

/// Database add-ons.
#[async_trait]
pub trait DatabaseStore: Send + Sync {
    /// Records a request on the app's add-on `addon_id` (its target), with its order and
    /// event, in one transaction, unless a request of one of the `busy` types on that add-on
    /// is still `queued` or `running` (`Conflict`). The add-on's row is locked first, so of two
    /// concurrent requests one sees the other. `NotFound` when the add-on is not the app's.
    async fn record_exclusive_request(
        &self,
        app: &App,
        addon_id: Uuid,
        request: NewRequest,
        busy: &[&str],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded>;

    /// Appends a database's log lines, then trims its window to `max_lines` and lines after
    /// `cutoff`.
    async fn append_database_logs(
        &self,
        addon_id: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// A database's most recent `limit` lines since `since`, oldest first.
    async fn database_logs(&self, addon_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>>;

    /// Appends a database's metric samples and drops those before `cutoff`.
    async fn append_database_metrics(
        &self,
        addon_id: Uuid,
        samples: &[MetricSample],
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// A database's time series since `since`, oldest first.
    async fn database_metrics(
        &self,
        addon_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>>;
}
