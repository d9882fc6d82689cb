//! Invitations: create, list, revoke, accept, decline, expiry, and the concurrent accept.

use chrono::TimeDelta;
use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    invitations_default_to_limited_collaborator,
    invitations_are_refused_for_members_duplicates_and_high_roles,
    accepting_checks_the_email_and_the_state,
    expired_invitations_are_gone_and_can_be_sent_again,
    the_invitee_sees_and_answers_their_invitations,
    fifty_concurrent_accepts_make_one_membership,
);

async fn invitations_default_to_limited_collaborator(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &ada.jwt,
            json!({"email": "Bob@Example.com"}),
        )
        .await
        .expect(201);
    let inv = &resp.body;
    assert_eq!(inv["email"], "bob@example.com");
    assert_eq!(inv["role"], "limited_collaborator");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["app_name"], "web");
    assert_eq!(inv["invited_by"]["email"], "ada@example.com");
    let token = inv["token"].as_str().unwrap();
    assert!(token.starts_with("rgi_") && token.len() >= 47);
    assert_eq!(
        inv["invitation_link"],
        format!("https://dashboard.example.com/invitations/accept#token={token}")
    );
    let created = chrono::DateTime::parse_from_rfc3339(inv["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(inv["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, TimeDelta::days(7));

    let list = app.get("/v1/apps/web/invitations", &ada.jwt).await.expect(200);
    assert_eq!(list.items().len(), 1);
    assert!(list.body["items"][0].get("token").is_none());
    assert!(!list.text.contains(token));

    let bob = app.signup("bob@example.com").await;
    let member = app
        .post("/v1/invitations/accept", &bob.jwt, json!({"token": token}))
        .await
        .expect(200);
    assert_eq!(member.body["role"], "limited_collaborator");
    assert_eq!(member.body["user_id"], bob.id.as_str());
    assert_eq!(member.body["invited_by"]["id"], ada.id.as_str());
    let app_view = app.get("/v1/apps/web", &bob.jwt).await.expect(200);
    assert_eq!(app_view.body["role"], "limited_collaborator");
    let list = app.get("/v1/apps/web/invitations", &ada.jwt).await.expect(200);
    assert_eq!(list.body["items"][0]["status"], "accepted");
}

async fn invitations_are_refused_for_members_duplicates_and_high_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &team.owner.jwt,
            json!({"email": team.limited.email}),
        )
        .await
        .problem(409);
    assert!(resp.detail().contains("member"));
    app.post(
        "/v1/apps/web/invitations",
        &team.owner.jwt,
        json!({"email": team.owner.email}),
    )
    .await
    .problem(409);
    app.invite(&team.owner, "web", "new@example.com", None).await;
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &team.collaborator.jwt,
            json!({"email": "NEW@example.com"}),
        )
        .await
        .problem(409);
    assert!(resp.detail().contains("pending invitation"));

    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &team.owner.jwt,
            json!({"email": "x@example.com", "role": "owner"}),
        )
        .await
        .problem(422);
    assert_eq!(resp.body["errors"][0]["field"], "role");
    app.post(
        "/v1/apps/web/invitations",
        &team.owner.jwt,
        json!({"email": "x@example.com", "role": "root"}),
    )
    .await
    .problem(422);
    app.post(
        "/v1/apps/web/invitations",
        &team.owner.jwt,
        json!({"email": "not an email"}),
    )
    .await
    .problem(422);
    app.post(
        "/v1/apps/web/invitations",
        &team.owner.jwt,
        json!({"email": "x@example.com", "app_id": team.app_id}),
    )
    .await
    .problem(422);
    // A collaborator may invite collaborators (their own role), not more.
    let inv = app
        .invite(&team.collaborator, "web", "peer@example.com", Some("collaborator"))
        .await;
    assert_eq!(inv["role"], "collaborator");
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &team.limited.jwt,
            json!({"email": "y@example.com"}),
        )
        .await
        .problem(403);
    assert_eq!(resp.body["required_permission"], "collaborators.invite");
    app.get("/v1/apps/web/invitations", &team.limited.jwt)
        .await
        .problem(403);
}

