//! Accounts that cannot be taken over, by construction (issue 30): only a mailed link proves
//! an address, a claim takes the whole account back, links die together, limits per account,
//! the app's rules on every path that acts for a member, scope first, no addresses for those
//! who may not see the members, no ignored fields, no internal log drains.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, PLATFORM_TOKEN, Resp, TestApp, User};
use crate::on_both_backends;
use crate::tfa::{enable, next_code, wrong_code};

on_both_backends!(
    an_address_squatter_never_gets_the_team_and_the_owner_takes_the_account_back,
    a_claim_turns_two_factor_off_and_needs_no_code,
    claim_mails_are_limited_and_never_sent_to_a_verified_address,
    links_die_together_and_a_refused_password_spends_nothing,
    failures_count_against_the_account_from_any_client,
    the_hundredth_failure_locks_the_account_until_a_mailed_reset,
    the_scm_route_applies_the_apps_rules_to_the_author,
    single_use_credentials_hold_only_while_their_member_may_use_them,
    a_scoped_token_learns_nothing_even_where_access_has_ended,
    members_who_may_not_see_members_see_no_addresses,
    redeploys_refuse_fields_they_would_ignore,
    log_drains_refuse_internal_destinations,
);

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a different long passphrase 42";

async fn sign_in_from(app: &TestApp, client: &str, email: &str, password: &str, otp: Option<&str>) -> Resp {
    let mut request = app
        .client
        .post(format!("{}/v1/tokens", app.base))
        .header("x-forwarded-for", client)
        .basic_auth(email, Some(password));
    if let Some(otp) = otp {
        request = request.header("X-Rolegate-OTP", otp);
    }
    app.send(request).await
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Resp {
    sign_in_from(app, "203.0.113.1", email, password, None).await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> Resp {
    app.call(
        Method::POST,
        "/v1/users/password-reset/confirm",
        None,
        Some(json!({ "token": token, "new_password": password })),
    )
    .await
}

async fn ask_reset(app: &TestApp, email: &str) {
    app.call(
        Method::POST,
        "/v1/users/password-reset",
        None,
        Some(json!({ "email": email })),
    )
    .await
    .expect(202);
}

async fn sign_up(app: &TestApp, email: &str, password: &str) -> Resp {
    app.call(
        Method::POST,
        "/v1/users",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

fn types(history: &Resp) -> Vec<String> {
    history.column("type")
}

/// The attack of the issue, end to end: the squatter verifies nothing by accepting an
/// invitation it made itself, never sees the team's invitation, cannot turn 2FA on; the owner
/// of the address claims the account, and the squatter's credentials die.
async fn an_address_squatter_never_gets_the_team_and_the_owner_takes_the_account_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let victim = "victim@example.com";
    let squatter = app.signup_unverified(victim).await;
    // An app of the attacker's own invites the address; the squatter accepts with the token
    // the attacker was handed.
    let mallory = app.signup("mallory@example.com").await;
    app.create_app(&mallory, "bait").await;
    let own = app.invite(&mallory, "bait", victim, Some("collaborator")).await;
    app.post(
        "/v1/invitations/accept",
        &squatter.jwt,
        json!({ "token": own["token"] }),
    )
    .await
    .expect(200);
    let me = app.get("/v1/users/self", &squatter.jwt).await.expect(200);
    assert_eq!(me.body["email_verified"], false, "holding a token proves no mailbox");
    // Nor can it put a second factor between the owner and the account.
    let tfa = app
        .post("/v1/users/self/tfa", &squatter.jwt, json!({}))
        .await
        .problem(409);
    assert_eq!(tfa.body["type"], "urn:rolegate:problem:email-unverified");
    // A real team invites the address; the squatter cannot list or accept it.
    let owner = app.signup("owner@team.test").await;
    app.create_app(&owner, "web").await;
    let stored = app
        .put(
            "/v1/apps/web/variables/STRIPE_KEY",
            &owner.jwt,
            json!({ "value": "sk_live_123" }),
        )
        .await;
    assert!(stored.status.is_success(), "{}", stored.text);
    let invitation = app.invite(&owner, "web", victim, Some("collaborator")).await;
    let id = invitation["id"].as_str().unwrap();
    app.get("/v1/users/self/invitations", &squatter.jwt).await.problem(403);
    app.post(
        &format!("/v1/users/self/invitations/{id}/accept"),
        &squatter.jwt,
        json!({}),
    )
    .await
    .problem(403);
    app.get("/v1/apps/web/variables/STRIPE_KEY", &squatter.jwt)
        .await
        .problem(404);

    // The owner of the address signs up: the same answer as a new account, and a claim mail.
    let real = sign_up(&app, victim, NEW_PASSWORD).await.expect(201);
    assert_eq!(real.body["email_verified"], false);
    let claim = app.mail_to(victim, "Claim your account").await;
    assert!(claim.link_token().starts_with("rgc_"), "{}", claim.text());
    assert!(
        claim
            .text()
            .contains("https://dashboard.example.com/password-reset#token=rgc_")
    );
    let done = confirm(&app, &claim.link_token(), NEW_PASSWORD).await.expect(200);
    assert_eq!(done.body, json!({ "changed": true, "revoked_tokens": true }));
    confirm(&app, &claim.link_token(), NEW_PASSWORD).await.problem(410);
    // Every credential of the squatter is dead, and its password too.
    app.get("/v1/users/self", &squatter.jwt).await.problem(401);
    app.get("/v1/users/self", &squatter.api_token).await.problem(401);
    sign_in(&app, victim, PASSWORD).await.problem(401);
    // The owner of the address is verified, sees the invitation, accepts it and reads the secret.
    let token = sign_in(&app, victim, NEW_PASSWORD).await.expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/users/self", &token).await.body["email_verified"], true);
    let mine = app.get("/v1/users/self/invitations", &token).await.expect(200);
    let pending: Vec<&Value> = mine.items().iter().filter(|i| i["app_name"] == "web").collect();
    assert_eq!(pending.len(), 1, "{}", mine.text);
    let member = app
        .post(&format!("/v1/users/self/invitations/{id}/accept"), &token, json!({}))
        .await
        .expect(200);
    assert_eq!(member.body["role"], "collaborator");
    let secret = app.get("/v1/apps/web/variables/STRIPE_KEY", &token).await.expect(200);
    assert_eq!(secret.body["value"], "sk_live_123");
    let history = app.get("/v1/users/self/security-events", &token).await.expect(200);
    assert!(
        types(&history).contains(&"account.claimed".to_owned()),
        "{}",
        history.text
    );
    let notice = app.mail_to(victim, "you claimed your account").await;
    assert!(
        notice.text().contains("two-factor authentication was turned off"),
        "{}",
        notice.text()
    );
}

/// A squatter whose 2FA was turned on before the rule existed cannot hold the account: the
/// claim needs no code, turns 2FA off and voids the recovery codes.
async fn a_claim_turns_two_factor_off_and_needs_no_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let victim = "victim@example.com";
    let squatter = app.signup_unverified(victim).await;
    // As an account enrolled under the old rule would be: verified for the enrolment only.
    app.sql(&format!(
        "update users set email_verified = true where email = '{victim}'"
    ))
    .await;
    let (_, codes) = enable(&app, &squatter).await;
    app.sql(&format!(
        "update users set email_verified = false where email = '{victim}'"
    ))
    .await;
    let held = format!(
        "select count(*) from tfa_recovery_codes c join users u on u.id = c.user_id \
         where u.email = '{victim}'"
    );
    assert_eq!(app.count(&held).await, i64::try_from(codes.len()).unwrap());
    sign_up(&app, victim, NEW_PASSWORD).await.expect(201);
    let claim = app.mail_to(victim, "Claim your account").await.link_token();
    // A reset link would need the squatter's code; the claim link does not.
    confirm(&app, &claim, NEW_PASSWORD).await.expect(200);
    let token = sign_in(&app, victim, NEW_PASSWORD).await.expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/users/self", &token).await.expect(200);
    assert_eq!(me.body["tfa_enabled"], false);
    assert_eq!(me.body["email_verified"], true);
    // Signing in asked no code (above); the squatter's TOTP secret and recovery codes are gone.
    assert_eq!(app.count(&held).await, 0, "the recovery codes are void");
    let secrets = format!("select count(*) from users where email = '{victim}' and tfa_secret is not null");
    assert_eq!(app.count(&secrets).await, 0, "the TOTP secret is gone");
    let history = app.get("/v1/users/self/security-events", &token).await.expect(200);
    assert!(types(&history).contains(&"account.claimed".to_owned()));
}

async fn claim_mails_are_limited_and_never_sent_to_a_verified_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signup_unverified("held@example.com").await;
    sign_up(&app, "held@example.com", NEW_PASSWORD).await.expect(201);
    app.mail_to("held@example.com", "Claim your account").await;
    let again = sign_up(&app, "held@example.com", NEW_PASSWORD).await.problem(429);
    assert_eq!(again.body["type"], "urn:rolegate:problem:rate-limited");
    assert_eq!(again.body["limit"], "claim_links_per_minute");
    assert_eq!(again.body["max"], 1);
    assert!(again.headers.get("retry-after").is_some());
    assert_eq!(app.mails_to("held@example.com", "Claim your account"), 1);
    app.clock.advance(TimeDelta::seconds(61));
    sign_up(&app, "held@example.com", NEW_PASSWORD).await.expect(201);
    app.nth_mail("held@example.com", "Claim your account", 2).await;
    // A verified address: 409, and no mail.
    app.signup("taken@example.com").await;
    let taken = sign_up(&app, "taken@example.com", NEW_PASSWORD).await.problem(409);
    assert_eq!(taken.detail(), "an account with this email already exists");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mails_to("taken@example.com", "Claim"), 0);
}

