//! The app's resources, role by role: variables, deployments, operations, logs, metrics,
//! add-ons.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, PLATFORM_TOKEN, TestApp};
use crate::on_both_backends;

on_both_backends!(
    limited_collaborators_see_variable_names_never_values,
    variables_are_sealed_at_rest,
    bulk_variable_updates_are_all_or_nothing,
    ci_redeploys_the_default_branch_with_a_bare_api_token,
    idempotency_keys_make_retries_safe,
    deploying_any_ref_needs_deployments_create,
    limited_collaborators_read_build_output_for_seven_days,
    restart_scale_and_cache_reset_queue_orders,
    logs_and_metrics_come_from_the_platform,
    addons_and_credentials_are_closed_to_limited_collaborators,
);

fn put_variable(app: &TestApp, name: &str, var: &str, token: &str, value: &str) -> reqwest::RequestBuilder {
    app.client
        .put(format!("{}/v1/apps/{name}/variables/{var}", app.base))
        .bearer_auth(token)
        .json(&json!({"value": value}))
}

async fn limited_collaborators_see_variable_names_never_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let secret = "postgres://user:hunter2-very-secret@db/app";
    let set = app
        .send(put_variable(&app, "web", "DATABASE_URL", &team.owner.jwt, secret))
        .await
        .expect(200);
    assert_eq!(set.body["name"], "DATABASE_URL");
    assert_eq!(set.body["value"], secret);
    app.send(put_variable(&app, "web", "PORT", &team.collaborator.jwt, "8080"))
        .await
        .expect(200);

    let full = app
        .get("/v1/apps/web/variables", &team.collaborator.jwt)
        .await
        .expect(200);
    let values: Vec<_> = full
        .items()
        .iter()
        .map(|v| (v["name"].clone(), v["value"].clone()))
        .collect();
    assert_eq!(
        values,
        [(json!("DATABASE_URL"), json!(secret)), (json!("PORT"), json!("8080"))]
    );

    let names = app.get("/v1/apps/web/variables", &team.limited.jwt).await.expect(200);
    for item in names.items() {
        assert!(item["value"].is_null(), "{item}");
        assert!(item["name"].is_string() && item["id"].is_string() && item["updated_at"].is_string());
    }
    assert!(!names.text.contains("hunter2"));

    // Every other door stays shut to the limited collaborator, and no answer echoes a value.
    let refused = [
        app.get("/v1/apps/web/variables/DATABASE_URL", &team.limited.jwt)
            .await
            .problem(403),
        app.send(put_variable(&app, "web", "DATABASE_URL", &team.limited.jwt, "x"))
            .await
            .problem(403),
        app.delete("/v1/apps/web/variables/DATABASE_URL", &team.limited.jwt)
            .await
            .problem(403),
        app.call(
            Method::PUT,
            "/v1/apps/web/variables",
            Some(&team.limited.jwt),
            Some(json!({"variables": []})),
        )
        .await
        .problem(403),
    ];
    assert_eq!(refused[0].body["required_permission"], "variables.read_values");
    for r in &refused {
        assert!(!r.text.contains("hunter2"));
    }

    let timeline = app.get("/v1/apps/web/events", &team.limited.jwt).await.expect(200);
    assert!(!timeline.text.contains("hunter2"), "{}", timeline.text);
    let set_events: Vec<&Value> = timeline
        .items()
        .iter()
        .filter(|e| e["type"] == "variable.set")
        .collect();
    assert_eq!(set_events.len(), 2);
    assert!(set_events.iter().all(|e| e["data"].get("value").is_none()));
    let owner_timeline = app.get("/v1/apps/web/events", &team.owner.jwt).await.expect(200);
    let shown: Vec<_> = owner_timeline
        .items()
        .iter()
        .filter(|e| e["type"] == "variable.set")
        .map(|e| e["data"]["value"].clone())
        .collect();
    assert_eq!(shown, [json!("8080"), json!(secret)]);

    let one = app
        .get("/v1/apps/web/variables/DATABASE_URL", &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(one.body["value"], secret);
    app.get("/v1/apps/web/variables/NOPE", &team.owner.jwt)
        .await
        .problem(404);
    app.delete("/v1/apps/web/variables/PORT", &team.owner.jwt)
        .await
        .expect(204);
    app.delete("/v1/apps/web/variables/PORT", &team.owner.jwt)
        .await
        .problem(404);
    let kinds = app.get("/v1/apps/web/events?limit=1", &team.owner.jwt).await;
    assert_eq!(kinds.body["items"][0]["type"], "variable.removed");
}

