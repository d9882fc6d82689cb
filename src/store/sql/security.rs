//! The SQL of [`SecurityStore`](crate::store::SecurityStore), compiled once for each
//! backend: see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Backend, Db};
use crate::kinds::SecurityEventKind;
use crate::store::{
    AccountFailure, LinkKind, LinkRedemption, LoginFailures, NewLink, NewOrder, NewSecurityEvent, PasswordChange,
    PeekedLink, Revoke, SecurityEvent, StoreError, StoreResult, UsedLink,
};

/// The links a password change voids: every reset and claim link still outstanding.
const PASSWORD_LINKS: &[LinkKind] = &[LinkKind::PasswordReset, LinkKind::AccountClaim];
/// The links a claim voids: every other link of the account.
const EVERY_LINK: &[LinkKind] = &[LinkKind::VerifyEmail, LinkKind::PasswordReset, LinkKind::AccountClaim];

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

    /// Uses a link: at most one caller ever gets it, and only before it expires (the test is
    /// in the statement: of concurrent uses, one updates the row).
    async fn use_link_in(
        conn: &mut <Db as sqlx::Database>::Connection,
        kind: LinkKind,
        hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UsedLink>> {
        Ok(sqlx::query_as(
            "update user_tokens set used_at = $3 \
             where token_hash = $1 and kind = $2 and used_at is null and expires_at > $3 \
             returning user_id, email",
        )
        .bind(hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// The one place an address becomes verified: by a link rolegate mailed to it, if it is
    /// still the account's. Whoever proved the mailbox holds the account, so the reset and
    /// claim links still outstanding die with it. `true` if it was not verified before.
    async fn mark_verified(
        conn: &mut <Db as sqlx::Database>::Connection,
        link: &UsedLink,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "update users set email_verified = true, updated_at = $3 \
             where id = $1 and email = $2 and not email_verified",
        )
        .bind(link.user_id())
        .bind(link.email())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let verified = done.rows_affected() == 1;
        if verified {
            Self::void_links(&mut *conn, link.user_id(), PASSWORD_LINKS, now).await?;
        }
        Ok(verified)
    }

    /// Voids every outstanding link of `kinds` of the account (a used link is already spent).
    async fn void_links(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        kinds: &[LinkKind],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for kind in kinds {
            sqlx::query("update user_tokens set used_at = $3 where user_id = $1 and kind = $2 and used_at is null")
                .bind(user_id)
                .bind(kind.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Sets the password hash and forgets the account's failed sign-ins (and its lock).
    async fn store_password(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "update users set password_hash = $2, updated_at = $3, failed_signins = 0, \
             last_failed_signin_at = null, signin_locked_at = null where id = $1",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Counts a failure against the account; at `lock_at`, locks it, records the lock and
    /// queues its mail.
    async fn count_account_failure(
        conn: &mut <Db as sqlx::Database>::Connection,
        failure: AccountFailure,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // The count is in the statement, so concurrent failures each add one and exactly one
        // of them reaches the lock.
        let count: Option<i32> = sqlx::query_scalar(
            "update users set failed_signins = failed_signins + 1, last_failed_signin_at = $2 \
             where id = $1 returning failed_signins",
        )
        .bind(failure.user_id)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if count == Some(failure.lock_at) {
            sqlx::query("update users set signin_locked_at = $2 where id = $1 and signin_locked_at is null")
                .bind(failure.user_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Self::insert_security_event(&mut *conn, failure.lock_event).await?;
            if let Some(mail) = failure.lock_mail {
                Self::insert_mail(&mut *conn, mail, now).await?;
            }
        }
        Ok(())
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

    async fn peek_link(&self, kind: LinkKind, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<PeekedLink>> {
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

    async fn redeem_verification(
        &self,
        hash: &[u8],
        client: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UsedLink>> {
        let mut tx = self.write_tx().await?;
        let Some(link) = Self::use_link_in(&mut tx, LinkKind::VerifyEmail, hash, now).await? else {
            return Ok(None);
        };
        // The account may have changed address since the link was sent: then this proves nothing.
        if Self::mark_verified(&mut tx, &link, now).await? {
            let event = NewSecurityEvent {
                user_id: link.user_id(),
                kind: SecurityEventKind::EmailVerified,
                client,
                data: serde_json::json!({ "email": link.email(), "via": "link" }),
                now,
            };
            Self::insert_security_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Some(link))
    }

    async fn redeem_link(&self, redemption: LinkRedemption) -> StoreResult<Option<UsedLink>> {
        let LinkRedemption {
            kind,
            hash,
            password_hash,
            mut event,
            mail,
        } = redemption;
        let now = event.now;
        let mut tx = self.write_tx().await?;
        let Some(link) = Self::use_link_in(&mut tx, kind, &hash, now).await? else {
            return Ok(None);
        };
        let user_id = link.user_id();
        Self::store_password(&mut tx, user_id, &password_hash, now).await?;
        Self::mark_verified(&mut tx, &link, now).await?;
        let voided = if kind == LinkKind::AccountClaim {
            // The account is taken back whole: no second factor, code or link of whoever
            // held it survives.
            sqlx::query(
                "update users set tfa_secret = null, tfa_enabled_at = null, tfa_last_step = null where id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            Self::insert_codes(&mut tx, user_id, &[], now).await?;
            EVERY_LINK
        } else {
            PASSWORD_LINKS
        };
        Self::void_links(&mut tx, user_id, voided, now).await?;
        let revoked = Self::revoke_in(&mut tx, user_id, Revoke::Everything, now).await?;
        event.user_id = user_id;
        event.data["revoked_tokens"] = serde_json::json!(revoked);
        Self::insert_security_event(&mut tx, event).await?;
        if let Some(mail) = mail {
            Self::insert_mail(&mut tx, mail, now).await?;
        }
        tx.commit().await?;
        Ok(Some(link))
    }

    async fn set_password(&self, change: PasswordChange) -> StoreResult<()> {
        let now = change.event.now;
        let mut tx = self.write_tx().await?;
        Self::store_password(&mut tx, change.user_id, &change.hash, now).await?;
        Self::void_links(&mut tx, change.user_id, PASSWORD_LINKS, now).await?;
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
            "select f.pair, f.pair_oldest, f.client, f.client_oldest, \
               u.failed_signins as account, u.last_failed_signin_at as account_last, \
               u.signin_locked_at as account_locked_at \
             from (select \
                 count(*) filter (where email = $2) as pair, min(failed_at) filter (where email = $2) as pair_oldest, \
                 count(*) as client, min(failed_at) as client_oldest \
               from login_failures where client = $1 and failed_at > $3) f \
             left join users u on u.email = $2",
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
        account: Option<AccountFailure>,
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
        if let Some(account) = account {
            Self::count_account_failure(&mut tx, account, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn clear_account_failures(&self, user_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "update users set failed_signins = 0, last_failed_signin_at = null where id = $1 and failed_signins > 0",
        )
        .bind(user_id)
        .execute(self.writer())
        .await?;
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
