//! CSV exports: one writer for every export, so every export quotes and escapes alike.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};

/// `header` and `rows` as CSV text (RFC 4180 quoting), every cell made inert for
/// spreadsheets (see [`inert`]).
pub fn render<const N: usize>(header: [&str; N], rows: impl IntoIterator<Item = [String; N]>) -> ApiResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(ApiError::internal)?;
    for row in rows {
        out.write_record(row.iter().map(|cell| inert(cell).into_owned()))
            .map_err(ApiError::internal)?;
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

/// A cell a spreadsheet will not read as a formula: text starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return gets a leading `'` (OWASP's advice on CSV injection). An email
/// or a name is the user's own text, so any cell may start so.
pub fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn formulas_are_made_inert() {
        for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(inert(cell), format!("'{cell}"));
        }
        for cell in ["alice@example.com", "", "a=b", "2026-01-01T00:00:00+00:00"] {
            assert_eq!(inert(cell), cell);
        }
    }
}
