//! Two-factor authentication: enrolment, sign-in with and without the second factor, replay,
//! recovery codes, turning it off, throttling, password reset; and apps that require it of
//! every member, for each role, on the next request after either side changes, through two
//! replicas, in the check API, the caller's own access, invitations and the review.

use chrono::TimeDelta;
use reqwest::Method;
use rolegate::clock::Clock;
use serde_json::{Value, json};

use crate::common::{Backend, Resp, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    enrolment_sign_in_replay_recovery_and_disable,
    bad_input_is_a_clear_4xx,
    wrong_codes_are_throttled_like_wrong_passwords,
    password_reset_needs_the_second_factor,
    the_app_rule_refuses_every_role_without_tfa,
    the_rule_follows_either_side_at_once_through_two_replicas,
    invitations_to_such_an_app_need_tfa,
);

async fn sign_in(app: &TestApp, user: &User, otp: Option<&str>) -> Resp {
    let mut request = app
        .client
        .post(format!("{}/v1/tokens", app.base))
        .basic_auth(&user.email, Some(&user.password));
    if let Some(otp) = otp {
        request = request.header("X-Rolegate-OTP", otp);
    }
    app.send(request).await
}

/// The authenticator app's code at the server's clock, after moving it to the next time step
/// (a step is accepted once).
pub(crate) fn next_code(app: &TestApp, secret: &str) -> String {
    app.clock.advance(TimeDelta::seconds(30));
    rolegate::auth::tfa::code_at(secret, app.clock.now()).expect("base32 secret")
}

