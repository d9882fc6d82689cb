//! The SQL of [`DeploymentStore`](crate::store::DeploymentStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::{Backend, Db};
use crate::store::columns::deployment_columns;

impl Backend {
    pub(super) async fn fetch_deployment(
        conn: &mut <Db as sqlx::Database>::Connection,
        app_id: uuid::Uuid,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Deployment>> {
        let row: Option<crate::store::models::DeploymentRow> =
            sqlx::query_as(concat!(deployment_columns!(), "where app_id = $1 and id = $2"))
                .bind(app_id)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(row.map(Into::into))
    }

    pub(super) async fn fetch_idempotent(
        conn: &mut <Db as sqlx::Database>::Connection,
        app_id: uuid::Uuid,
        user_id: uuid::Uuid,
        key: &str,
    ) -> crate::store::StoreResult<Option<crate::store::Deployment>> {
        let row: Option<crate::store::models::DeploymentRow> = sqlx::query_as(concat!(
            deployment_columns!(),
            "where app_id = $1 and requested_by = $2 and idempotency_key = $3"
        ))
        .bind(app_id)
        .bind(user_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(Into::into))
    }
}

#[async_trait::async_trait]
impl crate::store::DeploymentStore for Backend {
    async fn create_deployment(
        &self,
        app: &crate::store::App,
        new: crate::store::NewDeployment<'_>,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<(crate::store::Deployment, bool)> {
        let mut tx = self.write_tx().await?;
        if let Some(key) = new.idempotency_key {
            // A key lives for a day; after that it names a new request.
            sqlx::query(
                "update deployments set idempotency_key = null \
                 where app_id = $1 and requested_by = $2 and idempotency_key = $3 and created_at <= $4",
            )
            .bind(app.id)
            .bind(actor.id)
            .bind(key)
            .bind(now - crate::store::IDEMPOTENCY_KEY_LIFETIME)
            .execute(&mut *tx)
            .await?;
            if let Some(first) = Self::fetch_idempotent(&mut tx, app.id, actor.id, key).await? {
                return Ok((first, false));
            }
        }
        let id = uuid::Uuid::now_v7();
        let inserted = sqlx::query(
            "insert into deployments (id, app_id, git_ref, kind, status, requested_by, requested_by_email, idempotency_key, created_at) \
             values ($1, $2, $3, $4, 'queued', $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(app.id)
        .bind(new.git_ref)
        .bind(new.kind)
        .bind(actor.id)
        .bind(&actor.email)
        .bind(new.idempotency_key)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(crate::store::StoreError::from);
        match (inserted, new.idempotency_key) {
            (Ok(_), _) => {}
            // A concurrent retry with the same key won the race: answer with its deployment.
            (Err(crate::store::StoreError::Conflict(_)), Some(key)) => {
                drop(tx);
                let mut conn = self.writer().acquire().await?;
                let first = Self::fetch_idempotent(&mut conn, app.id, actor.id, key)
                    .await?
                    .ok_or(crate::store::StoreError::NotFound)?;
                return Ok((first, false));
            }
            (Err(e), _) => return Err(e),
        }
        let data = serde_json::json!({
            "deployment_id": id, "git_ref": new.git_ref, "kind": new.kind,
            "requested_by": { "id": actor.id, "email": actor.email },
        });
        let order = crate::store::NewOrder {
            kind: crate::kinds::OrderKind::DeploymentCreate,
            data: data.clone(),
        };
        let order_id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
        let mut data = data;
        data["order_id"] = serde_json::json!(order_id);
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::DeploymentRequested,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let deployment = Self::fetch_deployment(&mut tx, app.id, id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        tx.commit().await?;
        Ok((deployment, true))
    }

    async fn list_deployments(
        &self,
        app_id: uuid::Uuid,
        before: Option<uuid::Uuid>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::Deployment>> {
        let rows: Vec<crate::store::models::DeploymentRow> = sqlx::query_as(concat!(
            deployment_columns!(),
            "where app_id = $1 and id < $2 order by id desc limit $3"
        ))
        .bind(app_id)
        .bind(before.unwrap_or(uuid::Uuid::max()))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn deployment(
        &self,
        app_id: uuid::Uuid,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Deployment>> {
        let mut conn = self.reader().acquire().await?;
        Self::fetch_deployment(&mut conn, app_id, id).await
    }

    async fn deployment_output(&self, app_id: uuid::Uuid, id: uuid::Uuid) -> crate::store::StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("select output from deployments where app_id = $1 and id = $2")
                .bind(app_id)
                .bind(id)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn set_deployment_status(
        &self,
        id: uuid::Uuid,
        status: &str,
        output: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Deployment> {
        use crate::domain::DeploymentStatus;
        let mut tx = self.write_tx().await?;
        let current: Option<(uuid::Uuid, String)> =
            sqlx::query_as(concat!("select app_id, status from deployments where id = $1", lock!()))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (app_id, from) = current.ok_or(crate::store::StoreError::NotFound)?;
        if DeploymentStatus::parse(&from).is_some_and(DeploymentStatus::is_final) {
            return Err(crate::store::StoreError::Conflict(
                "the deployment has already finished",
            ));
        }
        let finished = DeploymentStatus::parse(status)
            .is_some_and(DeploymentStatus::is_final)
            .then_some(now);
        // Output is appended, and only its last MAX_BUILD_OUTPUT characters are kept.
        sqlx::query(
            "update deployments set status = $2, finished_at = $4, output = case \
               when length(output || $3) > $5 then substr(output || $3, length(output || $3) - $5 + 1) \
               else output || $3 end \
             where id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(output.unwrap_or(""))
        .bind(finished)
        .bind(crate::store::MAX_BUILD_OUTPUT)
        .execute(&mut *tx)
        .await?;
        let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
        if from != status {
            let event = crate::store::NewEvent {
                app_id,
                app_name: &app_name,
                actor: None,
                kind: crate::kinds::EventKind::DeploymentStatusChanged,
                data: serde_json::json!({ "deployment_id": id, "from": from, "to": status }),
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        let deployment = Self::fetch_deployment(&mut tx, app_id, id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        tx.commit().await?;
        Ok(deployment)
    }
}