async fn variables_are_sealed_at_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let secret = "sk_live_plaintext_must_not_be_stored";
    app.send(put_variable(&app, "web", "STRIPE_KEY", &ada.jwt, secret))
        .await
        .expect(200);
    let resp = app
        .send(
            app.client
                .put(format!("{}/v1/apps/web/variables/BIG", app.base))
                .bearer_auth(&ada.jwt)
                .json(&json!({"value": "x".repeat(64 * 1024)})),
        )
        .await
        .expect(200);
    assert_eq!(resp.body["value"].as_str().unwrap().len(), 64 * 1024);
    let too_big = app
        .send(
            app.client
                .put(format!("{}/v1/apps/web/variables/BIG", app.base))
                .bearer_auth(&ada.jwt)
                .json(&json!({"value": "x".repeat(64 * 1024 + 1)})),
        )
        .await
        .problem(422);
    assert_eq!(too_big.body["errors"][0]["field"], "value");
    let bad_name = app
        .send(put_variable(&app, "web", "1BAD", &ada.jwt, "v"))
        .await
        .problem(422);
    assert_eq!(bad_name.body["errors"][0]["field"], "name");

    // What the database holds never contains the value.
    let stored = raw_column(&app.database_url, "select value_sealed from variables").await;
    assert_eq!(stored.len(), 2);
    for blob in stored {
        assert!(!blob.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    let events = raw_column(&app.database_url, "select secret from events where secret is not null").await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|b| !b.windows(secret.len()).any(|w| w == secret.as_bytes()))
    );
}

/// The bytes of one blob column, read straight from the database.
pub async fn raw_column(url: &str, sql: &'static str) -> Vec<Vec<u8>> {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    }
}

