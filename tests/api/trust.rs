//! Accounts you can trust: verified addresses, mail delivered over real SMTP, no invitation
//! takeover, login throttling, passwords and credentials that can be rotated.

use reqwest::Method;
use serde_json::{Value, json};

use rolegate::clock::Clock;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_invitation_cannot_be_taken_over_by_signing_up_first,
    verification_links_work_once,
    accepting_with_the_invitation_link_verifies_nothing,
    failed_sign_ins_are_throttled_per_client_and_account,
    the_throttle_is_shared_by_replicas_and_believes_only_trusted_proxies,
    passwords_follow_the_policy_and_can_be_changed,
    a_reset_link_sets_the_password_once_and_signs_out_everywhere,
    every_token_can_be_revoked_at_once,
    tokens_expire_within_the_configured_limit,
    mail_is_sent_once_even_when_a_replica_stops_mid_batch,
    without_smtp_nothing_is_sent_and_links_still_work,
);

const PASSWORD: &str = "correct horse battery staple";

async fn sign_in(app: &TestApp, email: &str, password: &str) -> crate::common::Resp {
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(email, Some(password)),
    )
    .await
}

fn types(events: &crate::common::Resp) -> Vec<String> {
    events.column("type")
}

/// The attack of the issue, end to end: an invitation to `newhire@` is not reachable by
/// someone who signs up with that address first, and the real owner takes the account over.
async fn an_invitation_cannot_be_taken_over_by_signing_up_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    app.post(
        "/v1/apps/web/variables/DATABASE_URL",
        &owner.jwt,
        json!({ "value": "postgres://secret" }),
    )
    .await;
    let invitation = app
        .invite(&owner, "web", "newhire@example.com", Some("collaborator"))
        .await;
    // The invitation mail carries the same link as the owner's answer.
    let mail = app.mail_to("newhire@example.com", "invited you to web").await;
    assert_eq!(mail.link_token(), invitation["token"].as_str().unwrap());
    assert_eq!(
        mail.from, "rolegate@example.com",
        "the envelope sender is ROLEGATE_MAIL_FROM"
    );
    assert!(mail.text().contains(invitation["invitation_link"].as_str().unwrap()));

    // The squatter signs up with the invitee's address: unverified.
    let squatter = app.signup_unverified("newhire@example.com").await;
    let me = app.get("/v1/users/self", &squatter.jwt).await.expect(200);
    assert_eq!(me.body["email_verified"], false);
    let refused = app.get("/v1/users/self/invitations", &squatter.jwt).await.problem(403);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:email-unverified");
    let id = invitation["id"].as_str().unwrap();
    let path = format!("/v1/users/self/invitations/{id}/accept");
    app.post(&path, &squatter.jwt, json!({})).await.problem(403);
    app.post(
        &format!("/v1/users/self/invitations/{id}/decline"),
        &squatter.jwt,
        json!({}),
    )
    .await
    .problem(403);
    // Nothing changed: the invitation is still pending, the app has no new member.
    let pending = app.get("/v1/apps/web/invitations", &owner.jwt).await.expect(200);
    assert_eq!(pending.body["items"][0]["status"], "pending");

    // The real new hire signs up: not refused (409 would lock them out), same shape of answer.
    let real = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({ "email": "newhire@example.com", "password": "a different long passphrase 42" })),
        )
        .await
        .expect(201);
    let mut keys: Vec<&String> = real.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "email", "email_verified", "id", "name", "tfa_enabled"]
    );
    assert_ne!(real.body["id"].as_str().unwrap(), squatter.id);
    // ...and their mailbox receives the link that takes the account over.
    let claim = app.mail_to("newhire@example.com", "Claim your account").await;
    let confirmed = app
        .call(
            Method::POST,
            "/v1/users/password-reset/confirm",
            None,
            Some(json!({ "token": claim.link_token(), "new_password": "a different long passphrase 42" })),
        )
        .await
        .expect(200);
    assert_eq!(confirmed.body["revoked_tokens"], true);
    // The squatter's credentials are dead; the squatter's password no longer works.
    app.get("/v1/users/self", &squatter.jwt).await.problem(401);
    app.get("/v1/users/self", &squatter.api_token).await.problem(401);
    sign_in(&app, "newhire@example.com", PASSWORD).await.problem(401);
    // The owner of the address signs in, verified, and accepts by id.
    let token = sign_in(&app, "newhire@example.com", "a different long passphrase 42")
        .await
        .expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/users/self", &token).await.expect(200);
    assert_eq!(me.body["email_verified"], true);
    let mine = app.get("/v1/users/self/invitations", &token).await.expect(200);
    assert_eq!(mine.items().len(), 1);
    let member = app.post(&path, &token, json!({})).await.expect(200);
    assert_eq!(member.body["role"], "collaborator");
    let history = app.get("/v1/users/self/security-events", &token).await.expect(200);
    assert!(
        types(&history).contains(&"account.claimed".to_owned()),
        "{}",
        history.body
    );
}

