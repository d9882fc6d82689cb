//! API tokens (created with the password, shown once) and their exchange for JWTs.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, OptionalJson, Path};
use super::openapi::IdPath;
use super::{IdParam, Items};
use crate::auth::{self, password, token};
use crate::authz::Permission;
use crate::domain::{Email, Label};
use crate::error::{ApiError, ApiResult, Fields, ResultExt};
use crate::state::AppState;
use crate::store::{ApiToken, AppRef, Caller, Credential, NewToken, Store, TokenScope};

/// Body of `POST /v1/tokens` (optional).
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label: 1 to 100 characters once trimmed, no control characters (default `api token`).
    #[schema(min_length = 1)]
    name: Option<String>,
    /// When the token stops working; must be in the future. Omitted or `null`: never.
    expires_at: Option<DateTime<Utc>>,
    /// Permissions the token is limited to, at least one. Omitted or `null`: no limit beyond the
    /// user's roles.
    #[schema(value_type = Option<Vec<Permission>>, min_items = 1)]
    permissions: Option<Vec<String>>,
    /// Apps (names or ids) the token is limited to, at least one, each one the user is a member
    /// of. Omitted or `null`: every app of the user.
    #[schema(min_items = 1)]
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
/// empty body without `Content-Type` makes an unlimited token named `api token`.
// A `ref` rather than `Option<CreateToken>`: the body is optional, but `null` is not accepted.
#[utoipa::path(post, path = "/v1/tokens",
    request_body(content = ref("#/components/schemas/CreateToken"), content_type = "application/json",
        description = "Optional: without a body (and without `Content-Type`) the token is unlimited and named \
                       `api token`."),
    responses(
        (status = 201, description = "The token, with its secret shown this once.", body = CreatedToken),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    const WRONG: &str = "wrong email or password";
    let (email, secret) = auth::basic_credentials(&headers)?;
    let login = match Email::parse(&email) {
        Ok(email) => state.store.user_login(&email).await?,
        Err(_) => None,
    };
    let (user, hash) = match login {
        Some(login) => (Some(login.user), login.password_hash),
        None => (None, None),
    };
    let matches = password::verify(secret, hash).await?;
    let user = user.filter(|_| matches).ok_or(ApiError::BadBasicCredentials(WRONG))?;

    let now = state.clock.now();
    let mut fields = Fields::default();
    let name = fields.check("name", Label::parse(body.name.as_deref().unwrap_or("api token")));
    if body.expires_at.is_some_and(|at| at <= now) {
        fields.push("expires_at", "must be in the future");
    }
    fields.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let scope = scope(&state, user.id, body.permissions, body.apps).await?;
    let (token, secret) = mint(
        state.store.as_ref(),
        user.id,
        name.as_str(),
        body.expires_at,
        &scope,
        now,
    )
    .await?;
    tracing::info!(user_id = %user.id, token_id = %token.id, "api token created");
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
        let parsed: Vec<Permission> = names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let parsed = Permission::parse(name);
                if parsed.is_none() {
                    fields.push(&format!("permissions[{i}]"), "is not a permission; see GET /v1/roles");
                }
                parsed
            })
            .collect();
        parsed
    });
    let mut app_ids = Vec::new();
    if let Some(apps) = &apps {
        if apps.is_empty() {
            fields.push("apps", "must name at least one app (omit it for no limit)");
        }
        for (i, app) in apps.iter().enumerate() {
            let found = state.store.app_by_ref(&AppRef::parse(app)).await?;
            let member = match &found {
                Some(app) => state.store.membership_of(app.id, user_id).await?.is_some(),
                None => false,
            };
            match found {
                Some(app) if member => app_ids.push(app.id),
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
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<ApiToken>>> {
    Ok(Json(Items::all(state.store.list_tokens(caller.user.id).await?)))
}

/// `DELETE /v1/tokens/{id}`: revokes the token and every JWT exchanged from it.
#[utoipa::path(delete, path = "/v1/tokens/{id}", params(IdPath), responses(
    (status = 204, description = "Revoked."),
))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_token(caller.user.id, id, state.clock.now())
        .await
        .on_not_found("token not found")?;
    tracing::info!(user_id = %caller.user.id, token_id = %id, "api token revoked");
    Ok(StatusCode::NO_CONTENT)
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
#[openapi(paths(create, list, revoke, exchange), components(schemas(CreateToken)))]
pub struct Doc;
