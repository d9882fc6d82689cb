//! The access checks of concurrent requests, batched into one query (Postgres): whatever
//! else shares its batch, each request gets the answer its own credential and app call for,
//! and a revocation counts for the next request.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

use crate::common::{Backend, TestApp, User, join_all};
use crate::metrics::scrape;

/// The server's access checks and the queries that ran them so far
/// (`rolegate_db_access_checks_total`, `rolegate_db_access_queries_total`).
async fn checks_and_queries(app: &TestApp) -> (u64, u64) {
    let (text, samples) = scrape(app).await;
    let count = |name: &str| {
        let found = samples
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"));
        *found as u64
    };
    (
        count("rolegate_db_access_checks_total"),
        count("rolegate_db_access_queries_total"),
    )
}

/// Checks dropped unrun because their request was gone
/// (`rolegate_db_access_checks_abandoned_total`).
async fn abandoned(app: &TestApp) -> u64 {
    let (text, samples) = scrape(app).await;
    let name = "rolegate_db_access_checks_abandoned_total";
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from\n{text}")) as u64
}

/// An API token of `user` with the body `body` (scope, say): its id and secret.
async fn api_token(app: &TestApp, user: &User, body: serde_json::Value) -> (String, String) {
    let created = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&user.email, Some(&user.password))
                .json(&body),
        )
        .await
        .expect(201);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["token"].as_str().unwrap().to_owned(),
    )
}

