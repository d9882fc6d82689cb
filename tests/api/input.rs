//! Input normalised or refused alike on both backends: emails and names with invisible
//! controls, duplicate token scopes, NUL characters and dates out of range.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, PLATFORM_TOKEN, Resp, TestApp};
use crate::on_both_backends;

on_both_backends!(
    emails_are_nfc_and_found_whatever_the_case,
    emails_with_invisible_controls_or_a_colon_are_refused,
    accounts_from_before_the_rules_keep_working,
    names_with_invisible_controls_are_refused,
    token_scopes_merge_duplicates_and_take_at_most_100_apps,
    nul_characters_are_a_422_naming_the_field,
    nul_characters_in_paths_and_queries_name_nothing,
    timestamps_out_of_range_are_a_422_naming_the_field,
    log_ingest_keeps_lines_with_nul_characters,
);

const PASSWORD: &str = "correct horse battery staple";

async fn sign_up(app: &TestApp, body: Value) -> Resp {
    app.call(Method::POST, "/v1/users", None, Some(body)).await
}

/// `POST /v1/tokens` with Basic `email:password` and `body`.
async fn create_token(app: &TestApp, email: &str, body: Value) -> Resp {
    app.send(
        app.client
            .post(format!("{}/v1/tokens", app.base))
            .basic_auth(email, Some(PASSWORD))
            .json(&body),
    )
    .await
}

/// The one field a 422 names, and its message.
fn only_error(resp: &Resp) -> (String, String) {
    assert_eq!(resp.error_fields().len(), 1, "{}", resp.text);
    let message = resp.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (resp.error_fields().remove(0), message)
}

async fn emails_are_nfc_and_found_whatever_the_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // "René" typed decomposed (e + U+0301), the domain in capitals: stored composed, lower case.
    let resp = sign_up(&app, json!({"email": "Rene\u{301}@Example.COM", "password": PASSWORD}))
        .await
        .expect(201);
    assert_eq!(resp.body["email"], "ren\u{e9}@example.com");
    // Sign-in finds the account whatever the case of the domain, composed or not.
    for typed in [
        "ren\u{e9}@example.com",
        "REN\u{c9}@EXAMPLE.COM",
        "rene\u{301}@example.Com",
    ] {
        let resp = create_token(&app, typed, json!({})).await.expect(201);
        assert!(
            resp.body["token"].as_str().is_some_and(|t| t.starts_with("rg_")),
            "{typed}"
        );
    }
    let other = create_token(&app, "rene@example.com", json!({})).await.problem(401);
    assert_eq!(other.detail(), "wrong email or password");

    // An invitation typed with another case reaches the same account.
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let bob = app.signup("bob@example.com").await;
    let invitation = app
        .post(
            "/v1/apps/web/invitations",
            &ada.jwt,
            json!({"email": "Bob@EXAMPLE.com"}),
        )
        .await
        .expect(201);
    assert_eq!(invitation.body["email"], "bob@example.com");
    let mine = app.get("/v1/users/self/invitations", &bob.jwt).await.expect(200);
    assert_eq!(mine.items().len(), 1);
    assert_eq!(mine.items()[0]["app_name"], "web", "{}", mine.text);
    // Signing up again in another case is the same address.
    let taken = sign_up(&app, json!({"email": "ADA@example.COM", "password": PASSWORD})).await;
    assert_eq!(taken.status.as_u16(), 409, "{}", taken.text);
}

async fn emails_with_invisible_controls_or_a_colon_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        ("ada\u{202E}moc.elpmaxe@example.com", "bidirectional"),
        ("ada\u{2066}@example.com", "bidirectional"),
        ("a\u{200B}da@example.com", "zero-width"),
        ("ada\u{FEFF}@example.com", "zero-width"),
        ("ada\u{2060}@example.com", "zero-width"),
        ("ada:admin@example.com", "':'"),
    ];
    for (email, said) in cases {
        let resp = sign_up(&app, json!({"email": email, "password": PASSWORD}))
            .await
            .problem(422);
        let (field, message) = only_error(&resp);
        assert_eq!(field, "email", "{email:?}");
        assert!(message.contains(said), "{email:?}: {message}");
    }
    // Nothing was created: the list of every refused address stays free.
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    for (email, said) in cases {
        let resp = app
            .post("/v1/apps/web/invitations", &ada.jwt, json!({"email": email}))
            .await
            .problem(422);
        let (field, message) = only_error(&resp);
        assert_eq!(field, "email", "{email:?}");
        assert!(message.contains(said), "{email:?}: {message}");
    }
    let invitations = app.get("/v1/apps/web/invitations", &ada.jwt).await.expect(200);
    assert_eq!(invitations.items().len(), 0);
}

/// Rewrites an account's address straight in the database, as older versions could store it.
async fn store_address_as_before(app: &TestApp, from: &str, to: &str) {
    let sql = "update users set email = $1 where email = $2";
    let updated = if app.database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
        sqlx::query(sql)
            .bind(to)
            .bind(from)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected()
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        sqlx::query(sql)
            .bind(to)
            .bind(from)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected()
    };
    assert_eq!(updated, 1);
}

