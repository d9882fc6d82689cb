//! The SQL of [`RecordStore`](crate::store::RecordStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Backend, Db};
use crate::kinds::EventKind;
use crate::store::{
    App, NewEvent, NewOrder, RecordRemoval, RecordWrite, StoreError, StoreResult, StoredRecord, UserRef,
};

macro_rules! record_columns {
    () => {
        "select id, app_id, kind, unique_key, data, secret, created_by, created_at, updated_at from app_records "
    };
}

#[async_trait::async_trait]
impl crate::store::RecordStore for Backend {
    async fn list_records(&self, app_id: Uuid, kind: &str) -> StoreResult<Vec<StoredRecord>> {
        Ok(sqlx::query_as(concat!(
            record_columns!(),
            "where app_id = $1 and kind = $2 order by id"
        ))
        .bind(app_id)
        .bind(kind)
        .fetch_all(self.reader())
        .await?)
    }

    async fn record(&self, app_id: Uuid, kind: &str, id: Uuid) -> StoreResult<Option<StoredRecord>> {
        Ok(sqlx::query_as(concat!(
            record_columns!(),
            "where app_id = $1 and kind = $2 and id = $3"
        ))
        .bind(app_id)
        .bind(kind)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn record_by_id(&self, kind: &str, id: Uuid) -> StoreResult<Option<StoredRecord>> {
        Ok(
            sqlx::query_as(concat!(record_columns!(), "where kind = $1 and id = $2"))
                .bind(kind)
                .bind(id)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn take_record(&self, kind: &str, key: &str) -> StoreResult<Option<StoredRecord>> {
        let mut tx = self.write_tx().await?;
        let taken = sqlx::query_as(concat!(
            "delete from app_records where kind = $1 and unique_key = $2 returning ",
            "id, app_id, kind, unique_key, data, secret, created_by, created_at, updated_at"
        ))
        .bind(kind)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(taken)
    }

    async fn save_record(
        &self,
        app: &App,
        write: RecordWrite,
        actor: Option<&UserRef>,
        now: DateTime<Utc>,
    ) -> StoreResult<StoredRecord> {
        let mut tx = self.write_tx().await?;
        let written = if write.create {
            sqlx::query(
                "insert into app_records (id, app_id, kind, unique_key, data, secret, created_by, created_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(write.id)
            .bind(app.id)
            .bind(write.kind)
            .bind(write.unique_key.as_deref())
            .bind(Json(&write.data))
            .bind(write.secret.as_deref())
            .bind(actor.map(|a| a.id))
            .bind(now)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "update app_records set unique_key = $4, data = $5, secret = coalesce($6, secret), updated_at = $7 \
                 where id = $1 and app_id = $2 and kind = $3",
            )
            .bind(write.id)
            .bind(app.id)
            .bind(write.kind)
            .bind(write.unique_key.as_deref())
            .bind(Json(&write.data))
            .bind(write.secret.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await
        };
        match written.map_err(StoreError::from) {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Err(StoreError::NotFound),
            Err(StoreError::Conflict(_)) => return Err(StoreError::Conflict("already exists")),
            Err(other) => return Err(other),
        }
        self.record_effects(&mut tx, app, write.event, write.event_data, write.order, actor, now)
            .await?;
        let stored = sqlx::query_as(concat!(record_columns!(), "where id = $1"))
            .bind(write.id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn remove_record(
        &self,
        app: &App,
        removal: RecordRemoval,
        actor: Option<&UserRef>,
        now: DateTime<Utc>,
    ) -> StoreResult<StoredRecord> {
        let mut tx = self.write_tx().await?;
        let removed: StoredRecord = sqlx::query_as(concat!(
            "delete from app_records where app_id = $1 and kind = $2 and id = $3 returning ",
            "id, app_id, kind, unique_key, data, secret, created_by, created_at, updated_at"
        ))
        .bind(app.id)
        .bind(removal.kind)
        .bind(removal.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        self.record_effects(
            &mut tx,
            app,
            removal.event,
            removal.event_data,
            removal.order,
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn replace_records(
        &self,
        app: &App,
        kind: &'static str,
        records: Vec<Value>,
        event: EventKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredRecord>> {
        let mut tx = self.write_tx().await?;
        sqlx::query("delete from app_records where app_id = $1 and kind = $2")
            .bind(app.id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        let count = records.len();
        for data in records {
            sqlx::query(
                "insert into app_records (id, app_id, kind, unique_key, data, secret, created_by, created_at, updated_at) \
                 values ($1, $2, $3, null, $4, null, null, $5, $5)",
            )
            .bind(Uuid::now_v7())
            .bind(app.id)
            .bind(kind)
            .bind(Json(&data))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        self.record_effects(&mut tx, app, event, json!({ "count": count }), None, None, now)
            .await?;
        let stored = sqlx::query_as(concat!(
            record_columns!(),
            "where app_id = $1 and kind = $2 order by id"
        ))
        .bind(app.id)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stored)
    }
}

impl Backend {
    /// The event of a record's change and its order (whose id the event's data carries).
    #[allow(clippy::too_many_arguments)]
    async fn record_effects(
        &self,
        conn: &mut <Db as sqlx::Database>::Connection,
        app: &App,
        event: EventKind,
        mut data: Value,
        order: Option<NewOrder>,
        actor: Option<&UserRef>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(order) = order {
            let id = self.insert_order(&mut *conn, app, actor, order, now).await?;
            data["order_id"] = json!(id);
        }
        let event = NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor,
            kind: event,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut *conn, event).await
    }
}
