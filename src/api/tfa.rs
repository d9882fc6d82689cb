//! Two-factor authentication: enrolment, confirmation (with recovery codes shown once),
//! turning it off, new recovery codes; the second factor at sign-in and password reset; and
//! `PUT /v1/apps/{app}/security`, the owner's rule that every member have it on. The rule
//! itself is enforced by the authorization middleware.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::extract::Json;
use super::openapi::AppPath;
use crate::auth::client::ClientAddr;
use crate::auth::tfa::{self, SecondFactor};
use crate::auth::{links, throttle};
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, OTP_HEADER, Problem};
use crate::kinds::SecurityEventKind;
use crate::state::AppState;
use crate::store::{Caller, NewSecurityEvent, Spend, TfaNotice, User, UserRef};

/// What enrolment answers: the secret to put in an authenticator app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The TOTP secret in base32 (RFC 4648), for apps that take it typed.
    secret: String,
    /// The same as an `otpauth://totp/rolegate:<email>?secret=…&issuer=rolegate&…` URI, for a QR
    /// code (SHA-1, 6 digits, 30-second steps).
    uri: String,
}

/// A second factor, in a body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// A 6-digit code of the authenticator app, or (where a recovery code is accepted) a recovery
    /// code `xxxx-xxxx-xxxx-xxxx`.
    #[schema(examples("123456"))]
    code: String,
}

/// Recovery codes, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Always `true`.
    tfa_enabled: bool,
    /// Ten single-use codes (`xxxx-xxxx-xxxx-xxxx`), each usable once instead of a TOTP code.
    /// Only their hashes are stored: they cannot be shown again.
    recovery_codes: Vec<String>,
}

/// Whether two-factor authentication is on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TfaStatus {
    /// Whether two-factor authentication is on.
    tfa_enabled: bool,
}

const ALREADY_ON: &str = "two-factor authentication is already on; turn it off first (DELETE /v1/users/self/tfa)";
const NOT_ON: &str = "two-factor authentication is not on";

/// The notice of a change: its security event and its mail.
fn notice(
    state: &AppState,
    user: &User,
    client: ClientAddr,
    kind: SecurityEventKind,
    data: serde_json::Value,
    what: &str,
) -> ApiResult<TfaNotice> {
    Ok(TfaNotice {
        user_id: user.id,
        event: NewSecurityEvent {
            user_id: user.id,
            kind,
            client: Some(client.to_string()),
            data,
            now: state.clock.now(),
        },
        mail: links::notice(state, &user.email, what)?,
    })
}

/// What `factor` would spend for `user`: a TOTP code checked against the stored secret (its
/// time step), or a recovery code (checked when spent). `None`: the code is wrong.
async fn to_spend(state: &AppState, user: &User, factor: SecondFactor) -> ApiResult<Option<Spend>> {
    match factor {
        SecondFactor::Recovery(hash) => Ok(Some(Spend::Recovery(hash))),
        SecondFactor::Totp(code) => {
            let Some(stored) = state.store.tfa_secret(user.id).await?.filter(|s| s.enabled) else {
                return Ok(None);
            };
            let secret = tfa::open(&state.secrets, user.id, &stored.sealed).map_err(ApiError::internal)?;
            Ok(tfa::check(&secret, &code, state.clock.now()).map(Spend::Step))
        }
    }
}

/// A wrong second factor: counted by the login throttling like a wrong password.
async fn wrong(state: &AppState, client: ClientAddr, key: &str, user: &User) -> ApiError {
    match throttle::failed(state, client, key, Some(user.id), "otp_invalid").await {
        Ok(()) => ApiError::OtpInvalid,
        Err(err) => err,
    }
}

/// Reads a body's code: a 422 naming `code` when it has neither shape.
fn parse_body(code: &str, recovery_allowed: bool) -> ApiResult<SecondFactor> {
    match tfa::parse(code) {
        Ok(SecondFactor::Recovery(_)) if !recovery_allowed => Err(ApiError::invalid(
            "code",
            "must be a 6-digit code from the authenticator app (a recovery code cannot confirm enrolment)",
        )),
        Ok(factor) => Ok(factor),
        Err(message) => Err(ApiError::invalid("code", message)),
    }
}