async fn bulk_variable_updates_are_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let bulk = |vars: Value| {
        app.call(
            Method::PUT,
            "/v1/apps/web/variables",
            Some(&ada.jwt),
            Some(json!({"variables": vars})),
        )
    };

    let resp =
        bulk(json!([{"name": "A", "value": "1"}, {"name": "bad-name", "value": "2"}, {"name": "A", "value": "3"}]))
            .await
            .problem(422);
    let fields: Vec<_> = resp.error_fields();
    assert_eq!(fields, ["variables[1].name", "variables[2].name"]);
    assert_eq!(
        app.get("/v1/apps/web/variables", &ada.jwt).await.body["items"],
        json!([])
    );

    let resp = bulk(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
        .await
        .expect(200);
    assert_eq!(resp.items().len(), 2);
    bulk(json!([{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]))
        .await
        .expect(200);
    let all = app.get("/v1/apps/web/variables", &ada.jwt).await.expect(200);
    let pairs: Vec<_> = all
        .items()
        .iter()
        .map(|v| format!("{}={}", v["name"].as_str().unwrap(), v["value"].as_str().unwrap()))
        .collect();
    assert_eq!(pairs, ["A=1", "B=20", "C=3"]);
    bulk(json!([])).await.problem(422);
    app.call(
        Method::PUT,
        "/v1/apps/web/variables",
        Some(&ada.jwt),
        Some(json!({"variables": [{"name": "A"}]})),
    )
    .await
    .problem(422);
}

async fn ci_redeploys_the_default_branch_with_a_bare_api_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.patch("/v1/apps/web", &team.owner.jwt, json!({"default_branch": "production"}))
        .await
        .expect(200);
    // Exactly what a CI script sends: the API token, no body, no content type.
    let resp = app
        .send(
            app.client
                .post(format!("{}/v1/apps/web/deployments/redeploy", app.base))
                .bearer_auth(&team.limited.api_token),
        )
        .await
        .expect(202);
    assert_eq!(resp.body["git_ref"], "production");
    assert_eq!(resp.body["kind"], "redeploy");
    assert_eq!(resp.body["status"], "queued");
    assert_eq!(
        resp.body["requested_by"],
        json!({"id": team.limited.id, "email": team.limited.email})
    );
    assert!(resp.body["finished_at"].is_null());
    let id = resp.body["id"].as_str().unwrap();

    let shown = app
        .get(&format!("/v1/apps/web/deployments/{id}"), &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(shown.body, resp.body);
    app.get(
        &format!("/v1/apps/web/deployments/{}", uuid::Uuid::now_v7()),
        &team.limited.jwt,
    )
    .await
    .problem(404);
    app.get("/v1/apps/web/deployments/nope", &team.limited.jwt)
        .await
        .problem(400);
    let events = app
        .get("/v1/apps/web/events?limit=1", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(events.body["items"][0]["type"], "deployment.requested");
    assert_eq!(events.body["items"][0]["actor"]["email"], team.limited.email.as_str());
    // The outsider's token opens nothing here.
    let denied = app
        .send(
            app.client
                .post(format!("{}/v1/apps/web/deployments/redeploy", app.base))
                .bearer_auth(&team.outsider.api_token),
        )
        .await;
    assert_eq!(denied.problem(404).detail(), "app not found");
}

async fn idempotency_keys_make_retries_safe(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let redeploy = |key: &'static str| {
        app.client
            .post(format!("{}/v1/apps/web/deployments/redeploy", app.base))
            .bearer_auth(&ada.api_token)
            .header("idempotency-key", key)
    };
    let first = app.send(redeploy("build-41")).await.expect(202);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let retried = app.send(redeploy("build-41")).await.expect(202);
    assert_eq!(retried.body["id"], first.body["id"]);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    let other = app.send(redeploy("build-42")).await.expect(202);
    assert_ne!(other.body["id"], first.body["id"]);

    // Concurrent retries with one key still make one deployment.
    let url = format!("{}/v1/apps/web/deployments/redeploy", app.base);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let request = app
                .client
                .post(&url)
                .bearer_auth(&ada.api_token)
                .header("idempotency-key", "build-43");
            tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap()["id"].clone() })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list = app.get("/v1/apps/web/deployments", &ada.jwt).await.expect(200);
    assert_eq!(list.items().len(), 3);
    app.send(redeploy("   ")).await.problem(400);

    // A key names one request: reused for another, it is refused, and nothing is made.
    let deploy = |key: &'static str, git_ref: &'static str| {
        app.client
            .post(format!("{}/v1/apps/web/deployments", app.base))
            .bearer_auth(&ada.api_token)
            .header("idempotency-key", key)
            .json(&json!({ "git_ref": git_ref }))
    };
    let feature = app.send(deploy("ci-7", "feature/x")).await.expect(202);
    let replayed = app.send(deploy("ci-7", "feature/x")).await.expect(202);
    assert_eq!(replayed.body["id"], feature.body["id"]);
    let other_ref = app.send(deploy("ci-7", "feature/y")).await.problem(422);
    assert_eq!(other_ref.error_fields(), ["Idempotency-Key"]);
    assert!(other_ref.text.contains("deploy of feature/x"), "{}", other_ref.text);
    app.send(redeploy("ci-7")).await.problem(422);
    app.send(deploy("build-41", "main")).await.problem(422);
    let list = app.get("/v1/apps/web/deployments", &ada.jwt).await.expect(200);
    assert_eq!(list.items().len(), 4);

    // After a day the key is free again: the same header makes a new deployment.
    app.clock.advance(chrono::TimeDelta::hours(24));
    let again = app.send(redeploy("build-41")).await.expect(202);
    assert_ne!(again.body["id"], first.body["id"]);
    assert!(!again.headers.contains_key("idempotent-replayed"));
    let retried = app.send(redeploy("build-41")).await.expect(202);
    assert_eq!(retried.body["id"], again.body["id"]);
    let list = app.get("/v1/apps/web/deployments", &ada.api_token).await.expect(200);
    assert_eq!(list.items().len(), 5);
}