async fn verification_links_work_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup_unverified("ada@example.com").await;
    let mail = app.mail_to("ada@example.com", "Verify your email address").await;
    assert_eq!(mail.to, ["ada@example.com"]);
    assert!(
        mail.text()
            .contains("https://dashboard.example.com/verify-email#token=rgv_")
    );
    let token = mail.link_token();
    let verify = |token: Value| {
        app.call(
            Method::POST,
            "/v1/users/verify-email",
            None,
            Some(json!({ "token": token })),
        )
    };
    let done = verify(json!(token)).await.expect(200);
    assert_eq!(done.body, json!({ "email": "ada@example.com", "email_verified": true }));
    assert_eq!(app.get("/v1/users/self", &ada.jwt).await.body["email_verified"], true);
    // A second use, a malformed token, a token of another kind.
    let again = verify(json!(token)).await.problem(410);
    assert_eq!(again.detail(), "this link is unknown, already used or expired");
    verify(json!("rgv_nope")).await.problem(422);
    verify(json!(token.replace("rgv_", "rgr_"))).await.problem(422);
    verify(json!(42)).await.problem(422);
    // Verified: nothing to resend.
    app.post("/v1/users/self/verify-email/resend", &ada.jwt, json!({}))
        .await
        .problem(409);

    // Resending: once a minute; the new link works, the older one too until used.
    let bob = app.signup_unverified("bob@example.com").await;
    app.mail_to("bob@example.com", "Verify").await;
    let early = app
        .post("/v1/users/self/verify-email/resend", &bob.jwt, json!({}))
        .await
        .problem(429);
    assert!(early.headers.get("retry-after").is_some());
    // A limit of one link a minute, not a throttling of failed sign-ins.
    assert_eq!(early.body["type"], "urn:rolegate:problem:rate-limited");
    assert_eq!(early.body["limit"], "verification_links_per_minute");
    assert_eq!(early.body["max"], 1);
    assert!(
        early
            .detail()
            .starts_with("a verification link was sent less than a minute ago"),
        "{}",
        early.detail()
    );
    app.clock.advance(chrono::TimeDelta::seconds(61));
    app.post("/v1/users/self/verify-email/resend", &bob.jwt, json!({}))
        .await
        .expect(202);
    let second = app.nth_mail("bob@example.com", "Verify", 2).await;
    verify(json!(second.link_token())).await.expect(200);
    // A link expires after 24 hours.
    let carol = app.signup_unverified("carol@example.com").await;
    let old = app.mail_to("carol@example.com", "Verify").await.link_token();
    app.clock.advance(chrono::TimeDelta::hours(25));
    verify(json!(old)).await.problem(410);
    let me = app.get("/v1/users/self", &carol.api_token).await.expect(200);
    assert_eq!(me.body["email_verified"], false);
    let history = app
        .get("/v1/users/self/security-events", &ada.api_token)
        .await
        .expect(200);
    let kinds = types(&history);
    assert!(kinds.contains(&"email.verified".to_owned()) && kinds.contains(&"signin.password".to_owned()));
}