/// A 6-digit code that is not valid now (nor one step either side).
pub(crate) fn wrong_code(app: &TestApp, secret: &str) -> String {
    let now = app.clock.now();
    let valid: Vec<String> = [-30, 0, 30]
        .iter()
        .map(|s| rolegate::auth::tfa::code_at(secret, now + TimeDelta::seconds(*s)).unwrap())
        .collect();
    (0..1000)
        .map(|n| format!("{:06}", 123_456 + n))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// Turns 2FA on for `user`; the secret and the recovery codes.
pub(crate) async fn enable(app: &TestApp, user: &User) -> (String, Vec<String>) {
    let enrolled = app.post("/v1/users/self/tfa", &user.jwt, json!({})).await.expect(201);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    let code = next_code(app, &secret);
    let confirmed = app
        .post("/v1/users/self/tfa/confirm", &user.jwt, json!({ "code": code }))
        .await
        .expect(200);
    let codes = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn disable(app: &TestApp, user: &User, secret: &str) {
    let code = next_code(app, secret);
    app.call(
        Method::DELETE,
        "/v1/users/self/tfa",
        Some(&user.jwt),
        Some(json!({ "code": code })),
    )
    .await
    .expect(200);
}

fn security_types(events: &Resp) -> Vec<String> {
    events.column("type")
}

async fn enrolment_sign_in_replay_recovery_and_disable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let me = app.get("/v1/users/self", &ada.jwt).await.expect(200);
    assert_eq!(me.body["tfa_enabled"], false);

    let enrolled = app.post("/v1/users/self/tfa", &ada.jwt, json!({})).await.expect(201);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let uri = enrolled.body["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/rolegate:ada%40example.com?"), "{uri}");
    assert!(
        uri.contains(&format!("secret={secret}")) && uri.contains("issuer=rolegate"),
        "{uri}"
    );
    // Not on until confirmed: the password alone still signs in.
    sign_in(&app, &ada, None).await.expect(201);
    assert_eq!(app.get("/v1/users/self", &ada.jwt).await.body["tfa_enabled"], false);

    let wrong = wrong_code(&app, &secret);
    let refused = app
        .post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": wrong }))
        .await
        .problem(401);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:otp-invalid");
    let code = next_code(&app, &secret);
    let confirmed = app
        .post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": code }))
        .await
        .expect(200);
    assert_eq!(confirmed.body["tfa_enabled"], true);
    let recovery: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert!(
        recovery.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3),
        "{recovery:?}"
    );
    assert_eq!(app.get("/v1/users/self", &ada.jwt).await.body["tfa_enabled"], true);
    app.mail_to(
        "ada@example.com",
        "Security notice: two-factor authentication was turned on",
    )
    .await;

    // Sign-in: the password alone is not enough.
    let required = sign_in(&app, &ada, None).await.problem(401);
    assert_eq!(required.body["type"], "urn:rolegate:problem:otp-required");
    assert_eq!(required.headers["x-rolegate-otp"], "required");
    assert!(
        required.detail().ends_with("in the X-Rolegate-OTP header"),
        "{}",
        required.detail()
    );
    let wrong = wrong_code(&app, &secret);
    let invalid = sign_in(&app, &ada, Some(&wrong)).await.problem(401);
    assert_eq!(invalid.body["type"], "urn:rolegate:problem:otp-invalid");
    assert!(invalid.headers.get("x-rolegate-otp").is_none());
    // The code that confirmed enrolment is spent: replaying it is refused.
    let replayed = sign_in(&app, &ada, Some(&code)).await.problem(401);
    assert_eq!(replayed.body["type"], "urn:rolegate:problem:otp-invalid");
    let code = next_code(&app, &secret);
    let token = sign_in(&app, &ada, Some(&code)).await.expect(201);
    assert!(token.body["token"].as_str().unwrap().starts_with("rg_"));
    // Within its window, the same code again is refused.
    sign_in(&app, &ada, Some(&code)).await.problem(401);
    // A wrong password with a right code is still a wrong password.
    let mut liar = ada.clone();
    liar.password = "not the password at all".into();
    let code = next_code(&app, &secret);
    let wrong_password = sign_in(&app, &liar, Some(&code)).await.problem(401);
    assert_eq!(wrong_password.body["type"], "urn:rolegate:problem:unauthorized");

    // Five failures so far: past the throttling window before going on.
    app.clock.advance(TimeDelta::minutes(16));
    // A recovery code works once, in any case, with or without dashes.
    let first = recovery[0].to_uppercase().replace('-', "");
    sign_in(&app, &ada, Some(&first)).await.expect(201);
    sign_in(&app, &ada, Some(&recovery[0])).await.problem(401);
    app.mail_to("ada@example.com", "Security notice: a recovery code was used")
        .await;

    // New recovery codes (with a recovery code): the old ones stop working.
    let replaced = app
        .post(
            "/v1/users/self/tfa/recovery-codes",
            &ada.jwt,
            json!({ "code": recovery[1] }),
        )
        .await
        .expect(200);
    let fresh: Vec<String> = replaced.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !recovery.contains(c)));
    sign_in(&app, &ada, Some(&recovery[2])).await.problem(401);
    sign_in(&app, &ada, Some(&fresh[0])).await.expect(201);

    // Turning it off needs a right code too.
    let wrong = wrong_code(&app, &secret);
    let refused = app
        .call(
            Method::DELETE,
            "/v1/users/self/tfa",
            Some(&ada.jwt),
            Some(json!({ "code": wrong })),
        )
        .await
        .problem(401);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:otp-invalid");
    disable(&app, &ada, &secret).await;
    assert_eq!(app.get("/v1/users/self", &ada.jwt).await.body["tfa_enabled"], false);
    sign_in(&app, &ada, None).await.expect(201);
    // Its recovery codes went with it; turning off what is off is a conflict.
    let off = app
        .call(
            Method::DELETE,
            "/v1/users/self/tfa",
            Some(&ada.jwt),
            Some(json!({ "code": fresh[1] })),
        )
        .await
        .problem(409);
    assert_eq!(off.detail(), "two-factor authentication is not on");

    // Every change is in the account's own history, and no secret is.
    let events = app.get("/v1/users/self/security-events", &ada.jwt).await.expect(200);
    let types = security_types(&events);
    for expected in [
        "tfa.enrolment_started",
        "tfa.enabled",
        "tfa.recovery_code_used",
        "tfa.recovery_codes_replaced",
        "tfa.disabled",
    ] {
        assert!(
            types.contains(&expected.to_owned()),
            "{expected} missing from {types:?}"
        );
    }
    let failed: Vec<&Value> = events.items().iter().filter(|e| e["type"] == "signin.failed").collect();
    assert!(
        failed.iter().any(|e| e["data"]["reason"] == "otp_invalid"),
        "{failed:?}"
    );
    assert!(!events.text.contains(&secret));
    assert!(recovery.iter().all(|c| !events.text.contains(c.as_str())));
    let used = events
        .items()
        .iter()
        .find(|e| e["type"] == "tfa.recovery_code_used")
        .unwrap();
    assert_eq!(used["data"]["remaining"], 9);
    assert_eq!(used["data"]["for"], "signin");
}

