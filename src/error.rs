//! The one error type of the API and its `application/problem+json` rendering (RFC 9457).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authz::{Permission, Role};
use crate::store::StoreError;

/// The header that carries a second factor at sign-in, and answers `required` when one is
/// needed.
pub const OTP_HEADER: &str = "x-rolegate-otp";

/// A field that failed validation, reported in a 422's `errors`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON field (dotted path for nested fields).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad query string, bad id).
    #[error("{0}")]
    BadRequest(String),
    /// 401: credentials are missing, malformed, expired, wrongly signed or revoked.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 401 on the routes that take HTTP Basic credentials.
    #[error("{0}")]
    BadBasicCredentials(&'static str),
    /// 403 on an app: the member's role lacks the permission.
    #[error("your role ({role}) does not allow {permission}")]
    MissingPermission {
        /// The permission the route needs.
        permission: Permission,
        /// The caller's role on the app.
        role: Role,
    },
    /// 403: the API token's scope lacks the permission, whatever the role allows.
    #[error("this API token's scope does not include {permission}")]
    OutOfScope {
        /// The permission the route needs.
        permission: Permission,
    },
    /// 401: the password (or the reset link) was right, but the account has two-factor
    /// authentication on and no code came with it. `via` says where the code goes: the
    /// `X-Rolegate-OTP` header of a sign-in, the `code` field of a password reset. Answered
    /// with `X-Rolegate-OTP: required`.
    #[error(
        "this account has two-factor authentication on: send a code of the authenticator app (or a recovery code) \
         {via}"
    )]
    OtpRequired {
        /// Where the code goes, as the detail says it.
        via: &'static str,
    },
    /// 401: the second factor is wrong, expired or already used.
    #[error("the two-factor code is wrong, expired or already used")]
    OtpInvalid,
    /// 403: the app requires two-factor authentication of every member, and the caller has it off.
    #[error(
        "this app requires two-factor authentication of every member: turn it on (POST /v1/users/self/tfa) \
         to reach the app"
    )]
    TfaRequiredByApp,
    /// 403 for any other reason.
    #[error("{0}")]
    Forbidden(String),
    /// 403: the route needs an address its owner proved.
    #[error(
        "verify your email address first: open the link of the verification mail (or ask for a new one with POST /v1/users/self/verify-email/resend)"
    )]
    EmailUnverified,
    /// 409: two-factor authentication needs an address its owner proved (a squatter must not
    /// be able to lock the owner of the address out of a claim).
    #[error(
        "verify your email address before turning on two-factor authentication: open the link of the verification \
         mail (or ask for a new one with POST /v1/users/self/verify-email/resend)"
    )]
    EmailUnverifiedForTfa,
    /// 429: the account had 100 failed sign-ins in a row; a mailed reset link unlocks it.
    #[error(
        "sign-in to this account is locked after 100 failed attempts in a row; set a new password with a reset \
         link (POST /v1/users/password-reset) to unlock it"
    )]
    AccountLocked,
    /// 404.
    #[error("{0}")]
    NotFound(&'static str),
    /// 405: the route exists but not with this method.
    #[error("this route does not accept this method")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 410: the thing existed but can no longer be used.
    #[error("{0}")]
    Gone(String),
    /// 413.
    #[error(
        "the request body is larger than this route accepts (64 KiB; 1 MiB on the variable routes, \
         2 MiB on the platform's log and metric routes)"
    )]
    PayloadTooLarge,
    /// 408: the client stalled (its headers or its body made no progress in time); the
    /// connection is closed.
    #[error("{0}")]
    RequestTimeout(&'static str),
    /// 414: the request target is longer than the server reads.
    #[error("the request target (path and query) is longer than 8 KiB")]
    UriTooLong,
    /// 431: the request's header fields are too many or too large.
    #[error("the request has too many header fields or they are too large (at most 100 fields and 32 KiB in all)")]
    HeadersTooLarge,
    /// 406: none of the formats the route answers is acceptable.
    #[error("{0}")]
    NotAcceptable(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 with one entry per bad field.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: a quota would be exceeded.
    #[error("{detail}")]
    Quota {
        /// The quota's name, such as `apps_per_owner`.
        limit: &'static str,
        /// Its value.
        max: u64,
        /// What was refused, for people.
        detail: String,
    },
    /// 429: too many failed attempts; retry after the given number of seconds.
    #[error("too many failed sign-in attempts; retry in {0} seconds")]
    Throttled(u64),
    /// 429: a rate limit is spent; retry after `retry_after` seconds.
    #[error("{detail}")]
    RateLimited {
        /// The limit's name, such as `orders_per_minute`.
        limit: &'static str,
        /// Its value.
        max: u64,
        /// Seconds until a request would be accepted.
        retry_after: u64,
        /// What was refused, for people.
        detail: String,
    },
    /// 503: the store is unreachable or saturated; retry shortly.
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable,
    /// 500: logged with the request id, answered with a generic body.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// A 500 from anything that went wrong inside.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(err.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_)
            | ApiError::BadBasicCredentials(_)
            | ApiError::OtpRequired { .. }
            | ApiError::OtpInvalid => StatusCode::UNAUTHORIZED,
            ApiError::TfaRequiredByApp
            | ApiError::MissingPermission { .. }
            | ApiError::OutOfScope { .. }
            | ApiError::Forbidden(_)
            | ApiError::EmailUnverified => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::EmailUnverifiedForTfa => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Quota { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Throttled(_) | ApiError::RateLimited { .. } | ApiError::AccountLocked => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) | ApiError::BadBasicCredentials(_) => "unauthorized",
            ApiError::MissingPermission { .. } => "missing-permission",
            ApiError::OutOfScope { .. } => "token-scope",
            ApiError::OtpRequired { .. } => "otp-required",
            ApiError::OtpInvalid => "otp-invalid",
            ApiError::TfaRequiredByApp => "tfa-required-by-app",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::EmailUnverified | ApiError::EmailUnverifiedForTfa => "email-unverified",
            ApiError::AccountLocked => "account-locked",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::Gone(_) => "gone",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::RequestTimeout(_) => "request-timeout",
            ApiError::UriTooLong => "uri-too-long",
            ApiError::HeadersTooLarge => "headers-too-large",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation(_) => "validation",
            ApiError::Quota { .. } => "quota-exceeded",
            ApiError::Throttled(_) => "throttled",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// The problem+json body of every error (RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// `urn:rolegate:problem:<slug>`, such as `urn:rolegate:problem:missing-permission`.
    #[serde(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for people.
    detail: String,
    /// On 422: one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// On 403: the permission the route needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    required_permission: Option<Permission>,
    /// On 403 `missing-permission`: the caller's role on the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    /// On 422 `quota-exceeded` and 429 `rate-limited`: the limit's name, such as `apps_per_owner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<&'static str>,
    /// With `limit`: its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
}

impl ApiError {
    /// The problem+json body of this error (RFC 9457).
    pub fn problem_body(&self) -> Vec<u8> {
        let status = self.status();
        let (required_permission, role) = match self {
            ApiError::MissingPermission { permission, role } => (Some(*permission), Some(*role)),
            ApiError::OutOfScope { permission } => (Some(*permission), None),
            _ => (None, None),
        };
        let errors = match self {
            ApiError::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let (limit, max) = match self {
            ApiError::Quota { limit, max, .. } | ApiError::RateLimited { limit, max, .. } => (Some(*limit), Some(*max)),
            _ => (None, None),
        };
        let problem = Problem {
            kind: format!("urn:rolegate:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            errors,
            required_permission,
            role,
            limit,
            max,
        };
        serde_json::to_vec(&problem).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(err) = &self {
            // The request span carries the request id; the client sees nothing of this.
            tracing::error!(error = %err, source = ?err.source(), "internal error");
        }
        let body = self.problem_body();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"rolegate\""),
                );
            }
            ApiError::BadBasicCredentials(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"rolegate\""),
                );
            }
            ApiError::OtpRequired { .. } => {
                headers.insert(OTP_HEADER, HeaderValue::from_static("required"));
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // The client stalled or sent what the server does not read: the connection
            // is not reused.
            ApiError::RequestTimeout(_) | ApiError::UriTooLong | ApiError::HeadersTooLarge => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::Throttled(seconds)
            | ApiError::RateLimited {
                retry_after: seconds, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound("not found"),
            StoreError::Conflict(what) => ApiError::Conflict(what.to_string()),
            StoreError::Quota { limit, max } => ApiError::Quota {
                limit,
                max,
                detail: format!("{} ({max}); see the quotas in docs/api.md", quota_words(limit)),
            },
            StoreError::RateLimited {
                limit,
                max,
                retry_after,
            } => ApiError::RateLimited {
                limit,
                max,
                retry_after,
                detail: format!("{} ({max}); retry in {retry_after} seconds", quota_words(limit)),
            },
            StoreError::OutOfRange => ApiError::BadRequest("a value in the request is out of range".into()),
            StoreError::Unavailable(_) | StoreError::ReadOnly => ApiError::Unavailable,
            StoreError::Other(err) => ApiError::Internal(err),
        }
    }
}

