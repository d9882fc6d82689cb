//! Accounts: sign-up, the caller, address verification and the account's security history.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cursor::{self, Listing};
use super::extract::{Json, Query};
use super::{Items, PageQuery};
use crate::auth::client::ClientAddr;
use crate::auth::{links, password};
use crate::config::Signup;
use crate::domain::{Email, Label};
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::SecurityEventKind;
use crate::mail;
use crate::state::AppState;
use crate::store::{Caller, LinkKind, NewSecurityEvent, NewUser, SecurityEvent, User};

/// Body of `POST /v1/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// An email address such as `ada@example.com`, at most 254 characters once trimmed, without
    /// bidirectional or zero-width controls or `:`; stored lower-cased and in Unicode NFC.
    #[schema(format = Email, min_length = 1, examples("ada@example.com"))]
    email: String,
    /// 12 to 1024 characters, hard to guess (zxcvbn score 3 or 4 of 4) and not containing the
    /// address.
    #[schema(min_length = 12, max_length = 1024)]
    password: String,
    /// Display name: 1 to 100 characters once trimmed, no control, bidirectional or zero-width
    /// characters.
    #[schema(min_length = 1)]
    name: Option<String>,
}

/// The message of a 409 on a taken email.
pub const EMAIL_TAKEN: &str = "an account with this email already exists";

/// `POST /v1/users`: sign up. The account starts unverified; a verification mail goes to the
/// address when mail is configured. An address held by an **unverified** account is not
/// refused: the answer is the same as for a new account, and the address is sent a link to
/// claim that account (`rgc_`, at most one a minute), so whoever signed up with someone else's
/// address first blocks nobody.
#[utoipa::path(post, path = "/v1/users", request_body = SignUp, responses(
    (status = 201, description = "The account was created (or, for an address an unverified account holds, its \
        owner was mailed a link to claim it: the answer looks the same).", body = User),
    (status = 403, description = "Sign-up is closed on this installation.", body = Problem,
        content_type = "application/problem+json"),
    (status = 409, description = "A verified account with this email already exists.", body = Problem,
        content_type = "application/problem+json"),
    (status = 429, description = "The address's owner was mailed a link to claim its unverified account less than a \
        minute ago (`rate-limited`, `claim_links_per_minute`); or another sign-up or sign-in from this client is still \
        being checked (`signins_in_flight_per_client`).", body = Problem, content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn create(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(body): Json<SignUp>,
) -> ApiResult<(StatusCode, Json<User>)> {
    if state.config.signup == Signup::Closed {
        return Err(ApiError::Forbidden(
            "sign-up is closed on this installation; ask an administrator for an account".into(),
        ));
    }
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let parsed_name = body.name.as_deref().map(Label::parse);
    // The policy looks at the address and the name even when they have mistakes of their own,
    // so every bad field is reported at once.
    let email_text = email
        .as_ref()
        .map_or(body.email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let name_text = parsed_name.as_ref().and_then(|n| n.as_ref().ok()).map(Label::as_str);
    let password = match password::policy(body.password, &email_text, name_text) {
        Ok(p) => Some(p),
        Err(m) => {
            fields.push("password", &m);
            None
        }
    };
    let name = parsed_name.and_then(|n| fields.check("name", n));
    fields.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let _turn = state.signin_turns.take(client.0).await?;
    // Hashed whatever happens next, so a claim takes the time of a sign-up.
    let hash = password::hash(&state.hashing, password).await?;
    let now = state.clock.now();
    if let Some(held) = state.store.user_login(&email).await? {
        if held.user.email_verified {
            return Err(ApiError::Conflict(EMAIL_TAKEN.into()));
        }
        claim(&state, held.user.id, &email, client).await?;
        let lookalike = User {
            id: Uuid::now_v7(),
            email: email.into_inner(),
            name: name.map(Label::into_inner),
            created_at: now,
            email_verified: false,
            tfa_enabled: false,
        };
        return Ok((StatusCode::CREATED, Json(lookalike)));
    }
    let new = NewUser {
        id: Uuid::now_v7(),
        email: &email,
        name: name.as_ref().map(Label::as_str),
        password_hash: Some(&hash),
        email_verified: false,
        link: links::issue(&state, LinkKind::VerifyEmail, email.as_str(), mail::verification)?,
        now,
    };
    let user = state.store.create_user(new).await.on_conflict(EMAIL_TAKEN)?;
    tracing::info!(user_id = %user.id, "user signed up");
    Ok((StatusCode::CREATED, Json(user)))
}

/// At most one link of `kind` a minute per account: a `429 rate-limited` naming `limit` (not a
/// throttling of failures: a limit of one link a minute, said as such).
async fn once_a_minute(
    state: &AppState,
    user_id: Uuid,
    kind: LinkKind,
    limit: &'static str,
    what: &str,
) -> ApiResult<()> {
    let Some(last) = state.store.last_link_at(user_id, kind).await? else {
        return Ok(());
    };
    let wait = (last + chrono::TimeDelta::minutes(1) - state.clock.now()).num_seconds();
    if wait <= 0 {
        return Ok(());
    }
    let wait = u64::try_from(wait).unwrap_or(60);
    Err(ApiError::RateLimited {
        limit,
        max: 1,
        retry_after: wait,
        detail: format!("{what} less than a minute ago; ask again in {wait} seconds"),
    })
}

/// Mails the owner of `email` the link that takes back the unverified account `user_id`
/// holds with it: at most one a minute per address, like verification links.
async fn claim(state: &AppState, user_id: Uuid, email: &Email, client: ClientAddr) -> ApiResult<()> {
    let now = state.clock.now();
    once_a_minute(
        state,
        user_id,
        LinkKind::AccountClaim,
        "claim_links_per_minute",
        "a link to claim the account of this address was mailed",
    )
    .await?;
    if let Some(link) = links::issue(state, LinkKind::AccountClaim, email.as_str(), mail::account_claim)? {
        state.store.issue_link(user_id, link, now).await?;
    }
    tracing::info!(user_id = %user_id, client = %client, "sign-up with the address of an unverified account");
    Ok(())
}

/// `GET /v1/users/self`.
#[utoipa::path(get, path = "/v1/users/self", responses(
    (status = 200, description = "The caller's account.", body = User),
))]
pub async fn me(caller: Caller) -> Json<User> {
    Json(caller.user)
}