/// A second factor as a request offers it: the code, if any, and where it goes, which a
/// refusal for want of one names.
pub struct Offered<'a> {
    code: Option<&'a str>,
    via: &'static str,
}

impl<'a> Offered<'a> {
    /// The `X-Rolegate-OTP` header of a sign-in (a value that is not text counts as a wrong
    /// code).
    pub fn header(headers: &'a HeaderMap) -> Offered<'a> {
        Offered {
            code: headers.get(OTP_HEADER).map(|v| v.to_str().unwrap_or("not a code")),
            via: "in the X-Rolegate-OTP header",
        }
    }

    /// The `code` field of a body (a password reset's).
    pub fn field(code: Option<&'a str>) -> Offered<'a> {
        Offered {
            code,
            via: "as the body's `code` field",
        }
    }
}

/// The second factor of a sign-in or a password reset, for an account with 2FA on. Missing:
/// `otp-required`, saying where it goes. Wrong, of the wrong shape, or already used:
/// `otp-invalid`, counted by the login throttling under `key` like a wrong password.
pub async fn second_factor(
    state: &AppState,
    user: &User,
    client: ClientAddr,
    key: &str,
    offered: Offered<'_>,
    purpose: &'static str,
) -> ApiResult<()> {
    if !user.tfa_enabled {
        return Ok(());
    }
    let raw = offered
        .code
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or(ApiError::OtpRequired { via: offered.via })?;
    let Ok(factor) = tfa::parse(raw) else {
        return Err(wrong(state, client, key, user).await);
    };
    let Some(spend) = to_spend(state, user, factor).await? else {
        return Err(wrong(state, client, key, user).await);
    };
    let on_recovery = notice(
        state,
        user,
        client,
        SecurityEventKind::TfaRecoveryCodeUsed,
        serde_json::json!({ "for": purpose }),
        "a recovery code was used instead of a two-factor code",
    )?;
    if !state.store.spend_second_factor(spend, on_recovery).await? {
        return Err(wrong(state, client, key, user).await);
    }
    Ok(())
}

/// `POST /v1/users/self/tfa`: starts enrolment. Answers a new secret; two-factor
/// authentication is on only once `POST /v1/users/self/tfa/confirm` gets a code of it.
/// Starting again before confirming replaces the pending secret.
#[utoipa::path(post, path = "/v1/users/self/tfa", responses(
    (status = 201, description = "Enrolment started: put the secret in an authenticator app, then confirm.",
        body = Enrolment),
    (status = 409, description = "Two-factor authentication is already on (`conflict`), or the address is not \
        verified yet on an installation that sends mail (`email-unverified`).", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
) -> ApiResult<(StatusCode, Json<Enrolment>)> {
    let user = &caller.user;
    if user.tfa_enabled {
        return Err(ApiError::Conflict(ALREADY_ON.into()));
    }
    // Until the address is proven, the account may be a squatter's: a second factor would
    // stand between the owner of the address and the claim of their account. Without mail
    // nobody can prove an address (nor is a claim ever mailed), so the rule would only shut
    // 2FA off on such an installation.
    if !user.email_verified && state.config.accounts.mail.is_some() {
        return Err(ApiError::EmailUnverifiedForTfa);
    }
    let secret = tfa::new_secret().map_err(ApiError::internal)?;
    let sealed = tfa::seal(&state.secrets, user.id, &secret).map_err(ApiError::internal)?;
    let event = NewSecurityEvent {
        user_id: user.id,
        kind: SecurityEventKind::TfaEnrolmentStarted,
        client: Some(client.to_string()),
        data: serde_json::json!({}),
        now: state.clock.now(),
    };
    if !state.store.start_tfa(user.id, &sealed, event).await? {
        return Err(ApiError::Conflict(ALREADY_ON.into()));
    }
    tracing::info!(user_id = %user.id, "two-factor enrolment started");
    let answer = Enrolment {
        secret: tfa::base32(&secret),
        uri: tfa::uri(&secret, &user.email),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `POST /v1/users/self/tfa/confirm`: a code of the pending secret turns two-factor
/// authentication on, and answers ten recovery codes, shown this once. A notice goes to the
/// address.
#[utoipa::path(post, path = "/v1/users/self/tfa/confirm", request_body = CodeBody, responses(
    (status = 200, description = "Two-factor authentication is on; keep the recovery codes somewhere safe.",
        body = RecoveryCodes),
    (status = 401, description = "The code is not a current code of the pending secret (`otp-invalid`).",
        body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "No enrolment is pending (`POST /v1/users/self/tfa` first), or two-factor \
        authentication is already on.", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many failed checks from this client.", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Json(body): Json<CodeBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    let user = &caller.user;
    let SecondFactor::Totp(code) = parse_body(&body.code, false)? else {
        return Err(ApiError::internal("a recovery code passed the check"));
    };
    if user.tfa_enabled {
        return Err(ApiError::Conflict(ALREADY_ON.into()));
    }
    let Some(pending) = state.store.tfa_secret(user.id).await?.filter(|s| !s.enabled) else {
        return Err(ApiError::Conflict(
            "no enrolment is pending: start one with POST /v1/users/self/tfa".into(),
        ));
    };
    let checked = throttle::check(&state, client, &user.email).await?;
    let secret = tfa::open(&state.secrets, user.id, &pending.sealed).map_err(ApiError::internal)?;
    let Some(step) = tfa::check(&secret, &code, state.clock.now()) else {
        return Err(wrong(&state, client, &user.email, user).await);
    };
    throttle::succeeded(&state, user.id, checked).await?;
    let (shown, hashes) = tfa::recovery_codes().map_err(ApiError::internal)?;
    let notice = notice(
        &state,
        user,
        client,
        SecurityEventKind::TfaEnabled,
        serde_json::json!({ "recovery_codes": hashes.len() }),
        "two-factor authentication was turned on",
    )?;
    if !state.store.confirm_tfa(&pending.sealed, step, &hashes, notice).await? {
        // Enrolment was started again, or confirmed, by another request meanwhile.
        return Err(ApiError::Conflict(
            "this enrolment is no longer pending; start again with POST /v1/users/self/tfa".into(),
        ));
    }
    tracing::info!(user_id = %user.id, "two-factor authentication turned on");
    Ok(Json(RecoveryCodes {
        tfa_enabled: true,
        recovery_codes: shown,
    }))
}

/// Reads the body's code for a change that needs 2FA on, and what it would spend.
async fn change_factor(state: &AppState, user: &User, client: ClientAddr, body: &CodeBody) -> ApiResult<Spend> {
    let factor = parse_body(&body.code, true)?;
    if !user.tfa_enabled {
        return Err(ApiError::Conflict(NOT_ON.into()));
    }
    throttle::check(state, client, &user.email).await?;
    match to_spend(state, user, factor).await? {
        Some(spend) => Ok(spend),
        None => Err(wrong(state, client, &user.email, user).await),
    }
}

/// `DELETE /v1/users/self/tfa` with a current code or a recovery code: turns two-factor
/// authentication off, and voids the recovery codes. A notice goes to the address. Apps that
/// require 2FA refuse the account from the next request on.
#[utoipa::path(delete, path = "/v1/users/self/tfa", request_body = CodeBody, responses(
    (status = 200, description = "Two-factor authentication is off.", body = TfaStatus),
    (status = 401, description = "The code is wrong, expired or already used (`otp-invalid`).", body = Problem,
        content_type = "application/problem+json"),
    (status = 409, description = "Two-factor authentication is not on.", body = Problem,
        content_type = "application/problem+json"),
    (status = 429, description = "Too many failed checks from this client.", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Json(body): Json<CodeBody>,
) -> ApiResult<Json<TfaStatus>> {
    let user = &caller.user;
    let spend = change_factor(&state, user, client, &body).await?;
    let notice = notice(
        &state,
        user,
        client,
        SecurityEventKind::TfaDisabled,
        serde_json::json!({ "via": spend.via() }),
        "two-factor authentication was turned off",
    )?;
    if !state.store.disable_tfa(spend, notice).await? {
        return Err(wrong(&state, client, &user.email, user).await);
    }
    tracing::info!(user_id = %user.id, via = spend.via(), "two-factor authentication turned off");
    Ok(Json(TfaStatus { tfa_enabled: false }))
}

/// `POST /v1/users/self/tfa/recovery-codes` with a current code or a recovery code: ten new
/// recovery codes, shown this once; the earlier ones stop working. A notice goes to the
/// address.
#[utoipa::path(post, path = "/v1/users/self/tfa/recovery-codes", request_body = CodeBody, responses(
    (status = 200, description = "The new recovery codes.", body = RecoveryCodes),
    (status = 401, description = "The code is wrong, expired or already used (`otp-invalid`).", body = Problem,
        content_type = "application/problem+json"),
    (status = 409, description = "Two-factor authentication is not on.", body = Problem,
        content_type = "application/problem+json"),
    (status = 429, description = "Too many failed checks from this client.", body = Problem,
        content_type = "application/problem+json", headers(("Retry-After" = String, description = "Seconds to wait."))),
))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Json(body): Json<CodeBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    let user = &caller.user;
    let spend = change_factor(&state, user, client, &body).await?;
    let (shown, hashes) = tfa::recovery_codes().map_err(ApiError::internal)?;
    let notice = notice(
        &state,
        user,
        client,
        SecurityEventKind::TfaRecoveryCodesReplaced,
        serde_json::json!({ "recovery_codes": hashes.len() }),
        "new recovery codes were made for your account; the earlier ones no longer work",
    )?;
    if !state.store.replace_recovery_codes(spend, &hashes, notice).await? {
        return Err(wrong(&state, client, &user.email, user).await);
    }
    tracing::info!(user_id = %user.id, "recovery codes replaced");
    Ok(Json(RecoveryCodes {
        tfa_enabled: true,
        recovery_codes: shown,
    }))
}

/// Body of `PUT /v1/apps/{app}/security`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityBody {
    /// Whether every member must have two-factor authentication on.
    require_tfa: bool,
}