async fn bad_input_is_a_clear_4xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    // Confirming without enrolling.
    let none = app
        .post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": "123456" }))
        .await
        .problem(409);
    assert!(none.detail().contains("no enrolment is pending"), "{}", none.text);
    // Changes that need 2FA on, while it is off.
    app.post(
        "/v1/users/self/tfa/recovery-codes",
        &ada.jwt,
        json!({ "code": "123456" }),
    )
    .await
    .problem(409);
    let enrolled = app.post("/v1/users/self/tfa", &ada.jwt, json!({})).await.expect(201);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    // Codes of the wrong shape name the field.
    for code in ["12345", "1234567", "12a456", "", "zzzz-zzzz-zzzz-zzz1"] {
        let bad = app
            .post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": code }))
            .await
            .problem(422);
        assert_eq!(bad.error_fields(), ["code"], "{code:?}: {}", bad.text);
    }
    // A recovery code cannot confirm enrolment.
    let shaped = app
        .post(
            "/v1/users/self/tfa/confirm",
            &ada.jwt,
            json!({ "code": "abcd-efgh-ijkl-mnop" }),
        )
        .await
        .problem(422);
    assert!(shaped.text.contains("recovery code"), "{}", shaped.text);
    app.post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": 123456 }))
        .await
        .problem(422);
    app.post(
        "/v1/users/self/tfa/confirm",
        &ada.jwt,
        json!({ "code": "123456", "extra": 1 }),
    )
    .await
    .problem(422);
    // Starting again replaces the pending secret: the first one's codes no longer confirm.
    let again = app.post("/v1/users/self/tfa", &ada.jwt, json!({})).await.expect(201);
    let second = again.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, secret);
    let stale = next_code(&app, &secret);
    if rolegate::auth::tfa::code_at(&second, app.clock.now()).as_deref() != Some(stale.as_str()) {
        app.post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": stale }))
            .await
            .problem(401);
    }
    let code = next_code(&app, &second);
    app.post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": code }))
        .await
        .expect(200);
    // Enrolling twice, and confirming twice, once it is on.
    let twice = app.post("/v1/users/self/tfa", &ada.jwt, json!({})).await.problem(409);
    assert!(twice.detail().contains("already on"), "{}", twice.text);
    app.post("/v1/users/self/tfa/confirm", &ada.jwt, json!({ "code": "123456" }))
        .await
        .problem(409);
    // A header that is not a code is a wrong code, not a server error.
    let odd = sign_in(&app, &ada, Some("not-a-code")).await.problem(401);
    assert_eq!(odd.body["type"], "urn:rolegate:problem:otp-invalid");
    // A scoped token may not touch the second factor.
    let scoped = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&ada.email, Some(&ada.password))
                .header("X-Rolegate-OTP", next_code(&app, &second))
                .json(&json!({ "permissions": ["app.read"] })),
        )
        .await
        .expect(201);
    let scoped = scoped.body["token"].as_str().unwrap();
    app.post("/v1/users/self/tfa", scoped, json!({})).await.problem(403);
    // No body on a route that needs one.
    app.call(Method::DELETE, "/v1/users/self/tfa", Some(&ada.jwt), None)
        .await
        .problem(415);
}

async fn wrong_codes_are_throttled_like_wrong_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let (secret, _) = enable(&app, &ada).await;
    for _ in 0..5 {
        let wrong = wrong_code(&app, &secret);
        sign_in(&app, &ada, Some(&wrong)).await.problem(401);
    }
    // Five wrong codes: refused before anything is checked, the right code included.
    let code = next_code(&app, &secret);
    let throttled = sign_in(&app, &ada, Some(&code)).await.problem(429);
    assert!(throttled.headers.contains_key("retry-after"));
    // A missing code is a prompt, not a failure: it is never counted.
    app.clock.advance(TimeDelta::minutes(16));
    for _ in 0..6 {
        sign_in(&app, &ada, None).await.problem(401);
    }
    let code = next_code(&app, &secret);
    sign_in(&app, &ada, Some(&code)).await.expect(201);
}

