//! Single-use credentials: a random secret shown once, stored only as its hash in an app
//! record of its own kind, good for five minutes, and used up by the one statement that
//! takes it (`RecordStore::take_record`): of two concurrent verifications, one succeeds.
//! One-off attach credentials, add-on and database dashboard links and backup downloads all
//! go through here; the timeline records who was given one, never the secret.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::token;
use crate::authz::Permission;
use crate::authz::decision::{Facts, Reason, Rule, decide};
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{AppRef, RecordWrite, StoredRecord};

/// How long a single-use credential lives.
pub const TTL: TimeDelta = TimeDelta::minutes(5);

/// A kind of single-use credential.
#[derive(Clone, Copy, Debug)]
pub struct SingleUse {
    /// The record kind its hash is stored under.
    pub kind: &'static str,
    /// The secret's prefix (`rga_`, `rgl_`).
    pub prefix: &'static str,
    /// The 404 of a verification: never issued, or used already.
    pub not_found: &'static str,
    /// The 410 of a verification: expired.
    pub expired: &'static str,
    /// The permission the credential exercises, read from its stored grant: at verification
    /// the member it was given to must still hold it (`None`: a grant of an unknown shape).
    pub permission: fn(&Value) -> Option<Permission>,
}

/// A credential just issued: the secret (shown once) and when it stops working.
pub struct Issued {
    /// The secret, to put in the link.
    pub secret: String,
    /// Five minutes from now.
    pub expires_at: DateTime<Utc>,
}

impl SingleUse {
    /// Issues a credential on the context's app for its caller: `grant` (an object) is what
    /// the platform learns when it verifies it; the event gets `event_data` with `expires_at`.
    pub async fn issue(
        self,
        state: &AppState,
        ctx: &AppContext,
        mut grant: Value,
        event: EventKind,
        mut event_data: Value,
    ) -> ApiResult<Issued> {
        let (secret, hash) = token::generate(self.prefix).map_err(ApiError::internal)?;
        let now = state.clock.now();
        let expires_at = now + TTL;
        grant["expires_at"] = json!(expires_at);
        event_data["expires_at"] = json!(expires_at);
        let write = RecordWrite {
            id: Uuid::now_v7(),
            create: true,
            kind: self.kind,
            unique_key: Some(hex(&hash)),
            data: grant,
            secret: None,
            event,
            event_data,
            order: None,
        };
        state
            .store
            .save_record(&ctx.app, write, Some(&ctx.caller.user.to_ref()), now)
            .await?;
        Ok(Issued { secret, expires_at })
    }

    /// Uses a credential up: the stored grant if it held, 404 when it was never issued or was
    /// used already, 410 when it expired (it is used up all the same), 403 when the member it
    /// was given to may no longer do what it grants (removed, access ended, the app's 2FA rule,
    /// a role changed since): the app's rules hold until the platform acts.
    pub async fn redeem(self, state: &AppState, secret: &str) -> ApiResult<StoredRecord> {
        let taken = state
            .store
            .take_record(self.kind, &hex(&token::hash(secret.trim())))
            .await?
            .ok_or(ApiError::NotFound(self.not_found))?;
        let expires_at: DateTime<Utc> =
            serde_json::from_value(taken.data.0["expires_at"].clone()).map_err(ApiError::internal)?;
        if expires_at <= state.clock.now() {
            return Err(ApiError::Gone(self.expired.into()));
        }
        let permission = (self.permission)(&taken.data.0).ok_or_else(|| ApiError::Gone(self.expired.into()))?;
        let rule = Rule {
            permission,
            role_must_hold: true,
            open_without_tfa: false,
        };
        let reason = match taken.created_by {
            Some(user_id) => acting_for(state, taken.app_id, user_id, rule).await?,
            None => Reason::NotAMember,
        };
        if reason != Reason::Allowed {
            return Err(ApiError::Forbidden(format!(
                "the member this credential was given to may no longer use it ({})",
                reason.as_str()
            )));
        }
        Ok(taken)
    }
}

/// What the app's rules say of `user_id` acting on `app_id` now, for the platform's routes that
/// act in a member's name: the facts the middleware reads for a request of theirs, put to the
/// same decision. The platform's token is not the member's, so no scope narrows it.
pub async fn acting_for(state: &AppState, app_id: Uuid, user_id: Uuid, rule: Rule) -> ApiResult<Reason> {
    let Some(app) = state.store.app_by_ref(&AppRef::Id(app_id)).await? else {
        return Ok(Reason::NotAMember);
    };
    let membership = state.store.membership_of(app.id, user_id).await?;
    let now = state.clock.now();
    let facts = Facts {
        role: membership.as_ref().map(|m| m.role),
        expired: membership.as_ref().is_some_and(|m| m.expired(now)),
        scope_allows_app: true,
        scope_allows_permission: true,
        blocked_by_tfa: app.require_tfa && membership.as_ref().is_some_and(|m| !m.tfa_enabled),
    };
    Ok(decide(&facts, rule))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
