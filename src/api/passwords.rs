//! Passwords that can be rotated: change (with "sign out everywhere"), and set by a link
//! mailed to the address: a reset link, or the claim link that takes an unverified account
//! back from whoever signed up with the address.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::Json;
use crate::auth::client::ClientAddr;
use crate::auth::{links, password, throttle};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult, Fields, Problem};
use crate::kinds::SecurityEventKind;
use crate::mail;
use crate::state::AppState;
use crate::store::{Caller, LinkKind, LinkRedemption, NewSecurityEvent, PasswordChange, Revoke};

/// Body of `PUT /v1/users/self/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password the account has now.
    current_password: String,
    /// The new one: 12 to 1024 characters, hard to guess, not containing the address.
    #[schema(min_length = 12, max_length = 1024)]
    new_password: String,
    /// Also revoke every other API token, and every JWT (this token's included): sign out
    /// everywhere else. Default `false`.
    #[serde(default)]
    revoke_tokens: bool,
}

/// What a password change answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// Always `true`.
    changed: bool,
    /// Whether the other tokens and every JWT were revoked.
    revoked_tokens: bool,
}

/// `PUT /v1/users/self/password`: changes the password, given the current one. A notice goes
/// to the address. Throttled like a sign-in: a wrong current password counts as a failure.
#[utoipa::path(put, path = "/v1/users/self/password", request_body = ChangePassword, responses(
    (status = 200, description = "Changed.", body = PasswordChanged),
    (status = 429, description = "Too many failed password checks from this client (`throttled`), or of the \
        account from any client (`throttled` from the 10th in a row, `account-locked` from the 100th).", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Json<PasswordChanged>> {
    let user = &caller.user;
    let new = password::policy(body.new_password, &user.email, user.name.as_deref())
        .map_err(|m| ApiError::invalid("new_password", m))?;
    let _turn = state.signin_turns.take(client.0).await?;
    let _account_turn = state.account_turns.take(user.email.clone()).await?;
    let checked = throttle::check(&state, client, &user.email).await?;
    let stored = state
        .store
        .user_login(&Email::stored(&user.email))
        .await?
        .and_then(|l| l.password_hash);
    if !password::verify(&state.hashing, body.current_password, stored).await? {
        throttle::failed(&state, client, &user.email, Some(user.id), "wrong_password").await?;
        return Err(ApiError::invalid("current_password", "is not the account's password"));
    }
    throttle::succeeded(&state, user.id, checked).await?;
    let hash = password::hash(&state.hashing, new).await?;
    let now = state.clock.now();
    let revoke = if body.revoke_tokens {
        Revoke::AllBut { keep: caller.token_id }
    } else {
        Revoke::Nothing
    };
    let what = if body.revoke_tokens {
        "your password was changed, and every other session was signed out"
    } else {
        "your password was changed"
    };
    let change = PasswordChange {
        user_id: user.id,
        hash,
        revoke,
        event: NewSecurityEvent {
            user_id: user.id,
            kind: SecurityEventKind::PasswordChanged,
            client: Some(client.to_string()),
            data: serde_json::json!({}),
            now,
        },
        mail: links::notice(&state, &user.email, what)?,
    };
    state.store.set_password(change).await?;
    tracing::info!(user_id = %user.id, revoke_tokens = body.revoke_tokens, "password changed");
    Ok(Json(PasswordChanged {
        changed: true,
        revoked_tokens: body.revoke_tokens,
    }))
}

/// Body of `POST /v1/users/password-reset`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's address.
    #[schema(format = Email)]
    email: String,
}

/// What a reset request answers, whether or not the address has an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetRequested {
    /// Always the same sentence.
    message: &'static str,
}

const RESET_SENT: &str = "if an account has this address, a link to set a new password is on its way; it works \
                          once, within the hour";

/// `POST /v1/users/password-reset`: mails a one-hour, single-use link to the address. Always
/// `202` with the same body: it tells nobody which addresses have accounts.
#[utoipa::path(post, path = "/v1/users/password-reset", request_body = ResetRequest, responses(
    (status = 202, description = "Whether or not the address has an account.", body = ResetRequested),
))]
pub async fn request_reset(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(body): Json<ResetRequest>,
) -> ApiResult<(StatusCode, Json<ResetRequested>)> {
    let answer = (StatusCode::ACCEPTED, Json(ResetRequested { message: RESET_SENT }));
    let Ok(email) = Email::lookup(&body.email) else {
        return Ok(answer);
    };
    if let Some(login) = state.store.user_login(&email).await? {
        let now = state.clock.now();
        // At most one link a minute per account, so the address cannot be flooded.
        let recent = state
            .store
            .last_link_at(login.user.id, LinkKind::PasswordReset)
            .await?
            .is_some_and(|last| now - last < chrono::TimeDelta::minutes(1));
        let link = links::issue(&state, LinkKind::PasswordReset, email.as_str(), mail::password_reset)?;
        if let (Some(link), false) = (link, recent) {
            state.store.issue_link(login.user.id, link, now).await?;
            tracing::info!(user_id = %login.user.id, client = %client, "password reset asked for");
        }
    }
    Ok(answer)
}

