//! Extractors whose rejections are problem+json like every other error.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
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

/// A JSON body whose strings may hold NUL characters, for the one route that must take them
/// (the platform's log lines, where a batch is not refused for one stray byte). The handler
/// decides what becomes of them before anything reaches the store.
pub struct JsonWithNul<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonWithNul<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse_object(&bytes).map(JsonWithNul)
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
    // A body that yielded nothing for the body timeout (see `crate::connection`).
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&rejection);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout("the request body made no progress in time; the connection is closed");
        }
        cause = err.source();
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("could not read the request body: {}", rejection.body_text()))
    }
}

/// Deserialises a JSON object, telling syntax errors (400) from fields of the wrong shape
/// (422). Every body of the API is an object: an array, a string, a number or a literal is
/// refused as such, not read as a struct's fields in order (which serde would allow). A
/// string holding a NUL character (`\u0000`) is a 422 naming its field, whatever the route:
/// Postgres cannot store one and SQLite can, so it is refused before either sees it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_object(bytes)?;
    if let Some(field) = nul_field(bytes) {
        return Err(ApiError::invalid(field, NUL_MESSAGE));
    }
    Ok(value)
}

/// What a 422 says of a string with a NUL character.
pub const NUL_MESSAGE: &str = "must not contain NUL characters (\\u0000)";

/// The field (`lines[2].message`) of the first string, or key, that holds a NUL character.
fn nul_field(bytes: &[u8]) -> Option<String> {
    // JSON cannot carry a raw NUL byte in a string: it is always the escape `\u0000`. The
    // body is read a second time only when that escape appears (or `\\u0000`, a backslash
    // followed by text, which the walk below tells apart).
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        match value {
            serde_json::Value::String(s) => s.contains('\0').then(|| path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
                let path = if path.is_empty() {
                    key.replace('\0', "\\u0000")
                } else {
                    format!("{path}.{}", key.replace('\0', "\\u0000"))
                };
                if key.contains('\0') {
                    Some(path)
                } else {
                    walk(item, &path)
                }
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

/// [`parse`] without the NUL check.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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
        // A segment with a NUL character names nothing (and Postgres could not look it up).
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await
            && raw.iter().any(|(_, value)| value.contains('\0'))
        {
            return Err(ApiError::NotFound("not found"));
        }
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

/// Query parameters. A parameter the route does not take, one given twice or a value of the
/// wrong shape is a 422 naming it (the target types say `deny_unknown_fields`).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // `%00` decodes to a NUL character, which no parameter may hold (see [`parse`]).
        if query.contains("%00") {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            if let Some((name, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
                return Err(ApiError::invalid(name.replace('\0', "\\u0000"), NUL_MESSAGE));
            }
        }
        parse_query(query).map(Query)
    }
}

/// The body of a route that takes none, such as a redeploy: absent, empty or `{}`. A field is
/// a 422 naming it (`{"git_ref": …}` on a redeploy must not look accepted), as on the routes
/// that take some.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        #[derive(Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        OptionalJson::<Nothing>::from_request(request, state)
            .await
            .map(|_| NoBody)
    }
}

/// The query of a list route that takes no parameter: any parameter is a 422 naming it, as
/// on the routes that take some.
pub struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        parse_query::<Nothing>(parts.uri.query().unwrap_or_default()).map(|_| NoQuery)
    }
}

/// Deserialises a query string, naming the parameter at fault in the API's words.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let (field, message) = query_error(&path, &message);
        ApiError::Validation(vec![FieldError { field, message }])
    })
}

/// The parameter and the message of a query string error, from serde's wording.
fn query_error(path: &str, message: &str) -> (String, String) {
    let named = |prefix: &str| {
        let name = message.strip_prefix(prefix)?.split('`').next()?;
        Some(name.to_owned())
    };
    if let Some(name) = named("unknown field `") {
        let takes = message.split_once(", expected ").map(|(_, rest)| rest);
        let message = match takes {
            Some(rest) => format!("is not a parameter of this route (expected {rest})"),
            None => "is not a parameter of this route (it takes none)".to_owned(),
        };
        return (name, message);
    }
    if let Some(name) = named("duplicate field `") {
        return (name, "is given more than once".to_owned());
    }
    let field = if path == "." { String::new() } else { path.to_owned() };
    let message = match message {
        "invalid digit found in string" | "cannot parse integer from empty string" => "must be a whole number",
        "number too large to fit in target type" | "number too small to fit in target type" => "is out of range",
        "invalid float literal" => "must be a number",
        "provided string was not `true` or `false`" => "must be true or false",
        "input contains invalid characters"
        | "premature end of input"
        | "trailing input"
        | "input is out of range"
        | "no possible date and time matching input"
        | "input is not enough for unique date and time" => "must be an RFC 3339 timestamp",
        other => other,
    };
    (field, message.to_owned())
}