/// The app's rule, and whom it refuses.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppSecurity {
    /// Whether every member must have two-factor authentication on.
    require_tfa: bool,
    /// Members without two-factor authentication, refused on the app's routes until they turn
    /// it on (empty when the rule is off).
    locked_out: Vec<UserRef>,
}

/// `PUT /v1/apps/{app}/security`: requires two-factor authentication of every member, or
/// stops requiring it. While it is on, a member without it gets `403 tfa-required-by-app` on
/// every route of the app but `GET /v1/apps/{app}`, `GET /v1/apps/{app}/permissions` and
/// leaving. The owner must have it on to turn the rule on. A change is an
/// `app.security_changed` event.
#[utoipa::path(put, path = "/v1/apps/{app}/security", params(AppPath), request_body = SecurityBody, responses(
    (status = 200, description = "The rule as it is now, with the members it refuses.", body = AppSecurity),
    (status = 409, description = "The owner's own two-factor authentication is off: turn it on first.",
        body = Problem, content_type = "application/problem+json"),
))]
pub async fn set_security(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<SecurityBody>,
) -> ApiResult<Json<AppSecurity>> {
    const OWN_FIRST: &str = "turn on your own two-factor authentication (POST /v1/users/self/tfa) before \
                             requiring it of the app's members";
    if body.require_tfa && !ctx.caller.user.tfa_enabled {
        return Err(ApiError::Conflict(OWN_FIRST.into()));
    }
    let changed = state
        .store
        .set_require_tfa(&ctx.app, body.require_tfa, &ctx.caller.user.to_ref(), state.clock.now())
        .await?
        .ok_or_else(|| ApiError::Conflict(OWN_FIRST.into()))?;
    tracing::info!(app_id = %ctx.app.id, require_tfa = body.require_tfa, locked_out = changed.locked_out.len(),
        "app two-factor rule set");
    Ok(Json(AppSecurity {
        require_tfa: changed.app.require_tfa,
        locked_out: changed.locked_out,
    }))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(enrol, confirm, disable, recovery_codes, set_security))]
pub struct Doc;
