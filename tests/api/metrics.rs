//! The Prometheus exposition on its own listener: well-formed, moving with known requests,
//! and with labels that never carry an id, a name or an email.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    metrics_move_with_known_requests,
    metrics_labels_carry_no_ids_names_or_emails
);

/// Every sample of an exposition, `name{labels}` → value, after checking each line's form.
fn samples(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            assert!(
                line.is_empty()
                    || line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("# UNIT ")
                    || line == "# EOF",
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

pub(crate) async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let resp = app
        .client
        .get(format!("{}/metrics", app.metrics_base))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    let parsed = samples(&text);
    (text, parsed)
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn metrics_move_with_known_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("metered").await;
    let (_, before) = scrape(&app).await;

    // A limited collaborator refused a permission their role lacks.
    app.put(
        "/v1/apps/metered/variables/KEY",
        &team.limited.jwt,
        json!({"value": "v"}),
    )
    .await
    .problem(403);
    // An allowed read, and a non-member's 404.
    app.get("/v1/apps/metered", &team.limited.jwt).await.expect(200);
    app.get("/v1/apps/metered", &team.outsider.jwt).await.problem(404);
    // A wrong password.
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(&team.owner.email, Some("not the password")),
    )
    .await
    .problem(401);
    // An order queued for the platform (no webhook here, so it waits).
    app.post("/v1/apps/metered/restart", &team.owner.jwt, json!({}))
        .await
        .expect(202);

    let (_, after) = scrape(&app).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(
        moved(r#"rolegate_authz_decisions_total{permission="variables.write",outcome="missing_permission"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"rolegate_authz_decisions_total{permission="app.read",outcome="allowed"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"rolegate_authz_decisions_total{permission="app.read",outcome="not_member"}"#),
        1.0
    );
    assert_eq!(moved(r#"rolegate_login_attempts_total{result="wrong_password"}"#), 1.0);
    assert_eq!(
        moved(r#"rolegate_http_requests_total{method="PUT",route="/v1/apps/{app}/variables/{name}",status="403"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"rolegate_http_request_duration_seconds_count{method="GET",route="/v1/apps/{app}"}"#),
        2.0
    );
    assert!(value(&after, r#"rolegate_outbox_pending{kind="order"}"#) >= 1.0);
    assert!(value(&after, r#"rolegate_outbox_oldest_pending_seconds{kind="order"}"#) >= 0.0);
    assert!(
        value(&after, r#"rolegate_db_pool_connections{state="idle"}"#)
            + value(&after, r#"rolegate_db_pool_connections{state="in_use"}"#)
            >= 1.0
    );
    assert_eq!(value(&after, r#"rolegate_password_hashing_in_flight"#), 0.0);
    assert!(after.keys().any(|k| k.starts_with("rolegate_build_info{version=")));
    assert!(value(&after, "process_resident_memory_bytes") > 0.0);
    assert!(value(&after, "process_open_fds") > 0.0);

    // Sign-up mails are delivered by this server's mail dispatcher (its SMTP is local).
    let mut delivered = 0.0;
    for _ in 0..100 {
        let (_, now) = scrape(&app).await;
        delivered = value(&now, r#"rolegate_outbox_deliveries_total{kind="mail",result="ok"}"#);
        if delivered >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered >= 1.0, "no mail delivery counted");

    // The API's own port does not serve the metrics.
    app.get("/metrics", &team.owner.jwt).await.problem(404);
}

async fn metrics_labels_carry_no_ids_names_or_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("zq-distinctive-person@example.com").await;
    let created = app.create_app(&owner, "zq-distinctive-app").await;
    app.get("/v1/apps/zq-distinctive-app", &owner.jwt).await.expect(200);
    app.get("/v1/apps/zq-missing-app", &owner.jwt).await.problem(404);
    app.get("/v1/zq-no-such-route", &owner.jwt).await.problem(404);
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth("zq-unknown@example.com", Some("whatever")),
    )
    .await
    .problem(401);
    let (text, samples) = scrape(&app).await;
    for secret in ["zq-", owner.id.as_str(), created["id"].as_str().unwrap(), "example.com"] {
        assert!(!text.contains(secret), "{secret} appears in the exposition:\n{text}");
    }
    assert!(
        samples.contains_key(r#"rolegate_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        "{text}"
    );
}
