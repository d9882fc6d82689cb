//! The SQL of [`VariableStore`](crate::store::VariableStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;

/// Bytes a sealed value has beyond its plaintext: the nonce and the tag
/// ([`crate::secrets::SEALING_OVERHEAD`]).
macro_rules! sealing_overhead {
    () => {
        "40"
    };
}

#[async_trait::async_trait]
impl crate::store::VariableStore for Backend {
    async fn list_variables(&self, app_id: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::StoredVariable>> {
        Ok(
            sqlx::query_as("select id, name, value_sealed, updated_at from variables where app_id = $1 order by name")
                .bind(app_id)
                .fetch_all(self.reader())
                .await?,
        )
    }

    async fn variable(
        &self,
        app_id: uuid::Uuid,
        name: &str,
    ) -> crate::store::StoreResult<Option<crate::store::StoredVariable>> {
        Ok(
            sqlx::query_as("select id, name, value_sealed, updated_at from variables where app_id = $1 and name = $2")
                .bind(app_id)
                .bind(name)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn set_variables(
        &self,
        app: &crate::store::App,
        variables: &[crate::store::NewVariable],
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Vec<crate::store::StoredVariable>> {
        let mut tx = self.write_tx().await?;
        // Serialises the app's variable changes, so that the quotas below count them all.
        sqlx::query(concat!("select id from apps where id = $1", lock!()))
            .bind(app.id)
            .execute(&mut *tx)
            .await?;
        let mut stored = Vec::with_capacity(variables.len());
        for variable in variables {
            let row: crate::store::StoredVariable = sqlx::query_as(
                "insert into variables (id, app_id, name, value_sealed, created_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $5) \
                 on conflict (app_id, name) do update set value_sealed = excluded.value_sealed, updated_at = excluded.updated_at \
                 returning id, name, value_sealed, updated_at",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(app.id)
            .bind(&variable.name)
            .bind(&variable.sealed)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let event = crate::store::NewEvent {
                app_id: app.id,
                app_name: &app.name,
                actor: Some(actor),
                kind: crate::kinds::EventKind::VariableSet,
                data: serde_json::json!({ "name": variable.name }),
                secret: Some(&variable.sealed),
                now,
            };
            Self::insert_event(&mut tx, event).await?;
            stored.push(row);
        }
        // Counted after the writes, in their transaction: an update replaces, a new name adds.
        let (count, bytes): (i64, i64) = sqlx::query_as(concat!(
            "select count(*), coalesce(sum(length(value_sealed)), 0) - count(*) * ",
            sealing_overhead!(),
            " from variables where app_id = $1"
        ))
        .bind(app.id)
        .fetch_one(&mut *tx)
        .await?;
        Self::within("variables_per_app", self.limits.variables_per_app, count)?;
        Self::within("variable_bytes_per_app", self.limits.variable_bytes_per_app, bytes)?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn delete_variable(
        &self,
        app: &crate::store::App,
        name: &str,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("delete from variables where app_id = $1 and name = $2")
            .bind(app.id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        // A removed secret (a leaked one, say) leaves no readable copy in the timeline.
        sqlx::query(
            "update events set secret = null where app_id = $1 and type = 'variable.set' and data ->> 'name' = $2",
        )
        .bind(app.id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::VariableRemoved,
            data: serde_json::json!({ "name": name }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