/// Body of `POST /v1/users/password-reset/confirm`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmReset {
    /// The `rgr_…` (reset) or `rgc_…` (claim) token from the link's fragment.
    token: String,
    /// The new password: 12 to 1024 characters, hard to guess, not containing the address.
    #[schema(min_length = 12, max_length = 1024)]
    new_password: String,
    /// For a reset link of an account with two-factor authentication on: a code of the
    /// authenticator app, or a recovery code. Without it such a reset is refused
    /// (`otp-required`) and the link stays usable. A claim link needs none.
    code: Option<String>,
}

const BAD_LINK: &str = "this link is unknown, already used or expired";

/// `POST /v1/users/password-reset/confirm`: sets the password with a reset link (`rgr_`) or a
/// claim link (`rgc_`), verifies the address it was mailed to, revokes every API token and JWT
/// of the account, voids its other reset and claim links and unlocks its sign-in. A claim also
/// turns two-factor authentication off and voids the recovery codes and every other link: the
/// owner of the address takes the whole account back. The link is spent only when its
/// password is accepted: a refused password, or a missing or wrong code, leaves it usable.
#[utoipa::path(post, path = "/v1/users/password-reset/confirm", request_body = ConfirmReset, responses(
    (status = 200, description = "The password is set; sign in with it.", body = PasswordChanged),
    (status = 401, description = "A reset link of an account with two-factor authentication on, and `code` is \
        missing (`otp-required`) or wrong, expired or already used (`otp-invalid`); the link stays usable.",
        body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "The link is unknown, already used or expired.", body = Problem,
        content_type = "application/problem+json"),
    (status = 429, description = "Too many failed second-factor checks from this client.", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(body): Json<ConfirmReset>,
) -> ApiResult<Json<PasswordChanged>> {
    let mut fields = Fields::default();
    let link = fields.check(
        "token",
        links::parse(LinkKind::PasswordReset, &body.token)
            .map(|hash| (LinkKind::PasswordReset, hash))
            .or_else(|| links::parse(LinkKind::AccountClaim, &body.token).map(|hash| (LinkKind::AccountClaim, hash)))
            .ok_or("is not a password-reset (rgr_…) or account-claim (rgc_…) token"),
    );
    if let Err(m) = password::policy(body.new_password.clone(), "", None) {
        fields.push("new_password", &m);
    }
    fields.finish()?;
    let Some((kind, hash)) = link else {
        return Err(ApiError::internal("validated token missing"));
    };
    let now = state.clock.now();
    let peeked = state
        .store
        .peek_link(kind, &hash, now)
        .await?
        .ok_or_else(|| ApiError::Gone(BAD_LINK.into()))?;
    // Checked with the address before anything is spent: a refused password leaves the link.
    let new =
        password::policy(body.new_password, &peeked.email, None).map_err(|m| ApiError::invalid("new_password", m))?;
    let account = state
        .store
        .user_login(&Email::stored(&peeked.email))
        .await?
        .map(|l| l.user)
        .filter(|u| u.id == peeked.user_id)
        .ok_or_else(|| ApiError::Gone(BAD_LINK.into()))?;
    // A reset of an account with 2FA on needs its second factor too; a claim takes the
    // account back from whoever turned it on.
    if kind == LinkKind::PasswordReset && account.tfa_enabled {
        throttle::check_client(&state, client, &account.email).await?;
        let code = super::tfa::Offered::field(body.code.as_deref());
        super::tfa::second_factor(&state, &account, client, &account.email, code, "password_reset").await?;
    }
    let _turn = state.signin_turns.take(client.0).await?;
    let password_hash = password::hash(&state.hashing, new).await?;
    let (event_kind, what) = match kind {
        LinkKind::AccountClaim => (
            SecurityEventKind::AccountClaimed,
            "you claimed your account: its password was set, two-factor authentication was turned off, and every \
             session and link of it was signed out or voided",
        ),
        _ if !account.email_verified => (
            SecurityEventKind::AccountClaimed,
            "your password was set and your address verified, and every session was signed out",
        ),
        _ => (
            SecurityEventKind::PasswordReset,
            "your password was reset, and every session was signed out",
        ),
    };
    let redemption = LinkRedemption {
        kind,
        hash,
        password_hash,
        event: NewSecurityEvent {
            user_id: account.id,
            kind: event_kind,
            client: Some(client.to_string()),
            data: serde_json::json!({}),
            now,
        },
        mail: links::notice(&state, &account.email, what)?,
    };
    let used = state
        .store
        .redeem_link(redemption)
        .await?
        .ok_or_else(|| ApiError::Gone(BAD_LINK.into()))?;
    tracing::info!(user_id = %used.user_id(), client = %client, kind = kind.as_str(), "password set with a link");
    Ok(Json(PasswordChanged {
        changed: true,
        revoked_tokens: true,
    }))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(change, request_reset, confirm_reset))]
pub struct Doc;
