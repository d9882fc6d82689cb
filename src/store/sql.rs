//! The SQL both backends share, written once.
//!
//! sqlx binds `$1`-style parameters on SQLite as on Postgres, and both backends encode
//! `Uuid` and `DateTime<Utc>` themselves, so one text serves both. [`impl_store!`]
//! expands these bodies for each backend's concrete pool type; what differs between the
//! two (pools, migrations, the row-lock clause) is passed in by `postgres.rs` and
//! `sqlite.rs`. Every timestamp is bound from the service's clock, never `now()`.

/// Columns of an app with its owner; pairs with [`app_from!`] and decodes as `AppRow`.
macro_rules! app_columns {
    () => {
        "a.id, a.name, a.default_branch, a.created_at, a.updated_at, a.formation, \
         ou.id as owner_id, ou.email as owner_email"
    };
}

macro_rules! app_from {
    () => {
        " from apps a \
          join collaborators o on o.app_id = a.id and o.role = 'owner' \
          join users ou on ou.id = o.user_id "
    };
}

macro_rules! caller_columns {
    () => {
        "u.id as user_id, u.email as user_email, u.name as user_name, \
         u.created_at as user_created_at, t.id as token_id, t.last_used_at as token_last_used_at, \
         t.scope_permissions, t.scope_apps"
    };
}

macro_rules! live_token {
    () => {
        " and t.revoked_at is null and (t.expires_at is null or t.expires_at > $2)"
    };
}

/// The access check behind every app route: the caller, the app, the caller's membership
/// and when they last used the route's permission, in one round trip. `$1` is the
/// credential, `$2` the time, `$3` the app, `$4` the permission.
macro_rules! access_sql {
    ($credential:literal, $app:literal) => {
        concat!(
            "select ",
            caller_columns!(),
            ", \
               a.id as app_id, a.name as app_name, a.default_branch, \
               a.created_at as app_created_at, a.updated_at as app_updated_at, \
               a.formation, ou.id as owner_id, ou.email as owner_email, \
               m.id as membership_id, m.role as role, m.access_expires_at, \
               m.last_used_at as membership_last_used_at, pu.last_used_at as permission_last_used_at \
             from api_tokens t \
             join users u on u.id = t.user_id \
             left join apps a on ",
            $app,
            " \
             left join collaborators m on m.app_id = a.id and m.user_id = u.id \
             left join collaborators o on o.app_id = a.id and o.role = 'owner' \
             left join users ou on ou.id = o.user_id \
             left join permission_usage pu on pu.membership_id = m.id and pu.permission = $4 \
             where ",
            $credential,
            live_token!()
        )
    };
}

macro_rules! collaborator_select {
    () => {
        "select c.id, c.app_id, c.user_id, u.email, c.role, \
                ib.id as invited_by_id, ib.email as invited_by_email, c.created_at, \
                c.last_used_at, c.access_expires_at \
         from collaborators c \
         join users u on u.id = c.user_id \
         left join users ib on ib.id = c.invited_by "
    };
}

macro_rules! invitation_select {
    () => {
        "select i.id, i.app_id, a.name as app_name, i.email, i.role, i.status, \
                ib.id as invited_by_id, ib.email as invited_by_email, i.created_at, i.expires_at, \
                i.access_expires_at \
         from invitations i \
         join apps a on a.id = i.app_id \
         left join users ib on ib.id = i.invited_by "
    };
}

