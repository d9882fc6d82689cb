//! API tokens (created with the password, shown once) and their exchange for JWTs.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, NoQuery, OptionalJson, Path};
use super::openapi::IdPath;
use super::{IdParam, Items};
use crate::auth::client::ClientAddr;
use crate::auth::{self, links, password, throttle, token};
use crate::authz::Permission;
use crate::domain::{Email, Label};
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::SecurityEventKind;
use crate::metrics::Login;
use crate::state::AppState;
use crate::store::{ApiToken, AppRef, Caller, Credential, NewSecurityEvent, NewToken, Store, TokenScope};

/// Most apps one token may be limited to.
pub const MAX_SCOPED_APPS: usize = 100;

/// Body of `POST /v1/tokens` (optional).
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label: 1 to 100 characters once trimmed, no control, bidirectional or zero-width
    /// characters (default `api token`).
    #[schema(min_length = 1)]
    name: Option<String>,
    /// When the token stops working: in the future, and at most `ROLEGATE_TOKEN_MAX_DAYS`
    /// (default 365) days away. Omitted or `null`: that many days from now.
    #[serde(default, deserialize_with = "crate::domain::timestamp::option")]
    expires_at: Option<DateTime<Utc>>,
    /// Permissions the token is limited to, at least one; one named twice counts once. Omitted or
    /// `null`: no limit beyond the user's roles.
    #[schema(value_type = Option<Vec<Permission>>, min_items = 1)]
    permissions: Option<Vec<String>>,
    /// Apps (names or ids) the token is limited to, 1 to 100, each one the user is a member of;
    /// one named twice counts once. Omitted or `null`: every app of the user.
    #[schema(min_items = 1, max_items = 100)]
    apps: Option<Vec<String>>,
}

/// A new token: the only time its secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Id (the `{id}` of `DELETE /v1/tokens/{id}`).
    id: Uuid,
    /// Label.
    name: String,
    /// The secret (`rg_...`), shown this once: use it as a bearer token, or exchange it for a JWT.
    token: String,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// End of validity (`null`: never).
    #[schema(required = true)]
    expires_at: Option<DateTime<Utc>>,
    /// Permissions the token is limited to (`null`: its user's roles decide alone).
    #[schema(required = true)]
    permissions: Option<Vec<Permission>>,
    /// Apps the token is limited to, by id (`null`: every app of its user).
    #[schema(required = true)]
    apps: Option<Vec<Uuid>>,
}

/// Mints an API token for `user_id` (also used by `rolegate users create`).
pub async fn mint(
    store: &dyn Store,
    user_id: Uuid,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
    scope: &TokenScope,
    now: DateTime<Utc>,
) -> ApiResult<(ApiToken, String)> {
    let (secret, hash) = token::generate(token::API_TOKEN_PREFIX).map_err(ApiError::internal)?;
    let new = NewToken {
        id: Uuid::now_v7(),
        user_id,
        name,
        hash: &hash,
        expires_at,
        scope,
        now,
    };
    let token = store.create_token(new).await?;
    Ok((token, secret))
}