/// Body of `POST /v1/users/verify-email`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    /// The `rgv_…` token from the verification link's fragment.
    token: String,
}

/// What a verification answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Verified {
    /// The address now verified.
    email: String,
    /// Always `true`.
    email_verified: bool,
}

const BAD_LINK: &str = "this link is unknown, already used or expired";

/// `POST /v1/users/verify-email`: proves the address with the link of the verification
/// mail. Public: the token is the proof. Each link works once, and voids the account's
/// outstanding reset and claim links.
#[utoipa::path(post, path = "/v1/users/verify-email", request_body = VerifyEmail, responses(
    (status = 200, description = "The address is verified.", body = Verified),
    (status = 410, description = "The link is unknown, already used or expired.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(body): Json<VerifyEmail>,
) -> ApiResult<Json<Verified>> {
    let hash = links::parse(LinkKind::VerifyEmail, &body.token)
        .ok_or_else(|| ApiError::invalid("token", "is not a verification token (rgv_…)"))?;
    let now = state.clock.now();
    let used = state
        .store
        .redeem_verification(&hash, Some(client.to_string()), now)
        .await?
        .ok_or_else(|| ApiError::Gone(BAD_LINK.into()))?;
    tracing::info!(user_id = %used.user_id(), "email verified");
    Ok(Json(Verified {
        email: used.email().to_owned(),
        email_verified: true,
    }))
}

/// `POST /v1/users/self/verify-email/resend`: sends a new verification link (at most one a
/// minute).
#[utoipa::path(post, path = "/v1/users/self/verify-email/resend", responses(
    (status = 202, description = "A new link is on its way."),
    (status = 409, description = "The address is already verified, or no mail can be sent on this installation.",
        body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "A link was sent less than a minute ago.", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn resend_verification(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
) -> ApiResult<StatusCode> {
    let user = &caller.user;
    if user.email_verified {
        return Err(ApiError::Conflict("the address is already verified".into()));
    }
    let now = state.clock.now();
    once_a_minute(
        &state,
        user.id,
        LinkKind::VerifyEmail,
        "verification_links_per_minute",
        "a verification link was sent",
    )
    .await?;
    let link = links::issue(&state, LinkKind::VerifyEmail, &user.email, mail::verification)?.ok_or_else(|| {
        ApiError::Conflict("no mail can be sent on this installation (ROLEGATE_SMTP_URL is unset)".into())
    })?;
    state.store.issue_link(user.id, link, now).await?;
    let event = NewSecurityEvent {
        user_id: user.id,
        kind: SecurityEventKind::VerificationSent,
        client: Some(client.to_string()),
        data: serde_json::json!({ "email": user.email }),
        now,
    };
    state.store.record_security_event(event).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v1/users/self/security-events`: the account's own security history, newest first.
#[utoipa::path(get, path = "/v1/users/self/security-events", params(PageQuery), responses(
    (status = 200, description = "A page of the history, newest first.",
        body = Items<SecurityEvent>),
))]
pub async fn security_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Items<SecurityEvent>>> {
    let limit = q.limit()?;
    let rows = state
        .store
        .security_events(caller.user.id, q.after_id(&state, Listing::SecurityEvents)?, limit + 1)
        .await?;
    Ok(Json(Items::page(rows, limit, |e| {
        cursor::of_id(&state.secrets, Listing::SecurityEvents, e.id)
    })))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, me, verify_email, resend_verification, security_events))]
pub struct Doc;