async fn links_die_together_and_a_refused_password_spends_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    // Two reset links; the second used; the first is void.
    ask_reset(&app, &ada.email).await;
    let first = app.mail_to(&ada.email, "Reset your password").await.link_token();
    app.clock.advance(TimeDelta::seconds(61));
    ask_reset(&app, &ada.email).await;
    let second = app.nth_mail(&ada.email, "Reset your password", 2).await.link_token();
    // A refused password leaves the link usable.
    let refused = confirm(&app, &second, "ada.example.com and more words")
        .await
        .problem(422);
    assert_eq!(refused.error_fields(), ["new_password"]);
    confirm(&app, &second, NEW_PASSWORD).await.expect(200);
    confirm(&app, &first, "yet another long passphrase 7")
        .await
        .problem(410);
    sign_in(&app, &ada.email, NEW_PASSWORD).await.expect(201);
    // A link asked for, then a password change: the link is void.
    app.clock.advance(TimeDelta::seconds(61));
    ask_reset(&app, &ada.email).await;
    let third = app.nth_mail(&ada.email, "Reset your password", 3).await.link_token();
    let token = sign_in(&app, &ada.email, NEW_PASSWORD).await.expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    app.put(
        "/v1/users/self/password",
        &token,
        json!({ "current_password": NEW_PASSWORD, "new_password": "the third long passphrase 99" }),
    )
    .await
    .expect(200);
    confirm(&app, &third, "a fourth long passphrase 1234")
        .await
        .problem(410);
    sign_in(&app, &ada.email, "the third long passphrase 99")
        .await
        .expect(201);
    // Verifying the address voids the reset links asked for before.
    app.signup_unverified("bob@example.com").await;
    ask_reset(&app, "bob@example.com").await;
    let reset = app.mail_to("bob@example.com", "Reset your password").await.link_token();
    app.verify_address("bob@example.com").await;
    confirm(&app, &reset, NEW_PASSWORD).await.problem(410);
    sign_in(&app, "bob@example.com", PASSWORD).await.expect(201);
}

