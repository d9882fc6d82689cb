//! The SQL of [`AddonStore`](crate::store::AddonStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;
use crate::store::columns::addon_columns;

#[async_trait::async_trait]
impl crate::store::AddonStore for Backend {
    async fn list_addons(&self, app_id: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::Addon>> {
        Ok(sqlx::query_as(concat!(
            "select ",
            addon_columns!(),
            " from addons where app_id = $1 order by id"
        ))
        .bind(app_id)
        .fetch_all(self.reader())
        .await?)
    }

    async fn addon(
        &self,
        app_id: uuid::Uuid,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Addon>> {
        Ok(sqlx::query_as(concat!(
            "select ",
            addon_columns!(),
            " from addons where app_id = $1 and id = $2"
        ))
        .bind(app_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn create_addon(
        &self,
        app: &crate::store::App,
        provider: &str,
        plan: &str,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Addon> {
        let mut tx = self.write_tx().await?;
        let addon: crate::store::Addon = sqlx::query_as(concat!(
            "insert into addons (id, app_id, provider, plan, status, created_at, updated_at) \
             values ($1, $2, $3, $4, 'provisioning', $5, $5) returning ",
            addon_columns!()
        ))
        .bind(uuid::Uuid::now_v7())
        .bind(app.id)
        .bind(provider)
        .bind(plan)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let data = serde_json::json!({ "addon_id": addon.id, "provider": provider, "plan": plan });
        let request = crate::store::NewRequest {
            order: crate::kinds::OrderKind::AddonProvision,
            event: crate::kinds::EventKind::AddonProvisioned,
            target: Some(addon.id),
            data,
            app_status: None,
        };
        self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(addon)
    }

    async fn change_addon_plan(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        plan: &str,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Addon> {
        let mut tx = self.write_tx().await?;
        let from: String = sqlx::query_scalar(concat!(
            "select plan from addons where app_id = $1 and id = $2",
            lock!()
        ))
        .bind(app.id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
        let addon: crate::store::Addon = sqlx::query_as(concat!(
            "update addons set plan = $3, status = 'updating', updated_at = $4 where app_id = $1 and id = $2 returning ",
            addon_columns!()
        ))
        .bind(app.id)
        .bind(id)
        .bind(plan)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let data = serde_json::json!({ "addon_id": id, "provider": addon.provider, "from": from, "to": plan });
        let request = crate::store::NewRequest {
            order: crate::kinds::OrderKind::AddonChangePlan,
            event: crate::kinds::EventKind::AddonChanged,
            target: Some(id),
            data,
            app_status: None,
        };
        self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(addon)
    }

    async fn delete_addon(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let provider: String =
            sqlx::query_scalar("delete from addons where app_id = $1 and id = $2 returning provider")
                .bind(app.id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(crate::store::StoreError::NotFound)?;
        // A database's backups and users are app records named after the add-on: they go too.
        sqlx::query(
            "delete from app_records where app_id = $1 and kind in ('database_backup', 'database_user') \
             and unique_key like $2",
        )
        .bind(app.id)
        .bind(format!("{id}/%"))
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({ "addon_id": id, "provider": provider });
        let request = crate::store::NewRequest {
            order: crate::kinds::OrderKind::AddonDeprovision,
            event: crate::kinds::EventKind::AddonRemoved,
            target: Some(id),
            data,
            app_status: None,
        };
        self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn read_addon_credentials(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Option<Vec<u8>>> {
        let mut tx = self.write_tx().await?;
        let row: Option<(String, Option<Vec<u8>>)> =
            sqlx::query_as("select provider, credentials_sealed from addons where app_id = $1 and id = $2")
                .bind(app.id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (provider, sealed) = row.ok_or(crate::store::StoreError::NotFound)?;
        if sealed.is_some() {
            let event = crate::store::NewEvent {
                app_id: app.id,
                app_name: &app.name,
                actor: Some(actor),
                kind: crate::kinds::EventKind::AddonCredentialsRead,
                data: serde_json::json!({ "addon_id": id, "provider": provider }),
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(sealed)
    }

    async fn addon_provisioned(
        &self,
        id: uuid::Uuid,
        sealed: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Addon> {
        let mut tx = self.write_tx().await?;
        let addon: crate::store::Addon = sqlx::query_as(concat!(
            "update addons set status = 'running', credentials_sealed = $2, updated_at = $3 where id = $1 returning ",
            addon_columns!()
        ))
        .bind(id)
        .bind(sealed)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
        let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
            .bind(addon.app_id)
            .fetch_one(&mut *tx)
            .await?;
        let event = crate::store::NewEvent {
            app_id: addon.app_id,
            app_name: &app_name,
            actor: None,
            kind: crate::kinds::EventKind::AddonReady,
            data: serde_json::json!({ "addon_id": id, "provider": addon.provider, "plan": addon.plan }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(addon)
    }

    async fn addon_app(&self, id: uuid::Uuid) -> crate::store::StoreResult<Option<uuid::Uuid>> {
        Ok(sqlx::query_scalar("select app_id from addons where id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }
}
