//! The SQL of [`AccessStore`](crate::store::AccessStore), shared by both backends like
//! `sql.rs`.

macro_rules! impl_access_store {
    ($store:ty, $db:ty, lock = $lock:literal) => {
        impl $store {
            /// Expires one membership inside `tx`; `false` if it is not past its end.
            async fn expire_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                membership_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
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
                let (app_name, email): (String, String) = sqlx::query_as(
                    "select a.name, u.email from apps a, users u where a.id = $1 and u.id = $2",
                )
                .bind(app_id)
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?;
                let data = serde_json::json!({
                    "collaborator_id": membership_id, "user_id": user_id, "email": email, "role": role,
                    "access_expires_at": expired_at,
                });
                let event = $crate::store::NewEvent { app_id, app_name: &app_name, actor: None, kind: "collaborator.expired", data, secret: None, now };
                Self::insert_event(&mut *conn, event).await?;
                Ok(true)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AccessStore for $store {
            async fn touch_membership(
                &self,
                membership_id: uuid::Uuid,
                permission: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
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

            async fn expire_membership(&self, membership_id: uuid::Uuid, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                let expired = Self::expire_in(&mut tx, membership_id, now).await?;
                tx.commit().await?;
                Ok(expired)
            }

            async fn expire_due(&self, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<usize> {
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

            async fn record_event(&self, event: $crate::store::NewEvent<'_>) -> $crate::store::StoreResult<()> {
                let mut conn = self.writer().acquire().await?;
                Self::insert_event(&mut conn, event).await
            }

            async fn membership_of(&self, app_id: uuid::Uuid, user_id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::store::Membership>> {
                let row: Option<$crate::store::access::MembershipRow> = sqlx::query_as(
                    "select id, role, access_expires_at, last_used_at from collaborators where app_id = $1 and user_id = $2",
                )
                .bind(app_id)
                .bind(user_id)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(|r| $crate::store::Membership {
                    id: r.id,
                    role: r.role,
                    access_expires_at: r.access_expires_at,
                    last_used_at: r.last_used_at,
                }))
            }

            async fn memberships_of(&self, user_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::UserMembership>> {
                Ok(sqlx::query_as(
                    "select a.id as app_id, a.name as app_name, c.role, c.access_expires_at \
                     from collaborators c join apps a on a.id = c.app_id where c.user_id = $1 order by a.name",
                )
                .bind(user_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn review_members(&self, owner_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::ReviewMember>> {
                let rows: Vec<$crate::store::access::ReviewRow> = sqlx::query_as(
                    "select c.id, c.app_id, c.user_id, u.email, c.role, ib.id as invited_by_id, ib.email as invited_by_email, \
                            c.created_at, c.last_used_at, c.access_expires_at, a.name as app_name \
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
                Ok(rows.into_iter().map(|r| $crate::store::ReviewMember { app_name: r.app_name, member: r.member.into() }).collect())
            }

            async fn review_usage(
                &self,
                owner_id: uuid::Uuid,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::PermissionUse>> {
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
            ) -> $crate::store::StoreResult<Vec<$crate::store::Invitation>> {
                let rows: Vec<$crate::store::models::InvitationRow> = sqlx::query_as(concat!(
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
                owner: &$crate::store::UserRef,
                actions: &[$crate::store::ReviewAction],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Result<Vec<$crate::store::Applied>, $crate::store::Rejected>> {
                use $crate::store::{AppRef, Rejected};
                const OWNED: &str = "select a.id, a.name from apps a join collaborators o on o.app_id = a.id and o.role = 'owner' where o.user_id = $1 and ";
                let mut tx = self.write_tx().await?;
                let mut applied = Vec::with_capacity(actions.len());
                for (index, action) in actions.iter().enumerate() {
                    let reject = |message| Ok(Err(Rejected { index, message }));
                    let app: Option<(uuid::Uuid, String)> = match &action.app {
                        AppRef::Id(id) => sqlx::query_as(sqlx::AssertSqlSafe(format!("{OWNED}a.id = $2"))).bind(owner.id).bind(*id),
                        AppRef::Name(name) => sqlx::query_as(sqlx::AssertSqlSafe(format!("{OWNED}a.name = $2"))).bind(owner.id).bind(name.clone()),
                    }
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((app_id, app_name)) = app else {
                        return reject("you do not own this app");
                    };
                    let member: Option<(String, uuid::Uuid)> = sqlx::query_as(concat!(
                        "select role, user_id from collaborators where id = $1 and app_id = $2", $lock
                    ))
                    .bind(action.collaborator_id)
                    .bind(app_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((previous, user_id)) = member else {
                        return reject("no such member of this app");
                    };
                    let Some(previous_role) = $crate::authz::Role::parse(&previous).filter(|r| *r != $crate::authz::Role::Owner) else {
                        return reject("the owner's membership cannot be changed here; transfer the app first");
                    };
                    let email: String = sqlx::query_scalar("select email from users where id = $1").bind(user_id).fetch_one(&mut *tx).await?;
                    let mut data = serde_json::json!({
                        "collaborator_id": action.collaborator_id, "user_id": user_id, "email": email,
                        "previous_role": previous_role, "via": "access_review",
                    });
                    let (kind, name) = match action.set_role {
                        None => {
                            sqlx::query("delete from collaborators where id = $1").bind(action.collaborator_id).execute(&mut *tx).await?;
                            ("collaborator.removed", "remove")
                        }
                        Some(role) => {
                            sqlx::query("update collaborators set role = $2, updated_at = $3 where id = $1")
                                .bind(action.collaborator_id)
                                .bind(role.as_str())
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            data["role"] = serde_json::json!(role);
                            ("collaborator.role_changed", "set_role")
                        }
                    };
                    let event = $crate::store::NewEvent { app_id, app_name: &app_name, actor: Some(owner), kind, data, secret: None, now };
                    Self::insert_event(&mut tx, event).await?;
                    applied.push($crate::store::Applied {
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

            async fn owned_events(
                &self,
                owner_id: uuid::Uuid,
                filter: &$crate::store::EventFilter,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Event>> {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "select e.id, e.app_id, e.app_name, e.type, e.actor_id, e.actor_email, e.data, e.secret, e.created_at \
                     from events e join collaborators o on o.app_id = e.app_id and o.role = 'owner' where o.user_id = ",
                );
                query.push_bind(owner_id);
                if let Some(app_id) = filter.app_id {
                    query.push(" and e.app_id = ").push_bind(app_id);
                }
                match &filter.actor {
                    Some($crate::store::Actor::Id(id)) => {
                        query.push(" and e.actor_id = ").push_bind(*id);
                    }
                    Some($crate::store::Actor::Email(email)) => {
                        query.push(" and e.actor_email = ").push_bind(email.clone());
                    }
                    None => {}
                }
                if let Some(kind) = &filter.kind {
                    query.push(" and e.type = ").push_bind(kind.clone());
                }
                if let Some(since) = filter.since {
                    query.push(" and e.created_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    query.push(" and e.created_at < ").push_bind(until);
                }
                query.push(" and e.id < ").push_bind(before.unwrap_or(uuid::Uuid::max()));
                query.push(" order by e.id desc limit ").push_bind(i64::from(limit));
                let rows: Vec<$crate::store::models::EventRow> = query.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}

pub(crate) use impl_access_store;