/// Ten failures from ten addresses (one each, under every per-client limit) make the account
/// wait; the wait doubles; a wrong second factor after the right password counts too.
async fn failures_count_against_the_account_from_any_client(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let ada = app.signup("ada@example.com").await;
    let (secret, _) = enable(&app, &ada).await;
    for n in 0..9 {
        let client = format!("198.51.100.{n}");
        sign_in_from(&app, &client, &ada.email, "not the password at all", None)
            .await
            .problem(401);
    }
    // The tenth: the right password and a wrong code, from yet another address.
    let wrong = wrong_code(&app, &secret);
    let otp = sign_in_from(&app, "198.51.100.9", &ada.email, PASSWORD, Some(&wrong))
        .await
        .problem(401);
    assert_eq!(otp.body["type"], "urn:rolegate:problem:otp-invalid");
    // The right password from an eleventh address must wait a second (refused before any
    // code is read).
    let early = sign_in_from(&app, "198.51.100.10", &ada.email, PASSWORD, Some(&wrong))
        .await
        .problem(429);
    assert_eq!(early.body["type"], "urn:rolegate:problem:throttled");
    assert_eq!(early.headers["retry-after"], "1");
    // After a wait the next attempt is heard; a failure then doubles the wait.
    app.clock.advance(TimeDelta::seconds(2));
    sign_in_from(&app, "198.51.100.11", &ada.email, "still not the password", None)
        .await
        .problem(401);
    let doubled = sign_in_from(&app, "198.51.100.12", &ada.email, PASSWORD, None)
        .await
        .problem(429);
    assert_eq!(doubled.headers["retry-after"], "2");
    // A success ends the count.
    app.clock.advance(TimeDelta::seconds(3));
    let code = next_code(&app, &secret);
    sign_in_from(&app, "198.51.100.13", &ada.email, PASSWORD, Some(&code))
        .await
        .expect(201);
    for n in 0..9 {
        sign_in_from(&app, &format!("192.0.2.{n}"), &ada.email, "wrong once more", None)
            .await
            .problem(401);
    }
    let code = next_code(&app, &secret);
    sign_in_from(&app, "192.0.2.200", &ada.email, PASSWORD, Some(&code))
        .await
        .expect(201);
}