/// `POST /v1/tokens` with `Authorization: Basic email:password`. The body is optional: an
/// empty body without `Content-Type` makes an unlimited token named `api token`. An account
/// with two-factor authentication on also needs `X-Rolegate-OTP: <code>` (a code of the
/// authenticator app, or a recovery code); each code works once.
// A `ref` rather than `Option<CreateToken>`: the body is optional, but `null` is not accepted.
#[utoipa::path(post, path = "/v1/tokens",
    request_body(content = ref("#/components/schemas/CreateToken"), content_type = "application/json",
        description = "Optional: without a body (and without `Content-Type`) the token is unlimited and named \
                       `api token`."),
    responses(
        (status = 201, description = "The token, with its secret shown this once.", body = CreatedToken),
        (status = 401, description = "Wrong email or password (`unauthorized`); or, for an account with two-factor \
            authentication on, no `X-Rolegate-OTP` header (`otp-required`, answered with `X-Rolegate-OTP: required`), \
            or a wrong, expired or already used code in it (`otp-invalid`, counted like a wrong password).",
            body = Problem, content_type = "application/problem+json",
            headers(("X-Rolegate-OTP" = String, description = "`required` when a second factor is needed."))),
        (status = 429, description = "Too many failed sign-ins from this client for this email (5 in 15 minutes) \
            or for any email (50), refused until the window passes (`throttled`); or of the account from any client: \
            from the 10th failure in a row each attempt waits, doubling from 1 second to 15 minutes (`throttled`), and \
            the 100th locks password sign-ins until a mailed reset link sets a new password (`account-locked`). Each \
            is refused even with the right password. Also `rate-limited` (`signins_in_flight_per_client`) when another \
            sign-in from this address is still being checked after 10 seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    OptionalJson(body): OptionalJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    const WRONG: &str = "wrong email or password";
    let (email, secret) = auth::basic_credentials(&headers)?;
    // One sign-in in flight per client address: a flood from one address waits behind itself,
    // meets its throttle after its first failures, and holds one hashing slot at most.
    let _turn = state.signin_turns.take(client.0).await?;
    let parsed = Email::lookup(&email);
    // Throttled by the address as typed when it is not one: unknown and malformed emails
    // count exactly like known ones.
    let key = parsed
        .as_ref()
        .map_or(email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let _account_turn = state.account_turns.take(key.clone()).await?;
    let login = match &parsed {
        Ok(normalised) => match state.store.user_login(normalised).await? {
            // An account stored before addresses were kept in NFC is found as it was typed.
            None => match Email::as_typed(&email) {
                Some(typed) if typed != *normalised => state.store.user_login(&typed).await?,
                _ => None,
            },
            found => found,
        },
        Err(_) => None,
    };
    let user_id = login.as_ref().map(|l| l.user.id);
    let checked = match throttle::check(&state, client, &key).await {
        Ok(checked) => checked,
        Err(throttled) => {
            state.metrics.login(Login::Throttled);
            throttle::failed(&state, client, &key, user_id, "throttled").await?;
            return Err(throttled);
        }
    };
    let (user, hash) = match login {
        Some(login) => (Some(login.user), login.password_hash),
        None => (None, None),
    };
    let matches = password::verify(&state.hashing, secret, hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        state.metrics.login(Login::WrongPassword);
        throttle::failed(&state, client, &key, user_id, "wrong_password").await?;
        return Err(ApiError::BadBasicCredentials(WRONG));
    };
    // The password was right; an account with 2FA on needs its second factor too.
    super::tfa::second_factor(
        &state,
        &user,
        client,
        &key,
        super::tfa::Offered::header(&headers),
        "signin",
    )
    .await
    .inspect_err(|err| match err {
        ApiError::OtpRequired { .. } => state.metrics.login(Login::OtpRequired),
        ApiError::OtpInvalid => state.metrics.login(Login::OtpInvalid),
        _ => {}
    })?;
    throttle::succeeded(&state, user.id, checked).await?;
    state.metrics.login(Login::Ok);

    let now = state.clock.now();
    let longest = now + TimeDelta::days(state.config.accounts.token_max_days);
    let mut fields = Fields::default();
    let name = fields.check("name", Label::parse(body.name.as_deref().unwrap_or("api token")));
    match body.expires_at {
        Some(at) if at <= now => fields.push("expires_at", "must be in the future"),
        Some(at) if at > longest => fields.push(
            "expires_at",
            &format!(
                "must be at most {} days away (ROLEGATE_TOKEN_MAX_DAYS)",
                state.config.accounts.token_max_days
            ),
        ),
        _ => {}
    }
    fields.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let scope = scope(&state, user.id, body.permissions, body.apps).await?;
    let (token, secret) = mint(
        state.store.as_ref(),
        user.id,
        name.as_str(),
        Some(body.expires_at.unwrap_or(longest)),
        &scope,
        now,
    )
    .await?;
    tracing::info!(user_id = %user.id, token_id = %token.id, client = %client, "api token created with the password");
    let event = NewSecurityEvent {
        user_id: user.id,
        kind: SecurityEventKind::SigninPassword,
        client: Some(client.to_string()),
        data: serde_json::json!({ "token_id": token.id, "name": token.name, "expires_at": token.expires_at }),
        now,
    };
    state.store.record_security_event(event).await?;
    let created = CreatedToken {
        id: token.id,
        name: token.name,
        token: secret,
        created_at: token.created_at,
        expires_at: token.expires_at,
        permissions: token.permissions,
        apps: token.apps,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Reads a requested scope: known permissions, and apps the user is a member of.
async fn scope(
    state: &AppState,
    user_id: Uuid,
    permissions: Option<Vec<String>>,
    apps: Option<Vec<String>>,
) -> ApiResult<TokenScope> {
    let mut fields = Fields::default();
    let permissions = permissions.map(|names| {
        if names.is_empty() {
            fields.push(
                "permissions",
                "must name at least one permission (omit it for no limit)",
            );
        }
        let mut parsed: Vec<Permission> = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            match Permission::parse(name) {
                // Named twice: kept once, in the order first given.
                Some(permission) if !parsed.contains(&permission) => parsed.push(permission),
                Some(_) => {}
                None => fields.push(&format!("permissions[{i}]"), "is not a permission; see GET /v1/roles"),
            }
        }
        parsed
    });
    let mut app_ids = Vec::new();
    if let Some(apps) = &apps {
        if apps.is_empty() {
            fields.push("apps", "must name at least one app (omit it for no limit)");
        }
        // Refused before any lookup, so a long list costs no queries.
        let checked = if apps.len() > MAX_SCOPED_APPS {
            fields.push("apps", &format!("must name at most {MAX_SCOPED_APPS} apps"));
            &[][..]
        } else {
            &apps[..]
        };
        for (i, app) in checked.iter().enumerate() {
            let found = state.store.app_by_ref(&AppRef::parse(app)).await?;
            let member = match &found {
                Some(app) => state.store.membership_of(app.id, user_id).await?.is_some(),
                None => false,
            };
            match found {
                // An app named twice (or by name and by id) is kept once.
                Some(app) if member => {
                    if !app_ids.contains(&app.id) {
                        app_ids.push(app.id);
                    }
                }
                _ => fields.push(&format!("apps[{i}]"), "is not an app you are a member of"),
            }
        }
    }
    fields.finish()?;
    Ok(TokenScope {
        permissions,
        apps: apps.map(|_| app_ids),
    })
}

/// `GET /v1/tokens`: the caller's live tokens, never their secrets.
#[utoipa::path(get, path = "/v1/tokens", responses(
    (status = 200, description = "Every live token of the caller, in one page.", body = Items<ApiToken>),
))]
pub async fn list(State(state): State<AppState>, caller: Caller, _: NoQuery) -> ApiResult<Json<Items<ApiToken>>> {
    Ok(Json(Items::all(state.store.list_tokens(caller.user.id).await?)))
}

