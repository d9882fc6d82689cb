//! Passwords that can be rotated: change (with "sign out everywhere"), and reset by a link
//! sent to the address (which also claims an unverified account).

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
use crate::store::{Caller, LinkKind, NewSecurityEvent, PasswordChange, Revoke};

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
    (status = 429, description = "Too many failed password checks from this client.", body = Problem,
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
    throttle::check(&state, client, &user.email).await?;
    let stored = state
        .store
        .user_login(&Email::stored(&user.email))
        .await?
        .and_then(|l| l.password_hash);
    if !password::verify(&state.hashing, body.current_password, stored).await? {
        throttle::failed(&state, client, &user.email, Some(user.id), "wrong_password").await?;
        return Err(ApiError::invalid("current_password", "is not the account's password"));
    }
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
        verified_email: None,
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
    /// The `rgr_…` token from the link's fragment.
    token: String,
    /// The new password: 12 to 1024 characters, hard to guess, not containing the address.
    #[schema(min_length = 12, max_length = 1024)]
    new_password: String,
    /// For an account with two-factor authentication on: a code of the authenticator app, or a
    /// recovery code. Without it such an account's reset is refused (`otp-required`) and the
    /// link stays usable.
    code: Option<String>,
}

/// `POST /v1/users/password-reset/confirm`: sets the password with a reset link, verifies
/// the address it was sent to, and revokes every API token and JWT of the account.
#[utoipa::path(post, path = "/v1/users/password-reset/confirm", request_body = ConfirmReset, responses(
    (status = 200, description = "The password is set; sign in with it.", body = PasswordChanged),
    (status = 401, description = "The account has two-factor authentication on, and `code` is missing \
        (`otp-required`) or wrong, expired or already used (`otp-invalid`); the link stays usable.",
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
    let hash = fields.check(
        "token",
        links::parse(LinkKind::PasswordReset, &body.token).ok_or("is not a password-reset token (rgr_…)"),
    );
    // The policy is checked with the address before the link is spent on a weak password.
    if let Err(m) = password::policy(body.new_password.clone(), "", None) {
        fields.push("new_password", &m);
    }
    fields.finish()?;
    let Some(hash) = hash else {
        return Err(ApiError::internal("validated token missing"));
    };
    let now = state.clock.now();
    // An account with 2FA on needs its second factor before the link is spent, so a missing
    // or mistyped code leaves the link usable.
    if let Some(link) = state.store.peek_link(LinkKind::PasswordReset, &hash, now).await? {
        let account = state.store.user_login(&Email::stored(&link.email)).await?;
        if let Some(user) = account
            .map(|l| l.user)
            .filter(|u| u.id == link.user_id && u.tfa_enabled)
        {
            throttle::check(&state, client, &user.email).await?;
            let code = super::tfa::Offered::field(body.code.as_deref());
            super::tfa::second_factor(&state, &user, client, &user.email, code, "password_reset").await?;
        }
    }
    let used = state
        .store
        .use_link(LinkKind::PasswordReset, &hash, now)
        .await?
        .ok_or_else(|| ApiError::Gone("this link is unknown, already used or expired".into()))?;
    let new =
        password::policy(body.new_password, &used.email, None).map_err(|m| ApiError::invalid("new_password", m))?;
    let was_verified = state
        .store
        .user_login(&Email::stored(&used.email))
        .await?
        .is_some_and(|l| l.user.email_verified);
    let hash = password::hash(&state.hashing, new).await?;
    let kind = if was_verified {
        SecurityEventKind::PasswordReset
    } else {
        SecurityEventKind::AccountClaimed
    };
    let change = PasswordChange {
        user_id: used.user_id,
        hash,
        revoke: Revoke::Everything,
        verified_email: Some(used.email.clone()),
        event: NewSecurityEvent {
            user_id: used.user_id,
            kind,
            client: Some(client.to_string()),
            data: serde_json::json!({}),
            now,
        },
        mail: links::notice(
            &state,
            &used.email,
            "your password was reset, and every session was signed out",
        )?,
    };
    state.store.set_password(change).await?;
    tracing::info!(user_id = %used.user_id, client = %client, "password reset");
    Ok(Json(PasswordChanged {
        changed: true,
        revoked_tokens: true,
    }))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(change, request_reset, confirm_reset))]
pub struct Doc;
