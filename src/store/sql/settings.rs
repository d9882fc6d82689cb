//! The SQL of [`SettingStore`](crate::store::SettingStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::Backend;
use crate::store::{App, NewEvent, NewOrder, NewSetting, StoreResult, UserRef};

#[async_trait::async_trait]
impl crate::store::SettingStore for Backend {
    async fn setting(&self, app_id: Uuid, key: &str) -> StoreResult<Option<Value>> {
        let value: Option<Json<Value>> =
            sqlx::query_scalar("select value from app_settings where app_id = $1 and key = $2")
                .bind(app_id)
                .bind(key)
                .fetch_optional(self.reader())
                .await?;
        Ok(value.map(|v| v.0))
    }

    async fn put_setting(
        &self,
        app: &App,
        setting: NewSetting,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        let mut tx = self.write_tx().await?;
        let previous: Option<Json<Value>> = sqlx::query_scalar(concat!(
            "select value from app_settings where app_id = $1 and key = $2",
            lock!()
        ))
        .bind(app.id)
        .bind(setting.key)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "insert into app_settings (app_id, key, value, updated_by, updated_at) values ($1, $2, $3, $4, $5) \
             on conflict (app_id, key) do update set value = excluded.value, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(app.id)
        .bind(setting.key)
        .bind(Json(&setting.value))
        .bind(actor.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut data = json!({
            "key": setting.key,
            "from": previous.map_or(setting.default, |p| p.0),
            "to": setting.value,
        });
        let order_id = match setting.order {
            Some(kind) => {
                let order = NewOrder {
                    kind,
                    data: json!({ "key": setting.key, "value": data["to"] }),
                };
                let id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
                data["order_id"] = json!(id);
                Some(id)
            }
            None => None,
        };
        let event = NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: setting.event,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(order_id)
    }
}
