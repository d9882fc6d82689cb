//! The list contract: cursors only the server makes, query parameters each route knows, page
//! sizes in the documented range; and the ownership transfer by user or membership id.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Backend, Team, TestApp};
use crate::on_both_backends;

on_both_backends!(
    every_paginated_list_refuses_cursors_it_did_not_make,
    list_routes_refuse_query_parameters_they_do_not_know,
    page_sizes_outside_the_documented_range_are_422,
    transfer_takes_a_user_id_or_a_membership_id,
    basic_routes_ask_for_basic_credentials,
    the_review_names_the_end_of_access_as_everywhere_else,
);

/// The paginated lists as the app owner sees them, each with at least two entries.
async fn paginated_lists(app: &TestApp, team: &Team) -> Vec<&'static str> {
    app.create_app(&team.owner, "second").await;
    for git_ref in ["v1", "v2"] {
        app.post(
            "/v1/apps/web/deployments",
            &team.owner.jwt,
            json!({ "git_ref": git_ref }),
        )
        .await
        .expect(202);
    }
    // A failed sign-in and a token revocation put entries in the owner's security history.
    app.send(
        app.client
            .post(format!("{}/v1/tokens/exchange", app.base))
            .basic_auth(&team.owner.email, Some("not the password at all")),
    )
    .await
    .problem(401);
    vec![
        "/v1/apps",
        "/v1/apps/web/deployments",
        "/v1/apps/web/events",
        "/v1/events",
        "/v1/users/self/security-events",
    ]
}

/// Asserts a 422 whose only error is on `field`, and returns the message.
#[track_caller]
fn refused_on(resp: crate::common::Resp, field: &str) -> String {
    let resp = resp.problem(422);
    assert_eq!(resp.error_fields(), [field], "{}", resp.text);
    resp.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn every_paginated_list_refuses_cursors_it_did_not_make(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let lists = paginated_lists(&app, &team).await;
    let token = &team.owner.jwt;

    let mut cursors = Vec::new();
    for list in &lists {
        let first = app.get(&format!("{list}?limit=1"), token).await.expect(200);
        assert_eq!(first.items().len(), 1, "{list}: {}", first.text);
        let cursor = first.body["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{list} has a second page: {}", first.text))
            .to_owned();
        // Opaque: neither the last entry's id nor its name shows through.
        let last = &first.items()[0];
        for shown in [&last["id"], &last["name"]] {
            if let Some(shown) = shown.as_str() {
                assert!(!cursor.contains(shown), "{list}: {cursor} shows {shown}");
            }
        }
        let second = app
            .get(&format!("{list}?limit=1&cursor={cursor}"), token)
            .await
            .expect(200);
        assert_eq!(second.items().len(), 1, "{list}: {}", second.text);
        assert_ne!(second.items()[0], first.items()[0], "{list}: the cursor moves on");
        cursors.push((list, cursor, last.clone()));
    }

    for (i, (list, cursor, last)) in cursors.iter().enumerate() {
        let (_, other_list_cursor, _) = &cursors[(i + 1) % cursors.len()];
        // The same bytes with one character changed.
        let mut tampered = cursor.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let mut forged = vec![
            "zzz".to_owned(),
            Uuid::new_v4().to_string(),
            Uuid::nil().to_string(),
            "web".to_owned(),
            other_list_cursor.clone(),
            tampered,
            format!("{cursor}A"),
            "A".repeat(400),
        ];
        if let Some(id) = last["id"].as_str() {
            forged.push(id.to_owned());
        }
        for bad in forged {
            let resp = app.get(&format!("{list}?cursor={bad}"), token).await;
            let message = refused_on(resp, "cursor");
            assert!(
                message.contains("not a cursor from this list"),
                "{list} {bad}: {message}"
            );
        }
        // Given but empty is not "no cursor".
        refused_on(app.get(&format!("{list}?cursor="), token).await, "cursor");
    }

    // The audit trail's NDJSON cursor (a header) is one of its own too.
    let ndjson = app
        .send(
            app.client
                .get(format!("{}/v1/events?limit=1", app.base))
                .bearer_auth(token)
                .header("accept", "application/x-ndjson"),
        )
        .await
        .expect(200);
    let next = ndjson.headers["next-cursor"].to_str().unwrap().to_owned();
    app.get(&format!("/v1/events?cursor={next}"), token).await.expect(200);
    refused_on(
        app.get(&format!("/v1/apps/web/events?cursor={next}"), token).await,
        "cursor",
    );
}