/// What a quota bounds, for people.
fn quota_words(limit: &str) -> &'static str {
    match limit {
        "apps_per_owner" => "you own as many apps as one user may",
        "variables_per_app" => "the app has as many variables as one app may",
        "variable_bytes_per_app" => "the app's variable values would take more bytes than one app may hold",
        "members_per_app" => "the app has as many members and pending invitations as one app may",
        "orders_per_minute" => "you have asked the platform to act on this app as often as one member may in a minute",
        _ => "a quota would be exceeded",
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Collects field errors so one 422 reports every bad field at once.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// Keeps the value, or records the field's error.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, &'static str>) -> Option<T> {
        parsed
            .map_err(|message| self.0.push(FieldError::new(field, message)))
            .ok()
    }

    /// Records an error.
    pub fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// `Err(422)` if anything was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// Turns the store's generic outcomes into the answer this call gives.
pub trait ResultExt<T> {
    /// Maps a `Conflict` to `ApiError::Conflict(message)`, other errors as usual.
    fn on_conflict(self, message: &str) -> Result<T, ApiError>;
    /// Maps a `NotFound` to `ApiError::NotFound(message)`, other errors as usual.
    fn on_not_found(self, message: &'static str) -> Result<T, ApiError>;
}

impl<T> ResultExt<T> for Result<T, StoreError> {
    fn on_conflict(self, message: &str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict(message.to_owned()),
            other => other.into(),
        })
    }

    fn on_not_found(self, message: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(message),
            other => other.into(),
        })
    }
}