async fn password_reset_needs_the_second_factor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let (secret, recovery) = enable(&app, &ada).await;
    app.call(
        Method::POST,
        "/v1/users/password-reset",
        None,
        Some(json!({ "email": ada.email })),
    )
    .await
    .expect(202);
    let token = app.mail_to("ada@example.com", "Reset your password").await.link_token();
    let confirm = |code: Option<String>| {
        let mut body = json!({ "token": token, "new_password": "a different long passphrase 42" });
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        app.call(Method::POST, "/v1/users/password-reset/confirm", None, Some(body))
    };
    let required = confirm(None).await.problem(401);
    assert_eq!(required.body["type"], "urn:rolegate:problem:otp-required");
    // The reset takes its code in the body, and says so (a sign-in, in the header).
    assert!(
        required.detail().ends_with("as the body's `code` field"),
        "{}",
        required.detail()
    );
    let invalid = confirm(Some(wrong_code(&app, &secret))).await.problem(401);
    assert_eq!(invalid.body["type"], "urn:rolegate:problem:otp-invalid");
    // The link was not spent by the refusals: with a recovery code it sets the password.
    confirm(Some(recovery[0].clone())).await.expect(200);
    let mut renewed = ada.clone();
    renewed.password = "a different long passphrase 42".into();
    // 2FA stays on after a reset.
    sign_in(&app, &renewed, None).await.problem(401);
    let code = next_code(&app, &secret);
    sign_in(&app, &renewed, Some(&code)).await.expect(201);
    confirm(None).await.problem(410);
}

async fn put_rule(app: &TestApp, by: &User, app_name: &str, on: bool) -> Resp {
    app.put(
        &format!("/v1/apps/{app_name}/security"),
        &by.jwt,
        json!({ "require_tfa": on }),
    )
    .await
}

