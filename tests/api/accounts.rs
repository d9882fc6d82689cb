//! Sign-up, API tokens, JWT exchange, the caller, roles, and bad input.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    signup_creates_a_user_and_normalises_the_email,
    signup_reports_every_bad_field,
    signup_refuses_a_taken_email,
    signup_can_be_closed,
    bad_bodies_get_clear_4xx,
    tokens_are_created_with_the_password_and_shown_once,
    api_tokens_and_jwts_both_authenticate,
    missing_or_bad_credentials_are_401,
    revoking_a_token_revokes_its_jwts,
    jwts_and_tokens_expire,
    roles_list_the_matrix,
);

async fn signup_creates_a_user_and_normalises_the_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({"email": "  Ada@Example.COM ", "password": "correct horse battery", "name": "Ada"})),
        )
        .await
        .expect(201);
    assert_eq!(resp.body["email"], "ada@example.com");
    assert_eq!(resp.body["name"], "Ada");
    assert!(
        resp.body["id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
    assert!(resp.body["created_at"].is_string());
    let mut keys: Vec<_> = resp.body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "email", "email_verified", "id", "name", "tfa_enabled"],
        "no password or hash in the response"
    );
}

async fn signup_reports_every_bad_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({"email": "not-an-email", "password": "short", "name": ""})),
        )
        .await
        .problem(422);
    let fields: Vec<_> = resp.error_fields();
    assert_eq!(fields, ["email", "password", "name"]);
    assert!(
        resp.body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("at least 12")
    );
}

async fn signup_refuses_a_taken_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signup("ada@example.com").await;
    let resp = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({"email": "ADA@example.com", "password": "another long passphrase 31"})),
        )
        .await
        .problem(409);
    assert_eq!(resp.detail(), "an account with this email already exists");
}

async fn signup_can_be_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_SIGNUP", "closed")]).await;
    let resp = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({"email": "ada@example.com", "password": "correct horse battery"})),
        )
        .await
        .problem(403);
    assert!(resp.detail().contains("closed"));
}

async fn bad_bodies_get_clear_4xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}/v1/users", app.base);
    let raw = |body: &'static str, content_type: &'static str| {
        app.client.post(&url).header("content-type", content_type).body(body)
    };

    let resp = app.send(raw("{\"email\": ", "application/json")).await.problem(400);
    assert!(resp.detail().contains("not valid JSON"), "{}", resp.text);

    let resp = app
        .send(raw("{\"email\": \"a@b.co\"}", "text/plain"))
        .await
        .problem(415);
    assert!(resp.detail().contains("application/json"));

    let resp = app.send(app.client.post(&url).body("{}")).await.problem(415);
    assert!(resp.detail().contains("Content-Type"));

    let resp = app
        .send(raw(
            "{\"email\": \"a@b.co\", \"password\": \"0123456789\", \"role\": \"owner\"}",
            "application/json",
        ))
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "role", "{}", resp.text);
    assert!(
        resp.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("is not a field of this request"),
        "{}",
        resp.text
    );

    let resp = app
        .send(raw("{\"email\": 5, \"password\": \"0123456789\"}", "application/json"))
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "email");

    let resp = app.send(raw("[1, 2]", "application/json")).await.problem(422);
    assert!(resp.body["errors"].is_array());

    let big = format!("{{\"email\": \"a@b.co\", \"password\": \"{}\"}}", "x".repeat(70 * 1024));
    let resp = app
        .send(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .body(big),
        )
        .await
        .problem(413);
    assert!(resp.detail().contains("64 KiB"));

    // Nothing above created an account.
    let resp = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth("a@b.co", Some("0123456789")),
        )
        .await;
    resp.problem(401);
}