/// Whoever creates an invitation is handed its token too: holding it proves no mailbox, so
/// accepting with it joins the app and verifies nothing.
async fn accepting_with_the_invitation_link_verifies_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    let grace = app.signup_unverified("grace@example.com").await;
    let invitation = app.invite(&owner, "web", "grace@example.com", None).await;
    let token = app.mail_to("grace@example.com", "invited you").await.link_token();
    let member = app
        .post("/v1/invitations/accept", &grace.jwt, json!({ "token": token }))
        .await
        .expect(200);
    assert_eq!(member.body["role"], "limited_collaborator");
    assert_eq!(
        app.get("/v1/users/self", &grace.jwt).await.body["email_verified"],
        false
    );
    assert_eq!(invitation["status"], "pending");
    let history = app.get("/v1/users/self/security-events", &grace.jwt).await.expect(200);
    assert!(
        !types(&history).contains(&"email.verified".to_owned()),
        "{}",
        history.text
    );
    // The mailed verification link still proves it.
    app.verify_address("grace@example.com").await;
    let history = app.get("/v1/users/self/security-events", &grace.jwt).await.expect(200);
    let verified = history.items().iter().find(|e| e["type"] == "email.verified").unwrap();
    assert_eq!(verified["data"]["via"], "link");
    assert_eq!(verified["client"], "127.0.0.1");
}

async fn failed_sign_ins_are_throttled_per_client_and_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    for _ in 0..5 {
        sign_in(&app, "ada@example.com", "not the password at all")
            .await
            .problem(401);
    }
    // The sixth attempt is refused before the password is checked: even the right one.
    let refused = sign_in(&app, "ada@example.com", PASSWORD).await.problem(429);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:throttled");
    let wait: i64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // Unknown emails count exactly like known ones: same statuses, same bodies.
    for _ in 0..5 {
        let unknown = sign_in(&app, "nobody@example.com", "not the password at all")
            .await
            .problem(401);
        assert_eq!(unknown.body["detail"], "wrong email or password");
    }
    let unknown = sign_in(&app, "nobody@example.com", "not the password at all")
        .await
        .problem(429);
    assert_eq!(unknown.body["detail"], refused.body["detail"]);
    // Other accounts from the same client are not locked out yet.
    let bob = app.signup("bob@example.com").await;
    sign_in(&app, "bob@example.com", PASSWORD).await.expect(201);
    // The history of the account shows the failures with the client address.
    let history = app
        .get("/v1/users/self/security-events?limit=50", &ada.jwt)
        .await
        .expect(200);
    let failed: Vec<&Value> = history
        .items()
        .iter()
        .filter(|e| e["type"] == "signin.failed")
        .collect();
    assert_eq!(failed.len(), 6);
    assert_eq!(failed[0]["data"]["reason"], "throttled");
    assert_eq!(failed[1]["data"]["reason"], "wrong_password");
    assert_eq!(failed[1]["client"], "127.0.0.1");
    // Past the window, the right password works again.
    app.clock.advance(chrono::TimeDelta::minutes(16));
    sign_in(&app, "ada@example.com", PASSWORD).await.expect(201);
    // Per client over every account: 50 failures, then 429 for any email.
    for i in 0..50 {
        sign_in(&app, &format!("guess{i}@example.com"), "not the password at all")
            .await
            .problem(401);
    }
    sign_in(&app, "bob@example.com", PASSWORD).await.problem(429);
    // A page of the history, newest first, paginated.
    let page = app
        .get("/v1/users/self/security-events?limit=2", &bob.jwt)
        .await
        .expect(200);
    assert_eq!(page.items().len(), 2);
    assert!(page.body["next_cursor"].is_string());
    app.get("/v1/users/self/security-events?limit=0", &bob.jwt)
        .await
        .problem(422);
}

async fn the_throttle_is_shared_by_replicas_and_believes_only_trusted_proxies(backend: Backend) {
    let vars = [("ROLEGATE_TRUSTED_PROXIES", "127.0.0.1/32")];
    let first = TestApp::spawn_with(backend, &vars).await;
    first.signup("ada@example.com").await;
    let second = first.replica(&vars).await;
    async fn from(app: &TestApp, client: &str, password: &str) -> crate::common::Resp {
        let request = app
            .client
            .post(format!("{}/v1/tokens", app.base))
            .header("x-forwarded-for", client)
            .basic_auth("ada@example.com", Some(password));
        app.send(request).await
    }
    for i in 0..5 {
        let app = if i % 2 == 0 { &first } else { &second };
        from(app, "203.0.113.7", "wrong wrong wrong").await.problem(401);
    }
    // Both replicas refuse that client now; another client (through the proxy) is not refused.
    from(&first, "203.0.113.7", PASSWORD).await.problem(429);
    from(&second, "203.0.113.7", PASSWORD).await.problem(429);
    from(&second, "198.51.100.9", PASSWORD).await.expect(201);
    let token = first.signup_token("ada@example.com", "198.51.100.9").await;
    let history = first
        .get("/v1/users/self/security-events?limit=20", &token)
        .await
        .expect(200);
    let clients: Vec<String> = history.column("client");
    assert!(clients.contains(&"203.0.113.7".to_owned()), "{clients:?}");
    // Without the trusted proxy, the header is not believed: the socket peer counts.
    let direct = TestApp::spawn_with(Backend::Sqlite, &[]).await;
    direct.signup("eve@example.com").await;
    for i in 0..5 {
        let spoofed = format!("10.0.0.{i}");
        let request = direct
            .client
            .post(format!("{}/v1/tokens", direct.base))
            .header("x-forwarded-for", spoofed)
            .basic_auth("eve@example.com", Some("wrong wrong wrong"));
        direct.send(request).await.problem(401);
    }
    sign_in(&direct, "eve@example.com", PASSWORD).await.problem(429);
}

