//! The web console (issue 15): a few static files, embedded in the binary, that sign a person
//! in with an API token and call the same routes as curl. They are served here, outside the
//! route table: they are not API routes, need no credentials (the page holds none until its
//! user signs in) and carry a strict Content-Security-Policy. Everything else keeps the API's
//! answers, the unknown-route `404` included.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The console's Content-Security-Policy: its own scripts, styles and API only, nothing inline,
/// never in a frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Where it is served.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as committed under `src/console/assets/`.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The page itself: the console's start, and also what the links of rolegate's mails open
/// (`ROLEGATE_PUBLIC_URL/invitations/accept#token=…` and the like), so that they work in it.
pub const PAGES: [&str; 4] = ["/", "/invitations/accept", "/verify-email", "/password-reset"];

static INDEX: Asset = Asset {
    path: "/",
    content_type: HTML,
    body: include_bytes!("assets/index.html"),
};

/// Every file the page loads, under `/console/`.
pub static ASSETS: &[Asset] = &[
    Asset {
        path: "/console/app.js",
        content_type: JS,
        body: include_bytes!("assets/app.js"),
    },
    Asset {
        path: "/console/api.js",
        content_type: JS,
        body: include_bytes!("assets/api.js"),
    },
    Asset {
        path: "/console/dom.js",
        content_type: JS,
        body: include_bytes!("assets/dom.js"),
    },
    Asset {
        path: "/console/views.js",
        content_type: JS,
        body: include_bytes!("assets/views.js"),
    },
    Asset {
        path: "/console/account.js",
        content_type: JS,
        body: include_bytes!("assets/account.js"),
    },
    Asset {
        path: "/console/review.js",
        content_type: JS,
        body: include_bytes!("assets/review.js"),
    },
    Asset {
        path: "/console/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/style.css"),
    },
    Asset {
        path: "/console/icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("assets/icon.svg"),
    },
];

/// The page and every asset, each once.
pub fn files() -> impl Iterator<Item = &'static Asset> {
    std::iter::once(&INDEX).chain(ASSETS.iter())
}

/// Every path the console answers.
pub fn paths() -> impl Iterator<Item = &'static str> {
    PAGES.into_iter().chain(ASSETS.iter().map(|a| a.path))
}

/// A strong validator per file: the files never change while the binary runs.
static ETAGS: LazyLock<Vec<(&'static str, HeaderValue)>> = LazyLock::new(|| {
    files()
        .map(|asset| {
            let digest = Sha256::digest(asset.body);
            let tag = format!("\"{}\"", hex::encode(&digest[..12]));
            (
                asset.path,
                HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
            )
        })
        .collect()
});

fn etag(asset: &Asset) -> HeaderValue {
    ETAGS
        .iter()
        .find(|(path, _)| *path == asset.path)
        .map_or(HeaderValue::from_static("\"\""), |(_, tag)| tag.clone())
}

/// The console's routes, for [`crate::router_with`] to add outside the authorization layer.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let pages = PAGES.into_iter().fold(Router::new(), |router, path| {
        router.route(path, get(|h: HeaderMap| serve(&INDEX, h)))
    });
    ASSETS.iter().fold(pages, |router, asset| {
        router.route(asset.path, get(move |h: HeaderMap| serve(asset, h)))
    })
}

async fn serve(asset: &'static Asset, request: HeaderMap) -> Response {
    let tag = etag(asset);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag.to_str().unwrap_or("")));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::ETAG, tag);
    // Kept, but checked on every load, so an upgraded binary is never mixed with old files.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::routes::ROUTES;

    /// Whether the route pattern `pattern` (with `{param}` segments) matches `path`.
    fn matches(pattern: &str, path: &str) -> bool {
        let (p, q): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
        p.len() == q.len()
            && p.iter()
                .zip(&q)
                .all(|(p, q)| p == q || (p.starts_with('{') && p.ends_with('}') && !q.is_empty()))
    }

    #[test]
    fn no_console_path_is_an_api_path() {
        for path in paths() {
            for route in ROUTES {
                assert!(!matches(route.path, path), "{path} would shadow {}", route.path);
            }
            for api in ["/v1", "/internal", "/healthz", "/readyz"] {
                assert!(
                    path != api && !path.starts_with(&format!("{api}/")),
                    "{path} is under {api}"
                );
            }
        }
    }

    #[test]
    fn etags_differ_per_file() {
        let tags: std::collections::HashSet<_> = files().map(etag).collect();
        assert_eq!(tags.len(), files().count());
    }
}
