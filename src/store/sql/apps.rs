//! The SQL of [`AppStore`](crate::store::AppStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::{Backend, Db};
use crate::store::columns::{app_columns, app_from};

impl Backend {
    pub(super) async fn fetch_app(
        conn: &mut <Db as sqlx::Database>::Connection,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<crate::store::App> {
        let row: crate::store::models::AppRow =
            sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.id = $1"))
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(row.into())
    }
}

#[async_trait::async_trait]
impl crate::store::AppStore for Backend {
    async fn app_access(
        &self,
        credential: &crate::store::Credential,
        app: &crate::store::AppRef,
        permission: crate::authz::Permission,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Option<(crate::store::Caller, Option<crate::store::AppAccess>)>> {
        let key = crate::store::access_batch::AccessKey {
            credential,
            app,
            permission: permission.as_str(),
            now,
        };
        let row = self.fetch_access(key).await?;
        Ok(row.map(|r| r.split()).filter(|(caller, _)| caller.accepts(credential)))
    }

    async fn create_app(
        &self,
        owner: &crate::store::UserRef,
        name: &crate::domain::AppName,
        branch: &crate::domain::BranchName,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::App> {
        let id = uuid::Uuid::now_v7();
        let mut tx = self.write_tx().await?;
        self.check_apps_owned(&mut tx, owner.id, 1).await?;
        sqlx::query("insert into apps (id, name, default_branch, created_at, updated_at) values ($1, $2, $3, $4, $4)")
            .bind(id)
            .bind(name.as_str())
            .bind(branch.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into collaborators (id, app_id, user_id, role, invited_by, created_at, updated_at) \
             values ($1, $2, $3, 'owner', null, $4, $4)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(id)
        .bind(owner.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({ "name": name, "default_branch": branch });
        let event = crate::store::NewEvent {
            app_id: id,
            app_name: name.as_str(),
            actor: Some(owner),
            kind: crate::kinds::EventKind::AppCreated,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let app = Self::fetch_app(&mut tx, id).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn list_apps(
        &self,
        user_id: uuid::Uuid,
        after: Option<&str>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::AppWithRole>> {
        let rows: Vec<crate::store::models::AppWithRoleRow> = sqlx::query_as(concat!(
            "select ",
            app_columns!(),
            ", m.role",
            app_from!(),
            "join collaborators m on m.app_id = a.id \
             where m.user_id = $1 and a.name > $2 order by a.name limit $3"
        ))
        .bind(user_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::store::AppWithRole {
                app: r.app.into(),
                role: r.role,
            })
            .collect())
    }

    async fn update_app(
        &self,
        app: &crate::store::App,
        branch: &crate::domain::BranchName,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::App> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("update apps set default_branch = $2, updated_at = $3 where id = $1")
            .bind(app.id)
            .bind(branch.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        let data = serde_json::json!({ "default_branch": { "from": app.default_branch, "to": branch } });
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::AppUpdated,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let app = Self::fetch_app(&mut tx, app.id).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn rename_app(
        &self,
        app: &crate::store::App,
        name: &crate::domain::AppName,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::App> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("update apps set name = $2, updated_at = $3 where id = $1")
            .bind(app.id)
            .bind(name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        // The order names the app as it was (`app.name` is `from`); the event as it is now.
        let order = crate::store::NewOrder {
            kind: crate::kinds::OrderKind::AppRename,
            data: serde_json::json!({ "from": app.name, "to": name }),
        };
        let order_id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: name.as_str(),
            actor: Some(actor),
            kind: crate::kinds::EventKind::AppRenamed,
            data: serde_json::json!({ "from": app.name, "to": name, "order_id": order_id }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let app = Self::fetch_app(&mut tx, app.id).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn delete_app(
        &self,
        app: &crate::store::App,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let child: Option<String> = sqlx::query_scalar(concat!(
            "select name from apps where parent_id = $1 order by name limit 1",
            lock!()
        ))
        .bind(app.id)
        .fetch_optional(&mut *tx)
        .await?;
        if child.is_some() {
            return Err(crate::store::StoreError::Conflict(
                "the app has child apps: delete them first (GET /v1/apps/{app}/children lists them)",
            ));
        }
        let done = sqlx::query("delete from apps where id = $1")
            .bind(app.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        // The platform tears the app down; its earlier orders may still arrive, so
        // receivers should ignore orders for an app they no longer run.
        let order = crate::store::NewOrder {
            kind: crate::kinds::OrderKind::AppDelete,
            data: serde_json::json!({ "name": app.name }),
        };
        let order_id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::AppDeleted,
            data: serde_json::json!({ "name": app.name, "order_id": order_id }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transfer_app(
        &self,
        app: &crate::store::App,
        actor: &crate::store::UserRef,
        to: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::App> {
        let mut tx = self.write_tx().await?;
        // Serialises every ownership change of this app (Postgres; SQLite has one writer).
        sqlx::query(concat!("select id from apps where id = $1", lock!()))
            .bind(app.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        self.check_apps_owned(&mut tx, to, 1).await?;
        // Demote first: the partial unique index allows one owner at a time.
        let demoted = sqlx::query(
            "update collaborators set role = 'collaborator', updated_at = $3 \
             where app_id = $1 and user_id = $2 and role = 'owner'",
        )
        .bind(app.id)
        .bind(actor.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if demoted.rows_affected() != 1 {
            return Err(crate::store::StoreError::Conflict(
                "only the current owner can transfer the app",
            ));
        }
        let new_owner: Option<String> = sqlx::query_scalar(
            "update collaborators set role = 'owner', updated_at = $3 \
             where app_id = $1 and user_id = $2 and role <> 'owner' \
             returning (select email from users where id = $2)",
        )
        .bind(app.id)
        .bind(to)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(new_owner_email) = new_owner else {
            return Err(crate::store::StoreError::NotFound);
        };
        let data = serde_json::json!({
            "from": { "id": actor.id, "email": actor.email },
            "to": { "id": to, "email": new_owner_email },
        });
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::AppTransferred,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let app = Self::fetch_app(&mut tx, app.id).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn change_stack(
        &self,
        app: &crate::store::App,
        stack: &str,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Option<crate::store::App>> {
        let mut tx = self.write_tx().await?;
        let previous: String = sqlx::query_scalar(concat!("select stack from apps where id = $1", lock!()))
            .bind(app.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        if previous == stack {
            return Ok(None);
        }
        sqlx::query("update apps set stack = $2, updated_at = $3 where id = $1")
            .bind(app.id)
            .bind(stack)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let order = crate::store::NewOrder {
            kind: crate::kinds::OrderKind::AppChangeStack,
            data: serde_json::json!({ "from": previous, "to": stack }),
        };
        let order_id = self.insert_order(&mut tx, app, Some(actor), order, now).await?;
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::AppStackChanged,
            data: serde_json::json!({ "from": previous, "to": stack, "order_id": order_id }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        let changed = Self::fetch_app(&mut tx, app.id).await?;
        tx.commit().await?;
        Ok(Some(changed))
    }

    async fn create_child(
        &self,
        id: uuid::Uuid,
        parent: &crate::store::App,
        name: &crate::domain::AppName,
        variables: &[crate::store::NewVariable],
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::App> {
        let mut tx = self.write_tx().await?;
        self.check_apps_owned(&mut tx, parent.owner.id, 1).await?;
        sqlx::query(
            "insert into apps (id, name, default_branch, created_at, updated_at, stack, parent_id) \
             values ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(id)
        .bind(name.as_str())
        .bind(&parent.default_branch)
        .bind(now)
        .bind(&parent.stack)
        .bind(parent.id)
        .execute(&mut *tx)
        .await?;
        // Every member of the parent, with the same role, invitation and end of access.
        type Member = (
            uuid::Uuid,
            String,
            Option<uuid::Uuid>,
            Option<chrono::DateTime<chrono::Utc>>,
        );
        let members: Vec<Member> = sqlx::query_as(
            "select user_id, role, invited_by, access_expires_at from collaborators where app_id = $1 order by id",
        )
        .bind(parent.id)
        .fetch_all(&mut *tx)
        .await?;
        for (user_id, role, invited_by, access_expires_at) in &members {
            sqlx::query(
                "insert into collaborators (id, app_id, user_id, role, invited_by, created_at, updated_at, access_expires_at) \
                 values ($1, $2, $3, $4, $5, $6, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(id)
            .bind(user_id)
            .bind(role)
            .bind(invited_by)
            .bind(now)
            .bind(access_expires_at)
            .execute(&mut *tx)
            .await?;
        }
        for variable in variables {
            sqlx::query(
                "insert into variables (id, app_id, name, value_sealed, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(id)
            .bind(&variable.name)
            .bind(&variable.sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let copied = serde_json::json!({ "members": members.len(), "variables": variables.len() });
        let mut on_child = copied.clone();
        on_child["parent_id"] = serde_json::json!(parent.id);
        on_child["parent_name"] = serde_json::json!(parent.name);
        let mut on_parent = copied;
        on_parent["child_id"] = serde_json::json!(id);
        on_parent["child_name"] = serde_json::json!(name);
        for (app_id, app_name, kind, data) in [
            (
                id,
                name.as_str(),
                crate::kinds::EventKind::AppCreatedFromParent,
                on_child,
            ),
            (
                parent.id,
                parent.name.as_str(),
                crate::kinds::EventKind::AppChildCreated,
                on_parent,
            ),
        ] {
            let event = crate::store::NewEvent {
                app_id,
                app_name,
                actor: Some(actor),
                kind,
                data,
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        let child = Self::fetch_app(&mut tx, id).await?;
        tx.commit().await?;
        Ok(child)
    }

    async fn children(&self, parent: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::App>> {
        let rows: Vec<crate::store::models::AppRow> = sqlx::query_as(concat!(
            "select ",
            crate::store::columns::app_columns!(),
            crate::store::columns::app_from!(),
            "where a.parent_id = $1 order by a.name"
        ))
        .bind(parent)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn app_by_ref(&self, app: &crate::store::AppRef) -> crate::store::StoreResult<Option<crate::store::App>> {
        let query = match app {
            crate::store::AppRef::Id(id) => {
                sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.id = $1")).bind(*id)
            }
            crate::store::AppRef::Name(name) => {
                sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.name = $1")).bind(name.clone())
            }
        };
        let row: Option<crate::store::models::AppRow> = query.fetch_optional(self.reader()).await?;
        Ok(row.map(Into::into))
    }
}

impl Backend {
    /// Refuses a change that would make `user_id` own more than `apps_per_owner` apps once
    /// `adding` more are theirs. The user's row is locked first: two apps created at once by
    /// one user are counted one after the other.
    async fn check_apps_owned(
        &self,
        conn: &mut <super::Db as sqlx::Database>::Connection,
        user_id: uuid::Uuid,
        adding: i64,
    ) -> crate::store::StoreResult<()> {
        let max = self.limits.apps_per_owner;
        if max == 0 {
            return Ok(());
        }
        sqlx::query(concat!("select id from users where id = $1", lock!()))
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        let owned: i64 = sqlx::query_scalar("select count(*) from collaborators where user_id = $1 and role = 'owner'")
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
        Self::within("apps_per_owner", max, owned + adding)
    }
}
