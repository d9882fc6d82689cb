//! The SQL of [`ReviewStore`](crate::store::ReviewStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;
use crate::store::columns::invitation_select;

#[async_trait::async_trait]
impl crate::store::ReviewStore for Backend {
    async fn review_members(&self, owner_id: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::ReviewMember>> {
        let rows: Vec<crate::store::models::ReviewRow> = sqlx::query_as(
            "select c.id, c.app_id, c.user_id, u.email, c.role, ib.id as invited_by_id, ib.email as invited_by_email, \
                    c.created_at, c.last_used_at, c.access_expires_at, (u.tfa_enabled_at is not null) as tfa_enabled, a.name as app_name, \
                    (select count(*) from api_tokens t \
                     where t.user_id = c.user_id and t.expires_at is null and t.revoked_at is null) as unexpiring_tokens \
             from collaborators o \
             join apps a on a.id = o.app_id \
             join collaborators c on c.app_id = o.app_id \
             join users u on u.id = c.user_id \
             left join users ib on ib.id = c.invited_by \
             where o.user_id = $1 and o.role = 'owner' \
             order by a.name, case c.role when 'owner' then 0 else 1 end, c.created_at, c.id",
        )
        .bind(owner_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::store::ReviewMember {
                app_name: r.app_name,
                member: r.member.into(),
                unexpiring_tokens: r.unexpiring_tokens,
            })
            .collect())
    }

    async fn review_usage(
        &self,
        owner_id: uuid::Uuid,
        since: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Vec<crate::store::PermissionUse>> {
        Ok(sqlx::query_as(
            "select pu.membership_id, pu.permission, pu.last_used_at \
             from permission_usage pu \
             join collaborators c on c.id = pu.membership_id \
             join collaborators o on o.app_id = c.app_id and o.role = 'owner' \
             where o.user_id = $1 and pu.last_used_at >= $2",
        )
        .bind(owner_id)
        .bind(since)
        .fetch_all(self.reader())
        .await?)
    }

    async fn review_invitations(
        &self,
        owner_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Vec<crate::store::Invitation>> {
        let rows: Vec<crate::store::models::InvitationRow> = sqlx::query_as(concat!(
            invitation_select!(),
            "join collaborators o on o.app_id = i.app_id and o.role = 'owner' \
             where o.user_id = $1 and i.status = 'pending' and i.expires_at > $2 order by a.name, i.id"
        ))
        .bind(owner_id)
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn apply_review(
        &self,
        owner: &crate::store::UserRef,
        actions: &[crate::store::ReviewAction],
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Result<Vec<crate::store::Applied>, crate::store::Rejected>> {
        use crate::store::{AppRef, Rejected};
        const OWNED: &str = "select a.id, a.name from apps a join collaborators o on o.app_id = a.id and o.role = 'owner' where o.user_id = $1 and ";
        let mut tx = self.write_tx().await?;
        let mut applied = Vec::with_capacity(actions.len());
        for (index, action) in actions.iter().enumerate() {
            let reject = |message| Ok(Err(Rejected { index, message }));
            let app: Option<(uuid::Uuid, String)> = match &action.app {
                AppRef::Id(id) => sqlx::query_as(sqlx::AssertSqlSafe(format!("{OWNED}a.id = $2")))
                    .bind(owner.id)
                    .bind(*id),
                AppRef::Name(name) => sqlx::query_as(sqlx::AssertSqlSafe(format!("{OWNED}a.name = $2")))
                    .bind(owner.id)
                    .bind(name.clone()),
            }
            .fetch_optional(&mut *tx)
            .await?;
            let Some((app_id, app_name)) = app else {
                return reject("you do not own this app");
            };
            let member: Option<(String, uuid::Uuid)> = sqlx::query_as(concat!(
                "select role, user_id from collaborators where id = $1 and app_id = $2",
                lock!()
            ))
            .bind(action.collaborator_id)
            .bind(app_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((previous, user_id)) = member else {
                return reject("no such member of this app");
            };
            let Some(previous_role) = crate::authz::Role::parse(&previous).filter(|r| *r != crate::authz::Role::Owner)
            else {
                return reject("the owner's membership cannot be changed here; transfer the app first");
            };
            let email: String = sqlx::query_scalar("select email from users where id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            let mut data = serde_json::json!({
                "collaborator_id": action.collaborator_id, "user_id": user_id, "email": email,
                "previous_role": previous_role, "via": "access_review",
            });
            let (kind, name) = match action.set_role {
                None => {
                    sqlx::query("delete from collaborators where id = $1")
                        .bind(action.collaborator_id)
                        .execute(&mut *tx)
                        .await?;
                    (crate::kinds::EventKind::CollaboratorRemoved, "remove")
                }
                Some(role) => {
                    sqlx::query("update collaborators set role = $2, updated_at = $3 where id = $1")
                        .bind(action.collaborator_id)
                        .bind(role.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    data["role"] = serde_json::json!(role);
                    (crate::kinds::EventKind::CollaboratorRoleChanged, "set_role")
                }
            };
            let event = crate::store::NewEvent {
                app_id,
                app_name: &app_name,
                actor: Some(owner),
                kind,
                data,
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
            applied.push(crate::store::Applied {
                index,
                app_id,
                app: app_name,
                collaborator_id: action.collaborator_id,
                email,
                action: name,
                previous_role,
                role: action.set_role,
            });
        }
        tx.commit().await?;
        Ok(Ok(applied))
    }
}