async fn accounts_from_before_the_rules_keep_working(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Stored decomposed (before NFC): found as typed.
    app.signup("rene@example.com").await;
    store_address_as_before(&app, "rene@example.com", "rene\u{301}@example.com").await;
    create_token(&app, "Rene\u{301}@Example.com", json!({}))
        .await
        .expect(201);
    // Stored with a bidirectional control (before they were refused): still signs in, and the
    // routes that read the stored address back (password change) work.
    let eve = app.signup("eve@example.com").await;
    let stored = "ev\u{202E}e@example.com";
    store_address_as_before(&app, "eve@example.com", stored).await;
    let token = create_token(&app, stored, json!({})).await.expect(201);
    let me = app
        .get("/v1/users/self", token.body["token"].as_str().unwrap())
        .await
        .expect(200);
    assert_eq!(me.body["email"], stored, "the row is untouched");
    let changed = app
        .put(
            "/v1/users/self/password",
            &eve.jwt,
            json!({"current_password": PASSWORD, "new_password": "another long passphrase here"}),
        )
        .await;
    assert_eq!(changed.status.as_u16(), 200, "{}", changed.text);
}

async fn names_with_invisible_controls_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (name, said) in [
        ("Ada\u{202E}", "bidirectional"),
        ("\u{2067}Ada", "bidirectional"),
        ("A\u{200D}da", "zero-width"),
    ] {
        let resp = sign_up(
            &app,
            json!({"email": "ada@example.com", "password": PASSWORD, "name": name}),
        )
        .await
        .problem(422);
        let (field, message) = only_error(&resp);
        assert_eq!(field, "name", "{name:?}");
        assert!(message.contains(said), "{name:?}: {message}");
    }
    // A name in NFD is kept composed.
    let resp = sign_up(
        &app,
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "Zoe\u{308}"}),
    )
    .await
    .expect(201);
    assert_eq!(resp.body["name"], "Zo\u{eb}");

    for name in ["ci\u{202D}", "ci\u{200B}bot"] {
        let resp = create_token(&app, "ada@example.com", json!({"name": name}))
            .await
            .problem(422);
        assert_eq!(only_error(&resp).0, "name", "{name:?}");
    }
    let resp = create_token(&app, "ada@example.com", json!({"name": "ci bot"}))
        .await
        .expect(201);
    assert_eq!(resp.body["name"], "ci bot");
}

async fn token_scopes_merge_duplicates_and_take_at_most_100_apps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    let web = app.create_app(&ada, "web").await;
    let web_id = web["id"].as_str().unwrap();
    app.create_app(&ada, "api").await;
    let resp = create_token(
        &app,
        &ada.email,
        json!({
            "permissions": ["deployments.read", "app.read", "deployments.read", "app.read"],
            "apps": ["web", web_id, "api", "web"],
        }),
    )
    .await
    .expect(201);
    assert_eq!(resp.body["permissions"], json!(["deployments.read", "app.read"]));
    let api_id = app.get("/v1/apps/api", &ada.jwt).await.expect(200).body["id"].clone();
    assert_eq!(resp.body["apps"], json!([web_id, api_id]));
    let listed = app.get("/v1/tokens", &ada.jwt).await.expect(200);
    let stored = listed
        .items()
        .iter()
        .find(|t| t["id"] == resp.body["id"])
        .expect("the token");
    assert_eq!(stored["permissions"], json!(["deployments.read", "app.read"]));
    assert_eq!(stored["apps"], json!([web_id, api_id]));

    // 100 entries are fine (and merge into one app); 101 are refused before any lookup.
    let hundred = vec!["web"; 100];
    let resp = create_token(&app, &ada.email, json!({"apps": hundred}))
        .await
        .expect(201);
    assert_eq!(resp.body["apps"], json!([web_id]));
    let too_many = vec!["web"; 101];
    let resp = create_token(&app, &ada.email, json!({"apps": too_many}))
        .await
        .problem(422);
    assert_eq!(
        only_error(&resp),
        ("apps".to_owned(), "must name at most 100 apps".to_owned())
    );
}