async fn the_hundredth_failure_locks_the_account_until_a_mailed_reset(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let ada = app.signup("ada@example.com").await;
    for n in 0..100 {
        // Past every wait: the account's (at most 15 minutes) and the clients' windows.
        app.clock.advance(TimeDelta::minutes(16));
        let client = format!("198.51.{}.{}", n / 200, n % 200);
        sign_in_from(&app, &client, &ada.email, "not the password at all", None)
            .await
            .problem(401);
    }
    app.clock.advance(TimeDelta::hours(2));
    let locked = sign_in_from(&app, "203.0.113.50", &ada.email, PASSWORD, None)
        .await
        .problem(429);
    assert_eq!(locked.body["type"], "urn:rolegate:problem:account-locked");
    assert!(locked.detail().contains("reset link"), "{}", locked.detail());
    // The lock is mailed, with what to do.
    let notice = app.mail_to(&ada.email, "sign-in to your account is locked").await;
    assert!(
        notice.text().contains("POST /v1/users/password-reset"),
        "{}",
        notice.text()
    );
    // The owner's reset link unlocks it.
    ask_reset(&app, &ada.email).await;
    let reset = app.mail_to(&ada.email, "Reset your password").await.link_token();
    confirm(&app, &reset, NEW_PASSWORD).await.expect(200);
    let token = sign_in_from(&app, "203.0.113.50", &ada.email, NEW_PASSWORD, None)
        .await
        .expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    let history = app
        .get("/v1/users/self/security-events?limit=200", &token)
        .await
        .expect(200);
    let kinds = types(&history);
    assert_eq!(kinds.iter().filter(|k| *k == "account.locked").count(), 1, "{kinds:?}");
    let locked = history.items().iter().find(|e| e["type"] == "account.locked").unwrap();
    assert_eq!(locked["data"]["failures"], 100);
}