async fn passwords_follow_the_policy_and_can_be_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (password, why) in [
        ("short pass", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "too easy"),
        ("1234567890123", "too easy"),
        ("mallory.smith rocks", "email"),
    ] {
        let refused = app
            .call(
                Method::POST,
                "/v1/users",
                None,
                Some(json!({ "email": "mallory.smith@example.com", "password": password })),
            )
            .await
            .problem(422);
        assert_eq!(refused.body["errors"][0]["field"], "password");
        assert!(
            refused.body["errors"][0]["message"].as_str().unwrap().contains(why),
            "{}",
            refused.body
        );
    }

    let ada = app.signup("ada@example.com").await;
    let second = app.signup_token("ada@example.com", "127.0.0.1").await;
    async fn change_with(app: &TestApp, token: &str, body: Value) -> crate::common::Resp {
        app.put("/v1/users/self/password", token, body).await
    }
    let change = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move { change_with(app, &token, body).await }
    };
    let weak = change(
        &ada.jwt,
        json!({ "current_password": PASSWORD, "new_password": "password1234" }),
    )
    .await
    .problem(422);
    assert_eq!(weak.body["errors"][0]["field"], "new_password");
    let wrong = change(
        &ada.jwt,
        json!({ "current_password": "not it at all", "new_password": "a brand new passphrase 77" }),
    )
    .await
    .problem(422);
    assert_eq!(wrong.body["errors"][0]["field"], "current_password");
    change(&ada.jwt, json!({ "current_password": PASSWORD }))
        .await
        .problem(422);
    change(&ada.jwt, json!([])).await.problem(422);
    // A scoped token may not change the password.
    let scoped = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth("ada@example.com", Some(PASSWORD))
                .json(&json!({ "permissions": ["app.read"] })),
        )
        .await
        .expect(201);
    change(
        scoped.body["token"].as_str().unwrap(),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase 77" }),
    )
    .await
    .problem(403);

    // Changed, keeping other sessions: they all still work; a notice is mailed.
    let changed = change(
        &ada.jwt,
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase 77" }),
    )
    .await
    .expect(200);
    assert_eq!(changed.body, json!({ "changed": true, "revoked_tokens": false }));
    app.mail_to("ada@example.com", "Security notice").await;
    app.get("/v1/users/self", &second).await.expect(200);
    sign_in(&app, "ada@example.com", PASSWORD).await.problem(401);
    // Changed again with revoke_tokens, using the API token: every other API token and every
    // JWT (this token's included) stop working on the next request; this API token still works.
    let jwt_of_this = app.exchange(&ada.api_token).await.expect(200).body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    change(
        &ada.api_token,
        json!({ "current_password": "a brand new passphrase 77", "new_password": "yet another long passphrase 8", "revoke_tokens": true }),
    )
    .await
    .expect(200);
    app.get("/v1/users/self", &second).await.problem(401);
    app.get("/v1/users/self", &ada.jwt).await.problem(401);
    app.get("/v1/users/self", &jwt_of_this).await.problem(401);
    app.get("/v1/users/self", &ada.api_token).await.expect(200);
    // A JWT exchanged from it afterwards (in a later second) works.
    app.clock.advance(chrono::TimeDelta::seconds(2));
    let fresh = app.exchange(&ada.api_token).await.expect(200).body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/v1/users/self", &fresh).await.expect(200);
    let history = app
        .get("/v1/users/self/security-events", &ada.api_token)
        .await
        .expect(200);
    let changes: Vec<&Value> = history
        .items()
        .iter()
        .filter(|e| e["type"] == "password.changed")
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["data"]["revoked_tokens"], 2);
}

