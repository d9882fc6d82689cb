//! Extractors whose rejections are problem+json like every other error.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
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
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse(&bytes).map(Json)
    }
}

/// A JSON body that may be absent: an empty body reads as `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_type = request.headers().contains_key(header::CONTENT_TYPE);
        if !has_type {
            let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(v)| OptionalJson(v))
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
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::invalid("", "the body must be a JSON object")),
            Err(e) => Err(ApiError::BadRequest(format!("the body is not valid JSON: {e}"))),
        };
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
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            ApiError::Validation(vec![FieldError { field, message }])
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

/// Path parameters; a malformed one (a bad UUID) is a 400 naming it.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::BadRequest(e.body_text())),
            Err(e) => Err(ApiError::internal(e.body_text())),
        }
    }
}

/// Query parameters. A parameter the route does not take, one given twice or a value of the
/// wrong shape is a 422 naming it (the target types say `deny_unknown_fields`).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
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