async fn the_scm_route_applies_the_apps_rules_to_the_author(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let settings = json!({"auto_create": true, "destroy_on_close": true, "destroy_stale_after_hours": null,
        "allow_forks": false, "limited_collaborators_via_scm": true});
    app.put("/v1/apps/web/review-apps/settings", &team.owner.jwt, settings)
        .await
        .expect(200);
    let report = |pr: u32, email: &str| json!({"pull_request": pr, "branch": format!("pr-{pr}"), "author_email": email, "from_fork": false});
    let post = |body: Value| app.post("/internal/v1/apps/web/review-apps", PLATFORM_TOKEN, body);
    // The owner requires 2FA: the collaborator without it is refused here as on /v1.
    enable(&app, &team.owner).await;
    app.put("/v1/apps/web/security", &team.owner.jwt, json!({"require_tfa": true}))
        .await
        .expect(200);
    app.post(
        "/v1/apps/web/review-apps",
        &team.collaborator.jwt,
        json!({"pull_request": 1, "branch": "pr-1"}),
    )
    .await
    .problem(403);
    let outcome = post(report(1, &team.collaborator.email)).await.expect(200);
    assert_eq!(
        outcome.body,
        json!({"created": false, "reason": "author_tfa_required", "review_app": null})
    );
    let outcome = post(report(2, &team.limited.email)).await.expect(200);
    assert_eq!(outcome.body["reason"], "author_tfa_required");
    // Once the collaborator has 2FA, the same report is created in their name.
    enable(&app, &team.collaborator).await;
    let made = post(report(1, &team.collaborator.email)).await.expect(201);
    assert_eq!(made.body["review_app"]["created_by"], json!(team.collaborator.id));
    // Time-bound access that has ended counts as no access.
    app.put("/v1/apps/web/security", &team.owner.jwt, json!({"require_tfa": false}))
        .await
        .expect(200);
    let until = (app_now(&app) + TimeDelta::hours(1)).to_rfc3339();
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", team.limited_id),
        &team.owner.jwt,
        json!({"access_expires_at": until}),
    )
    .await
    .expect(200);
    app.clock.advance(TimeDelta::hours(2));
    let outcome = post(report(3, &team.limited.email)).await.expect(200);
    assert_eq!(outcome.body["reason"], "author_not_a_member");
    let events = app
        .get("/v1/apps/web/events?type=review_app.requested", &team.owner.api_token)
        .await
        .expect(200);
    assert_eq!(
        events.items().len(),
        1,
        "only the allowed report was recorded: {}",
        events.text
    );
}

async fn attach_token(app: &TestApp, jwt: &str, id: String) -> String {
    let made = app
        .post(&format!("/v1/apps/web/one-offs/{id}/attach"), jwt, json!({}))
        .await
        .expect(201);
    let url = made.body["attach_url"].as_str().unwrap().to_owned();
    url.split_once("#token=").unwrap().1.to_owned()
}

fn app_now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use rolegate::clock::Clock;
    app.clock.now()
}