async fn a_reset_link_sets_the_password_once_and_signs_out_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let ask = |email: &str| {
        app.call(
            Method::POST,
            "/v1/users/password-reset",
            None,
            Some(json!({ "email": email })),
        )
    };
    let known = ask("ada@example.com").await.expect(202);
    let unknown = ask("nobody@example.com").await.expect(202);
    let malformed = ask("not an address").await.expect(202);
    assert_eq!(known.body, unknown.body);
    assert_eq!(known.body, malformed.body);
    let mail = app.mail_to("ada@example.com", "Reset your password").await;
    assert!(
        mail.text()
            .contains("https://dashboard.example.com/password-reset#token=rgr_")
    );
    // A second request within the minute sends nothing more.
    ask("ada@example.com").await.expect(202);
    let confirm = |token: &str, password: &str| {
        app.call(
            Method::POST,
            "/v1/users/password-reset/confirm",
            None,
            Some(json!({ "token": token, "new_password": password })),
        )
    };
    let token = mail.link_token();
    // A weak password does not spend the link.
    confirm(&token, "password").await.problem(422);
    confirm("rgr_short", "a fresh long passphrase 9").await.problem(422);
    confirm(&token, "a fresh long passphrase 9").await.expect(200);
    confirm(&token, "another fresh passphrase 10").await.problem(410);
    app.get("/v1/users/self", &ada.jwt).await.problem(401);
    app.get("/v1/users/self", &ada.api_token).await.problem(401);
    sign_in(&app, "ada@example.com", PASSWORD).await.problem(401);
    sign_in(&app, "ada@example.com", "a fresh long passphrase 9")
        .await
        .expect(201);
    app.mail_to("ada@example.com", "Security notice").await;
    assert_eq!(app.mails_to("ada@example.com", "Reset your password"), 1);
    assert_eq!(app.mails_to("nobody@example.com", ""), 0);
    // A link expires after an hour.
    app.clock.advance(chrono::TimeDelta::minutes(2));
    ask("ada@example.com").await.expect(202);
    let late = app
        .nth_mail("ada@example.com", "Reset your password", 2)
        .await
        .link_token();
    app.clock.advance(chrono::TimeDelta::minutes(61));
    confirm(&late, "a fresh long passphrase 11").await.problem(410);
}

async fn every_token_can_be_revoked_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let other = app.signup_token("ada@example.com", "127.0.0.1").await;
    let bob = app.signup("bob@example.com").await;
    let revoked = app.delete("/v1/tokens", &ada.jwt).await.expect(200);
    assert_eq!(revoked.body, json!({ "revoked": 2 }));
    for token in [&ada.jwt, &ada.api_token, &other] {
        app.get("/v1/users/self", token).await.problem(401);
    }
    app.get("/v1/users/self", &bob.jwt).await.expect(200);
    app.mail_to("ada@example.com", "Security notice").await;
    app.call(Method::DELETE, "/v1/tokens", None, None).await.problem(401);
}

async fn tokens_expire_within_the_configured_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_TOKEN_MAX_DAYS", "30")]).await;
    app.signup("ada@example.com").await;
    let now = app.clock.now();
    let created = sign_in(&app, "ada@example.com", PASSWORD).await.expect(201);
    let expires: chrono::DateTime<chrono::Utc> = created.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (expires - now - chrono::TimeDelta::days(30)).num_seconds().abs() < 5,
        "{expires}"
    );
    let too_late = (now + chrono::TimeDelta::days(31)).to_rfc3339();
    let refused = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth("ada@example.com", Some(PASSWORD))
                .json(&json!({ "expires_at": too_late })),
        )
        .await
        .problem(422);
    assert_eq!(refused.body["errors"][0]["field"], "expires_at");

    // Tokens from before the limit keep working, and the access review flags them.
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    let review = app
        .get("/v1/access-review?finding=token_without_expiry", &owner.jwt)
        .await
        .expect(200);
    assert_eq!(review.body["items"], json!([]));
    app.make_tokens_unexpiring().await;
    app.get("/v1/users/self", &owner.api_token).await.expect(200);
    let review = app
        .get("/v1/access-review?finding=token_without_expiry", &owner.jwt)
        .await
        .expect(200);
    let rows = review.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["email"], "owner@example.com");
    let finding = &rows[0]["findings"][0];
    assert_eq!(finding["code"], "token_without_expiry");
    assert!(
        finding["message"].as_str().unwrap().contains("never expire"),
        "{finding}"
    );
    // Revoking them clears the finding.
    app.call(Method::DELETE, "/v1/tokens", Some(&owner.api_token), None)
        .await
        .expect(200);
    let fresh = sign_in(&app, "owner@example.com", PASSWORD).await.expect(201);
    let token = fresh.body["token"].as_str().unwrap();
    let review = app
        .get("/v1/access-review?finding=token_without_expiry", token)
        .await
        .expect(200);
    assert_eq!(review.body["items"], json!([]));
}