async fn list_routes_refuse_query_parameters_they_do_not_know(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", crate::common::PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let lists = paginated_lists(&app, &team).await;
    let token = team.owner.jwt.clone();
    let mut routes: Vec<(&str, &str)> = lists.iter().map(|l| (*l, token.as_str())).collect();
    routes.extend([
        ("/v1/apps/web/logs", token.as_str()),
        ("/v1/apps/web/metrics", token.as_str()),
        ("/v1/access-review", token.as_str()),
        ("/internal/v1/orders", crate::common::PLATFORM_TOKEN),
    ]);
    for (route, token) in routes {
        app.get(route, token).await.expect(200);
        let message = refused_on(app.get(&format!("{route}?page=2"), token).await, "page");
        assert!(
            message.starts_with("is not a parameter of this route"),
            "{route}: {message}"
        );
        // A misspelling among good parameters is named, not ignored.
        let message = refused_on(app.get(&format!("{route}?limt=5"), token).await, "limt");
        assert!(message.contains("expected"), "{route}: {message}");
    }
    // Lists that take no parameter refuse any.
    for route in [
        "/v1/apps/web/collaborators",
        "/v1/apps/web/addons",
        "/v1/apps/web/invitations",
        "/v1/users/self/invitations",
        "/v1/tokens",
        "/v1/roles",
    ] {
        app.get(route, &token).await.expect(200);
        let message = refused_on(app.get(&format!("{route}?limit=10"), &token).await, "limit");
        assert_eq!(message, "is not a parameter of this route (it takes none)", "{route}");
    }
    // A parameter given twice is named too.
    let message = refused_on(app.get("/v1/apps?limit=1&limit=2", &token).await, "limit");
    assert_eq!(message, "is given more than once");
    // A value of the wrong shape names its parameter in the API's words.
    let message = refused_on(app.get("/v1/events?since=yesterday", &token).await, "since");
    assert!(message.starts_with("must be an RFC 3339 timestamp"), "{message}");
    let message = refused_on(app.get("/v1/apps/web/logs?lines=many", &token).await, "lines");
    assert_eq!(message, "must be a whole number");
}

async fn page_sizes_outside_the_documented_range_are_422(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", crate::common::PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let lists = paginated_lists(&app, &team).await;
    let token = &team.owner.jwt;
    // docs/api.md: 1 to 200 on every list (NDJSON audit pages: up to 10,000).
    for list in &lists {
        for good in ["1", "200"] {
            app.get(&format!("{list}?limit={good}"), token).await.expect(200);
        }
        for bad in ["0", "-1", "201", "-9223372036854775808", "99999999999999999999"] {
            let message = refused_on(app.get(&format!("{list}?limit={bad}"), token).await, "limit");
            assert!(
                ["must be between 1 and 200", "is out of range"].contains(&message.as_str()),
                "{list} {bad}: {message}"
            );
        }
        let message = refused_on(app.get(&format!("{list}?limit=ten"), token).await, "limit");
        assert_eq!(message, "must be a whole number", "{list}");
    }
    app.get("/v1/events?format=ndjson&limit=10000", token).await.expect(200);
    let message = refused_on(app.get("/v1/events?format=ndjson&limit=10001", token).await, "limit");
    assert_eq!(message, "must be between 1 and 10000");
    for bad in ["0", "-5"] {
        let message = refused_on(app.get(&format!("/v1/apps/web/logs?lines={bad}"), token).await, "lines");
        assert_eq!(message, "must be between 1 and 10000");
        let platform = crate::common::PLATFORM_TOKEN;
        let message = refused_on(
            app.get(&format!("/internal/v1/orders?limit={bad}"), platform).await,
            "limit",
        );
        assert_eq!(message, "must be between 1 and 1000");
    }
}

