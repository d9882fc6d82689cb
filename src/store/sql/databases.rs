//! The SQL of [`DatabaseStore`](crate::store::DatabaseStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Backend;
use super::telemetry::DATABASE;
use crate::store::{App, LogLine, MetricPoint, MetricSample, NewRequest, Recorded, StoreError, StoreResult, UserRef};

#[async_trait::async_trait]
impl crate::store::DatabaseStore for Backend {
    async fn record_exclusive_request(
        &self,
        app: &App,
        addon_id: Uuid,
        request: NewRequest,
        busy: &[&str],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!("select id from addons where app_id = $1 and id = $2", lock!()))
            .bind(app.id)
            .bind(addon_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let open: Vec<String> =
            sqlx::query_scalar("select type from requests where target_id = $1 and status in ('queued', 'running')")
                .bind(addon_id)
                .fetch_all(&mut *tx)
                .await?;
        if open.iter().any(|kind| busy.contains(&kind.as_str())) {
            return Err(StoreError::Conflict(
                "an upgrade or a restore of this database is under way",
            ));
        }
        let recorded = self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn append_database_logs(
        &self,
        addon_id: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.append_log_lines(&DATABASE, addon_id, lines, max_lines, cutoff)
            .await
    }

    async fn database_logs(&self, addon_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>> {
        self.newest_log_lines(&DATABASE, addon_id, since, limit).await
    }

    async fn append_database_metrics(
        &self,
        addon_id: Uuid,
        samples: &[MetricSample],
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.append_samples(&DATABASE, addon_id, samples, cutoff).await
    }

    async fn database_metrics(
        &self,
        addon_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>> {
        self.newest_samples(&DATABASE, addon_id, kind, since, limit).await
    }
}
