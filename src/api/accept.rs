//! Content negotiation for the routes that answer in more than one format, after RFC 9110
//! §12.5.1: quality values, and the most specific media range deciding a type's quality.

use axum::http::{HeaderMap, header};

use crate::error::ApiError;

/// The offer `headers`' `Accept` prefers; `offers[0]` when there is no `Accept` (or it is
/// empty). Ties go to the type listed first in `Accept`. A 406 when no offer is acceptable.
pub fn choose(headers: &HeaderMap, offers: &[&'static str]) -> Result<&'static str, ApiError> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(offers[0]);
    };
    let ranges: Vec<Range<'_>> = accept.split(',').filter_map(Range::parse).collect();
    let best = offers
        .iter()
        .enumerate()
        .filter_map(|(rank, offer)| {
            // The most specific range matching the offer sets its quality.
            let (position, range) = ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| r.matches(offer))
                .max_by_key(|(_, r)| r.specificity())?;
            // Ties go to the range listed first, then to the route's first offer.
            let key = (
                range.quality,
                range.specificity(),
                usize::MAX - position,
                usize::MAX - rank,
            );
            (range.quality > 0).then_some((key, *offer))
        })
        .max_by_key(|(key, _)| *key);
    best.map(|(.., offer)| offer).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "this route answers {}; `Accept` allows none of them",
            offers.join(" or ")
        ))
    })
}

/// One media range of `Accept`, its quality in thousandths.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    quality: u16,
}

impl<'a> Range<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1000, |(_, q)| thousandths(q.trim()));
        Some(Range {
            kind: kind.trim(),
            subtype: subtype.trim(),
            quality,
        })
    }

    fn matches(&self, offer: &str) -> bool {
        let (kind, subtype) = offer.split_once('/').unwrap_or((offer, ""));
        (self.kind == "*" || self.kind.eq_ignore_ascii_case(kind))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }

    fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.subtype != "*")
    }
}

/// `q` as thousandths (`0.8` → 800); a malformed value counts as 1, as if absent.
fn thousandths(q: &str) -> u16 {
    let Ok(value) = q.parse::<f32>() else { return 1000 };
    if !(0.0..=1.0).contains(&value) {
        return 1000;
    }
    (value * 1000.0).round() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: Option<&str>) -> Result<&'static str, ApiError> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, a.parse().unwrap());
        }
        choose(&headers, &["application/json", "text/csv"])
    }

    #[test]
    fn quality_values_decide() {
        assert_eq!(pick(None).unwrap(), "application/json");
        assert_eq!(pick(Some("text/csv")).unwrap(), "text/csv");
        assert_eq!(
            pick(Some("text/csv;q=0.5, application/json")).unwrap(),
            "application/json"
        );
        assert_eq!(
            pick(Some("application/json;q=0.1, text/csv;q=0.9")).unwrap(),
            "text/csv"
        );
        assert_eq!(pick(Some("text/csv;q=0, */*")).unwrap(), "application/json");
        assert_eq!(pick(Some("text/*, application/json;q=0.2")).unwrap(), "text/csv");
        assert_eq!(pick(Some("*/*")).unwrap(), "application/json");
        assert_eq!(pick(Some("text/csv, application/json")).unwrap(), "text/csv");
        assert_eq!(pick(Some("application/json, text/csv")).unwrap(), "application/json");
        assert!(pick(Some("text/html")).is_err());
        assert!(pick(Some("text/csv;q=0, application/json;q=0")).is_err());
    }
}