async fn single_use_credentials_hold_only_while_their_member_may_use_them(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let collab = &team.collaborator.jwt;
    let attach = |id: String| attach_token(&app, collab, id);
    let verify = |token: String| {
        app.post(
            "/internal/v1/one-offs/attach/verify",
            PLATFORM_TOKEN,
            json!({"token": token}),
        )
    };
    let run = json!({"command": "rails console", "size": "M"});
    let one_off = app.post("/v1/apps/web/one-offs", collab, run).await.expect(202);
    let id = one_off.body["id"].as_str().unwrap().to_owned();
    // Held while the member may attach.
    let held = verify(attach(id.clone()).await).await.expect(200);
    assert_eq!(held.body["user_id"], json!(team.collaborator.id));
    // The app starts requiring 2FA: a credential issued before is refused.
    let before_rule = attach(id.clone()).await;
    enable(&app, &team.owner).await;
    app.put("/v1/apps/web/security", &team.owner.jwt, json!({"require_tfa": true}))
        .await
        .expect(200);
    let refused = verify(before_rule).await.problem(403);
    assert!(refused.detail().contains("tfa_required"), "{}", refused.detail());
    app.put("/v1/apps/web/security", &team.owner.jwt, json!({"require_tfa": false}))
        .await
        .expect(200);
    // The member is removed: a credential issued before is refused.
    let before_removal = attach(id.clone()).await;
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.owner.jwt,
    )
    .await
    .expect(204);
    let refused = verify(before_removal).await.problem(403);
    assert!(refused.detail().contains("not_a_member"), "{}", refused.detail());

    // Dashboard links: a role changed to one without the permission since.
    let owner = &team.owner.jwt;
    let addon = app
        .post(
            "/v1/apps/web/addons",
            owner,
            json!({"provider": "mailgun", "plan": "s"}),
        )
        .await
        .expect(202);
    let addon_id = addon.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/internal/v1/addons/{addon_id}/provisioned"),
        PLATFORM_TOKEN,
        json!({"credentials": {"url": "https://mail.example.com", "user": "u"}}),
    )
    .await
    .expect(200);
    let other = app.signup("second@web.test").await;
    let row = app.add_member(&team.owner, "web", &other, "collaborator").await;
    let link = app
        .post(
            &format!("/v1/apps/web/addons/{addon_id}/dashboard"),
            &other.jwt,
            json!({}),
        )
        .await
        .expect(201);
    let token = link.body["url"]
        .as_str()
        .unwrap()
        .split_once("#token=")
        .unwrap()
        .1
        .to_owned();
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", row["id"].as_str().unwrap()),
        owner,
        json!({"role": "limited_collaborator"}),
    )
    .await
    .expect(200);
    let refused = app
        .post(
            "/internal/v1/dashboard-links/verify",
            PLATFORM_TOKEN,
            json!({"token": token}),
        )
        .await
        .problem(403);
    assert!(
        refused.detail().contains("role_lacks_permission"),
        "{}",
        refused.detail()
    );
}

async fn a_scoped_token_learns_nothing_even_where_access_has_ended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "xapp").await;
    app.create_app(&owner, "yapp").await;
    let bob = app.signup("bob@example.com").await;
    let on_x = app.add_member(&owner, "xapp", &bob, "collaborator").await;
    app.add_member(&owner, "yapp", &bob, "collaborator").await;
    let until = (app_now(&app) + TimeDelta::hours(1)).to_rfc3339();
    app.patch(
        &format!("/v1/apps/xapp/collaborators/{}", on_x["id"].as_str().unwrap()),
        &owner.jwt,
        json!({"access_expires_at": until}),
    )
    .await
    .expect(200);
    let scoped = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&bob.email, Some(&bob.password))
                .json(&json!({"name": "ci", "apps": ["yapp"]})),
        )
        .await
        .expect(201);
    let scoped = scoped.body["token"].as_str().unwrap().to_owned();
    app.clock.advance(TimeDelta::hours(2));
    // The unscoped token learns the access ended; the scoped one learns nothing.
    let ended = app
        .get("/v1/apps/xapp/variables", &bob.jwt_fresh(&app).await)
        .await
        .problem(403);
    assert!(ended.detail().contains("expired"), "{}", ended.detail());
    let outside = app.get("/v1/apps/xapp/variables", &scoped).await.problem(404);
    let missing = app.get("/v1/apps/nowhere/variables", &scoped).await.problem(404);
    assert_eq!(outside.body, missing.body);
    let checks = json!({"checks": [{"app": "xapp", "permission": "variables.list_names"}]});
    let answer = app.post("/v1/access/check", &scoped, checks).await.expect(200);
    assert_eq!(answer.body["results"][0]["reason"], "not_a_member");
    assert_eq!(answer.body["results"][0]["allowed"], false);
}