/// Implements [`Store`](crate::store::Store) for a backend struct that has
/// `reader()` and `writer()` returning its pools. `lock` is the row-lock clause appended
/// to a select whose rows a transaction is about to change (`" for update"` on Postgres;
/// empty on SQLite, whose single writer connection already serialises writers).
macro_rules! impl_store {
    ($store:ty, $db:ty, backend = $backend:literal, lock = $lock:literal) => {
        impl $store {
            async fn insert_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                event: $crate::store::NewEvent<'_>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "insert into events (id, app_id, app_name, actor_id, actor_email, type, data, secret, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(event.app_id)
                .bind(event.app_name)
                .bind(event.actor.map(|a| a.id))
                .bind(event.actor.map(|a| a.email.as_str()))
                .bind(event.kind)
                .bind(sqlx::types::Json(&event.data))
                .bind(event.secret)
                .bind(event.now)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn fetch_app(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::store::App> {
                let row: $crate::store::models::AppRow =
                    sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.id = $1"))
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await?;
                Ok(row.into())
            }

            async fn fetch_collaborator(
                conn: &mut <$db as sqlx::Database>::Connection,
                app_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::Collaborator>> {
                let row: Option<$crate::store::models::CollaboratorRow> =
                    sqlx::query_as(concat!(collaborator_select!(), "where c.app_id = $1 and c.id = $2"))
                        .bind(app_id)
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(row.map(Into::into))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("select 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn create_user(&self, new: $crate::store::NewUser<'_>) -> $crate::store::StoreResult<$crate::store::User> {
                let user = sqlx::query_as(
                    "insert into users (id, email, name, password_hash, created_at, updated_at) \
                     values ($1, $2, $3, $4, $5, $5) \
                     returning id, email, name, created_at",
                )
                .bind(new.id)
                .bind(new.email.as_str())
                .bind(new.name)
                .bind(new.password_hash)
                .bind(new.now)
                .fetch_one(self.writer())
                .await?;
                Ok(user)
            }

            async fn user_login(&self, email: &$crate::domain::Email) -> $crate::store::StoreResult<Option<$crate::store::UserLogin>> {
                let row: Option<$crate::store::models::UserLoginRow> =
                    sqlx::query_as("select id, email, name, created_at, password_hash from users where email = $1")
                        .bind(email.as_str())
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.map(|r| $crate::store::UserLogin { user: r.user, password_hash: r.password_hash }))
            }

            async fn create_token(&self, new: $crate::store::NewToken<'_>) -> $crate::store::StoreResult<$crate::store::ApiToken> {
                let token: $crate::store::models::ApiTokenRow = sqlx::query_as(
                    "insert into api_tokens (id, user_id, name, token_hash, created_at, expires_at, scope_permissions, scope_apps) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8) \
                     returning id, name, created_at, expires_at, last_used_at, scope_permissions, scope_apps",
                )
                .bind(new.id)
                .bind(new.user_id)
                .bind(new.name)
                .bind(new.hash)
                .bind(new.now)
                .bind(new.expires_at)
                .bind(new.scope.permissions.as_ref().map(sqlx::types::Json))
                .bind(new.scope.apps.as_ref().map(sqlx::types::Json))
                .fetch_one(self.writer())
                .await?;
                Ok(token.into())
            }

            async fn list_tokens(&self, user_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::ApiToken>> {
                let rows: Vec<$crate::store::models::ApiTokenRow> = sqlx::query_as(
                    "select id, name, created_at, expires_at, last_used_at, scope_permissions, scope_apps from api_tokens \
                     where user_id = $1 and revoked_at is null order by id desc",
                )
                .bind(user_id)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn revoke_token(
                &self,
                user_id: uuid::Uuid,
                token_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let done = sqlx::query(
                    "update api_tokens set revoked_at = $3 where id = $2 and user_id = $1 and revoked_at is null",
                )
                .bind(user_id)
                .bind(token_id)
                .bind(now)
                .execute(self.writer())
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                Ok(())
            }

            async fn authenticate(
                &self,
                credential: &$crate::store::Credential,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::Caller>> {
                macro_rules! by {
                    ($credential:literal) => {
                        concat!("select ", caller_columns!(), " from api_tokens t join users u on u.id = t.user_id where ", $credential, live_token!())
                    };
                }
                let query = match credential {
                    $crate::store::Credential::Jwt { token_id } => sqlx::query_as(by!("t.id = $1")).bind(*token_id),
                    $crate::store::Credential::ApiToken { hash } => sqlx::query_as(by!("t.token_hash = $1")).bind(hash.to_vec()),
                };
                let row: Option<$crate::store::models::CallerRow> = query.bind(now).fetch_optional(self.reader()).await?;
                Ok(row.map(Into::into))
            }

            async fn touch_token(&self, token_id: uuid::Uuid, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let user_id: uuid::Uuid =
                    sqlx::query_scalar("update api_tokens set last_used_at = $2 where id = $1 returning user_id")
                        .bind(token_id)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query("update users set last_seen_at = $2 where id = $1")
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn app_access(
                &self,
                credential: &$crate::store::Credential,
                app: &$crate::store::AppRef,
                permission: $crate::authz::Permission,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<($crate::store::Caller, Option<$crate::store::AppAccess>)>> {
                use $crate::store::{AppRef, Credential};
                let sql = match (credential, app) {
                    (Credential::Jwt { .. }, AppRef::Id(_)) => access_sql!("t.id = $1", "a.id = $3"),
                    (Credential::Jwt { .. }, AppRef::Name(_)) => access_sql!("t.id = $1", "a.name = $3"),
                    (Credential::ApiToken { .. }, AppRef::Id(_)) => access_sql!("t.token_hash = $1", "a.id = $3"),
                    (Credential::ApiToken { .. }, AppRef::Name(_)) => access_sql!("t.token_hash = $1", "a.name = $3"),
                };
                let query = sqlx::query_as(sql);
                let query = match credential {
                    Credential::Jwt { token_id } => query.bind(*token_id),
                    Credential::ApiToken { hash } => query.bind(hash.to_vec()),
                }
                .bind(now);
                let query = match app {
                    AppRef::Id(id) => query.bind(*id),
                    AppRef::Name(name) => query.bind(name.clone()),
                }
                .bind(permission.as_str());
                let row: Option<$crate::store::models::AccessRow> = query.fetch_optional(self.reader()).await?;
                Ok(row.map(|r| r.split()))
            }

            async fn create_app(
                &self,
                owner: &$crate::store::UserRef,
                name: &$crate::domain::AppName,
                branch: &$crate::domain::BranchName,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::App> {
                let id = uuid::Uuid::now_v7();
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "insert into apps (id, name, default_branch, created_at, updated_at) values ($1, $2, $3, $4, $4)",
                )
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
                let event = $crate::store::NewEvent { app_id: id, app_name: name.as_str(), actor: Some(owner), kind: "app.created", data, secret: None, now };
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
            ) -> $crate::store::StoreResult<Vec<$crate::store::AppWithRole>> {
                let rows: Vec<$crate::store::models::AppWithRoleRow> = sqlx::query_as(concat!(
                    "select ", app_columns!(), ", m.role", app_from!(),
                    "join collaborators m on m.app_id = a.id \
                     where m.user_id = $1 and a.name > $2 order by a.name limit $3"
                ))
                .bind(user_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(|r| $crate::store::AppWithRole { app: r.app.into(), role: r.role }).collect())
            }

            async fn update_app(
                &self,
                app: &$crate::store::App,
                branch: &$crate::domain::BranchName,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::App> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query("update apps set default_branch = $2, updated_at = $3 where id = $1")
                    .bind(app.id)
                    .bind(branch.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                let data = serde_json::json!({ "default_branch": { "from": app.default_branch, "to": branch } });
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "app.updated", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                let app = Self::fetch_app(&mut tx, app.id).await?;
                tx.commit().await?;
                Ok(app)
            }

            async fn rename_app(
                &self,
                app: &$crate::store::App,
                name: &$crate::domain::AppName,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::App> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query("update apps set name = $2, updated_at = $3 where id = $1")
                    .bind(app.id)
                    .bind(name.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                let data = serde_json::json!({ "from": app.name, "to": name });
                let event = $crate::store::NewEvent { app_id: app.id, app_name: name.as_str(), actor: Some(actor), kind: "app.renamed", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                let order = $crate::store::NewOrder { kind: "app.rename", data: serde_json::json!({ "from": app.name, "to": name }) };
                Self::insert_order(&mut tx, app, order, now).await?;
                let app = Self::fetch_app(&mut tx, app.id).await?;
                tx.commit().await?;
                Ok(app)
            }

            async fn delete_app(
                &self,
                app: &$crate::store::App,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query("delete from apps where id = $1").bind(app.id).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                let data = serde_json::json!({ "name": app.name });
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "app.deleted", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                // The platform tears the app down; its earlier orders may still arrive, so
                // receivers should ignore orders for an app they no longer run.
                let order = $crate::store::NewOrder { kind: "app.delete", data: serde_json::json!({ "name": app.name }) };
                Self::insert_order(&mut tx, app, order, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn transfer_app(
                &self,
                app: &$crate::store::App,
                actor: &$crate::store::UserRef,
                to: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::App> {
                let mut tx = self.write_tx().await?;
                // Serialises every ownership change of this app (Postgres; SQLite has one writer).
                sqlx::query(concat!("select id from apps where id = $1", $lock))
                    .bind(app.id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or($crate::store::StoreError::NotFound)?;
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
                    return Err($crate::store::StoreError::Conflict("only the current owner can transfer the app"));
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
                    return Err($crate::store::StoreError::NotFound);
                };
                let data = serde_json::json!({
                    "from": { "id": actor.id, "email": actor.email },
                    "to": { "id": to, "email": new_owner_email },
                });
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "app.transferred", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                let app = Self::fetch_app(&mut tx, app.id).await?;
                tx.commit().await?;
                Ok(app)
            }

            async fn list_collaborators(&self, app_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::Collaborator>> {
                let rows: Vec<$crate::store::models::CollaboratorRow> = sqlx::query_as(concat!(
                    collaborator_select!(),
                    "where c.app_id = $1 order by case c.role when 'owner' then 0 else 1 end, c.created_at, c.id"
                ))
                .bind(app_id)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn collaborator(&self, app_id: uuid::Uuid, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::store::Collaborator>> {
                let mut conn = self.reader().acquire().await?;
                Self::fetch_collaborator(&mut conn, app_id, id).await
            }

            async fn update_collaborator(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                change: $crate::store::MemberChange,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Collaborator> {
                let mut tx = self.write_tx().await?;
                type Current = (String, Option<chrono::DateTime<chrono::Utc>>);
                let (previous, previous_expiry): Current = sqlx::query_as(concat!(
                    "select role, access_expires_at from collaborators where app_id = $1 and id = $2", $lock
                ))
                .bind(app.id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or($crate::store::StoreError::NotFound)?;
                if previous == "owner" {
                    return Err($crate::store::StoreError::Conflict(
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
                let member = Self::fetch_collaborator(&mut tx, app.id, id).await?.ok_or($crate::store::StoreError::NotFound)?;
                let who = serde_json::json!({ "collaborator_id": id, "user_id": member.user_id, "email": member.email });
                if role != previous {
                    let mut data = who.clone();
                    data["previous_role"] = serde_json::json!(previous);
                    data["role"] = serde_json::json!(role);
                    let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "collaborator.role_changed", data, secret: None, now };
                    Self::insert_event(&mut tx, event).await?;
                }
                if expiry != previous_expiry {
                    let mut data = who;
                    data["previous_access_expires_at"] = serde_json::json!(previous_expiry);
                    data["access_expires_at"] = serde_json::json!(expiry);
                    let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "collaborator.access_expiry_changed", data, secret: None, now };
                    Self::insert_event(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(member)
            }

            async fn remove_collaborator(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                actor: &$crate::store::UserRef,
                left: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let member = Self::fetch_collaborator(&mut tx, app.id, id).await?.ok_or($crate::store::StoreError::NotFound)?;
                // The role test is in the statement, so a concurrent transfer cannot slip
                // the new owner out from under it.
                let done = sqlx::query("delete from collaborators where app_id = $1 and id = $2 and role <> 'owner'")
                    .bind(app.id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::Conflict(
                        "the owner cannot leave or be removed; transfer the app first",
                    ));
                }
                let data = serde_json::json!({
                    "collaborator_id": id, "user_id": member.user_id, "email": member.email, "role": member.role,
                });
                let kind = if left { "collaborator.left" } else { "collaborator.removed" };
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind, data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_invitation(&self, new: $crate::store::NewInvitation<'_>) -> $crate::store::StoreResult<$crate::store::Invitation> {
                let mut tx = self.write_tx().await?;
                let member: Option<i32> = sqlx::query_scalar(
                    "select 1 from collaborators c join users u on u.id = c.user_id where c.app_id = $1 and u.email = $2",
                )
                .bind(new.app.id)
                .bind(new.email.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if member.is_some() {
                    return Err($crate::store::StoreError::Conflict("this email already belongs to a member of the app"));
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
                .map_err(|e| match $crate::store::StoreError::from(e) {
                    $crate::store::StoreError::Conflict(_) => {
                        $crate::store::StoreError::Conflict("this email already has a pending invitation to the app")
                    }
                    other => other,
                })?;
                let data = serde_json::json!({
                    "invitation_id": new.id, "email": new.email, "role": new.role, "access_expires_at": new.access_expires_at,
                });
                let event = $crate::store::NewEvent {
                    app_id: new.app.id, app_name: &new.app.name, actor: Some(new.invited_by),
                    kind: "collaborator.invited", data, secret: None, now: new.now,
                };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok($crate::store::Invitation {
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

            async fn list_invitations(&self, app_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::Invitation>> {
                let rows: Vec<$crate::store::models::InvitationRow> =
                    sqlx::query_as(concat!(invitation_select!(), "where i.app_id = $1 order by i.id desc"))
                        .bind(app_id)
                        .fetch_all(self.reader())
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn revoke_invitation(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
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
                let (email, role) = revoked.ok_or($crate::store::StoreError::NotFound)?;
                let data = serde_json::json!({ "invitation_id": id, "email": email, "role": role });
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "collaborator.invitation_revoked", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn invitation_by_token(&self, token_hash: &[u8]) -> $crate::store::StoreResult<Option<$crate::store::Invitation>> {
                let row: Option<$crate::store::models::InvitationRow> =
                    sqlx::query_as(concat!(invitation_select!(), "where i.token_hash = $1"))
                        .bind(token_hash)
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn invitation_by_id(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::store::Invitation>> {
                let row: Option<$crate::store::models::InvitationRow> =
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
            ) -> $crate::store::StoreResult<Vec<$crate::store::Invitation>> {
                let rows: Vec<$crate::store::models::InvitationRow> = sqlx::query_as(concat!(
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
                user: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Accepted> {
                let mut tx = self.write_tx().await?;
                // The status test is in the statement: of many concurrent accepts, one
                // updates the row and the others find it no longer pending.
                type Claimed = (uuid::Uuid, String, Option<uuid::Uuid>, Option<chrono::DateTime<chrono::Utc>>);
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
                    return Ok($crate::store::Accepted::NotPending);
                };
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
                match inserted.map_err($crate::store::StoreError::from) {
                    Ok(_) => {}
                    // Dropping the transaction rolls the claim back: the invitation stays pending.
                    Err($crate::store::StoreError::Conflict(_)) => return Ok($crate::store::Accepted::AlreadyMember),
                    Err(other) => return Err(other),
                }
                let member = Self::fetch_collaborator(&mut tx, app_id, member_id).await?.ok_or($crate::store::StoreError::NotFound)?;
                let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
                    .bind(app_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let data = serde_json::json!({
                    "invitation_id": id, "collaborator_id": member_id, "user_id": user.id, "email": user.email, "role": role,
                });
                let event = $crate::store::NewEvent { app_id, app_name: &app_name, actor: Some(user), kind: "collaborator.accepted", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok($crate::store::Accepted::Member(member))
            }

            async fn decline_invitation(
                &self,
                id: uuid::Uuid,
                user: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
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
                let event = $crate::store::NewEvent { app_id, app_name: &app_name, actor: Some(user), kind: "collaborator.declined", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn list_events(
                &self,
                app_id: uuid::Uuid,
                kind: Option<&str>,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Event>> {
                let rows: Vec<$crate::store::models::EventRow> = sqlx::query_as(
                    "select id, app_id, app_name, type, actor_id, actor_email, data, secret, created_at from events \
                     where app_id = $1 and id < $2 and (type = $4 or $4 is null) order by id desc limit $3",
                )
                .bind(app_id)
                .bind(before.unwrap_or(uuid::Uuid::max()))
                .bind(i64::from(limit))
                .bind(kind)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}

pub(crate) use {
    access_sql, app_columns, app_from, caller_columns, collaborator_select, impl_store, invitation_select, live_token,
};
