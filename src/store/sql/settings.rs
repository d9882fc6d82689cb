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

    async fn addon_setting(&self, addon_id: Uuid, key: &str) -> StoreResult<Option<Value>> {
        let value: Option<Json<Value>> =
            sqlx::query_scalar("select value from addon_settings where addon_id = $1 and key = $2")
                .bind(addon_id)
                .bind(key)
                .fetch_optional(self.reader())
                .await?;
        Ok(value.map(|v| v.0))
    }

    async fn put_addon_setting(
        &self,
        app: &App,
        addon_id: Uuid,
        setting: NewSetting,
        merge: bool,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Value> {
        let mut tx = self.write_tx().await?;
        // The add-on's row is locked first: changes of one add-on's settings are serialised.
        sqlx::query(concat!("select id from addons where app_id = $1 and id = $2", lock!()))
            .bind(app.id)
            .bind(addon_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        let previous: Option<Json<Value>> =
            sqlx::query_scalar("select value from addon_settings where addon_id = $1 and key = $2")
                .bind(addon_id)
                .bind(setting.key)
                .fetch_optional(&mut *tx)
                .await?;
        let from = previous.map_or(setting.default, |p| p.0);
        let to = if merge {
            let mut merged = from.as_object().cloned().unwrap_or_default();
            for (name, value) in setting.value.as_object().into_iter().flatten() {
                if value.is_null() {
                    merged.remove(name);
                } else {
                    merged.insert(name.clone(), value.clone());
                }
            }
            Value::Object(merged)
        } else {
            setting.value
        };
        sqlx::query(
            "insert into addon_settings (addon_id, key, value, updated_by, updated_at) values ($1, $2, $3, $4, $5) \
             on conflict (addon_id, key) do update set value = excluded.value, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(addon_id)
        .bind(setting.key)
        .bind(Json(&to))
        .bind(actor.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut data = json!({ "addon_id": addon_id, "key": setting.key, "from": from, "to": to });
        if let Some(kind) = setting.order {
            let order = NewOrder {
                kind,
                data: json!({ "addon_id": addon_id, "key": setting.key, "value": to }),
            };
            let id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
            data["order_id"] = json!(id);
        }
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
        Ok(to)
    }
}
