//! CSV exports: one writer for every export, so every export quotes and escapes alike.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};

/// `header` and `rows` as CSV text (RFC 4180 quoting).
pub fn render<const N: usize>(header: [&str; N], rows: impl IntoIterator<Item = [String; N]>) -> ApiResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(ApiError::internal)?;
    for row in rows {
        out.write_record(row).map_err(ApiError::internal)?;
    }
    let bytes = out.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

/// A `text/csv` answer.
pub fn response(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    response
}