async fn accepting_checks_the_email_and_the_state(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let eve = app.signup("eve@example.com").await;
    app.create_app(&ada, "web").await;

    let inv = app.invite(&ada, "web", "bob@example.com", None).await;
    let token = inv["token"].as_str().unwrap();
    let resp = app
        .post("/v1/invitations/accept", &eve.jwt, json!({"token": token}))
        .await
        .problem(403);
    assert_eq!(resp.detail(), "this invitation was sent to another email address");
    app.post("/v1/invitations/decline", &eve.jwt, json!({"token": token}))
        .await
        .problem(403);
    app.post("/v1/invitations/accept", &bob.jwt, json!({"token": "rgi_unknown"}))
        .await
        .problem(404);
    app.post("/v1/invitations/accept", &bob.jwt, json!({}))
        .await
        .problem(422);
    app.call(
        reqwest::Method::POST,
        "/v1/invitations/accept",
        None,
        Some(json!({"token": token})),
    )
    .await
    .problem(401);

    app.post("/v1/invitations/accept", &bob.jwt, json!({"token": token}))
        .await
        .expect(200);
    let resp = app
        .post("/v1/invitations/accept", &bob.jwt, json!({"token": token}))
        .await
        .problem(410);
    assert!(resp.detail().contains("accepted"));

    // Revoked.
    let inv = app.invite(&ada, "web", "eve@example.com", None).await;
    app.delete(
        &format!("/v1/apps/web/invitations/{}", inv["id"].as_str().unwrap()),
        &ada.jwt,
    )
    .await
    .expect(204);
    app.delete(
        &format!("/v1/apps/web/invitations/{}", inv["id"].as_str().unwrap()),
        &ada.jwt,
    )
    .await
    .problem(404);
    let resp = app
        .post("/v1/invitations/accept", &eve.jwt, json!({"token": inv["token"]}))
        .await
        .problem(410);
    assert!(resp.detail().contains("revoked"));

    // Declined.
    let inv = app.invite(&ada, "web", "eve@example.com", None).await;
    app.post("/v1/invitations/decline", &eve.jwt, json!({"token": inv["token"]}))
        .await
        .expect(204);
    app.post("/v1/invitations/accept", &eve.jwt, json!({"token": inv["token"]}))
        .await
        .problem(410);
    app.get("/v1/apps/web", &eve.jwt).await.problem(404);

    let statuses: Vec<_> = app.get("/v1/apps/web/invitations", &ada.jwt).await.column("status");
    assert_eq!(statuses, ["declined", "revoked", "accepted"]);
    let kinds: Vec<_> = app.get("/v1/apps/web/events?limit=3", &ada.jwt).await.column("type");
    assert_eq!(
        kinds,
        [
            "collaborator.declined",
            "collaborator.invited",
            "collaborator.invitation_revoked"
        ]
    );
}

async fn expired_invitations_are_gone_and_can_be_sent_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    app.create_app(&ada, "web").await;
    let inv = app.invite(&ada, "web", "bob@example.com", Some("collaborator")).await;
    app.clock.advance(TimeDelta::days(8));
    let ada_token = ada.api_token.clone();
    let bob_token = bob.api_token.clone();
    let resp = app
        .post("/v1/invitations/accept", &bob_token, json!({"token": inv["token"]}))
        .await
        .problem(410);
    assert!(resp.detail().contains("expired"));
    let list = app.get("/v1/apps/web/invitations", &ada_token).await.expect(200);
    assert_eq!(list.body["items"][0]["status"], "expired");
    assert_eq!(
        app.get("/v1/users/self/invitations", &bob_token).await.body["items"],
        json!([])
    );

    let again = app
        .post(
            "/v1/apps/web/invitations",
            &ada_token,
            json!({"email": "bob@example.com"}),
        )
        .await
        .expect(201);
    app.post(
        "/v1/invitations/accept",
        &bob_token,
        json!({"token": again.body["token"]}),
    )
    .await
    .expect(200);
}

async fn the_invitee_sees_and_answers_their_invitations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    app.create_app(&ada, "web").await;
    app.create_app(&ada, "api").await;
    let web = app.invite(&ada, "web", "bob@example.com", Some("collaborator")).await;
    let api = app.invite(&ada, "api", "bob@example.com", None).await;
    app.invite(&ada, "api", "someone@example.com", None).await;

    let mine = app.get("/v1/users/self/invitations", &bob.jwt).await.expect(200);
    let items = mine.items();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.get("token").is_none() && i["email"] == "bob@example.com")
    );

    let member = app
        .post(
            &format!("/v1/users/self/invitations/{}/accept", web["id"].as_str().unwrap()),
            &bob.jwt,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(member.body["role"], "collaborator");
    app.post(
        &format!("/v1/users/self/invitations/{}/decline", api["id"].as_str().unwrap()),
        &bob.jwt,
        json!({}),
    )
    .await
    .expect(204);
    app.get("/v1/apps/api", &bob.jwt).await.problem(404);
    assert_eq!(
        app.get("/v1/users/self/invitations", &bob.jwt).await.body["items"],
        json!([])
    );

    // Someone else's invitation is not found, not forbidden.
    let other = app.invite(&ada, "web", "carol@example.com", None).await;
    app.post(
        &format!("/v1/users/self/invitations/{}/accept", other["id"].as_str().unwrap()),
        &bob.jwt,
        json!({}),
    )
    .await
    .problem(404);
    app.post("/v1/users/self/invitations/not-a-uuid/accept", &bob.jwt, json!({}))
        .await
        .problem(400);
}

async fn fifty_concurrent_accepts_make_one_membership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    app.create_app(&ada, "web").await;
    let inv = app.invite(&ada, "web", "bob@example.com", None).await;
    let token = inv["token"].as_str().unwrap().to_owned();

    let url = format!("{}/v1/invitations/accept", app.base);
    let attempts = (0..50).map(|_| {
        let request = app
            .client
            .post(&url)
            .bearer_auth(&bob.jwt)
            .json(&json!({"token": token}));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    let statuses: Vec<u16> = futures_join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 410), "{statuses:?}");
    let members = app.get("/v1/apps/web/collaborators", &ada.jwt).await.expect(200);
    let bobs = members
        .items()
        .iter()
        .filter(|m| m["user_id"] == bob.id.as_str())
        .count();
    assert_eq!(bobs, 1);
    let accepted = app
        .get("/v1/apps/web/events", &ada.jwt)
        .await
        .items()
        .iter()
        .filter(|e| e["type"] == "collaborator.accepted")
        .count();
    assert_eq!(accepted, 1);
}

/// Runs the futures concurrently on the runtime and collects their results in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = Result<u16, reqwest::Error>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task").expect("request"));
    }
    out
}
