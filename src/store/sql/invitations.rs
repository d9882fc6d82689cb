//! The SQL of [`InvitationStore`](crate::store::InvitationStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;
use crate::store::columns::invitation_select;

#[async_trait::async_trait]
impl crate::store::InvitationStore for Backend {
    async fn create_invitation(
        &self,
        new: crate::store::NewInvitation<'_>,
    ) -> crate::store::StoreResult<crate::store::Invitation> {
        let mut tx = self.write_tx().await?;
        let member: Option<i32> = sqlx::query_scalar(
            "select 1 from collaborators c join users u on u.id = c.user_id where c.app_id = $1 and u.email = $2",
        )
        .bind(new.app.id)
        .bind(new.email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if member.is_some() {
            return Err(crate::store::StoreError::Conflict(
                "this email already belongs to a member of the app",
            ));
        }
        // An expired invitation must not block a new one.
        sqlx::query(
            "update invitations set status = 'expired' \
             where app_id = $1 and email = $2 and status = 'pending' and expires_at <= $3",
        )
        .bind(new.app.id)
        .bind(new.email.as_str())
        .bind(new.now)
        .execute(&mut *tx)
        .await?;
        self.check_members(&mut tx, new.app.id, true, new.now).await?;
        sqlx::query(
            "insert into invitations (id, app_id, email, role, token_hash, status, invited_by, created_at, expires_at, access_expires_at) \
             values ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)",
        )
        .bind(new.id)
        .bind(new.app.id)
        .bind(new.email.as_str())
        .bind(new.role.as_str())
        .bind(new.token_hash)
        .bind(new.invited_by.id)
        .bind(new.now)
        .bind(new.expires_at)
        .bind(new.access_expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match crate::store::StoreError::from(e) {
            crate::store::StoreError::Conflict(_) => {
                crate::store::StoreError::Conflict("this email already has a pending invitation to the app")
            }
            other => other,
        })?;
        let data = serde_json::json!({
            "invitation_id": new.id, "email": new.email, "role": new.role, "access_expires_at": new.access_expires_at,
        });
        let event = crate::store::NewEvent {
            app_id: new.app.id,
            app_name: &new.app.name,
            actor: Some(new.invited_by),
            kind: crate::kinds::EventKind::CollaboratorInvited,
            data,
            secret: None,
            now: new.now,
        };
        Self::insert_event(&mut tx, event).await?;
        if let Some(mail) = new.mail {
            Self::insert_mail(&mut tx, mail, new.now).await?;
        }
        tx.commit().await?;
        Ok(crate::store::Invitation {
            id: new.id,
            app_id: new.app.id,
            app_name: new.app.name.clone(),
            email: new.email.to_string(),
            role: new.role,
            status: "pending".to_owned(),
            invited_by: Some(new.invited_by.clone()),
            created_at: new.now,
            expires_at: new.expires_at,
            access_expires_at: new.access_expires_at,
        })
    }

    async fn list_invitations(&self, app_id: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::Invitation>> {
        let rows: Vec<crate::store::models::InvitationRow> =
            sqlx::query_as(concat!(invitation_select!(), "where i.app_id = $1 order by i.id desc"))
                .bind(app_id)
                .fetch_all(self.reader())
                .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_invitation(
        &self,
        app: &crate::store::App,
        id: uuid::Uuid,
        actor: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let revoked: Option<(String, String)> = sqlx::query_as(
            "update invitations set status = 'revoked', responded_at = $3, responded_by = $4 \
             where app_id = $1 and id = $2 and status = 'pending' returning email, role",
        )
        .bind(app.id)
        .bind(id)
        .bind(now)
        .bind(actor.id)
        .fetch_optional(&mut *tx)
        .await?;
        let (email, role) = revoked.ok_or(crate::store::StoreError::NotFound)?;
        let data = serde_json::json!({ "invitation_id": id, "email": email, "role": role });
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor: Some(actor),
            kind: crate::kinds::EventKind::CollaboratorInvitationRevoked,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invitation_by_token(
        &self,
        token_hash: &[u8],
    ) -> crate::store::StoreResult<Option<crate::store::Invitation>> {
        let row: Option<crate::store::models::InvitationRow> =
            sqlx::query_as(concat!(invitation_select!(), "where i.token_hash = $1"))
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.map(Into::into))
    }

    async fn invitation_by_id(&self, id: uuid::Uuid) -> crate::store::StoreResult<Option<crate::store::Invitation>> {
        let row: Option<crate::store::models::InvitationRow> =
            sqlx::query_as(concat!(invitation_select!(), "where i.id = $1"))
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.map(Into::into))
    }

    async fn invitations_for(
        &self,
        email: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Vec<crate::store::Invitation>> {
        let rows: Vec<crate::store::models::InvitationRow> = sqlx::query_as(concat!(
            invitation_select!(),
            "where i.email = $1 and i.status = 'pending' and i.expires_at > $2 order by i.id desc"
        ))
        .bind(email)
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn accept_invitation(
        &self,
        id: uuid::Uuid,
        user: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Accepted> {
        let mut tx = self.write_tx().await?;
        // The status test is in the statement: of many concurrent accepts, one
        // updates the row and the others find it no longer pending.
        type Claimed = (
            uuid::Uuid,
            String,
            Option<uuid::Uuid>,
            Option<chrono::DateTime<chrono::Utc>>,
        );
        let claimed: Option<Claimed> = sqlx::query_as(
            "update invitations set status = 'accepted', responded_at = $2, responded_by = $3 \
             where id = $1 and status = 'pending' and expires_at > $2 \
             returning app_id, role, invited_by, access_expires_at",
        )
        .bind(id)
        .bind(now)
        .bind(user.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((app_id, role, invited_by, access_expires_at)) = claimed else {
            return Ok(crate::store::Accepted::NotPending);
        };
        // The app's row is locked, so the rule cannot be turned on between this test and the
        // commit (Postgres; SQLite has one writer). Dropping the transaction rolls the claim
        // back: the invitation stays pending.
        let (required, enabled): (bool, bool) = sqlx::query_as(concat!(
            "select a.require_tfa, (select u.tfa_enabled_at is not null from users u where u.id = $2) \
             from apps a where a.id = $1",
            lock!()
        ))
        .bind(app_id)
        .bind(user.id)
        .fetch_one(&mut *tx)
        .await?;
        if required && !enabled {
            return Ok(crate::store::Accepted::TfaRequired);
        }
        // Claimed, the invitation no longer counts as pending: the member about to be added
        // takes its place (a quota lowered since the invitation can still refuse it).
        self.check_members(&mut tx, app_id, true, now).await?;
        let member_id = uuid::Uuid::now_v7();
        let inserted = sqlx::query(
            "insert into collaborators (id, app_id, user_id, role, invited_by, created_at, updated_at, access_expires_at) \
             values ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(member_id)
        .bind(app_id)
        .bind(user.id)
        .bind(&role)
        .bind(invited_by)
        .bind(now)
        .bind(access_expires_at)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(crate::store::StoreError::from) {
            Ok(_) => {}
            // Dropping the transaction rolls the claim back: the invitation stays pending.
            Err(crate::store::StoreError::Conflict(_)) => return Ok(crate::store::Accepted::AlreadyMember),
            Err(other) => return Err(other),
        }
        let member = Self::fetch_collaborator(&mut tx, app_id, member_id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
        let data = serde_json::json!({
            "invitation_id": id, "collaborator_id": member_id, "user_id": user.id, "email": user.email, "role": role,
        });
        let event = crate::store::NewEvent {
            app_id,
            app_name: &app_name,
            actor: Some(user),
            kind: crate::kinds::EventKind::CollaboratorAccepted,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(crate::store::Accepted::Member(member))
    }

    async fn decline_invitation(
        &self,
        id: uuid::Uuid,
        user: &crate::store::UserRef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let declined: Option<(uuid::Uuid, String)> = sqlx::query_as(
            "update invitations set status = 'declined', responded_at = $2, responded_by = $3 \
             where id = $1 and status = 'pending' and expires_at > $2 returning app_id, role",
        )
        .bind(id)
        .bind(now)
        .bind(user.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((app_id, role)) = declined else {
            return Ok(false);
        };
        let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
        let data = serde_json::json!({ "invitation_id": id, "email": user.email, "role": role });
        let event = crate::store::NewEvent {
            app_id,
            app_name: &app_name,
            actor: Some(user),
            kind: crate::kinds::EventKind::CollaboratorDeclined,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Backend {
    /// Refuses a change that would give the app more than `members_per_app` members and
    /// pending invitations (`adding` one more). The app's row is locked first, so concurrent
    /// invitations are counted one after the other.
    async fn check_members(
        &self,
        conn: &mut <super::Db as sqlx::Database>::Connection,
        app_id: uuid::Uuid,
        adding: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let max = self.limits.members_per_app;
        if max == 0 {
            return Ok(());
        }
        sqlx::query(concat!("select id from apps where id = $1", lock!()))
            .bind(app_id)
            .execute(&mut *conn)
            .await?;
        let count: i64 = sqlx::query_scalar(
            "select (select count(*) from collaborators where app_id = $1) \
                  + (select count(*) from invitations where app_id = $1 and status = 'pending' and expires_at > $2)",
        )
        .bind(app_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Self::within("members_per_app", max, count + i64::from(adding))
    }
}
