//! The SQL of [`AccountStore`](crate::store::AccountStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::Backend;
use crate::store::columns::{caller_columns, live_token};

#[async_trait::async_trait]
impl crate::store::AccountStore for Backend {
    async fn create_user(&self, new: crate::store::NewUser<'_>) -> crate::store::StoreResult<crate::store::User> {
        let mut tx = self.write_tx().await?;
        let user: crate::store::User = sqlx::query_as(
            "insert into users (id, email, name, password_hash, email_verified, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $6) \
             returning id, email, name, created_at, email_verified, (tfa_enabled_at is not null) as tfa_enabled",
        )
        .bind(new.id)
        .bind(new.email.as_str())
        .bind(new.name)
        .bind(new.password_hash)
        .bind(new.email_verified)
        .bind(new.now)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(link) = new.link {
            Self::insert_link(&mut tx, user.id, link, new.now).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn user_login(
        &self,
        email: &crate::domain::Email,
    ) -> crate::store::StoreResult<Option<crate::store::UserLogin>> {
        let row: Option<crate::store::models::UserLoginRow> = sqlx::query_as(
            "select id, email, name, created_at, email_verified, (tfa_enabled_at is not null) as tfa_enabled, password_hash \
             from users where email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| crate::store::UserLogin {
            user: r.user,
            password_hash: r.password_hash,
        }))
    }

    async fn user_names(
        &self,
        ids: &[uuid::Uuid],
    ) -> crate::store::StoreResult<std::collections::HashMap<uuid::Uuid, Option<String>>> {
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let mut query = sqlx::QueryBuilder::<super::Db>::new("select id, name from users where id in (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        let rows: Vec<(uuid::Uuid, Option<String>)> = query.build_query_as().fetch_all(self.reader()).await?;
        Ok(rows.into_iter().collect())
    }

    async fn create_token(&self, new: crate::store::NewToken<'_>) -> crate::store::StoreResult<crate::store::ApiToken> {
        let token: crate::store::models::ApiTokenRow = sqlx::query_as(
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

    async fn list_tokens(&self, user_id: uuid::Uuid) -> crate::store::StoreResult<Vec<crate::store::ApiToken>> {
        let rows: Vec<crate::store::models::ApiTokenRow> = sqlx::query_as(
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
    ) -> crate::store::StoreResult<()> {
        let done =
            sqlx::query("update api_tokens set revoked_at = $3 where id = $2 and user_id = $1 and revoked_at is null")
                .bind(user_id)
                .bind(token_id)
                .bind(now)
                .execute(self.writer())
                .await?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        Ok(())
    }

    async fn authenticate(
        &self,
        credential: &crate::store::Credential,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<Option<crate::store::Caller>> {
        macro_rules! by {
            ($credential:literal) => {
                concat!(
                    "select ",
                    caller_columns!(),
                    " from api_tokens t join users u on u.id = t.user_id where ",
                    $credential,
                    live_token!()
                )
            };
        }
        let query = match credential {
            crate::store::Credential::Jwt { token_id, .. } => sqlx::query_as(by!("t.id = $1")).bind(*token_id),
            crate::store::Credential::ApiToken { hash } => sqlx::query_as(by!("t.token_hash = $1")).bind(hash.to_vec()),
        };
        let row: Option<crate::store::models::CallerRow> = query.bind(now).fetch_optional(self.reader()).await?;
        Ok(row
            .map(crate::store::Caller::from)
            .filter(|caller| caller.accepts(credential)))
    }

    async fn touch_token(
        &self,
        token_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
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
}