async fn members_who_may_not_see_members_see_no_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    app.post("/v1/apps/web/deployments/redeploy", &team.collaborator.jwt, json!({}))
        .await
        .expect(202);
    app.post("/v1/apps/web/deployments/redeploy", &team.limited.jwt, json!({}))
        .await
        .expect(202);
    let seen = |resp: &Resp| resp.text.clone();
    // The limited collaborator sees others as {id, name}, themselves as {id, email}.
    let deployments = app.get("/v1/apps/web/deployments", &team.limited.jwt).await.expect(200);
    let by: Vec<&Value> = deployments.items().iter().map(|d| &d["requested_by"]).collect();
    assert_eq!(by[0], &json!({"id": team.limited.id, "email": team.limited.email}));
    assert_eq!(by[1], &json!({"id": team.collaborator.id, "name": null}));
    let first = deployments.items()[1]["id"].as_str().unwrap().to_owned();
    let one = app
        .get(&format!("/v1/apps/web/deployments/{first}"), &team.limited.jwt)
        .await
        .expect(200);
    assert_eq!(
        one.body["requested_by"],
        json!({"id": team.collaborator.id, "name": null})
    );
    let timeline = app
        .get("/v1/apps/web/events?limit=200", &team.limited.jwt)
        .await
        .expect(200);
    for address in [&team.owner.email, &team.collaborator.email] {
        assert!(
            !seen(&timeline).contains(address.as_str()),
            "{address} in {}",
            timeline.text
        );
        assert!(
            !seen(&deployments).contains(address.as_str()),
            "{address} in {}",
            deployments.text
        );
    }
    let created = timeline.items().iter().find(|e| e["type"] == "app.created").unwrap();
    assert_eq!(created["actor"], json!({"id": team.owner.id, "name": null}));
    let requested: Vec<&Value> = timeline
        .items()
        .iter()
        .filter(|e| e["type"] == "deployment.requested")
        .collect();
    assert_eq!(requested[0]["actor"]["email"], team.limited.email.as_str());
    assert_eq!(
        requested[1]["data"]["requested_by"],
        json!({"id": team.collaborator.id, "name": null})
    );
    // Whoever may read the members still sees every address.
    let full = app
        .get("/v1/apps/web/deployments", &team.collaborator.jwt)
        .await
        .expect(200);
    assert_eq!(full.items()[0]["requested_by"]["email"], team.limited.email.as_str());
    let events = app
        .get("/v1/apps/web/events?limit=200", &team.owner.jwt)
        .await
        .expect(200);
    assert!(seen(&events).contains(team.collaborator.email.as_str()));
}

async fn redeploys_refuse_fields_they_would_ignore(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    let limited = &team.limited.jwt;
    let refused = app
        .post(
            "/v1/apps/web/deployments/redeploy",
            limited,
            json!({"git_ref": "evil-branch"}),
        )
        .await
        .problem(422);
    assert_eq!(refused.error_fields(), ["git_ref"]);
    let nothing = app
        .send(
            app.client
                .post(format!("{}/v1/apps/web/deployments/redeploy", app.base))
                .bearer_auth(limited),
        )
        .await
        .expect(202);
    assert_eq!(nothing.body["git_ref"], "main");
    app.post("/v1/apps/web/deployments/redeploy", limited, json!({}))
        .await
        .expect(202);
    let deployments = app.get("/v1/apps/web/deployments", limited).await.expect(200);
    assert_eq!(deployments.items().len(), 2, "the refused one was not recorded");
    // The review app's redeploy alike.
    let review = app
        .post(
            "/v1/apps/web/review-apps",
            &team.collaborator.jwt,
            json!({"pull_request": 7, "branch": "pr-7"}),
        )
        .await
        .expect(202);
    let path = format!(
        "/v1/apps/web/review-apps/{}/redeploy",
        review.body["id"].as_str().unwrap()
    );
    let refused = app.post(&path, limited, json!({"branch": "evil"})).await.problem(422);
    assert_eq!(refused.error_fields(), ["branch"]);
    app.post(&path, limited, json!({})).await.expect(202);
}

