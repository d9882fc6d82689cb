//! The platform contract: the internal API's doors, deployment status moves, and orders
//! delivered by signed webhook at least once, never twice at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, PLATFORM_TOKEN, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_internal_api_opens_only_to_the_platform_token,
    deployment_statuses_move_until_final,
    orders_are_delivered_signed_exactly_once_despite_failures,
    without_a_webhook_orders_stay_queued,
    two_dispatchers_never_send_one_order_twice,
);

const SECRET: &str = "webhook-secret-for-tests-0123456789abcdef";

async fn the_internal_api_opens_only_to_the_platform_token(backend: Backend) {
    let closed = TestApp::spawn(backend.clone()).await;
    let resp = closed
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .problem(404);
    assert_eq!(resp.detail(), "no such route");

    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    for token in [
        Some(ada.jwt.as_str()),
        Some(ada.api_token.as_str()),
        Some("platform-token-for-tests-0123456789abcdeX"),
        None,
    ] {
        app.call(Method::GET, "/internal/v1/orders", token, None)
            .await
            .problem(401);
        let lines = json!({"lines": [{"source": "web", "message": "forged"}]});
        app.call(Method::POST, "/internal/v1/apps/web/logs", token, Some(lines))
            .await
            .problem(401);
    }
    // ...and the platform token opens nothing of the public API.
    app.get("/v1/apps/web", PLATFORM_TOKEN).await.problem(401);
    app.get("/v1/users/self", PLATFORM_TOKEN).await.problem(401);
    assert_eq!(app.get("/v1/apps/web/logs", &ada.jwt).await.body["items"], json!([]));
}

on_both_backends!(build_output_keeps_its_last_mebibyte);

/// Build output is appended report by report, and only its last 1,048,576 characters are
/// kept: a chatty build cannot grow a row without bound.
async fn build_output_keeps_its_last_mebibyte(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let deployment = app
        .post("/v1/apps/web/deployments/redeploy", &ada.jwt, json!({}))
        .await
        .expect(202);
    let id = deployment.body["id"].as_str().unwrap();
    let path = format!("/internal/v1/deployments/{id}/status");
    // 17 reports of 64,000 characters each: 1,088,000 in all, 39,424 over the cap.
    for letter in 'a'..='q' {
        let chunk = letter.to_string().repeat(64_000);
        app.call(
            Method::POST,
            &path,
            Some(PLATFORM_TOKEN),
            Some(json!({"status": "building", "output": chunk})),
        )
        .await
        .expect(200);
    }
    let output = app
        .get(&format!("/v1/apps/web/deployments/{id}/output"), &ada.jwt)
        .await
        .expect(200)
        .text;
    assert_eq!(output.len(), 1 << 20);
    assert!(
        output.starts_with(&"a".repeat(64_000 - 39_424)),
        "the oldest output went first"
    );
    assert!(!output.contains(&"a".repeat(64_000 - 39_424 + 1)));
    assert!(output.ends_with(&"q".repeat(64_000)), "the newest output is all there");
}

