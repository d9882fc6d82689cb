//! Hardening from a newcomer's and an attacker's first week (issue 11): inert CSV, content
//! negotiation, quotas and rate limits, what scoped tokens and limited collaborators learn,
//! and input refused in the API's own words.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    csv_exports_are_inert_in_spreadsheets,
    the_review_honours_accept_quality_values,
    quotas_on_apps_variables_and_members_name_the_limit,
    orders_are_limited_per_member_and_minute,
    scoped_tokens_learn_nothing_of_other_apps,
    limited_collaborators_see_member_events_without_the_people,
    bodies_of_the_wrong_shape_are_refused_clearly,
    errors_speak_the_apis_language,
    an_empty_json_body_is_no_body_where_the_body_is_optional,
    every_malformed_review_action_is_reported_at_once,
);

async fn csv_exports_are_inert_in_spreadsheets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    for email in ["=2+5@evil.test", "-1+1@evil.test", "+cmd@evil.test"] {
        app.invite(&owner, "web", email, None).await;
    }
    let csv = app
        .send(
            app.client
                .get(format!("{}/v1/access-review", app.base))
                .bearer_auth(&owner.jwt)
                .header("accept", "text/csv"),
        )
        .await
        .expect(200);
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    for email in ["=2+5@evil.test", "-1+1@evil.test", "+cmd@evil.test"] {
        let row = csv
            .text
            .lines()
            .find(|l| l.contains(email))
            .unwrap_or_else(|| panic!("{email} not in {}", csv.text));
        let cells: Vec<&str> = row.split(',').collect();
        assert!(cells.contains(&format!("'{email}").as_str()), "{row}");
        // No cell of the row starts a formula.
        assert!(cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@'])), "{row}");
    }
    // The owner's own row is unchanged: only risky cells get the quote.
    assert!(csv.text.lines().any(|l| l.split(',').any(|c| c == "owner@example.com")));
}

async fn review_as(app: &TestApp, user: &User, accept: &str, query: &str) -> crate::common::Resp {
    app.send(
        app.client
            .get(format!("{}/v1/access-review{query}", app.base))
            .bearer_auth(&user.jwt)
            .header("accept", accept),
    )
    .await
}

async fn the_review_honours_accept_quality_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    for (accept, csv) in [
        ("text/csv;q=0.5, application/json", false),
        ("application/json;q=0.1, text/csv", true),
        ("text/csv;q=0, */*", false),
        ("text/*, application/json;q=0.9", true),
        ("*/*", false),
        ("application/json, text/csv", false),
        ("text/csv, application/json", true),
    ] {
        let resp = review_as(&app, &owner, accept, "").await.expect(200);
        let expected = if csv {
            "text/csv; charset=utf-8"
        } else {
            "application/json"
        };
        assert_eq!(resp.content_type(), expected, "Accept: {accept}");
    }
    // Nothing acceptable: 406, naming what the route offers.
    let refused = review_as(&app, &owner, "text/html", "").await.problem(406);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:not-acceptable");
    assert!(refused.detail().contains("text/csv"), "{}", refused.text);
    // `format` in the query decides over `Accept`.
    let resp = review_as(&app, &owner, "text/html", "?format=csv").await.expect(200);
    assert_eq!(resp.content_type(), "text/csv; charset=utf-8");
    // The audit trail negotiates the same way.
    let events = app
        .send(
            app.client
                .get(format!("{}/v1/events", app.base))
                .bearer_auth(&owner.jwt)
                .header("accept", "application/x-ndjson;q=0.2, application/json"),
        )
        .await
        .expect(200);
    assert_eq!(events.content_type(), "application/json");
}

#[track_caller]
fn quota(resp: &crate::common::Resp, limit: &str, max: u64) {
    assert_eq!(
        resp.body["type"], "urn:rolegate:problem:quota-exceeded",
        "{}",
        resp.text
    );
    assert_eq!(resp.body["limit"], limit, "{}", resp.text);
    assert_eq!(resp.body["max"], max, "{}", resp.text);
}

