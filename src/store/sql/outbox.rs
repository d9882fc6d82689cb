//! The SQL of [`OutboxStore`](crate::store::OutboxStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;
use crate::store::columns::order_columns;

#[async_trait::async_trait]
impl crate::store::OutboxStore for Backend {
    async fn claim_orders(
        &self,
        channel: crate::kinds::Channel,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::Order>> {
        Ok(sqlx::query_as(concat!(
            "update outbox set locked_until = $2, attempts = attempts + 1 where id in (\
               select id from outbox \
               where channel = $4 and delivered_at is null and next_attempt_at <= $1 \
                 and (locked_until is null or locked_until <= $1) \
               order by next_attempt_at, id limit $3",
            skip_locked!(),
            ") \
             returning ",
            order_columns!()
        ))
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .bind(channel.as_str())
        .fetch_all(self.writer())
        .await?)
    }

    async fn outbox_backlog(&self) -> crate::store::StoreResult<Vec<crate::store::Backlog>> {
        let rows: Vec<(String, i64, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
            "select channel, count(*), min(created_at) from outbox where delivered_at is null group by channel",
        )
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(channel, pending, oldest)| {
                Some(crate::store::Backlog {
                    channel: crate::kinds::Channel::parse(&channel)?,
                    pending,
                    oldest,
                })
            })
            .collect())
    }

    async fn order_delivered(
        &self,
        channel: crate::kinds::Channel,
        id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<bool> {
        let done = sqlx::query(
            "update outbox set delivered_at = coalesce(delivered_at, $2), locked_until = null, last_error = null \
             where id = $1 and channel = $3",
        )
        .bind(id)
        .bind(now)
        .bind(channel.as_str())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn order_failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        retry_at: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        sqlx::query("update outbox set next_attempt_at = $3, locked_until = null, last_error = $2 where id = $1")
            .bind(id)
            .bind(error)
            .bind(retry_at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn release_order(&self, id: uuid::Uuid) -> crate::store::StoreResult<()> {
        sqlx::query(
            "update outbox set locked_until = null, attempts = attempts - 1 where id = $1 and delivered_at is null",
        )
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn redact_order(&self, id: uuid::Uuid, payload: &serde_json::Value) -> crate::store::StoreResult<()> {
        sqlx::query("update outbox set payload = $2 where id = $1 and delivered_at is not null")
            .bind(id)
            .bind(sqlx::types::Json(payload))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn pending_orders(
        &self,
        channel: crate::kinds::Channel,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::Order>> {
        Ok(sqlx::query_as(concat!(
            "select ",
            order_columns!(),
            " from outbox where channel = $2 and delivered_at is null order by id limit $1"
        ))
        .bind(i64::from(limit))
        .bind(channel.as_str())
        .fetch_all(self.reader())
        .await?)
    }
}