async fn deploying_any_ref_needs_deployments_create(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let resp = app
        .post(
            "/v1/apps/web/deployments",
            &team.limited.jwt,
            json!({"git_ref": "feature/x"}),
        )
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "deployments.create");
    for git_ref in ["feature/x", "v1.2.3", "3f2a9c1"] {
        let resp = app
            .post(
                "/v1/apps/web/deployments",
                &team.collaborator.jwt,
                json!({"git_ref": git_ref}),
            )
            .await
            .expect(202);
        assert_eq!(resp.body["git_ref"], git_ref);
        assert_eq!(resp.body["kind"], "deploy");
    }
    app.post(
        "/v1/apps/web/deployments",
        &team.owner.jwt,
        json!({"git_ref": "bad ref"}),
    )
    .await
    .problem(422);
    app.post(
        "/v1/apps/web/deployments",
        &team.owner.jwt,
        json!({"git_ref": "x", "status": "success"}),
    )
    .await
    .problem(422);

    let page = app
        .get("/v1/apps/web/deployments?limit=2", &team.limited.jwt)
        .await
        .expect(200);
    let refs: Vec<_> = page.column("git_ref");
    assert_eq!(refs, ["3f2a9c1", "v1.2.3"]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/v1/apps/web/deployments?cursor={cursor}"), &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(rest.body["items"][0]["git_ref"], "feature/x");
    assert!(rest.body["next_cursor"].is_null());
}

async fn limited_collaborators_read_build_output_for_seven_days(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let id = app
        .post("/v1/apps/web/deployments/redeploy", &team.owner.jwt, json!({}))
        .await
        .expect(202)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status_url = format!("/internal/v1/deployments/{id}/status");
    let report = |status: &str, output: &str| {
        app.call(
            Method::POST,
            &status_url,
            Some(PLATFORM_TOKEN),
            Some(json!({"status": status, "output": output})),
        )
    };
    report("building", "-----> Building\n").await.expect(200);
    let done = report("success", "-----> Done\n").await.expect(200);
    assert_eq!(done.body["status"], "success");
    assert!(done.body["finished_at"].is_string());

    let output = app
        .get(&format!("/v1/apps/web/deployments/{id}/output"), &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(output.text, "-----> Building\n-----> Done\n");
    assert!(output.content_type().starts_with("text/plain"));

    app.clock.advance(TimeDelta::days(8));
    let resp = app
        .get(
            &format!("/v1/apps/web/deployments/{id}/output"),
            &team.limited.api_token,
        )
        .await
        .problem(403);
    assert!(resp.detail().contains("7 days"));
    app.get(
        &format!("/v1/apps/web/deployments/{id}/output"),
        &team.collaborator.api_token,
    )
    .await
    .expect(200);
    app.get(&format!("/v1/apps/web/deployments/{id}"), &team.limited.api_token)
        .await
        .expect(200);
}

async fn restart_scale_and_cache_reset_queue_orders(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let restart = app
        .post("/v1/apps/web/restart", &team.limited.jwt, json!({}))
        .await
        .expect(202);
    assert_eq!(restart.body["status"], "queued");
    app.delete("/v1/apps/web/caches/deployment", &team.limited.jwt)
        .await
        .expect(204);

    let resp = app
        .post(
            "/v1/apps/web/scale",
            &team.limited.jwt,
            json!({"containers": [{"type": "web", "amount": 2, "size": "M"}]}),
        )
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "app.scale");
    let scaled = app
        .post("/v1/apps/web/scale", &team.collaborator.jwt, json!({"containers": [{"type": "web", "amount": 2, "size": "M"}, {"type": "worker", "amount": 1, "size": "S"}]}))
        .await
        .expect(202);
    assert_eq!(scaled.body["formation"].as_array().unwrap().len(), 2);
    app.post(
        "/v1/apps/web/scale",
        &team.owner.jwt,
        json!({"containers": [{"type": "web", "amount": 3, "size": "L"}]}),
    )
    .await
    .expect(202);
    let shown = app.get("/v1/apps/web", &team.limited.jwt).await.expect(200);
    assert_eq!(
        shown.body["formation"],
        json!([{"type": "web", "amount": 3, "size": "L"}, {"type": "worker", "amount": 1, "size": "S"}])
    );
    let bad = app
        .post("/v1/apps/web/scale", &team.owner.jwt, json!({"containers": [{"type": "web", "amount": 101, "size": "HUGE"}, {"type": "web", "amount": 1, "size": "S"}]}))
        .await
        .problem(422);
    let fields: Vec<_> = bad.error_fields();
    assert_eq!(
        fields,
        ["containers[0].amount", "containers[0].size", "containers[1].type"]
    );
    app.post("/v1/apps/web/scale", &team.owner.jwt, json!({"containers": []}))
        .await
        .problem(422);

    let orders = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    let kinds: Vec<_> = orders.column("type");
    assert_eq!(
        kinds,
        ["app.restart", "deployment.reset_cache", "app.scale", "app.scale"]
    );
    let order = &orders.body["items"][0];
    assert_eq!(order["payload"]["id"], order["id"]);
    assert_eq!(order["payload"]["app"]["name"], "web");
    assert_eq!(order["id"], restart.body["order_id"]);
    let events = app
        .get("/v1/apps/web/events?limit=5", &team.owner.jwt)
        .await
        .expect(200);
    // The limited collaborator's refused scale is on the timeline too (written aside).
    let kinds: Vec<_> = events
        .items()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .filter(|k| k != "access.denied")
        .collect();
    assert_eq!(
        kinds,
        [
            "app.scale_requested",
            "app.scale_requested",
            "deployment.cache_reset_requested",
            "app.restart_requested"
        ]
    );
}