async fn deployment_statuses_move_until_final(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let id = app
        .post("/v1/apps/web/deployments/redeploy", &ada.jwt, json!({}))
        .await
        .expect(202)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/internal/v1/deployments/{id}/status");
    let report = |body: Value| app.call(Method::POST, &path, Some(PLATFORM_TOKEN), Some(body));
    for status in ["building", "pushing", "starting"] {
        let resp = report(json!({"status": status})).await.expect(200);
        assert_eq!(resp.body["status"], status);
        assert!(resp.body["finished_at"].is_null());
    }
    report(json!({"status": "build-error", "output": "boom\n"}))
        .await
        .expect(200);
    let resp = report(json!({"status": "success"})).await.problem(409);
    assert!(resp.detail().contains("finished"));
    report(json!({"status": "exploded"})).await.problem(422);
    let missing = format!("/internal/v1/deployments/{}/status", uuid::Uuid::now_v7());
    app.call(
        Method::POST,
        &missing,
        Some(PLATFORM_TOKEN),
        Some(json!({"status": "success"})),
    )
    .await
    .problem(404);

    let shown = app
        .get(&format!("/v1/apps/web/deployments/{id}"), &ada.jwt)
        .await
        .expect(200);
    assert_eq!(shown.body["status"], "build-error");
    let events = app.get("/v1/apps/web/events?limit=4", &ada.jwt).await.expect(200);
    let moves: Vec<_> = events
        .items()
        .iter()
        .map(|e| e["data"]["to"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(moves, ["build-error", "starting", "pushing", "building"]);
    assert!(events.body["items"][0]["actor"].is_null(), "the platform acted");
}

/// A webhook receiver in the test: checks every signature, fails each order's first
/// `fail_first` attempts with a 503, and records the deliveries it accepted.
#[derive(Clone, Default)]
struct Receiver {
    attempts: Arc<Mutex<HashMap<String, usize>>>,
    accepted: Arc<Mutex<Vec<Value>>>,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    overlaps: Arc<Mutex<usize>>,
    bad_signatures: Arc<Mutex<usize>>,
    fail_first: usize,
    delay: Duration,
}

impl Receiver {
    async fn start(fail_first: usize, delay: Duration) -> (Receiver, String) {
        let receiver = Receiver {
            fail_first,
            delay,
            ..Receiver::default()
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/orders",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { state.receive(headers, body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/orders", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    async fn receive(&self, headers: HeaderMap, body: Bytes) -> StatusCode {
        let signature = headers
            .get("rolegate-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let t: i64 = signature
            .strip_prefix("t=")
            .and_then(|s| s.split(',').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if rolegate::dispatch::signature(SECRET.as_bytes(), t, &body) != signature {
            *self.bad_signatures.lock().unwrap() += 1;
            return StatusCode::UNAUTHORIZED;
        }
        let order: Value = serde_json::from_slice(&body).unwrap();
        let id = order["id"].as_str().unwrap().to_owned();
        assert_eq!(headers["rolegate-order-id"].to_str().unwrap(), id);
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            let n = in_flight.entry(id.clone()).or_default();
            *n += 1;
            if *n > 1 {
                *self.overlaps.lock().unwrap() += 1;
            }
        }
        tokio::time::sleep(self.delay).await;
        *self.in_flight.lock().unwrap().get_mut(&id).unwrap() -= 1;
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(id).or_default();
            *n += 1;
            *n
        };
        if attempt <= self.fail_first {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        self.accepted.lock().unwrap().push(order);
        StatusCode::NO_CONTENT
    }

    async fn wait_for(&self, count: usize) {
        let started = Instant::now();
        while self.accepted.lock().unwrap().len() < count {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "only {} of {count} orders arrived",
                self.accepted.lock().unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn dispatching(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN.to_owned()),
        ("ROLEGATE_PLATFORM_WEBHOOK_URL", url.to_owned()),
        ("ROLEGATE_PLATFORM_SECRET", SECRET.to_owned()),
        ("ROLEGATE_DISPATCH_INTERVAL_MS", "20".to_owned()),
        ("ROLEGATE_DISPATCH_BACKOFF_MS", "10".to_owned()),
    ]
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn orders_are_delivered_signed_exactly_once_despite_failures(backend: Backend) {
    let (receiver, url) = Receiver::start(2, Duration::ZERO).await;
    let vars = dispatching(&url);
    let app = TestApp::spawn_with(backend, &borrowed(&vars)).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.post("/v1/apps/web/deployments/redeploy", &ada.api_token, json!({}))
        .await
        .expect(202);
    app.post("/v1/apps/web/deployments", &ada.jwt, json!({"git_ref": "v2"}))
        .await
        .expect(202);
    app.post("/v1/apps/web/restart", &ada.jwt, json!({})).await.expect(202);
    app.post(
        "/v1/apps/web/scale",
        &ada.jwt,
        json!({"containers": [{"type": "web", "amount": 2, "size": "M"}]}),
    )
    .await
    .expect(202);
    app.delete("/v1/apps/web/caches/deployment", &ada.jwt).await.expect(204);
    app.post(
        "/v1/apps/web/addons",
        &ada.jwt,
        json!({"provider": "redis", "plan": "s"}),
    )
    .await
    .expect(202);

    receiver.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 6, "each order accepted once");
    let mut kinds: Vec<_> = accepted
        .iter()
        .map(|o| o["type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "addon.provision",
            "app.restart",
            "app.scale",
            "deployment.create",
            "deployment.create",
            "deployment.reset_cache"
        ]
    );
    assert!(
        receiver.attempts.lock().unwrap().values().all(|n| *n == 3),
        "two refusals, then success"
    );
    assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);
    let redeploy = accepted.iter().find(|o| o["data"]["kind"] == "redeploy").unwrap();
    assert_eq!(redeploy["app"]["name"], "web");
    assert_eq!(redeploy["data"]["git_ref"], "main");
    assert_eq!(redeploy["data"]["requested_by"]["email"], "ada@example.com");

    let pending = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    assert_eq!(pending.body["items"], json!([]));
}

async fn without_a_webhook_orders_stay_queued(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.post("/v1/apps/web/restart", &ada.jwt, json!({})).await.expect(202);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pending = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    let order = &pending.body["items"][0];
    assert_eq!(order["type"], "app.restart");
    assert_eq!(order["attempts"], 0);
    assert!(order["delivered_at"].is_null());
}

async fn two_dispatchers_never_send_one_order_twice(backend: Backend) {
    let (receiver, url) = Receiver::start(0, Duration::from_millis(5)).await;
    let mut vars = dispatching(&url);
    // Sixty orders from one member in a moment: past the default rate limit on purpose.
    vars.push(("ROLEGATE_MAX_ORDERS_PER_MINUTE", "0".to_owned()));
    let first = TestApp::spawn_with(backend, &borrowed(&vars)).await;
    let second = first.replica(&borrowed(&vars)).await;
    let ada = first.signup("ada@example.com").await;
    first.create_app(&ada, "web").await;
    for i in 0..60 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.post("/v1/apps/web/restart", &ada.api_token, json!({}))
            .await
            .expect(202);
    }
    receiver.wait_for(60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted.lock().unwrap().clone();
    let mut ids: Vec<_> = accepted.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    assert_eq!(accepted.len(), 60, "no order was delivered twice");
    assert_eq!(
        *receiver.overlaps.lock().unwrap(),
        0,
        "no order was in flight twice at once"
    );
}

on_both_backends!(a_stopping_dispatcher_gives_back_its_batch);

/// A replica shutting down finishes the delivery in flight and gives back the orders it
/// leased but had not sent: the next dispatcher sends them at once, not when the lease
/// (minutes) runs out, and none twice.
async fn a_stopping_dispatcher_gives_back_its_batch(backend: Backend) {
    let (receiver, url) = Receiver::start(0, Duration::from_millis(300)).await;
    let vars = dispatching(&url);
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    for _ in 0..6 {
        app.post("/v1/apps/web/restart", &ada.api_token, json!({}))
            .await
            .expect(202);
    }
    let dispatcher = app.replica(&borrowed(&vars)).await;
    receiver.wait_for(1).await;
    dispatcher.stop().await;
    let sent_before_stop = receiver.accepted.lock().unwrap().len();
    assert!(
        (1..6).contains(&sent_before_stop),
        "{sent_before_stop} sent before the stop"
    );
    assert_eq!(
        *receiver.in_flight.lock().unwrap().values().max().unwrap_or(&0),
        0,
        "the delivery in flight finished before the server returned"
    );

    let started = Instant::now();
    let _next = app.replica(&borrowed(&vars)).await;
    receiver.wait_for(6).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the rest waited for their lease: {:?}",
        started.elapsed()
    );
    let accepted = receiver.accepted.lock().unwrap().clone();
    let mut ids: Vec<_> = accepted.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), accepted.len()), (6, 6), "each order sent once");
    let attempts = receiver.attempts.lock().unwrap().clone();
    assert!(attempts.values().all(|n| *n == 1), "{attempts:?}");
}

on_both_backends!(a_polling_platform_acknowledges_orders);

async fn a_polling_platform_acknowledges_orders(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.post("/v1/apps/web/restart", &ada.jwt, json!({})).await.expect(202);
    app.post("/v1/apps/web/rename", &ada.jwt, json!({"name": "site"}))
        .await
        .expect(200);
    app.delete("/v1/apps/site", &ada.jwt).await.expect(204);
    let orders = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    let items = orders.items().clone();
    let kinds: Vec<_> = items.iter().map(|o| o["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        kinds,
        ["app.restart", "app.rename", "app.delete"],
        "the platform hears of renames and deletions"
    );
    assert_eq!(items[1]["payload"]["data"], json!({"from": "web", "to": "site"}));

    let first = items[0]["id"].as_str().unwrap();
    let ack = format!("/internal/v1/orders/{first}/ack");
    app.call(Method::POST, &ack, Some(PLATFORM_TOKEN), None)
        .await
        .expect(204);
    app.call(Method::POST, &ack, Some(PLATFORM_TOKEN), None)
        .await
        .expect(204);
    let left = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    assert_eq!(left.items().len(), 2);
    let unknown = format!("/internal/v1/orders/{}/ack", uuid::Uuid::now_v7());
    app.call(Method::POST, &unknown, Some(PLATFORM_TOKEN), None)
        .await
        .problem(404);
    app.call(Method::GET, "/internal/v1/orders?limit=0", Some(PLATFORM_TOKEN), None)
        .await
        .problem(422);
    app.call(Method::POST, &ack, Some(&ada.jwt), None).await.problem(401);
}

on_both_backends!(platform_requests_report_their_progress_by_order_id);

/// Every platform request (a declared one, scale and the add-on operations alike) is a
/// record the platform moves on by its order id; each move is on the timeline, a final
/// status takes no further report, and every event an order caused names that order.
async fn platform_requests_report_their_progress_by_order_id(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let restart = app.post("/v1/apps/web/restart", &ada.jwt, json!({})).await.expect(202);
    let order_id = restart.body["order_id"].as_str().unwrap().to_owned();
    let scale = json!({"containers": [{"type": "web", "amount": 2, "size": "M"}]});
    let scaled = app.post("/v1/apps/web/scale", &ada.jwt, scale).await.expect(202);
    let addon = app
        .post(
            "/v1/apps/web/addons",
            &ada.jwt,
            json!({"provider": "postgresql", "plan": "starter-512"}),
        )
        .await
        .expect(202);
    let addon_id = addon.body["id"].as_str().unwrap().to_owned();

    let app = &app;
    let report = |id: String, body: Value| {
        let path = format!("/internal/v1/requests/{id}/status");
        async move { app.call(Method::POST, &path, Some(PLATFORM_TOKEN), Some(body)).await }
    };
    let running = report(order_id.clone(), json!({"status": "running"})).await.expect(200);
    assert_eq!(running.body["status"], "running");
    assert_eq!(running.body["type"], "app.restart");
    assert_eq!(running.body["order_id"], order_id.as_str());
    assert_eq!(running.body["message"], Value::Null);
    let done = report(
        order_id.clone(),
        json!({"status": "done", "message": "3 containers restarted"}),
    )
    .await
    .expect(200);
    assert_eq!(
        (&done.body["status"], &done.body["message"]),
        (&json!("done"), &json!("3 containers restarted"))
    );
    // The same final status again changes nothing; another one is refused.
    report(order_id.clone(), json!({"status": "done"})).await.expect(200);
    let refused = report(order_id.clone(), json!({"status": "failed"})).await.problem(409);
    assert_eq!(refused.detail(), "the request has already ended");

    let scale_order = scaled.body["order_id"].as_str().unwrap().to_owned();
    let failed = report(scale_order, json!({"status": "failed", "message": "no capacity"}))
        .await
        .expect(200);
    assert_eq!(failed.body["type"], "app.scale");

    // Bad input: an unknown status, a long message, a missing order, a malformed id.
    let bad = report(order_id.clone(), json!({"status": "finished"}))
        .await
        .problem(422);
    assert_eq!(bad.body["errors"][0]["field"], "status");
    let long = "x".repeat(1001);
    let bad = report(
        scaled.body["order_id"].as_str().unwrap().to_owned(),
        json!({"status": "running", "message": long}),
    )
    .await
    .problem(422);
    assert_eq!(bad.body["errors"][0]["field"], "message");
    let missing = report(uuid::Uuid::now_v7().to_string(), json!({"status": "running"}))
        .await
        .problem(404);
    assert_eq!(missing.detail(), "request not found");
    report("not-an-id".into(), json!({"status": "running"}))
        .await
        .problem(400);
    app.post(
        &format!("/internal/v1/requests/{order_id}/status"),
        &ada.jwt,
        json!({"status": "done"}),
    )
    .await
    .problem(401);

    // The timeline: each move, and the order behind every event an order caused.
    let events = app.get("/v1/apps/web/events?limit=50", &ada.jwt).await.expect(200);
    let moves: Vec<(String, String)> = events
        .items()
        .iter()
        .filter(|e| e["type"] == "request.status_changed")
        .map(|e| {
            assert_eq!(e["actor"], Value::Null);
            (
                e["data"]["from"].as_str().unwrap().into(),
                e["data"]["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [("queued", "failed"), ("running", "done"), ("queued", "running")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let orders = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    let order_of = |kind: &str| {
        orders
            .items()
            .iter()
            .find(|o| o["type"] == kind)
            .map(|o| o["id"].clone())
            .unwrap()
    };
    let event_of = |kind: &str| events.items().iter().find(|e| e["type"] == kind).unwrap().clone();
    assert_eq!(
        event_of("app.restart_requested")["data"]["order_id"],
        order_of("app.restart")
    );
    assert_eq!(
        event_of("app.scale_requested")["data"]["order_id"],
        order_of("app.scale")
    );
    let provisioned = event_of("addon.provisioned");
    assert_eq!(provisioned["data"]["order_id"], order_of("addon.provision"));
    assert_eq!(provisioned["data"]["addon_id"], addon_id.as_str());
    // An add-on request is a request like any other.
    let id = order_of("addon.provision").as_str().unwrap().to_owned();
    let running = report(id, json!({"status": "running"})).await.expect(200);
    assert_eq!(running.body["target_id"], addon_id.as_str());
}