async fn tokens_are_created_with_the_password_and_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let tokens_url = format!("{}/v1/tokens", app.base);

    let resp = app
        .send(
            app.client
                .post(&tokens_url)
                .basic_auth(&ada.email, Some(&ada.password))
                .json(&json!({"name": "ci"})),
        )
        .await
        .expect(201);
    let secret = resp.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rg_") && secret.len() >= 46, "{secret}");
    assert_eq!(resp.body["name"], "ci");
    // Without `expires_at`, a token lives ROLEGATE_TOKEN_MAX_DAYS (365 by default).
    let expires: chrono::DateTime<chrono::Utc> = resp.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (expires - chrono::Utc::now() - chrono::TimeDelta::days(365))
            .num_hours()
            .abs()
            <= 1
    );

    let resp = app
        .send(
            app.client
                .post(&tokens_url)
                .basic_auth(&ada.email, Some("wrong password")),
        )
        .await
        .problem(401);
    assert_eq!(resp.detail(), "wrong email or password");
    assert_eq!(resp.headers["www-authenticate"], "Basic realm=\"rolegate\"");
    let resp = app
        .send(
            app.client
                .post(&tokens_url)
                .basic_auth("nobody@example.com", Some("whatever12")),
        )
        .await
        .problem(401);
    assert_eq!(
        resp.detail(),
        "wrong email or password",
        "unknown emails look like wrong passwords"
    );

    let resp = app
        .send(
            app.client
                .post(&tokens_url)
                .basic_auth(&ada.email, Some(&ada.password))
                .json(&json!({"expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "expires_at");

    let list = app.get("/v1/tokens", &ada.jwt).await.expect(200);
    let items = list.items();
    assert_eq!(items.len(), 2, "the sign-up helper's token and the one above");
    for item in items {
        assert!(
            item.get("token").is_none() && item.get("token_hash").is_none(),
            "{item}"
        );
        assert!(item.as_object().unwrap().contains_key("last_used_at"));
        assert!(!list.text.contains(&secret));
    }
}

async fn api_tokens_and_jwts_both_authenticate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    for credential in [&ada.api_token, &ada.jwt] {
        let me = app.get("/v1/users/self", credential).await.expect(200);
        assert_eq!(me.body["id"], ada.id.as_str());
        assert_eq!(me.body["email"], "ada@example.com");
    }
    let exchanged = app.exchange(&ada.api_token).await.expect(200);
    assert!(exchanged.body["expires_at"].is_string());
    assert_eq!(exchanged.body["token"].as_str().unwrap().split('.').count(), 3);
    // `-u TOKEN:` works as well as `-u :TOKEN`.
    let url = format!("{}/v1/tokens/exchange", app.base);
    app.send(app.client.post(&url).basic_auth(&ada.api_token, Some("")))
        .await
        .expect(200);

    // The token's use is recorded (in the background, at most once a minute).
    let mut used = false;
    for _ in 0..50 {
        let list = app.get("/v1/tokens", &ada.jwt).await.expect(200);
        if list.items().iter().any(|t| t["last_used_at"].is_string()) {
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used, "last_used_at is recorded");
}

async fn missing_or_bad_credentials_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let url = format!("{}/v1/users/self", app.base);
    let cases = [
        app.client.get(&url),
        app.client.get(&url).header("authorization", "Bearer"),
        app.client.get(&url).header("authorization", "Bearer not-a-jwt"),
        app.client.get(&url).header("authorization", "Bearer rg_short"),
        app.client
            .get(&url)
            .header("authorization", format!("Bearer rg_{}", "A".repeat(43))),
        app.client
            .get(&url)
            .header("authorization", format!("Basic {}", ada.api_token)),
        app.client
            .get(&url)
            .header("authorization", format!("Bearer {}x", ada.jwt)),
    ];
    for request in cases {
        let resp = app.send(request).await.problem(401);
        assert_eq!(resp.headers["www-authenticate"], "Bearer realm=\"rolegate\"");
    }
    app.exchange("rg_nope").await.problem(401);
    app.send(app.client.post(format!("{}/v1/tokens/exchange", app.base)))
        .await
        .problem(401);
}

async fn revoking_a_token_revokes_its_jwts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let tokens = app.get("/v1/tokens", &ada.api_token).await.expect(200);
    let id = tokens.body["items"][0]["id"].as_str().unwrap().to_owned();

    // A second token to act with once the first is gone.
    let other = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&ada.email, Some(&ada.password)),
        )
        .await
        .expect(201)
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    app.delete(&format!("/v1/tokens/{id}"), &other).await.expect(204);
    app.get("/v1/users/self", &ada.api_token).await.problem(401);
    app.get("/v1/users/self", &ada.jwt).await.problem(401);
    app.exchange(&ada.api_token).await.problem(401);
    app.get("/v1/users/self", &other).await.expect(200);
    app.delete(&format!("/v1/tokens/{id}"), &other).await.problem(404);
    app.delete("/v1/tokens/not-a-uuid", &other).await.problem(400);

    // Nobody revokes another user's token.
    let bob = app.signup("bob@example.com").await;
    let bob_tokens = app.get("/v1/tokens", &bob.jwt).await.expect(200);
    let bob_token_id = bob_tokens.body["items"][0]["id"].as_str().unwrap();
    app.delete(&format!("/v1/tokens/{bob_token_id}"), &other)
        .await
        .problem(404);
    app.get("/v1/users/self", &bob.jwt).await.expect(200);
}

async fn jwts_and_tokens_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let short = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&ada.email, Some(&ada.password))
                .json(&json!({"name": "short", "expires_at": chrono::Utc::now() + TimeDelta::minutes(30)})),
        )
        .await
        .expect(201)
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/v1/users/self", &short).await.expect(200);
    app.clock.advance(TimeDelta::minutes(45));
    app.get("/v1/users/self", &short).await.problem(401);
    app.get("/v1/users/self", &ada.jwt).await.expect(200);
    app.clock.advance(TimeDelta::minutes(30));
    // The JWT is an hour old now; the API token it came from still works.
    app.get("/v1/users/self", &ada.jwt).await.problem(401);
    app.get("/v1/users/self", &ada.api_token).await.expect(200);
}

async fn roles_list_the_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let roles = app.get("/v1/roles", &ada.jwt).await.expect(200);
    let names: Vec<_> = roles.column("name");
    assert_eq!(names, ["owner", "collaborator", "limited_collaborator"]);
    assert_eq!(roles.body["items"][0]["permissions"].as_array().unwrap().len(), 58);

    let limited = app.get("/v1/roles/limited_collaborator", &ada.jwt).await.expect(200);
    assert_eq!(
        limited.body["permissions"],
        json!([
            "app.read",
            "app.restart",
            "deployments.read",
            "deployments.redeploy_default",
            "deployments.reset_cache",
            "logs.read",
            "metrics.read",
            "events.read",
            "variables.list_names",
            "review_apps.list",
            "support.grant_data_access",
            "one_offs.list",
            "cron_jobs.list",
            "review_apps.close",
            "review_apps.redeploy"
        ])
    );
    let collaborator = app.get("/v1/roles/collaborator", &ada.jwt).await.expect(200);
    let perms: Vec<_> = collaborator.body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(perms.len(), 54);
    for owner_only in ["app.rename", "app.delete", "app.transfer"] {
        assert!(!perms.contains(&owner_only));
    }
    app.get("/v1/roles/admin", &ada.jwt).await.problem(404);
    app.call(Method::GET, "/v1/roles", None, None).await.problem(401);
}