/// One request and what it must be answered: the status, and for a 200 the app's name and the
/// caller's role in the body.
struct Case {
    path: String,
    token: String,
    status: u16,
    app_and_role: Option<(&'static str, &'static str)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_queries_and_each_gets_its_own_answer() {
    let Some(backend) = Backend::postgres() else { return };
    // One connection for the access checks, so concurrent checks queue and batch.
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ROLEGATE_DB_MAX_CONNECTIONS", "2"),
            ("ROLEGATE_DB_ACCESS_CONNECTIONS", "1"),
        ],
    )
    .await;
    let team = app.team("batch").await;
    let (revoked_id, revoked) = api_token(&app, &team.collaborator, json!({})).await;
    app.delete(&format!("/v1/tokens/{revoked_id}"), &team.collaborator.jwt)
        .await
        .expect(204);
    let (_, scoped_elsewhere) = api_token(&app, &team.outsider, json!({ "apps": ["batch-other"] })).await;
    let other = format!("/v1/apps/{}", "batch-other");
    let id_path = format!("/v1/apps/{}", team.app_id);
    let case = |path: &str, token: &str, status, app_and_role| Case {
        path: path.to_owned(),
        token: token.to_owned(),
        status,
        app_and_role,
    };
    let cases = vec![
        case("/v1/apps/batch", &team.owner.jwt, 200, Some(("batch", "owner"))),
        case(
            &id_path,
            &team.collaborator.api_token,
            200,
            Some(("batch", "collaborator")),
        ),
        case(
            "/v1/apps/batch",
            &team.limited.jwt,
            200,
            Some(("batch", "limited_collaborator")),
        ),
        case(
            &id_path,
            &team.limited.api_token,
            200,
            Some(("batch", "limited_collaborator")),
        ),
        case(&other, &team.outsider.jwt, 200, Some(("batch-other", "owner"))),
        case(&other, &scoped_elsewhere, 200, Some(("batch-other", "owner"))),
        // Not a member, no such app, a token scoped to another app: the same 404.
        case("/v1/apps/batch", &team.outsider.jwt, 404, None),
        case(&id_path, &team.outsider.api_token, 404, None),
        case("/v1/apps/no-such-app", &team.limited.jwt, 404, None),
        case("/v1/apps/batch", &scoped_elsewhere, 404, None),
        // A member without the permission.
        case("/v1/apps/batch/addons", &team.limited.jwt, 403, None),
        // A revoked token, and one that never was (malformed: refused before the store).
        case("/v1/apps/batch", &revoked, 401, None),
        case(
            "/v1/apps/batch",
            "rg_no-such-token-0000000000000000000000000000",
            401,
            None,
        ),
    ];
    for c in &cases {
        let answer = app.call(Method::GET, &c.path, Some(&c.token), None).await;
        assert_eq!(answer.status, c.status, "{} alone: {:?}", c.path, answer.body);
    }
    let (checks_before, queries_before) = checks_and_queries(&app).await;
    const ROUNDS: usize = 30;
    let server = &app;
    let requests = (0..ROUNDS)
        .flat_map(|_| cases.iter())
        .map(|c| async move { (c, server.call(Method::GET, &c.path, Some(&c.token), None).await) });
    let answers = join_all(requests).await;
    for (c, answer) in &answers {
        assert_eq!(
            answer.status,
            c.status,
            "{} with {}…: {:?}",
            c.path,
            &c.token[..12],
            answer.body
        );
        if let Some((name, role)) = c.app_and_role {
            assert_eq!(answer.body["name"], name, "{:?}", answer.body);
            assert_eq!(answer.body["role"], role, "{:?}", answer.body);
        } else {
            assert_eq!(answer.content_type(), "application/problem+json");
        }
    }
    let (checks, queries) = checks_and_queries(&app).await;
    let total = answers.len() as u64;
    // Every request but those of the malformed token, refused before any query.
    assert_eq!(checks - checks_before, total - ROUNDS as u64);
    let (checks, queries) = (checks - checks_before, queries - queries_before);
    assert!(
        queries < checks / 2,
        "{queries} queries for {checks} concurrent checks: they were not batched"
    );

    // A revocation counts for the very next request, batched or not.
    let (id, fresh) = api_token(&app, &team.limited, json!({})).await;
    let ok = (0..20).map(|_| app.call(Method::GET, "/v1/apps/batch", Some(&fresh), None));
    assert!(join_all(ok).await.iter().all(|r| r.status == 200));
    app.delete(&format!("/v1/tokens/{id}"), &team.limited.jwt)
        .await
        .expect(204);
    let refused = (0..20).map(|_| app.call(Method::GET, "/v1/apps/batch", Some(&fresh), None));
    for answer in join_all(refused).await {
        assert_eq!(answer.status, 401, "{:?}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_of_requests_whose_client_hung_up_are_not_run() {
    let Some(backend) = Backend::postgres() else { return };
    // One serving thread with one access connection: every check queues behind the first.
    let app = TestApp::spawn_with(
        backend,
        &[("ROLEGATE_SERVE_THREADS", "1"), ("ROLEGATE_DB_ACCESS_CONNECTIONS", "1")],
    )
    .await;
    let user = app.signup("hangup@example.com").await;
    app.create_app(&user, "hangup").await;
    let before = abandoned(&app).await;

    // The access statement waits while another session holds a lock on the apps.
    let mut locker = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
    sqlx::query("begin").execute(&mut locker).await.unwrap();
    sqlx::query("lock table apps in access exclusive mode")
        .execute(&mut locker)
        .await
        .unwrap();
    let url = format!("{}/v1/apps/hangup", app.base);
    let first = tokio::spawn({
        let (client, url, jwt) = (app.client.clone(), url.clone(), user.jwt.clone());
        async move { client.get(url).bearer_auth(jwt).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Ten more queue behind it, and their clients give up.
    const GIVING_UP: usize = 10;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = (0..GIVING_UP).map(|_| impatient.get(&url).bearer_auth(&user.jwt).send());
    for answer in join_all(gave_up).await {
        assert!(answer.unwrap_err().is_timeout());
    }
    drop(impatient);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("rollback").execute(&mut locker).await.unwrap();
    assert_eq!(first.await.unwrap(), 200);

    // The next request's batch finds the ten checks of nobody and drops them.
    let next = app.call(Method::GET, "/v1/apps/hangup", Some(&user.jwt), None).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    assert_eq!(next.body["name"], "hangup");
    assert_eq!(abandoned(&app).await - before, GIVING_UP as u64);
}