async fn quotas_on_apps_variables_and_members_name_the_limit(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ROLEGATE_MAX_APPS_PER_OWNER", "2"),
            ("ROLEGATE_MAX_VARIABLES_PER_APP", "3"),
            ("ROLEGATE_MAX_VARIABLE_BYTES_PER_APP", "100"),
            ("ROLEGATE_MAX_MEMBERS_PER_APP", "3"),
        ],
    )
    .await;
    let owner = app.signup("owner@example.com").await;
    let other = app.signup("other@example.com").await;
    app.create_app(&owner, "web").await;
    app.create_app(&owner, "api").await;

    // Apps per owner: the third is refused; another user is not affected.
    let refused = app
        .post("/v1/apps", &owner.jwt, json!({"name": "third"}))
        .await
        .problem(422);
    quota(&refused, "apps_per_owner", 2);
    app.get("/v1/apps/third", &owner.jwt).await.problem(404);
    app.create_app(&other, "others").await;
    // Nor can ownership be handed to a user who owns as many as allowed.
    app.add_member(&other, "others", &owner, "collaborator").await;
    let owner_id = owner.id.clone();
    let refused = app
        .post("/v1/apps/others/transfer", &other.jwt, json!({"user_id": owner_id}))
        .await
        .problem(422);
    quota(&refused, "apps_per_owner", 2);

    // Variables per app: three fit, a fourth does not; replacing one still works.
    for name in ["A", "B", "C"] {
        app.put(
            &format!("/v1/apps/web/variables/{name}"),
            &owner.jwt,
            json!({"value": "x"}),
        )
        .await
        .expect(200);
    }
    let refused = app
        .put("/v1/apps/web/variables/D", &owner.jwt, json!({"value": "x"}))
        .await
        .problem(422);
    quota(&refused, "variables_per_app", 3);
    app.put("/v1/apps/web/variables/A", &owner.jwt, json!({"value": "y"}))
        .await
        .expect(200);
    // A bulk write past the quota writes nothing.
    let bulk = json!({"variables": [{"name": "B", "value": "changed"}, {"name": "E", "value": "x"}]});
    quota(
        &app.put("/v1/apps/web/variables", &owner.jwt, bulk).await.problem(422),
        "variables_per_app",
        3,
    );
    let b = app.get("/v1/apps/web/variables/B", &owner.jwt).await.expect(200);
    assert_eq!(b.body["value"], "x");
    // Bytes of values per app (100 here): one large value is refused, the old one kept.
    let big = "v".repeat(99);
    let refused = app
        .put("/v1/apps/web/variables/A", &owner.jwt, json!({"value": big}))
        .await
        .problem(422);
    quota(&refused, "variable_bytes_per_app", 100);
    let a = app.get("/v1/apps/web/variables/A", &owner.jwt).await.expect(200);
    assert_eq!(a.body["value"], "y");

    // Members and pending invitations per app: the owner and two invitations make three.
    app.invite(&owner, "web", "one@example.com", None).await;
    let second = app.invite(&owner, "web", "two@example.com", None).await;
    let refused = app
        .post(
            "/v1/apps/web/invitations",
            &owner.jwt,
            json!({"email": "three@example.com"}),
        )
        .await
        .problem(422);
    quota(&refused, "members_per_app", 3);
    assert!(refused.detail().contains("members"), "{}", refused.text);
    // Revoking one makes room.
    let id = second["id"].as_str().unwrap();
    app.delete(&format!("/v1/apps/web/invitations/{id}"), &owner.jwt)
        .await
        .expect(204);
    app.invite(&owner, "web", "three@example.com", None).await;
}