async fn mail_is_sent_once_even_when_a_replica_stops_mid_batch(backend: Backend) {
    // This replica's dispatcher sleeps, so mails pile up in the outbox; others deliver them.
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_DISPATCH_INTERVAL_MS", "600000")]).await;
    for i in 0..8 {
        app.signup_unverified(&format!("user{i}@example.com")).await;
    }
    let sender = app.replica(&[("ROLEGATE_DISPATCH_INTERVAL_MS", "25")]).await;
    for i in 0..8 {
        sender.mail_to(&format!("user{i}@example.com"), "Verify").await;
    }
    // The sender stops; another replica starts: nothing is sent again.
    sender.stop().await;
    let _next = app.replica(&[("ROLEGATE_DISPATCH_INTERVAL_MS", "25")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for i in 0..8 {
        assert_eq!(app.mails_to(&format!("user{i}@example.com"), "Verify"), 1);
    }
    // The outbox keeps no copy of a delivered mail's text (it held a single-use link).
    let payloads = app.outbox_payloads().await;
    assert_eq!(payloads.len(), 8);
    assert!(
        payloads
            .iter()
            .all(|p| !p.contains("sealed_text") && !p.contains("rgv_")),
        "{payloads:?}"
    );
}

async fn without_smtp_nothing_is_sent_and_links_still_work(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_SMTP_URL", "")]).await;
    let owner = app.signup_unverified("owner@example.com").await;
    app.create_app(&owner, "web").await;
    let invitation = app.invite(&owner, "web", "grace@example.com", None).await;
    assert!(invitation["invitation_link"].as_str().unwrap().contains("#token=rgi_"));
    let resend = app
        .post("/v1/users/self/verify-email/resend", &owner.jwt, json!({}))
        .await
        .problem(409);
    assert!(resend.detail().contains("ROLEGATE_SMTP_URL"));
    // Nobody can prove an address here, so two-factor authentication does not wait for it.
    app.post("/v1/users/self/tfa", &owner.jwt, json!({})).await.expect(201);
    let grace = app.signup_unverified("grace@example.com").await;
    app.post(
        "/v1/invitations/accept",
        &grace.jwt,
        json!({ "token": invitation["token"] }),
    )
    .await
    .expect(200);
    assert!(app.mail.lock().unwrap().is_empty());
}

impl TestApp {
    /// A new API token of `email` (password `PASSWORD`), signed in from `client` (believed
    /// only behind a trusted proxy).
    pub async fn signup_token(&self, email: &str, client: &str) -> String {
        let created = self
            .send(
                self.client
                    .post(format!("{}/v1/tokens", self.base))
                    .header("x-forwarded-for", client)
                    .basic_auth(email, Some(PASSWORD)),
            )
            .await
            .expect(201);
        created.body["token"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    /// Every outbox payload, as text, read straight from the database.
    pub async fn outbox_payloads(&self) -> Vec<String> {
        let url = &self.database_url;
        let rows: Vec<String> = if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_scalar("select payload from outbox")
                .fetch_all(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar("select payload::text from outbox")
                .fetch_all(&pool)
                .await
                .unwrap()
        };
        rows
    }

    /// Makes every live API token of the database never expire, as tokens made before
    /// `ROLEGATE_TOKEN_MAX_DAYS` existed do.
    pub async fn make_tokens_unexpiring(&self) {
        let url = &self.database_url;
        let sql = "update api_tokens set expires_at = null where revoked_at is null";
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
    }
}
