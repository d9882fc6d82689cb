//! What the server adds to every answer, whatever the route.

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    every_answer_says_nosniff,
    no_answer_is_cached,
    request_ids_are_kept_only_when_sane
);

/// Successes, refusals, problem answers and the 404 fallback all carry
/// `X-Content-Type-Options: nosniff`.
async fn every_answer_says_nosniff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signup("nosniff@example.com").await;
    let answers = [
        app.get("/v1/users/self", &user.api_token).await.expect(200),
        app.get("/v1/users/self", "rg_not_a_token").await.problem(401),
        app.get("/v1/apps/missing", &user.api_token).await.problem(404),
        app.get("/v1/no-such-route", &user.api_token).await.problem(404),
        app.call(reqwest::Method::GET, "/healthz", None, None).await.expect(200),
    ];
    for answer in answers {
        assert_eq!(
            answer
                .headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "status {}",
            answer.status
        );
    }
}

/// Answers carrying a secret (a new token, a variable's value), and every other, are
/// `Cache-Control: no-store`.
async fn no_answer_is_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signup("cache@example.com").await;
    app.create_app(&user, "web").await;
    let token = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&user.email, Some(&user.password))
                .json(&serde_json::json!({"name": "x"})),
        )
        .await
        .expect(201);
    let value = app
        .put(
            "/v1/apps/web/variables/SECRET",
            &user.jwt,
            serde_json::json!({"value": "s3cret"}),
        )
        .await
        .expect(200);
    let refused = app.get("/v1/apps/missing", &user.api_token).await.problem(404);
    for answer in [token, value, refused] {
        assert_eq!(
            answer.headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "status {}",
            answer.status
        );
    }
}

/// A client's `x-request-id` comes back when it is 1 to 128 visible ASCII characters; any
/// other is replaced by a new one.
async fn request_ids_are_kept_only_when_sane(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(id_of(&app, "ci-run-42".into()).await, "ci-run-42");
    let long = "a".repeat(129);
    let replaced = id_of(&app, long.clone()).await;
    assert_ne!(replaced, long);
    assert!(uuid::Uuid::try_parse(&replaced).is_ok(), "{replaced}");
    let spaced = id_of(&app, "two words".into()).await;
    assert!(uuid::Uuid::try_parse(&spaced).is_ok(), "{spaced}");
}

async fn id_of(app: &TestApp, value: String) -> String {
    let request = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", value);
    let resp = app.send(request).await.expect(200);
    resp.headers["x-request-id"].to_str().unwrap().to_owned()
}

/// The SQLite file is created readable by its owner only.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{path}");
    app.signup("private@example.com").await;
    let wal = format!("{path}-wal");
    if let Ok(meta) = std::fs::metadata(&wal) {
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{wal}");
    }
}
