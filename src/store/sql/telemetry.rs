//! The SQL of [`TelemetryStore`](crate::store::TelemetryStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`. An app's telemetry and a database's
//! (`sql/databases.rs`) are kept alike, in tables of their own: one body of SQL serves both.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::{Backend, Db};
use crate::store::{LogLine, MetricPoint, MetricSample, StoreResult};

/// Where one kind of subject's telemetry is kept.
pub(super) struct Tables {
    logs: &'static str,
    metrics: &'static str,
    /// The column naming the subject.
    subject: &'static str,
}

/// An app's logs and metrics.
pub(super) const APP: Tables = Tables {
    logs: "log_lines",
    metrics: "metric_samples",
    subject: "app_id",
};

/// A database's (an add-on's) logs and metrics.
pub(super) const DATABASE: Tables = Tables {
    logs: "database_log_lines",
    metrics: "database_metric_samples",
    subject: "addon_id",
};

impl Backend {
    /// Appends `lines` to `subject`'s log, keeping the newest `max_lines` written after
    /// `cutoff`, in one transaction.
    pub(super) async fn append_log_lines(
        &self,
        tables: &Tables,
        subject: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let Tables {
            logs, subject: column, ..
        } = tables;
        let mut tx = self.write_tx().await?;
        let mut insert =
            sqlx::QueryBuilder::<Db>::new(format!("insert into {logs} ({column}, timestamp, source, message) "));
        insert.push_values(lines, |mut row, line| {
            row.push_bind(subject)
                .push_bind(line.timestamp)
                .push_bind(line.source.clone())
                .push_bind(line.message.clone());
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(format!(
            "delete from {logs} where {column} = $1 and (timestamp < $2 or id <= \
             (select id from {logs} where {column} = $1 order by id desc limit 1 offset $3))"
        )))
        .bind(subject)
        .bind(cutoff)
        .bind(i64::from(max_lines))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` lines of `subject` written at or after `since`, oldest first.
    pub(super) async fn newest_log_lines(
        &self,
        tables: &Tables,
        subject: Uuid,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<LogLine>> {
        let Tables {
            logs, subject: column, ..
        } = tables;
        let mut lines: Vec<LogLine> = sqlx::query_as(AssertSqlSafe(format!(
            "select timestamp, source, message from {logs} where {column} = $1 and timestamp >= $2 \
             order by id desc limit $3"
        )))
        .bind(subject)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        lines.reverse();
        Ok(lines)
    }

    /// Appends `samples` to `subject`'s metrics, dropping those taken before `cutoff`, in one
    /// transaction.
    pub(super) async fn append_samples(
        &self,
        tables: &Tables,
        subject: Uuid,
        samples: &[MetricSample],
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let Tables {
            metrics,
            subject: column,
            ..
        } = tables;
        let mut tx = self.write_tx().await?;
        let mut insert = sqlx::QueryBuilder::<Db>::new(format!("insert into {metrics} ({column}, kind, time, value) "));
        insert.push_values(samples, |mut row, s| {
            row.push_bind(subject)
                .push_bind(s.kind)
                .push_bind(s.time)
                .push_bind(s.value);
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(format!(
            "delete from {metrics} where {column} = $1 and time < $2"
        )))
        .bind(subject)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` points of `subject`'s `kind` taken at or after `since`, oldest first.
    pub(super) async fn newest_samples(
        &self,
        tables: &Tables,
        subject: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>> {
        let Tables {
            metrics,
            subject: column,
            ..
        } = tables;
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "select time, value from (select time, value from {metrics} \
             where {column} = $1 and kind = $2 and time >= $3 order by time desc limit $4) newest order by time"
        )))
        .bind(subject)
        .bind(kind)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?)
    }
}

#[async_trait::async_trait]
impl crate::store::TelemetryStore for Backend {
    async fn append_logs(
        &self,
        app_id: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.append_log_lines(&APP, app_id, lines, max_lines, cutoff).await
    }

    async fn recent_logs(&self, app_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>> {
        self.newest_log_lines(&APP, app_id, since, limit).await
    }

    async fn append_metrics(&self, app_id: Uuid, samples: &[MetricSample], cutoff: DateTime<Utc>) -> StoreResult<()> {
        self.append_samples(&APP, app_id, samples, cutoff).await
    }

    async fn metrics(
        &self,
        app_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>> {
        self.newest_samples(&APP, app_id, kind, since, limit).await
    }
}