async fn orders_are_limited_per_member_and_minute(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_MAX_ORDERS_PER_MINUTE", "3")]).await;
    let team = app.team("web").await;
    for _ in 0..3 {
        app.post("/v1/apps/web/restart", &team.limited.jwt, json!({}))
            .await
            .expect(202);
    }
    // The fourth order within the minute, of any kind, is refused with a Retry-After.
    for (path, body) in [
        ("/v1/apps/web/restart", json!({})),
        ("/v1/apps/web/deployments/redeploy", json!({})),
    ] {
        let refused = app.post(path, &team.limited.jwt, body).await.problem(429);
        assert_eq!(refused.body["type"], "urn:rolegate:problem:rate-limited");
        assert_eq!(refused.body["limit"], "orders_per_minute");
        assert_eq!(refused.body["max"], 3);
        let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    }
    // The limit is per member: the owner still acts on the same app.
    app.post("/v1/apps/web/restart", &team.owner.jwt, json!({}))
        .await
        .expect(202);
    // Refused orders were not queued: three restarts by the limited collaborator, one by the owner.
    let events = app
        .get("/v1/apps/web/events?type=app.restart_requested", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(events.items().len(), 4);
    // A minute later the window has moved on.
    app.clock.advance(TimeDelta::seconds(61));
    app.post("/v1/apps/web/restart", &team.limited.jwt, json!({}))
        .await
        .expect(202);
}

async fn scoped_tokens_learn_nothing_of_other_apps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    app.create_app(&ada, "admin").await;
    let token = |body: Value| {
        app.send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&ada.email, Some(&ada.password))
                .json(&body),
        )
    };
    let scoped = token(json!({"name": "ci", "apps": ["web"]})).await.expect(201);
    let scoped = scoped.body["token"].as_str().unwrap().to_owned();
    // An app of the account outside the scope answers exactly as a missing app.
    for path in ["/v1/apps/admin", "/v1/apps/admin/variables", "/v1/apps/admin/events"] {
        let outside = app.get(path, &scoped).await.problem(404);
        let missing = app.get(&path.replace("admin", "nowhere"), &scoped).await.problem(404);
        assert_eq!(outside.body, missing.body, "{path}");
    }
    // The access-check API says not_a_member, as for a missing app.
    let checks = json!({"checks": [
        {"app": "admin", "permission": "app.read"},
        {"app": "nowhere", "permission": "app.read"},
        {"app": "web", "permission": "app.read"},
    ]});
    let answers = app.post("/v1/access/check", &scoped, checks).await.expect(200);
    let results = answers.body["results"].as_array().unwrap();
    assert_eq!(results[0]["reason"], "not_a_member");
    assert_eq!(
        results[0],
        json!({"app": "admin", "permission": "app.read", "user_id": ada.id,
        "allowed": false, "role": null, "reason": "not_a_member"})
    );
    assert_eq!(results[1]["reason"], "not_a_member");
    assert_eq!(results[2]["reason"], "allowed");
    // The app list shows the scope's apps only...
    let list = app.get("/v1/apps", &scoped).await.expect(200);
    assert_eq!(
        list.items().iter().map(|a| a["name"].clone()).collect::<Vec<_>>(),
        vec![json!("web")]
    );
    // ...and none to a token whose permissions do not include app.read.
    let blind = token(json!({"name": "logs", "permissions": ["logs.read"]}))
        .await
        .expect(201);
    let blind = blind.body["token"].as_str().unwrap();
    let list = app.get("/v1/apps", blind).await.expect(200);
    assert!(list.items().is_empty(), "{}", list.text);
    // An unscoped token sees both.
    let list = app.get("/v1/apps", &ada.jwt).await.expect(200);
    assert_eq!(list.items().len(), 2);
}

async fn limited_collaborators_see_member_events_without_the_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.invite(&team.owner, "web", "newcomer@example.com", Some("collaborator"))
        .await;
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.owner.jwt,
        json!({"role": "limited_collaborator"}),
    )
    .await
    .expect(200);
    let limited = app.get("/v1/apps/web/events", &team.limited.jwt).await.expect(200);
    let full = app.get("/v1/apps/web/events", &team.owner.jwt).await.expect(200);
    assert_eq!(limited.items().len(), full.items().len());
    let limited_text = limited.text.clone();
    for secret in [
        "newcomer@example.com",
        team.collaborator.email.as_str(),
        team.collaborator.id.as_str(),
        team.collaborator_id.as_str(),
    ] {
        assert!(!limited_text.contains(secret), "{secret} leaked: {limited_text}");
        assert!(full.text.contains(secret), "{secret} missing for the owner");
    }
    let kinds = limited.column("type");
    let invited = &limited.items()[kinds.iter().position(|k| k == "collaborator.invited").unwrap()];
    assert_eq!(invited["data"]["role"], "collaborator");
    assert!(invited["data"].get("email").is_none() && invited["data"].get("invitation_id").is_none());
    let changed = &limited.items()[kinds.iter().position(|k| k == "collaborator.role_changed").unwrap()];
    assert_eq!(changed["data"]["role"], "limited_collaborator");
    assert_eq!(changed["data"]["previous_role"], "collaborator");
    assert!(changed["created_at"].is_string());
    // Her own membership is hers to see whole.
    let own = limited
        .items()
        .iter()
        .find(|e| e["type"] == "collaborator.accepted" && e["data"]["user_id"] == json!(team.limited.id))
        .expect("her own acceptance, whole");
    assert_eq!(own["data"]["email"], json!(team.limited.email));
}

