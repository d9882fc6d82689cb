//! Health, request ids, CORS, unknown routes and methods.

use reqwest::Method;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness,
    request_ids_go_in_and_out,
    cors_allows_only_configured_origins,
    unknown_routes_and_methods_are_problems
);

async fn health_and_readiness(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres(_));
    let app = TestApp::spawn(backend).await;
    let live = app.call(Method::GET, "/healthz", None, None).await.expect(200);
    assert_eq!(live.body["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(ready.body["store"], if postgres { "postgres" } else { "sqlite" });
}

async fn request_ids_go_in_and_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .send(
            app.client
                .get(format!("{}/healthz", app.base))
                .header("x-request-id", "req-123"),
        )
        .await
        .expect(200);
    assert_eq!(resp.headers["x-request-id"], "req-123");
    let resp = app.call(Method::GET, "/v1/users/self", None, None).await.problem(401);
    let generated = resp.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

async fn cors_allows_only_configured_origins(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[(
            "ROLEGATE_CORS_ORIGINS",
            "https://dash.example.com, https://admin.example.com",
        )],
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, format!("{}/v1/apps", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
    };
    let resp = app.send(preflight("https://dash.example.com")).await;
    assert!(resp.status.is_success());
    assert_eq!(resp.headers["access-control-allow-origin"], "https://dash.example.com");
    let resp = app.send(preflight("https://evil.example.com")).await;
    assert!(!resp.headers.contains_key("access-control-allow-origin"));
    // A dashboard's two-factor sign-in sends the code in its header...
    let resp = app
        .send(
            app.client
                .request(Method::OPTIONS, format!("{}/v1/tokens", app.base))
                .header("origin", "https://dash.example.com")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, x-rolegate-otp"),
        )
        .await;
    assert!(resp.status.is_success());
    let allowed = resp.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("x-rolegate-otp"), "{allowed}");
    // ...and reads the answers' headers: that a code is wanted, when to retry.
    let resp = app
        .send(
            app.client
                .request(Method::POST, format!("{}/v1/tokens", app.base))
                .header("origin", "https://dash.example.com")
                .basic_auth("nobody@example.com", Some("not the password")),
        )
        .await;
    assert_eq!(resp.status, 401);
    let exposed = resp.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for name in [
        "x-request-id",
        "retry-after",
        "x-rolegate-otp",
        "idempotent-replayed",
        "next-cursor",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.call(Method::GET, "/v2/nothing", None, None).await.problem(404);
    assert_eq!(resp.detail(), "no such route");
    app.call(Method::PUT, "/v1/users", None, None).await.problem(405);
}