async fn nul_characters_are_a_422_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = sign_up(
        &app,
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "A\u{0}da"}),
    )
    .await
    .problem(422);
    assert_eq!(
        only_error(&resp),
        (
            "name".to_owned(),
            "must not contain NUL characters (\\u0000)".to_owned()
        )
    );
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    // In a list, the element is named.
    let resp = create_token(&app, &ada.email, json!({"apps": ["web", "we\u{0}b"]}))
        .await
        .problem(422);
    assert_eq!(only_error(&resp).0, "apps[1]");
    // In a nested object, the path to it.
    let resp = app
        .put(
            "/v1/apps/web/variables",
            &ada.jwt,
            json!({"variables": [{"name": "GREETING", "value": "hi"}, {"name": "BAD", "value": "x\u{0}y"}]}),
        )
        .await
        .problem(422);
    assert_eq!(only_error(&resp).0, "variables[1].value", "{}", resp.text);
    let resp = app
        .put("/v1/apps/web/variables/GREETING", &ada.jwt, json!({"value": "\u{0}"}))
        .await
        .problem(422);
    assert_eq!(only_error(&resp).0, "value");
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &ada.jwt,
            json!({"email": "bob\u{0}@example.com"}),
        )
        .await
        .problem(422);
    assert_eq!(only_error(&resp).0, "email");
    // Nothing was stored; the text `\u0000` (a backslash, then letters) is not a NUL.
    let listed = app.get("/v1/apps/web/variables", &ada.jwt).await.expect(200);
    assert_eq!(listed.items().len(), 0, "{}", listed.text);
    app.put("/v1/apps/web/variables/PATH", &ada.jwt, json!({"value": "C:\\u0000"}))
        .await
        .expect(200);
    let read = app.get("/v1/apps/web/variables/PATH", &ada.jwt).await.expect(200);
    assert_eq!(read.body["value"], "C:\\u0000");
}

async fn nul_characters_in_paths_and_queries_name_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let resp = app.get("/v1/apps/we%00b", &ada.jwt).await.problem(404);
    assert_eq!(resp.detail(), "app not found");
    app.get("/v1/apps/web/variables/A%00", &ada.jwt).await.problem(404);
    let resp = app
        .get("/v1/events?actor=ada%00@example.com", &ada.jwt)
        .await
        .problem(422);
    assert_eq!(
        only_error(&resp),
        (
            "actor".to_owned(),
            "must not contain NUL characters (\\u0000)".to_owned()
        )
    );
    // `%2500` is the text "%00", which is fine.
    app.get("/v1/events?actor=%2500", &ada.jwt).await.expect(200);
}

async fn timestamps_out_of_range_are_a_422_naming_the_field(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let team = app.team("web").await;
    let bad = [
        "10000-01-01T00:00:00Z",
        "+275760-09-13T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2030-13-01T00:00:00Z",
        "next tuesday",
    ];
    let rfc = |resp: &Resp, field: &str| {
        let (named, message) = only_error(resp);
        assert_eq!(named, field, "{}", resp.text);
        assert!(message.contains("an RFC 3339 timestamp"), "{message}");
    };
    for at in bad {
        let resp = app
            .post(
                "/v1/apps/web/invitations",
                &team.owner.jwt,
                json!({"email": "zoe@example.com", "access_expires_at": at}),
            )
            .await
            .problem(422);
        rfc(&resp, "access_expires_at");
        let resp = app
            .patch(
                &format!("/v1/apps/web/collaborators/{}", team.limited_id),
                &team.owner.jwt,
                json!({"access_expires_at": at}),
            )
            .await
            .problem(422);
        rfc(&resp, "access_expires_at");
        let resp = create_token(&app, &team.owner.email, json!({"expires_at": at}))
            .await
            .problem(422);
        rfc(&resp, "expires_at");
        let lines = json!({"lines": [{"source": "web-1", "message": "ok"}, {"source": "web-1", "message": "x", "timestamp": at}]});
        let resp = app
            .call(
                Method::POST,
                "/internal/v1/apps/web/logs",
                Some(PLATFORM_TOKEN),
                Some(lines),
            )
            .await
            .problem(422);
        rfc(&resp, "lines[1].timestamp");
    }
    // A number is not a timestamp either, and says so in the API's words.
    let resp = create_token(&app, &team.owner.email, json!({"expires_at": 1_900_000_000}))
        .await
        .problem(422);
    rfc(&resp, "expires_at");
    // The ends of the range still work where the rules allow them: `null` clears an end of access.
    app.patch(
        &format!("/v1/apps/web/collaborators/{}", team.limited_id),
        &team.owner.jwt,
        json!({"access_expires_at": null}),
    )
    .await
    .expect(200);
    let resp = app
        .post(
            "/v1/apps/web/invitations",
            &team.owner.jwt,
            json!({"email": "zoe@example.com", "access_expires_at": "9999-12-31T23:59:59Z"}),
        )
        .await
        .expect(201);
    assert_eq!(resp.body["access_expires_at"], "9999-12-31T23:59:59Z");
}

async fn log_ingest_keeps_lines_with_nul_characters(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ROLEGATE_PLATFORM_TOKEN", PLATFORM_TOKEN)]).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let lines = json!({"lines": [
        {"source": "web-1", "message": "before"},
        {"source": "web\u{0}1", "message": "binary \u{0}\u{0} output"},
        {"source": "web-1", "message": "after"},
    ]});
    app.call(
        Method::POST,
        "/internal/v1/apps/web/logs",
        Some(PLATFORM_TOKEN),
        Some(lines),
    )
    .await
    .expect(204);
    let logs = app.get("/v1/apps/web/logs", &ada.jwt).await.expect(200);
    assert_eq!(
        logs.column("message"),
        ["before", "binary \\u0000\\u0000 output", "after"]
    );
    assert_eq!(logs.column("source"), ["web-1", "web\\u00001", "web-1"]);
}