/// `DELETE /v1/tokens/{id}`: revokes the token and every JWT exchanged from it.
#[utoipa::path(delete, path = "/v1/tokens/{id}", params(IdPath), responses(
    (status = 204, description = "Revoked."),
))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    let now = state.clock.now();
    state
        .store
        .revoke_token(caller.user.id, id, now)
        .await
        .on_not_found("token not found")?;
    tracing::info!(user_id = %caller.user.id, token_id = %id, "api token revoked");
    let event = NewSecurityEvent {
        user_id: caller.user.id,
        kind: SecurityEventKind::TokenRevoked,
        client: Some(client.to_string()),
        data: serde_json::json!({ "token_id": id }),
        now,
    };
    state.store.record_security_event(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What revoking every token answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevokedAll {
    /// How many live API tokens were revoked (the caller's included).
    revoked: u64,
}

/// `DELETE /v1/tokens`: revokes every API token of the caller, the one making this request
/// included, and so every JWT: sign out everywhere. A notice goes to the address.
#[utoipa::path(delete, path = "/v1/tokens", responses(
    (status = 200, description = "Every token is revoked; this credential no longer works either.",
        body = RevokedAll),
))]
pub async fn revoke_all(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
) -> ApiResult<Json<RevokedAll>> {
    let now = state.clock.now();
    let event = NewSecurityEvent {
        user_id: caller.user.id,
        kind: SecurityEventKind::TokensRevoked,
        client: Some(client.to_string()),
        data: serde_json::json!({}),
        now,
    };
    let mail = links::notice(
        &state,
        &caller.user.email,
        "every API token of your account was revoked",
    )?;
    let revoked = state.store.revoke_all_tokens(caller.user.id, event, mail).await?;
    tracing::info!(user_id = %caller.user.id, revoked, "every api token revoked");
    Ok(Json(RevokedAll { revoked }))
}

/// A JWT for the dashboard.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Exchanged {
    /// The JWT, to send as `Authorization: Bearer <token>`. It carries the API token's scope.
    token: String,
    /// When the JWT expires.
    expires_at: DateTime<Utc>,
}

/// `POST /v1/tokens/exchange` with `Authorization: Basic :<api token>`.
#[utoipa::path(post, path = "/v1/tokens/exchange", responses(
    (status = 200, description = "A JWT standing for the API token.", body = Exchanged),
))]
pub async fn exchange(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Exchanged>> {
    let (user, password) = auth::basic_credentials(&headers)?;
    // `-u :TOKEN` is the documented form; `-u TOKEN:` is accepted too.
    let secret = if user.is_empty() { password } else { user };
    let hash = token::parse_hash(&secret).ok_or_else(auth::invalid_basic)?;
    let now = state.clock.now();
    let caller = state
        .store
        .authenticate(&Credential::ApiToken { hash }, now)
        .await?
        .ok_or_else(auth::invalid_basic)?;
    let (token, expires_at) = state
        .jwt
        .issue(
            caller.user.id,
            caller.token_id,
            caller.scope.is_scoped().then(|| caller.scope.clone()),
            now,
        )
        .map_err(ApiError::internal)?;
    Ok(Json(Exchanged { token, expires_at }))
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, revoke, revoke_all, exchange), components(schemas(CreateToken)))]
pub struct Doc;
