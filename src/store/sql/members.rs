//! The SQL of [`MemberStore`](crate::store::MemberStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::{Backend, Db};
use crate::store::columns::collaborator_select;

impl Backend {
    pub(super) async fn fetch_collaborator(
        conn: &mut <Db as sqlx::Database>::Connection,
        app_id: uuid::Uuid,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Collaborator>> {
        let row: Option<crate::store::models::CollaboratorRow> =
            sqlx::query_as(concat!(collaborator_select!(), "where c.app_id = $1 and c.id = $2"))
                .bind(app_id)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(row.map(Into::into))
    }

    /// Expires one membership inside `tx`; `false` if it is not past its end.
    pub(super) async fn expire_in(
        conn: &mut <Db as sqlx::Database>::Connection,
        membership_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<bool> {
        type Gone = (uuid::Uuid, uuid::Uuid, String, Option<chrono::DateTime<chrono::Utc>>);
        // The time test is in the statement: a concurrent extension wins.
        let gone: Option<Gone> = sqlx::query_as(
            "delete from collaborators where id = $1 and access_expires_at <= $2 and role <> 'owner' \
             returning app_id, user_id, role, access_expires_at",
        )
        .bind(membership_id)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((app_id, user_id, role, expired_at)) = gone else {
            return Ok(false);
        };
        let (app_name, email): (String, String) =
            sqlx::query_as("select a.name, u.email from apps a, users u where a.id = $1 and u.id = $2")
                .bind(app_id)
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?;
        let data = serde_json::json!({
            "collaborator_id": membership_id, "user_id": user_id, "email": email, "role": role,
            "access_expires_at": expired_at,
        });
        let event = crate::store::NewEvent {
            app_id,
            app_name: &app_name,
            actor: None,
            kind: crate::kinds::EventKind::CollaboratorExpired,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut *conn, event).await?;
        Ok(true)
    }
}

#[async_trait::async_trait]
impl crate::store::MemberStore for Backend {
    async fn list_collaborators(
        &self,
        app_id: uuid::Uuid,
    ) -> crate::store::StoreResult<Vec<crate::store::Collaborator>> {
        let rows: Vec<crate::store::models::CollaboratorRow> = sqlx::query_as(concat!(
            collaborator_select!(),
            "where c.app_id = $1 order by case c.role when 'owner' then 0 else 1 end, c.created_at, c.id"
        ))
        .bind(app_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn collaborator(
        &self,
        app_id: uuid::Uuid,
        id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Collaborator>> {
        let mut conn = self.reader().acquire().await?;
        Self::fetch_collaborator(&mut conn, app_id, id).await
    }

    async fn update_collaborator(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        change: crate::store::MemberChange,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Collaborator> {
        let mut tx = self.write_tx().await?;
        type Current = (String, Option<chrono::DateTime<chrono::Utc>>);
        let (previous, previous_expiry): Current = sqlx::query_as(concat!(
            "select role, access_expires_at from collaborators where app_id = $1 and id = $2",
            lock!()
        ))
        .bind(app.id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
        if previous == "owner" {
            return Err(crate::store::StoreError::Conflict(
                "the owner's membership cannot be changed; transfer the app instead",
            ));
        }
        let role = change.role.map_or(previous.clone(), |r| r.as_str().to_owned());
        let expiry = change.access_expires_at.unwrap_or(previous_expiry);
        sqlx::query(
            "update collaborators set role = $3, access_expires_at = $4, updated_at = $5 where app_id = $1 and id = $2",
        )
        .bind(app.id)
        .bind(id)
        .bind(&role)
        .bind(expiry)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let member = Self::fetch_collaborator(&mut tx, app.id, id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        let who = serde_json::json!({ "collaborator_id": id, "user_id": member.user_id, "email": member.email });
        if role != previous {
            let mut data = who.clone();
            data["previous_role"] = serde_json::json!(previous);
            data["role"] = serde_json::json!(role);
            let event = crate::store::NewEvent {
                app_id: app.id,
                app_name: &app.name,
                actor: Some(actor),
                kind: crate::kinds::EventKind::CollaboratorRoleChanged,
                data,
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        if expiry != previous_expiry {
            let mut data = who;
            data["previous_access_expires_at"] = serde_json::json!(previous_expiry);
            data["access_expires_at"] = serde_json::json!(expiry);
            let event = crate::store::NewEvent {
                app_id: app.id,
                app_name: &app.name,
                actor: Some(actor),
                kind: crate::kinds::EventKind::CollaboratorAccessExpiryChanged,
                data,
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(member)
    }

    async fn remove_collaborator(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        actor: &crate::store::UserRef,
        left: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let member = Self::fetch_collaborator(&mut tx, app.id, id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        // The role test is in the statement, so a concurrent transfer cannot slip
        // the new owner out from under it.
        let done = sqlx::query("delete from collaborators where app_id = $1 and id = $2 and role <> 'owner'")
            .bind(app.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::Conflict(
                "the owner cannot leave or be removed; transfer the app first",
            ));
        }
        let data = serde_json::json!({
            "collaborator_id": id, "user_id": member.user_id, "email": member.email, "role": member.role,
        });
        let kind = if left {
            crate::kinds::EventKind::CollaboratorLeft
        } else {
            crate::kinds::EventKind::CollaboratorRemoved
        };
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Expires one membership inside `tx`; `false` if it is not past its end.
    async fn touch_membership(
        &self,
        membership_id: uuid::Uuid,
        permission: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let touched = sqlx::query("update collaborators set last_used_at = $2 where id = $1")
            .bind(membership_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let (Some(permission), 1) = (permission, touched.rows_affected()) {
            sqlx::query(
                "insert into permission_usage (membership_id, permission, last_used_at) values ($1, $2, $3) \
                 on conflict (membership_id, permission) do update set last_used_at = excluded.last_used_at",
            )
            .bind(membership_id)
            .bind(permission)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn expire_membership(
        &self,
        membership_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let expired = Self::expire_in(&mut tx, membership_id, now).await?;
        tx.commit().await?;
        Ok(expired)
    }

    async fn expire_due(&self, now: chrono::DateTime<chrono::Utc>) -> crate::store::StoreResult<usize> {
        let due: Vec<uuid::Uuid> = sqlx::query_scalar(
            "select id from collaborators where access_expires_at <= $1 and role <> 'owner' order by access_expires_at limit 500",
        )
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        let mut expired = 0;
        for id in due {
            if self.expire_membership(id, now).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    async fn membership_of(
        &self,
        app_id: uuid::Uuid,
        user_id: uuid::Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::Membership>> {
        let row: Option<crate::store::models::MembershipRow> = sqlx::query_as(
            "select c.id, c.role, c.access_expires_at, c.last_used_at, (u.tfa_enabled_at is not null) as tfa_enabled \
             from collaborators c join users u on u.id = c.user_id where c.app_id = $1 and c.user_id = $2",
        )
        .bind(app_id)
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| crate::store::Membership {
            id: r.id,
            role: r.role,
            access_expires_at: r.access_expires_at,
            last_used_at: r.last_used_at,
            tfa_enabled: r.tfa_enabled,
        }))
    }

    async fn memberships_of(
        &self,
        user_id: uuid::Uuid,
    ) -> crate::store::StoreResult<Vec<crate::store::UserMembership>> {
        Ok(sqlx::query_as(
            "select a.id as app_id, a.name as app_name, c.role, c.access_expires_at, a.require_tfa \
             from collaborators c join apps a on a.id = c.app_id where c.user_id = $1 order by a.name",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?)
    }
}
