//! The SQL of [`SecurityStore`](crate::store::SecurityStore), compiled once for each
//! backend: see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Backend, Db};
use crate::store::{
    LinkKind, LoginFailures, NewLink, NewOrder, NewSecurityEvent, PasswordChange, Revoke, SecurityEvent, StoreError,
    StoreResult, UsedLink,
};

impl Backend {
    pub(super) async fn insert_security_event(
        conn: &mut <Db as sqlx::Database>::Connection,
        event: NewSecurityEvent,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into security_events (id, user_id, type, client, data, created_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(event.user_id)
        .bind(event.kind.as_str())
        .bind(event.client)
        .bind(Json(&event.data))
        .bind(event.now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Inserts a link and queues its mail.
    pub(super) async fn insert_link(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        link: NewLink,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into user_tokens (id, user_id, kind, token_hash, email, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(link.kind.as_str())
        .bind(link.hash.to_vec())
        .bind(&link.email)
        .bind(now)
        .bind(link.expires_at)
        .execute(&mut *conn)
        .await?;
        if let Some(mail) = link.mail {
            Self::insert_mail(&mut *conn, mail, now).await?;
        }
        Ok(())
    }

    /// Revokes tokens as `revoke` says; how many API tokens were revoked.
    async fn revoke_in(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        revoke: Revoke,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let keep = match revoke {
            Revoke::Nothing => return Ok(0),
            Revoke::Everything => None,
            Revoke::AllBut { keep } => Some(keep),
        };
        let done = sqlx::query(
            "update api_tokens set revoked_at = $2 where user_id = $1 and revoked_at is null \
             and ($3 is null or id <> $3)",
        )
        .bind(user_id)
        .bind(now)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
        if let Some(keep) = keep {
            // The token kept still works, but none of the JWTs exchanged from it until now.
            sqlx::query("update api_tokens set jwts_valid_from = $2 where id = $1")
                .bind(keep)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(done.rows_affected())
    }
}

#[async_trait::async_trait]
impl crate::store::SecurityStore for Backend {
    async fn issue_link(&self, user_id: Uuid, link: NewLink, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        Self::insert_link(&mut tx, user_id, link, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn last_link_at(&self, user_id: Uuid, kind: LinkKind) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar("select max(created_at) from user_tokens where user_id = $1 and kind = $2")
                .bind(user_id)
                .bind(kind.as_str())
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn peek_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<UsedLink>> {
        Ok(sqlx::query_as(
            "select user_id, email from user_tokens \
             where token_hash = $1 and kind = $2 and used_at is null and expires_at > $3",
        )
        .bind(hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn use_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<UsedLink>> {
        // The test is in the statement: of concurrent uses, one updates the row.
        Ok(sqlx::query_as(
            "update user_tokens set used_at = $3 \
             where token_hash = $1 and kind = $2 and used_at is null and expires_at > $3 \
             returning user_id, email",
        )
        .bind(hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(self.writer())
        .await?)
    }

    async fn verify_email(&self, user_id: Uuid, email: &str, event: NewSecurityEvent) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update users set email_verified = true, updated_at = $3 \
             where id = $1 and email = $2 and not email_verified",
        )
        .bind(user_id)
        .bind(email)
        .bind(event.now)
        .execute(&mut *tx)
        .await?;
        let verified = done.rows_affected() == 1;
        if verified {
            Self::insert_security_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(verified)
    }

    async fn set_password(&self, change: PasswordChange) -> StoreResult<()> {
        let now = change.event.now;
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("update users set password_hash = $2, updated_at = $3 where id = $1")
            .bind(change.user_id)
            .bind(&change.hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(email) = &change.verified_email {
            sqlx::query("update users set email_verified = true where id = $1 and email = $2")
                .bind(change.user_id)
                .bind(email)
                .execute(&mut *tx)
                .await?;
        }
        let revoked = Self::revoke_in(&mut tx, change.user_id, change.revoke, now).await?;
        let mut event = change.event;
        event.data["revoked_tokens"] = serde_json::json!(revoked);
        Self::insert_security_event(&mut tx, event).await?;
        if let Some(mail) = change.mail {
            Self::insert_mail(&mut tx, mail, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_all_tokens(
        &self,
        user_id: Uuid,
        event: NewSecurityEvent,
        mail: Option<NewOrder>,
    ) -> StoreResult<u64> {
        let now = event.now;
        let mut tx = self.write_tx().await?;
        let revoked = Self::revoke_in(&mut tx, user_id, Revoke::Everything, now).await?;
        let mut event = event;
        event.data["revoked_tokens"] = serde_json::json!(revoked);
        Self::insert_security_event(&mut tx, event).await?;
        if let Some(mail) = mail {
            Self::insert_mail(&mut tx, mail, now).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn queue_mail(&self, mail: NewOrder, now: DateTime<Utc>) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await?;
        Self::insert_mail(&mut conn, mail, now).await?;
        Ok(())
    }

    async fn login_failures(&self, client: &str, email: &str, since: DateTime<Utc>) -> StoreResult<LoginFailures> {
        Ok(sqlx::query_as(
            "select \
               count(*) filter (where email = $2) as pair, min(failed_at) filter (where email = $2) as pair_oldest, \
               count(*) as client, min(failed_at) as client_oldest \
             from login_failures where client = $1 and failed_at > $3",
        )
        .bind(client)
        .bind(email)
        .bind(since)
        .fetch_one(self.reader())
        .await?)
    }

    async fn record_login_failure(
        &self,
        client: &str,
        email: &str,
        event: Option<NewSecurityEvent>,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("delete from login_failures where client = $1 and failed_at <= $2")
            .bind(client)
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("insert into login_failures (id, client, email, failed_at) values ($1, $2, $3, $4)")
            .bind(Uuid::now_v7())
            .bind(client)
            .bind(email)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Some(event) = event {
            Self::insert_security_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await?;
        Self::insert_security_event(&mut conn, event).await
    }

    async fn security_events(
        &self,
        user_id: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEvent>> {
        Ok(sqlx::query_as(
            "select id, type, client, data, created_at from security_events \
             where user_id = $1 and ($2 is null or id < $2) order by id desc limit $3",
        )
        .bind(user_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?)
    }
}
