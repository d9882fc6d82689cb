//! The web console (issue 15) without a browser: its page and files are served with their
//! content types and strict headers, carry nothing inline, stay small, and never shadow an API
//! route. The browser walk-through is tests/browser/console.py.

use reqwest::Method;
use rolegate::authz::routes::ROUTES;
use rolegate::console::{self, CSP};

use crate::common::{Backend, Resp, TestApp, method};
use crate::on_both_backends;

on_both_backends!(
    the_page_carries_strict_headers,
    every_embedded_file_is_served_as_itself,
    console_paths_never_shadow_the_api
);

/// The headers every console answer carries.
#[track_caller]
fn assert_console_headers(resp: &Resp, path: &str) {
    let header = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(header("content-security-policy"), CSP, "{path}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    assert_eq!(header("x-frame-options"), "DENY", "{path}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(header("cache-control"), "no-cache", "{path}");
    assert!(header("etag").starts_with('"'), "{path}");
    assert!(resp.headers.get("set-cookie").is_none(), "{path}");
}

/// `GET /`, and the paths of the links rolegate mails, answer the page with the CSP.
async fn the_page_carries_strict_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in console::PAGES {
        let resp = app.call(Method::GET, path, None, None).await.expect(200);
        assert_eq!(resp.content_type(), "text/html; charset=utf-8", "{path}");
        assert_console_headers(&resp, path);
        assert!(
            resp.text
                .contains(r#"<script type="module" src="/console/app.js"></script>"#),
            "{}",
            resp.text
        );
        assert!(
            resp.text
                .contains(r#"<link rel="stylesheet" href="/console/style.css">"#)
        );
    }
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(CSP.contains(part), "{part}");
    }
    assert!(!CSP.contains("unsafe"), "{CSP}");
    // Other methods keep the API's answers.
    let refused = app.call(Method::POST, "/", None, None).await.problem(405);
    assert_eq!(refused.detail(), "this route does not accept this method");
}

/// Each file answers its own bytes with its content type, the headers, a working ETag and
/// HEAD; every file the page or a module loads is one of them.
async fn every_embedded_file_is_served_as_itself(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for file in console::files() {
        let resp = app.call(Method::GET, file.path, None, None).await.expect(200);
        assert_eq!(resp.content_type(), file.content_type, "{}", file.path);
        assert_eq!(resp.text.as_bytes(), file.body, "{}", file.path);
        assert_console_headers(&resp, file.path);
        let etag = resp.headers["etag"].to_str().unwrap().to_owned();
        let again = app
            .send(
                app.client
                    .get(format!("{}{}", app.base, file.path))
                    .header("if-none-match", &etag),
            )
            .await
            .expect(304);
        assert!(again.text.is_empty(), "{}", file.path);
        assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
        assert_console_headers(&again, file.path);
        let head = app
            .send(app.client.head(format!("{}{}", app.base, file.path)))
            .await
            .expect(200);
        assert!(head.text.is_empty(), "{}", file.path);
        assert_eq!(head.content_type(), file.content_type);
    }
    for missing in [
        "/console/",
        "/console/nope.js",
        "/index.html",
        "/apps",
        "/console/app.js/x",
    ] {
        let resp = app.call(Method::GET, missing, None, None).await.problem(404);
        assert_eq!(resp.detail(), "no such route", "{missing}");
        assert!(resp.headers.get("content-security-policy").is_none(), "{missing}");
    }
}

/// Every route of the table still answers as the API (never the page), and no console path
/// matches a route pattern.
async fn console_paths_never_shadow_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console_paths: Vec<&str> = console::paths().collect();
    for route in ROUTES {
        let pattern: Vec<&str> = route.path.split('/').collect();
        for path in &console_paths {
            let segments: Vec<&str> = path.split('/').collect();
            let matches = segments.len() == pattern.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
            assert!(!matches, "{path} matches {}", route.path);
        }
        let concrete: String = route
            .path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "0190b6a4-0000-7000-8000-000000000000"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let resp = app.call(method(route.verb), &concrete, None, None).await;
        assert!(
            !resp.content_type().starts_with("text/html") && resp.headers.get("content-security-policy").is_none(),
            "{} {} answered the console",
            route.verb.as_str(),
            route.path
        );
        assert!(
            resp.status.as_u16() < 500,
            "{} {}: {}",
            route.verb.as_str(),
            route.path,
            resp.text
        );
    }
}

/// The page has no inline script or style (the CSP would block them), no inline handler, and
/// the modules build the page without HTML strings.
#[test]
fn nothing_is_inline() {
    let index = console::files().find(|f| f.path == "/").expect("the page");
    let html = std::str::from_utf8(index.body).unwrap();
    assert!(!html.contains("<style"), "a <style> element");
    assert!(!html.contains("style="), "a style attribute");
    for (i, tag) in html.match_indices("<script").map(|(i, _)| &html[i..]).enumerate() {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains(" src=\"/console/"), "script {i} has no src: {open}");
    }
    let lower = html.to_lowercase();
    for handler in [" onclick=", " onload=", " onerror=", " onsubmit=", "javascript:"] {
        assert!(!lower.contains(handler), "{handler}");
    }
    for file in console::files().filter(|f| f.path.ends_with(".js")) {
        let js = std::str::from_utf8(file.body).unwrap();
        for risky in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            ".style.",
            "\"style\"",
        ] {
            assert!(!js.contains(risky), "{} uses {risky}", file.path);
        }
        assert!(
            !js.contains("localStorage"),
            "{}: the token belongs in sessionStorage only",
            file.path
        );
        assert!(
            !js.contains("document.cookie"),
            "{}: the console sets no cookie",
            file.path
        );
    }
}

/// What the page loads is embedded, and all of it is small: under 100 KB even before gzip
/// (the browser test prints the gzipped figure).
#[test]
fn assets_are_embedded_and_small() {
    let served: Vec<&str> = console::files().map(|f| f.path).collect();
    for file in console::files() {
        let text = std::str::from_utf8(file.body).unwrap();
        let mut wanted: Vec<String> = Vec::new();
        for quote in text.split('"').skip(1).step_by(2) {
            if quote.starts_with("/console/") {
                wanted.push(quote.to_owned());
            }
            if let Some(module) = quote.strip_prefix("./").filter(|m| m.ends_with(".js")) {
                wanted.push(format!("/console/{module}"));
            }
        }
        for path in wanted {
            assert!(
                served.contains(&path.as_str()),
                "{} loads {path}, which is not embedded",
                file.path
            );
        }
    }
    let total: usize = console::files().map(|f| f.body.len()).sum();
    assert!(total < 100 * 1024, "{total} bytes");
}