async fn bodies_of_the_wrong_shape_are_refused_clearly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let raw = |method: Method, path: &str, body: &'static str| {
        app.send(
            app.client
                .request(method, format!("{}{path}", app.base))
                .bearer_auth(&team.owner.jwt)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    // Every route that takes a body (as the OpenAPI document says): truncated JSON is 400,
    // an array is 422 naming the shape.
    let document: Value = serde_json::from_str(rolegate::api::openapi::DOCUMENT.as_str()).unwrap();
    let routes = rolegate::authz::routes::ROUTES
        .iter()
        .filter(|r| !r.path.starts_with("/internal"))
        .filter(|r| {
            let verb = r.verb.as_str().to_ascii_lowercase();
            document["paths"][r.path][verb.as_str()].get("requestBody").is_some()
        });
    let mut checked = 0;
    for route in routes {
        let path = route
            .path
            .replace("{app}", "web")
            .replace("{name}", "A")
            .replace("{role}", "collaborator")
            .replace("{id}", &team.collaborator_id)
            .replace("{key}", "review_apps");
        let method = crate::common::method(route.verb);
        let truncated = raw(method.clone(), &path, r#"{"name": "ab"#).await;
        if matches!(truncated.status.as_u16(), 401 | 403 | 404) {
            continue;
        }
        let truncated = truncated.problem(400);
        assert!(
            truncated.detail().contains("not valid JSON"),
            "{path}: {}",
            truncated.text
        );
        let array = raw(method, &path, "[1, 2]").await;
        if array.status.as_u16() == 422 {
            assert_eq!(array.error_fields(), vec![String::new()], "{path}: {}", array.text);
            assert!(array.text.contains("must be a JSON object"), "{path}: {}", array.text);
        } else {
            // Routes whose body is optional or ignored may accept it; none may fail.
            assert!(array.status.as_u16() < 500, "{path}: {}", array.text);
        }
        checked += 1;
    }
    assert!(checked > 10, "only {checked} routes checked");
}

async fn errors_speak_the_apis_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let jargon = [
        "struct ",
        "u32",
        "u64",
        "i64",
        "UUID parsing failed",
        "Invalid URL",
        "Cannot parse",
        "sequence",
    ];
    let clean = |resp: &crate::common::Resp| {
        for word in jargon {
            assert!(!resp.text.contains(word), "{word:?} in {}", resp.text);
        }
    };
    // A field of the wrong type names the field and what it must be.
    let resp = app
        .post("/v1/apps", &team.owner.jwt, json!({"name": ["web"]}))
        .await
        .problem(422);
    assert_eq!(resp.error_fields(), vec!["name"]);
    assert_eq!(resp.body["errors"][0]["message"], "must be a string");
    clean(&resp);
    let resp = app
        .post(
            "/v1/apps/web/scale",
            &team.owner.jwt,
            json!({"containers": [{"type": "web", "amount": -1}]}),
        )
        .await
        .problem(422);
    clean(&resp);
    let resp = app
        .post("/v1/apps", &team.owner.jwt, json!({"name": "x", "nickname": "y"}))
        .await
        .problem(422);
    assert!(resp.error_fields().contains(&"nickname".to_owned()), "{}", resp.text);
    clean(&resp);
    // A malformed id in the path names the parameter.
    let resp = app
        .delete("/v1/apps/web/collaborators/not-a-uuid", &team.owner.jwt)
        .await
        .problem(400);
    assert!(
        resp.detail().contains("`id`") && resp.detail().contains("UUID"),
        "{}",
        resp.text
    );
    clean(&resp);
    // A timestamp that is not one says so in the API's words.
    let resp = app
        .patch(
            &format!("/v1/apps/web/collaborators/{}", team.limited_id),
            &team.owner.jwt,
            json!({"access_expires_at": "next tuesday"}),
        )
        .await
        .problem(422);
    assert_eq!(resp.error_fields(), vec!["access_expires_at"]);
    assert!(resp.text.contains("RFC 3339"), "{}", resp.text);
    clean(&resp);
}

async fn an_empty_json_body_is_no_body_where_the_body_is_optional(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    // Generated clients send the content type even without a body.
    let created = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&ada.email, Some(&ada.password))
                .header("content-type", "application/json"),
        )
        .await
        .expect(201);
    assert!(created.body["token"].as_str().is_some_and(|t| !t.is_empty()));
    // A body that is there is still read as JSON, and refused when it is not.
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(&ada.email, Some(&ada.password))
            .header("content-type", "application/json")
            .body("{\"name\":"),
    )
    .await
    .problem(400);
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(&ada.email, Some(&ada.password))
            .header("content-type", "text/plain")
            .body("name=x"),
    )
    .await
    .problem(415);
}

async fn every_malformed_review_action_is_reported_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let body = json!({"actions": [
        {"action": "remove", "app": "web", "collaborator_id": "nope"},
        {"action": "set_role", "app": "web", "collaborator_id": team.limited_id},
        {"action": "fly", "app": "web", "collaborator_id": team.limited_id},
        "not an object",
        {"action": "set_role", "app": 7, "collaborator_id": team.limited_id, "role": "owner", "extra": 1},
    ]});
    let resp = app
        .post("/v1/access-review/apply", &team.owner.jwt, body)
        .await
        .problem(422);
    let fields = resp.error_fields();
    for field in [
        "actions[0].collaborator_id",
        "actions[1].role",
        "actions[2].action",
        "actions[3]",
        "actions[4].role",
    ] {
        assert!(fields.contains(&field.to_owned()), "{field} missing from {fields:?}");
    }
    // Nothing was applied.
    let members = app.get("/v1/apps/web/collaborators", &team.owner.jwt).await.expect(200);
    assert_eq!(members.items().len(), 3);
}