fn emails(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn check(app: &TestApp, by: &User, user_id: Option<&str>, permission: &str) -> Value {
    let mut question = json!({ "app": "web", "permission": permission });
    if let Some(id) = user_id {
        question["user_id"] = json!(id);
    }
    let answer = app
        .post("/v1/access/check", &by.jwt, json!({ "checks": [question] }))
        .await
        .expect(200);
    answer.body["results"][0].clone()
}

async fn the_app_rule_refuses_every_role_without_tfa(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = app.team("web").await;
    // The owner cannot require what they do not have; nobody but the owner may require it.
    let own_first = put_rule(&app, &team.owner, "web", true).await.problem(409);
    assert!(own_first.detail().contains("your own two-factor"), "{}", own_first.text);
    let not_owner = put_rule(&app, &team.collaborator, "web", true).await.problem(403);
    assert_eq!(not_owner.body["required_permission"], "app.require_tfa");
    put_rule(&app, &team.limited, "web", true).await.problem(403);
    put_rule(&app, &team.outsider, "web", true).await.problem(404);
    app.put(
        "/v1/apps/web/security",
        &team.owner.jwt,
        json!({ "require_tfa": "yes" }),
    )
    .await
    .problem(422);

    // Past the minute in which refused calls are recorded once per member.
    app.clock.advance(TimeDelta::minutes(2));
    let (owner_secret, _) = enable(&app, &team.owner).await;
    let on = put_rule(&app, &team.owner, "web", true).await.expect(200);
    assert_eq!(on.body["require_tfa"], true);
    assert_eq!(
        emails(&on.body["locked_out"]),
        [team.collaborator.email.clone(), team.limited.email.clone()]
    );
    let shown = app.get("/v1/apps/web", &team.owner.jwt).await.expect(200);
    assert_eq!(shown.body["require_tfa"], true);
    // The owner, with 2FA on, goes everywhere.
    app.get("/v1/apps/web/variables", &team.owner.jwt).await.expect(200);
    assert_eq!(
        check(&app, &team.owner, None, "variables.write").await["reason"],
        "allowed"
    );

    for member in [&team.collaborator, &team.limited] {
        let refused = app.get("/v1/apps/web/deployments", &member.jwt).await.problem(403);
        assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");
        assert!(refused.detail().contains("POST /v1/users/self/tfa"), "{}", refused.text);
        // Even where the role lacks the permission, the rule is what answers.
        let refused = app.get("/v1/apps/web/addons", &member.jwt).await.problem(403);
        assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");
        // The app and their permissions stay readable, and say why.
        let seen = app.get("/v1/apps/web", &member.jwt).await.expect(200);
        assert_eq!(seen.body["require_tfa"], true);
        let perms = app.get("/v1/apps/web/permissions", &member.jwt).await.expect(200);
        assert_eq!(perms.body["blocked_by"], "tfa_required");
        let answer = check(&app, member, None, "app.read").await;
        assert_eq!(
            (answer["allowed"].clone(), answer["reason"].clone()),
            (json!(false), json!("tfa_required"))
        );
        let access = app.get("/v1/users/self/access", &member.jwt).await.expect(200);
        let web = access.items().iter().find(|r| r["app"]["name"] == "web").unwrap();
        assert_eq!(web["blocked_by"], "tfa_required");
    }
    let owner_perms = app.get("/v1/apps/web/permissions", &team.owner.jwt).await.expect(200);
    assert!(owner_perms.body["blocked_by"].is_null());
    // A member the rule refuses cannot remove others; the owner learns who is refused.
    let removal = format!("/v1/apps/web/collaborators/{}", team.limited_id);
    let refused = app.delete(&removal, &team.collaborator.jwt).await.problem(403);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");
    let about = check(&app, &team.owner, Some(&team.limited.id), "app.read").await;
    assert_eq!(about["reason"], "tfa_required");
    assert_eq!(about["role"], "limited_collaborator");
    let asked = check(&app, &team.collaborator, Some(&team.limited.id), "app.read").await;
    assert_eq!(asked["reason"], "not_allowed_to_check_others");

    // Members and the review show who has it; the review flags who does not.
    let members = app.get("/v1/apps/web/collaborators", &team.owner.jwt).await.expect(200);
    for row in members.items() {
        let on = row["email"] == team.owner.email.as_str();
        assert_eq!(row["tfa_enabled"], on, "{row}");
    }
    let review = app.get("/v1/access-review", &team.owner.jwt).await.expect(200);
    for row in review.items().iter().filter(|r| r["app"] == "web") {
        let on = row["email"] == team.owner.email.as_str();
        assert_eq!(row["tfa_enabled"], on, "{row}");
        let flagged = row["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "tfa_disabled");
        assert_eq!(flagged, !on, "{row}");
    }
    let flagged = app
        .get("/v1/access-review?finding=tfa_disabled&app=web", &team.owner.jwt)
        .await
        .expect(200);
    assert_eq!(
        flagged.column("email"),
        [team.collaborator.email.clone(), team.limited.email.clone()]
    );
    let csv = app
        .get("/v1/access-review?format=csv&app=web", &team.owner.jwt)
        .await
        .expect(200);
    let header = csv.text.lines().next().unwrap();
    assert!(header.ends_with(",access_expires_at,tfa_enabled"), "{header}");
    assert!(
        csv.text
            .lines()
            .skip(1)
            .all(|l| l.ends_with(",true") || l.ends_with(",false"))
    );

    // A scoped token of the user obeys the same rule: the rule is about the user.
    let (limited_secret, _) = enable(&app, &team.limited).await;
    let scoped = app
        .send(
            app.client
                .post(format!("{}/v1/tokens", app.base))
                .basic_auth(&team.limited.email, Some(&team.limited.password))
                .header("X-Rolegate-OTP", next_code(&app, &limited_secret))
                .json(&json!({ "apps": ["web"], "permissions": ["deployments.read"] })),
        )
        .await
        .expect(201);
    let scoped = scoped.body["token"].as_str().unwrap().to_owned();
    app.get("/v1/apps/web/deployments", &scoped).await.expect(200);
    disable(&app, &team.limited, &limited_secret).await;
    let refused = app.get("/v1/apps/web/deployments", &scoped).await.problem(403);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");

    // Leaving stays open.
    app.delete(
        &format!("/v1/apps/web/collaborators/{}", team.collaborator_id),
        &team.collaborator.jwt,
    )
    .await
    .expect(204);

    // Turning it off lets everyone in again; both changes are on the timeline.
    let off = put_rule(&app, &team.owner, "web", false).await.expect(200);
    assert_eq!(off.body, json!({ "require_tfa": false, "locked_out": [] }));
    app.get("/v1/apps/web/deployments", &team.limited.jwt).await.expect(200);
    let events = app
        .get("/v1/apps/web/events?type=app.security_changed", &team.owner.jwt)
        .await
        .expect(200);
    let changes = events.items();
    assert_eq!(changes.len(), 2, "{}", events.text);
    let turned_on = changes.iter().find(|e| e["data"]["require_tfa"]["to"] == true).unwrap();
    assert_eq!(turned_on["data"]["require_tfa"]["from"], false);
    assert_eq!(
        emails(&turned_on["data"]["locked_out"]),
        [team.collaborator.email.clone(), team.limited.email.clone()]
    );
    let denied = app
        .get("/v1/apps/web/events?type=access.denied", &team.owner.jwt)
        .await
        .expect(200);
    assert!(
        denied.items().iter().any(|e| e["data"]["reason"] == "tfa_required"),
        "{}",
        denied.text
    );
    // The owner turning their own 2FA off afterwards is allowed: the rule is off.
    disable(&app, &team.owner, &owner_secret).await;
}

async fn the_rule_follows_either_side_at_once_through_two_replicas(backend: Backend) {
    let one = TestApp::spawn(backend).await;
    let two = one.replica(&[]).await;
    let team = one.team("web").await;
    enable(&one, &team.owner).await;
    two.get("/v1/apps/web/deployments", &team.limited.jwt).await.expect(200);
    // The owner turns the rule on through one replica; the other refuses at the next request.
    put_rule(&one, &team.owner, "web", true).await.expect(200);
    let refused = two
        .get("/v1/apps/web/deployments", &team.limited.jwt)
        .await
        .problem(403);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");
    // The member turns 2FA on through one replica; the other lets them in at once.
    let (secret, _) = enable(&one, &team.limited).await;
    two.get("/v1/apps/web/deployments", &team.limited.jwt).await.expect(200);
    // And off through the other: refused at once on both.
    disable(&two, &team.limited, &secret).await;
    one.get("/v1/apps/web/deployments", &team.limited.jwt)
        .await
        .problem(403);
    two.get("/v1/apps/web/deployments", &team.limited.jwt)
        .await
        .problem(403);
    // A code is spent on every replica: one replica refuses what the other accepted.
    let (secret, _) = enable(&two, &team.collaborator).await;
    let code = next_code(&one, &secret);
    sign_in(&one, &team.collaborator, Some(&code)).await.expect(201);
    sign_in(&two, &team.collaborator, Some(&code)).await.problem(401);
}

async fn invitations_to_such_an_app_need_tfa(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("owner@example.com").await;
    let newcomer = app.signup("newcomer@example.com").await;
    app.create_app(&owner, "web").await;
    enable(&app, &owner).await;
    put_rule(&app, &owner, "web", true).await.expect(200);
    let invitation = app.invite(&owner, "web", &newcomer.email, Some("collaborator")).await;
    let refused = app
        .post(
            "/v1/invitations/accept",
            &newcomer.jwt,
            json!({ "token": invitation["token"] }),
        )
        .await
        .problem(403);
    assert_eq!(refused.body["type"], "urn:rolegate:problem:tfa-required-by-app");
    let by_id = format!(
        "/v1/users/self/invitations/{}/accept",
        invitation["id"].as_str().unwrap()
    );
    app.post(&by_id, &newcomer.jwt, json!({})).await.problem(403);
    // Still pending, and the newcomer is not a member.
    let pending = app.get("/v1/users/self/invitations", &newcomer.jwt).await.expect(200);
    assert_eq!(pending.items().len(), 1);
    app.get("/v1/apps/web", &newcomer.jwt).await.problem(404);
    enable(&app, &newcomer).await;
    let joined = app.post(&by_id, &newcomer.jwt, json!({})).await.expect(200);
    assert_eq!(joined.body["tfa_enabled"], true);
    assert_eq!(joined.body["role"], "collaborator");
    app.get("/v1/apps/web/variables", &newcomer.jwt).await.expect(200);
}