async fn transfer_takes_a_user_id_or_a_membership_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let transfer = |by: &str, body: Value| {
        let by = by.to_owned();
        let app = &app;
        async move { app.post("/v1/apps/web/transfer", &by, body).await }
    };

    // A membership id where a user id goes: refused, saying where it goes.
    let message = refused_on(
        transfer(&team.owner.jwt, json!({ "user_id": team.limited_id })).await,
        "user_id",
    );
    assert!(message.contains("`collaborator_id`"), "{message}");
    // Both, neither, an unknown membership, or the caller's own: refused, naming the field.
    refused_on(
        transfer(
            &team.owner.jwt,
            json!({ "user_id": team.limited.id, "collaborator_id": team.limited_id }),
        )
        .await,
        "collaborator_id",
    );
    let message = refused_on(transfer(&team.owner.jwt, json!({})).await, "user_id");
    assert!(message.contains("collaborator_id"), "{message}");
    refused_on(
        transfer(&team.owner.jwt, json!({ "collaborator_id": Uuid::new_v4() })).await,
        "collaborator_id",
    );
    refused_on(
        transfer(&team.owner.jwt, json!({ "collaborator_id": "nope" })).await,
        "collaborator_id",
    );
    let owner_membership = app.get("/v1/apps/web/collaborators", &team.owner.jwt).await.expect(200);
    let owner_id = owner_membership.items()[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(owner_membership.items()[0]["role"], "owner");
    let message = refused_on(
        transfer(&team.owner.jwt, json!({ "collaborator_id": owner_id })).await,
        "collaborator_id",
    );
    assert_eq!(message, "you already own this app");
    // A member without app.transfer is refused whatever the body names.
    transfer(
        &team.collaborator.jwt,
        json!({ "collaborator_id": team.collaborator_id }),
    )
    .await
    .problem(403);

    // By membership id (the `id` of the collaborators list).
    let moved = transfer(&team.owner.jwt, json!({ "collaborator_id": team.limited_id }))
        .await
        .expect(200);
    assert_eq!(moved.body["owner"]["id"], team.limited.id.as_str());
    assert_eq!(moved.body["role"], "collaborator");
    // And back by user id, as before.
    let back = transfer(&team.limited.jwt, json!({ "user_id": team.owner.id }))
        .await
        .expect(200);
    assert_eq!(back.body["owner"]["id"], team.owner.id.as_str());
}

/// docs/api.md: a refusal on the two Basic routes asks for Basic, whatever was sent; the
/// other routes ask for a bearer.
async fn basic_routes_ask_for_basic_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    for route in ["/v1/tokens", "/v1/tokens/exchange"] {
        let url = format!("{}{route}", app.base);
        for request in [
            app.client.post(&url),
            app.client
                .post(&url)
                .basic_auth(&ada.email, Some("not the password at all")),
            app.client.post(&url).basic_auth("", Some("rg_not-a-token")),
            app.client.post(&url).bearer_auth(&ada.jwt),
        ] {
            let resp = app.send(request).await.problem(401);
            assert_eq!(resp.headers["www-authenticate"], r#"Basic realm="rolegate""#, "{route}");
        }
    }
    let resp = app
        .call(reqwest::Method::GET, "/v1/apps", None, None)
        .await
        .problem(401);
    assert_eq!(resp.headers["www-authenticate"], r#"Bearer realm="rolegate""#);
}

/// The access review calls the end of a member's access `access_expires_at`, as collaborators
/// and invitations do; `expires_at` stays as a deprecated copy, in JSON and CSV.
async fn the_review_names_the_end_of_access_as_everywhere_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let ends = "2099-01-01T00:00:00Z";
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", team.limited_id),
        &team.owner.jwt,
        json!({ "access_expires_at": ends }),
    )
    .await
    .expect(200);
    let invitation = app.invite(&team.owner, "web", "heidi@example.com", None).await;
    let review = app.get("/v1/access-review?app=web", &team.owner.jwt).await.expect(200);
    let rows = review.items();
    let limited = rows
        .iter()
        .find(|r| r["collaborator_id"] == team.limited_id.as_str())
        .expect("the limited collaborator's row");
    let ends_at: chrono::DateTime<chrono::Utc> = limited["access_expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends_at, ends.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    assert_eq!(limited["expires_at"], limited["access_expires_at"]);
    let owner = rows.iter().find(|r| r["role"] == "owner").unwrap();
    assert!(
        owner["access_expires_at"].is_null() && owner["expires_at"].is_null(),
        "{owner}"
    );
    // An invitation's row holds the end of the access it grants, not the invitation's own end.
    let pending = rows.iter().find(|r| r["status"] == "pending").unwrap();
    assert!(pending["access_expires_at"].is_null(), "{pending}");
    assert!(invitation["expires_at"].is_string(), "{invitation}");

    let csv = app
        .send(
            app.client
                .get(format!("{}/v1/access-review?app=web&format=csv", app.base))
                .bearer_auth(&team.owner.jwt),
        )
        .await
        .expect(200);
    let mut lines = csv.text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    // Columns are only ever appended, so readers by position find every earlier one in place.
    assert_eq!(
        header[header.len() - 2..],
        ["access_expires_at", "tfa_enabled"],
        "{}",
        csv.text
    );
    let old = header.iter().position(|c| *c == "expires_at").unwrap();
    let row = lines.find(|l| l.contains(&team.limited_id)).unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cells[cells.len() - 2], cells[old], "{row}");
    assert_eq!(cells.last(), Some(&"false"), "{row}");
    assert!(cells[old].starts_with("2099-01-01T00:00:00"), "{row}");
}