async fn log_drains_refuse_internal_destinations(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let owner = app.signup("owner@example.com").await;
    app.create_app(&owner, "web").await;
    for url in [
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/logs",
        "https://[::1]/logs",
        "https://10.0.0.1/logs",
        "https://0x7f000001/logs",
        "syslog://2130706433:514",
        "syslog+tls://127.1:6514",
        "https://0177.0.0.1/logs",
    ] {
        let refused = app
            .post("/v1/apps/web/log-drains", &owner.jwt, json!({"url": url}))
            .await
            .problem(422);
        assert_eq!(refused.error_fields(), ["url"], "{url}");
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("internal destination") || message.contains("four decimal numbers"),
            "{url}: {message}"
        );
    }
    let drains = app.get("/v1/apps/web/log-drains", &owner.jwt).await.expect(200);
    assert!(drains.items().is_empty());
    app.post(
        "/v1/apps/web/log-drains",
        &owner.jwt,
        json!({"url": "syslog+tls://logs.example.com:6514"}),
    )
    .await
    .expect(201);
    // A platform whose drains are internal lifts the rule.
    let internal = TestApp::spawn_with(backend, &[("ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE", "1")]).await;
    let owner = internal.signup("owner@example.com").await;
    internal.create_app(&owner, "web").await;
    internal
        .post(
            "/v1/apps/web/log-drains",
            &owner.jwt,
            json!({"url": "syslog://10.0.0.5:514"}),
        )
        .await
        .expect(201);
}

impl User {
    /// A new JWT of this user's API token (the one made at sign-up may have expired).
    pub async fn jwt_fresh(&self, app: &TestApp) -> String {
        app.exchange(&self.api_token).await.expect(200).body["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl TestApp {
    /// The single number one query of the test database answers, such as a `count(*)`.
    pub async fn count(&self, query: &str) -> i64 {
        let url = &self.database_url;
        let query = sqlx::AssertSqlSafe(query.to_owned());
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
        }
    }

    /// Runs one statement on the test database, as an operator would.
    pub async fn sql(&self, statement: &str) {
        let url = &self.database_url;
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    }
}

/// Every `.rs` file under `src/`, with its text.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// Where `needle` stands: each file, as many times as it does.
fn places(needle: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let mut found: Vec<String> = sources()
        .into_iter()
        .flat_map(|(path, text)| {
            let path = path.trim_start_matches(root).to_owned();
            std::iter::repeat_n(path, text.matches(needle).count())
        })
        .collect();
    found.sort();
    found
}

/// One statement marks an address verified, and only the three mailed links reach it: the
/// verification link (`POST /v1/users/verify-email`), and the reset and claim links
/// (`POST /v1/users/password-reset/confirm`).
#[test]
fn only_a_mailed_link_verifies_an_address() {
    assert_eq!(places("email_verified = true"), ["src/store/sql/security.rs"]);
    // Defined once, called by the two store functions that use a link.
    assert_eq!(
        places("mark_verified("),
        [
            "src/store/sql/security.rs",
            "src/store/sql/security.rs",
            "src/store/sql/security.rs"
        ]
    );
    assert_eq!(places(".redeem_verification("), ["src/api/users.rs"]);
    assert_eq!(places(".redeem_link("), ["src/api/passwords.rs"]);
    // A used link is the proof, and only the store makes one.
    assert_eq!(
        places("UsedLink {"),
        ["src/store/models/security.rs", "src/store/models/security.rs"],
        "its struct and its impl: nothing else builds one"
    );
}