async fn logs_and_metrics_come_from_the_platform(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN),
            ("ROLEGATE_LOG_RETENTION_LINES", "5"),
        ],
    )
    .await;
    let team = app.team("web").await;
    let lines: Vec<Value> = (1..=8)
        .map(|i| json!({"source": "web-1", "message": format!("line {i}")}))
        .collect();
    app.call(
        Method::POST,
        "/internal/v1/apps/web/logs",
        Some(PLATFORM_TOKEN),
        Some(json!({"lines": lines})),
    )
    .await
    .expect(204);
    let logs = app.get("/v1/apps/web/logs", &team.limited.jwt).await.expect(200);
    let messages: Vec<_> = logs.column("message");
    assert_eq!(
        messages,
        ["line 4", "line 5", "line 6", "line 7", "line 8"],
        "the window keeps the newest 5"
    );
    let two = app
        .get("/v1/apps/web/logs?lines=2", &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(two.body["items"][1]["message"], "line 8");
    assert_eq!(two.body["items"][0]["source"], "web-1");
    app.get("/v1/apps/web/logs?lines=10001", &team.limited.jwt)
        .await
        .problem(422);
    let resp = app
        .get("/v1/apps/web/logs?since=yesterday", &team.limited.jwt)
        .await
        .problem(422);
    assert_eq!(resp.error_fields(), ["since"]);
    let too_many: Vec<Value> = (0..1001).map(|_| json!({"source": "x", "message": "y"})).collect();
    app.call(
        Method::POST,
        "/internal/v1/apps/web/logs",
        Some(PLATFORM_TOKEN),
        Some(json!({"lines": too_many})),
    )
    .await
    .problem(422);
    app.call(
        Method::POST,
        "/internal/v1/apps/nope/logs",
        Some(PLATFORM_TOKEN),
        Some(json!({"lines": []})),
    )
    .await
    .problem(404);

    let now = chrono::Utc::now();
    let samples: Vec<Value> = (0..3)
        .map(|i| json!({"kind": "cpu", "time": now - TimeDelta::minutes(30 - i * 10), "value": 0.25 * (i + 1) as f64}))
        .chain([
            json!({"kind": "memory", "time": now, "value": 512.0}),
            json!({"kind": "cpu", "time": now - TimeDelta::hours(3), "value": 9.0}),
        ])
        .collect();
    app.call(
        Method::POST,
        "/internal/v1/apps/web/metrics",
        Some(PLATFORM_TOKEN),
        Some(json!({"samples": samples})),
    )
    .await
    .expect(204);
    let cpu = app
        .get("/v1/apps/web/metrics?kind=cpu", &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(cpu.body["kind"], "cpu");
    let values: Vec<_> = cpu.items().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [0.25, 0.5, 0.75], "the last hour by default, oldest first");
    let since = (now - TimeDelta::hours(4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let all = app
        .get(
            &format!("/v1/apps/web/metrics?kind=cpu&since={since}"),
            &team.limited.jwt,
        )
        .await
        .expect(200);
    assert_eq!(all.items().len(), 4);
    let wrong = app
        .get("/v1/apps/web/metrics?kind=disk", &team.limited.jwt)
        .await
        .problem(422);
    assert_eq!(wrong.body["errors"][0]["field"], "kind");
    assert_eq!(wrong.body["errors"][0]["message"], "must be cpu, memory or requests");
    let bad = json!({"samples": [{"kind": "disk", "time": now, "value": 1.0}]});
    app.call(
        Method::POST,
        "/internal/v1/apps/web/metrics",
        Some(PLATFORM_TOKEN),
        Some(bad),
    )
    .await
    .problem(422);
}

async fn addons_and_credentials_are_closed_to_limited_collaborators(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let created = app
        .post(
            "/v1/apps/web/addons",
            &team.collaborator.jwt,
            json!({"provider": "postgresql", "plan": "starter-512"}),
        )
        .await
        .expect(202);
    assert_eq!(created.body["status"], "provisioning");
    let id = created.body["id"].as_str().unwrap().to_owned();

    for (verb, path, body) in [
        (Method::GET, "/v1/apps/web/addons".to_owned(), None),
        (
            Method::POST,
            "/v1/apps/web/addons".to_owned(),
            Some(json!({"provider": "redis", "plan": "s"})),
        ),
        (
            Method::PATCH,
            format!("/v1/apps/web/addons/{id}"),
            Some(json!({"plan": "big"})),
        ),
        (Method::DELETE, format!("/v1/apps/web/addons/{id}"), None),
        (Method::GET, format!("/v1/apps/web/addons/{id}/credentials"), None),
    ] {
        let resp = app.call(verb, &path, Some(&team.limited.jwt), body).await.problem(403);
        assert!(
            resp.body["required_permission"]
                .as_str()
                .unwrap()
                .starts_with(if path.ends_with("credentials") {
                    "databases"
                } else {
                    "addons"
                })
        );
    }

    let resp = app
        .get(&format!("/v1/apps/web/addons/{id}/credentials"), &team.owner.jwt)
        .await
        .problem(409);
    assert!(resp.detail().contains("provisioned"));
    let url = "postgres://u:pw-never-in-clear@db.internal:5432/web";
    let ready = app
        .call(
            Method::POST,
            &format!("/internal/v1/addons/{id}/provisioned"),
            Some(PLATFORM_TOKEN),
            Some(json!({"credentials": {"url": url, "user": "u"}})),
        )
        .await
        .expect(200);
    assert_eq!(ready.body["status"], "running");
    let creds = app
        .get(&format!("/v1/apps/web/addons/{id}/credentials"), &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(creds.body, json!({"url": url, "user": "u"}));
    let listed = app.get("/v1/apps/web/addons", &team.owner.jwt).await.expect(200);
    assert!(!listed.text.contains("pw-never-in-clear"));
    let stored = crate::resources::raw_column(&app.database_url, "select credentials_sealed from addons").await;
    assert!(stored.iter().all(|b| !b.windows(17).any(|w| w == b"pw-never-in-clear")));

    let events = app
        .get("/v1/apps/web/events?limit=20", &team.limited.jwt)
        .await
        .expect(200);
    // The refusals above are recorded as `access.denied` off the request path, so one may
    // land after the later events: the order checked is that of the add-on's own events.
    let items: Vec<&serde_json::Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "access.denied")
        .collect();
    assert_eq!(items[0]["type"], "addon.credentials_read");
    // A limited collaborator reads the timeline: the collaborator is named without an address.
    assert_eq!(items[0]["actor"], json!({"id": team.collaborator.id, "name": null}));
    assert_eq!(items[1]["type"], "addon.ready");
    assert!(items[1]["actor"].is_null());
    assert!(!events.text.contains("pw-never-in-clear"));

    let changed = app
        .patch(
            &format!("/v1/apps/web/addons/{id}"),
            &team.owner.jwt,
            json!({"plan": "business-1024"}),
        )
        .await
        .expect(202);
    assert_eq!(changed.body["plan"], "business-1024");
    assert_eq!(changed.body["status"], "updating");
    app.post(
        "/v1/apps/web/addons",
        &team.owner.jwt,
        json!({"provider": "Bad Provider", "plan": "x"}),
    )
    .await
    .problem(422);
    app.delete(&format!("/v1/apps/web/addons/{id}"), &team.owner.jwt)
        .await
        .expect(204);
    app.delete(&format!("/v1/apps/web/addons/{id}"), &team.owner.jwt)
        .await
        .problem(404);
    let orders = app
        .call(Method::GET, "/internal/v1/orders", Some(PLATFORM_TOKEN), None)
        .await
        .expect(200);
    let kinds: Vec<_> = orders.column("type");
    assert_eq!(kinds, ["addon.provision", "addon.change_plan", "addon.deprovision"]);
}

on_both_backends!(
    concurrent_scales_both_land,
    removing_a_variable_purges_its_values_from_the_timeline
);

async fn concurrent_scales_both_land(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    for trial in 0..20 {
        // Two orders a trial: a minute passes between trials, as the rate limit wants.
        app.clock.advance(TimeDelta::seconds(61));
        let scale = |kind: &str| {
            app.client
                .post(format!("{}/v1/apps/web/scale", app.base))
                .bearer_auth(&ada.api_token)
                .json(&json!({"containers": [{"type": format!("{kind}{trial}"), "amount": 1, "size": "S"}]}))
        };
        let (a, b) = tokio::join!(scale("web").send(), scale("worker").send());
        assert_eq!(a.unwrap().status().as_u16(), 202);
        assert_eq!(b.unwrap().status().as_u16(), 202);
        let shown = app.get("/v1/apps/web", &ada.api_token).await.expect(200);
        let types: Vec<_> = shown.body["formation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            types.contains(&format!("web{trial}")) && types.contains(&format!("worker{trial}")),
            "trial {trial}: {types:?}"
        );
    }
}

async fn removing_a_variable_purges_its_values_from_the_timeline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    for value in ["leaked-1", "leaked-2"] {
        app.send(put_variable(&app, "web", "API_KEY", &ada.jwt, value))
            .await
            .expect(200);
    }
    app.send(put_variable(&app, "web", "KEEP", &ada.jwt, "kept"))
        .await
        .expect(200);
    let before = app.get("/v1/apps/web/events", &ada.jwt).await.expect(200);
    assert!(before.text.contains("leaked-1") && before.text.contains("leaked-2"));
    app.delete("/v1/apps/web/variables/API_KEY", &ada.jwt).await.expect(204);
    let after = app.get("/v1/apps/web/events", &ada.jwt).await.expect(200);
    assert!(!after.text.contains("leaked"), "{}", after.text);
    assert!(after.text.contains("kept"));
    let sets = after.items().iter().filter(|e| e["type"] == "variable.set").count();
    assert_eq!(sets, 3, "the events stay; only the values go");
}
