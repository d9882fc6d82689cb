//! Extractors whose rejections are problem+json like every other error.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body or response. As a body it requires `Content-Type: application/json`
/// and rejects unknown fields (the target types say `deny_unknown_fields`).
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse(&bytes).map(Json)
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// A JSON body that may be absent: an empty body reads as `T::default()`, whatever its
/// `Content-Type` (generated clients send `application/json` with no body).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&request);
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        parse(&bytes).map(OptionalJson)
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("could not read the request body: {}", rejection.body_text()))
    }
}

/// Deserialises a JSON object, telling syntax errors (400) from fields of the wrong shape
/// (422). Every body of the API is an object: an array, a string, a number or a literal is
/// refused as such, not read as a struct's fields in order (which serde would allow).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: a truncated body is a 400 whatever its first field, not a 422 about a
    // field the target type happens to meet before the end.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::invalid("", "the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            let message = inner.to_string();
            let field = match (path.as_str(), missing_field(&message)) {
                (".", Some(name)) => name.to_owned(),
                (".", None) => String::new(),
                (_, Some(name)) => format!("{path}.{name}"),
                (_, None) => path,
            };
            // serde appends " at line 1 column 12"; the field name says where.
            let message = message.split(" at line ").next().unwrap_or(&message);
            ApiError::Validation(vec![FieldError {
                field,
                message: plain(message),
            }])
        } else {
            ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The field serde names in "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde's message about a value, in the API's words: what the field must be, never a Rust
/// type (`u32`, `struct CreateApp with 2 elements`, `UUID parsing failed`).
pub fn plain(message: &str) -> String {
    if message.starts_with("missing field") {
        return "is required".into();
    }
    if message.starts_with("unknown field") {
        let expected = message.split_once("expected ").map_or("", |(_, e)| e);
        let expected = expected.trim_start_matches("one of ").replace('`', "");
        return if expected.is_empty() {
            "is not a field of this request".into()
        } else {
            format!("is not a field of this request (the fields are: {expected})")
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        // "unknown variant `x`, expected one of `a`, `b`" / "expected `a` or `b`"
        let expected = rest.split_once("expected ").map_or("", |(_, e)| e);
        let expected = expected.trim_start_matches("one of ").replace('`', "");
        return if expected.is_empty() {
            "is not an allowed value".into()
        } else {
            format!("must be one of: {expected}")
        };
    }
    if message.starts_with("duplicate field") {
        return "is given twice".into();
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .or_else(|| message.strip_prefix("invalid length "))
    {
        let expected = rest.split_once("expected ").map_or("", |(_, e)| e);
        let out_of_range = message.starts_with("invalid value: integer") && is_number(expected);
        return if out_of_range {
            format!("must be {}", range_of(expected))
        } else {
            format!("must be {}", kind_of(expected))
        };
    }
    if message.contains("UUID parsing failed") || message.contains("invalid character: expected an optional prefix") {
        return "must be a UUID".into();
    }
    if [
        "premature end of input",
        "input contains invalid characters",
        "input is out of range",
        "trailing input",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        return "must be an RFC 3339 timestamp, such as 2026-12-31T23:59:59Z".into();
    }
    message.to_owned()
}

fn is_number(expected: &str) -> bool {
    matches!(
        expected,
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" | "f32" | "f64"
    )
}

/// What serde's `expected` names, said for people.
fn kind_of(expected: &str) -> String {
    let expected = expected.trim();
    if is_number(expected) {
        return if expected.starts_with('f') {
            "a number".into()
        } else {
            range_of(expected)
        };
    }
    let said = match expected {
        e if e.starts_with("struct ") || e == "a map" || e.starts_with("internally tagged enum") => "an object",
        e if e.starts_with("a sequence") || e.starts_with("tuple") || e.contains("elements") => "an array",
        "a string" | "a borrowed string" | "a string or bytes" => "a string",
        "a boolean" => "true or false",
        "a UUID string" | "UUID" => "a UUID",
        e if e.contains("RFC 3339") || e.contains("date and time") || e.contains("timestamp") => {
            "an RFC 3339 timestamp, such as 2026-12-31T23:59:59Z"
        }
        "" => "a value of another type",
        // serde's other expectations are already in words ("a permission such as app.read").
        e => e,
    };
    said.into()
}

/// The range of an integer type, said for people.
fn range_of(expected: &str) -> String {
    let (min, max): (i128, i128) = match expected {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    format!("a whole number from {min} to {max}")
}

/// Path parameters; a malformed one (a bad UUID) is a 400 naming it.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::BadRequest(path_problem(e.kind()))),
            Err(e) => Err(ApiError::internal(e.body_text())),
        }
    }
}

/// A malformed path parameter, named, in the API's words.
fn path_problem(kind: &ErrorKind) -> String {
    let said = |expected: &str| {
        if expected.contains("Uuid") {
            "a UUID".to_owned()
        } else if is_number(expected) {
            range_of(expected)
        } else {
            "a valid value".to_owned()
        }
    };
    match kind {
        ErrorKind::ParseErrorAtKey { key, expected_type, .. } => {
            format!("the path parameter `{key}` must be {}", said(expected_type))
        }
        ErrorKind::ParseErrorAtIndex { expected_type, .. } | ErrorKind::ParseError { expected_type, .. } => {
            format!("a path parameter must be {}", said(expected_type))
        }
        ErrorKind::InvalidUtf8InPathParam { key } => format!("the path parameter `{key}` is not valid UTF-8"),
        ErrorKind::DeserializeError { key, message, .. } => {
            format!("the path parameter `{key}` {}", plain(message))
        }
        _ => "a path parameter is malformed".to_owned(),
    }
}

/// Query parameters; a malformed one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}
