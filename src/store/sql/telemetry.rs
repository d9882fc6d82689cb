//! The SQL of [`TelemetryStore`](crate::store::TelemetryStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::{Backend, Db};

#[async_trait::async_trait]
impl crate::store::TelemetryStore for Backend {
    async fn append_logs(
        &self,
        app_id: uuid::Uuid,
        lines: &[crate::store::LogLine],
        max_lines: u32,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let mut insert = sqlx::QueryBuilder::<Db>::new("insert into log_lines (app_id, timestamp, source, message) ");
        insert.push_values(lines, |mut row, line| {
            row.push_bind(app_id)
                .push_bind(line.timestamp)
                .push_bind(line.source.clone())
                .push_bind(line.message.clone());
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query(
            "delete from log_lines where app_id = $1 and (timestamp < $2 or id <= \
             (select id from log_lines where app_id = $1 order by id desc limit 1 offset $3))",
        )
        .bind(app_id)
        .bind(cutoff)
        .bind(i64::from(max_lines))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn recent_logs(
        &self,
        app_id: uuid::Uuid,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::LogLine>> {
        let mut lines: Vec<crate::store::LogLine> = sqlx::query_as(
            "select timestamp, source, message from log_lines where app_id = $1 and timestamp >= $2 order by id desc limit $3",
        )
        .bind(app_id)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        lines.reverse();
        Ok(lines)
    }

    async fn append_metrics(
        &self,
        app_id: uuid::Uuid,
        samples: &[crate::store::MetricSample],
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let mut insert = sqlx::QueryBuilder::<Db>::new("insert into metric_samples (app_id, kind, time, value) ");
        insert.push_values(samples, |mut row, s| {
            row.push_bind(app_id)
                .push_bind(s.kind)
                .push_bind(s.time)
                .push_bind(s.value);
        });
        insert.build().execute(&mut *tx).await?;
        sqlx::query("delete from metric_samples where app_id = $1 and time < $2")
            .bind(app_id)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn metrics(
        &self,
        app_id: uuid::Uuid,
        kind: &str,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::MetricPoint>> {
        Ok(sqlx::query_as(
            // The newest `limit` points of the window, oldest first.
            "select time, value from (select time, value from metric_samples \
             where app_id = $1 and kind = $2 and time >= $3 order by time desc limit $4) newest order by time",
        )
        .bind(app_id)
        .bind(kind)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?)
    }
}
