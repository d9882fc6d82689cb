//! The SQL of [`DatabaseStore`](crate::store::DatabaseStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, Db};
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
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let mut insert =
            sqlx::QueryBuilder::<Db>::new("insert into database_log_lines (addon_id, timestamp, source, message) ");
        insert.push_values(lines, |mut row, line| {
            row.push_bind(addon_id)
                .push_bind(line.timestamp)
                .push_bind(line.source.clone())
                .push_bind(line.message.clone());
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query(
            "delete from database_log_lines where addon_id = $1 and (timestamp < $2 or id <= \
             (select id from database_log_lines where addon_id = $1 order by id desc limit 1 offset $3))",
        )
        .bind(addon_id)
        .bind(cutoff)
        .bind(i64::from(max_lines))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn database_logs(&self, addon_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>> {
        let mut lines: Vec<LogLine> = sqlx::query_as(
            "select timestamp, source, message from database_log_lines where addon_id = $1 and timestamp >= $2 \
             order by id desc limit $3",
        )
        .bind(addon_id)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        lines.reverse();
        Ok(lines)
    }

    async fn append_database_metrics(
        &self,
        addon_id: Uuid,
        samples: &[MetricSample],
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let mut insert =
            sqlx::QueryBuilder::<Db>::new("insert into database_metric_samples (addon_id, kind, time, value) ");
        insert.push_values(samples, |mut row, s| {
            row.push_bind(addon_id)
                .push_bind(s.kind)
                .push_bind(s.time)
                .push_bind(s.value);
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query("delete from database_metric_samples where addon_id = $1 and time < $2")
            .bind(addon_id)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn database_metrics(
        &self,
        addon_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>> {
        Ok(sqlx::query_as(
            "select time, value from (select time, value from database_metric_samples \
             where addon_id = $1 and kind = $2 and time >= $3 order by time desc limit $4) newest order by time",
        )
        .bind(addon_id)
        .bind(kind)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?)
    }
}
