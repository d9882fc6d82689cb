//! Accounts.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::Json;
use crate::auth::password;
use crate::config::Signup;
use crate::domain::{Email, Label, Password};
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::state::AppState;
use crate::store::{Caller, NewUser, User};

/// Body of `POST /v1/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// An email address such as `ada@example.com`, at most 254 characters once trimmed; stored
    /// lower-cased.
    #[schema(format = Email, min_length = 1, examples("ada@example.com"))]
    email: String,
    /// 10 to 1024 characters.
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
    /// Display name: 1 to 100 characters once trimmed, no control characters.
    #[schema(min_length = 1)]
    name: Option<String>,
}

/// The message of a 409 on a taken email.
pub const EMAIL_TAKEN: &str = "an account with this email already exists";

/// `POST /v1/users`: sign up.
#[utoipa::path(post, path = "/v1/users", request_body = SignUp, responses(
    (status = 201, description = "The account was created.", body = User),
    (status = 403, description = "Sign-up is closed on this installation.", body = Problem,
        content_type = "application/problem+json"),
    (status = 409, description = "An account with this email already exists.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn create(State(state): State<AppState>, Json(body): Json<SignUp>) -> ApiResult<(StatusCode, Json<User>)> {
    if state.config.signup == Signup::Closed {
        return Err(ApiError::Forbidden(
            "sign-up is closed on this installation; ask an administrator for an account".into(),
        ));
    }
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let password = fields.check("password", Password::parse(body.password));
    let name = body.name.as_deref().and_then(|n| fields.check("name", Label::parse(n)));
    fields.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let hash = password::hash(password).await?;
    let new = NewUser {
        id: Uuid::now_v7(),
        email: &email,
        name: name.as_ref().map(Label::as_str),
        password_hash: Some(&hash),
        now: state.clock.now(),
    };
    let user = state.store.create_user(new).await.on_conflict(EMAIL_TAKEN)?;
    tracing::info!(user_id = %user.id, "user signed up");
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /v1/users/self`.
#[utoipa::path(get, path = "/v1/users/self", responses(
    (status = 200, description = "The caller's account.", body = User),
))]
pub async fn me(caller: Caller) -> Json<User> {
    Json(caller.user)
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, me))]
pub struct Doc;
