//! Forged, expired, malformed and oversized JWTs: every one a 401 (or a 431 for a header
//! larger than the server reads), never a 500.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::common::{Backend, JWT_SECRET, TestApp};
use crate::on_both_backends;

on_both_backends!(forged_and_malformed_jwts_are_401);

fn sign(header: &Header, claims: &Value, key: &[u8]) -> String {
    encode(header, claims, &EncodingKey::from_secret(key)).unwrap()
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!("{}.{}.", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

async fn forged_and_malformed_jwts_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.signup("ada@example.com").await;
    app.create_app(&ada, "web").await;
    let tokens = app.get("/v1/tokens", &ada.jwt).await.expect(200);
    let tid = tokens.body["items"][0]["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": ada.id, "tid": tid, "iss": "rolegate", "aud": "rolegate-api", "iat": now, "nbf": now, "exp": now + 600});
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let hs256 = Header::new(Algorithm::HS256);
    let key = JWT_SECRET.as_bytes();

    // Control: a well-formed token with the right key passes.
    app.get("/v1/apps/web", &sign(&hs256, &claims, key)).await.expect(200);

    let mut tampered = sign(&hs256, &claims, key);
    let parts: Vec<&str> = tampered.split('.').collect();
    let other_payload = B64.encode(with(json!({"sub": uuid::Uuid::now_v7()})).to_string());
    tampered = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let good = sign(&hs256, &claims, key);
    let big_header = json!({"alg": "HS256", "typ": "JWT", "pad": "x".repeat(20 * 1024)});

    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned(json!({"alg": "none", "typ": "JWT"}), &claims)),
        (
            "HS512 with the right secret",
            sign(&Header::new(Algorithm::HS512), &claims, key),
        ),
        (
            "HS384 with the right secret",
            sign(&Header::new(Algorithm::HS384), &claims, key),
        ),
        (
            "another key",
            sign(&hs256, &claims, b"another-secret-another-secret-another-secret"),
        ),
        (
            "expired beyond leeway",
            sign(&hs256, &with(json!({"exp": now - 120})), key),
        ),
        ("not yet valid", sign(&hs256, &with(json!({"nbf": now + 3600})), key)),
        (
            "exp as a string",
            sign(&hs256, &with(json!({"exp": (now + 600).to_string()})), key),
        ),
        (
            "nbf as a string",
            sign(&hs256, &with(json!({"nbf": now.to_string()})), key),
        ),
        ("wrong issuer", sign(&hs256, &with(json!({"iss": "someone-else"})), key)),
        (
            "wrong audience",
            sign(&hs256, &with(json!({"aud": "another-api"})), key),
        ),
        (
            "no exp",
            sign(
                &hs256,
                &json!({"sub": ada.id, "tid": tid, "iss": "rolegate", "aud": "rolegate-api", "nbf": now, "iat": now}),
                key,
            ),
        ),
        ("sub not a uuid", sign(&hs256, &with(json!({"sub": "admin"})), key)),
        (
            "unknown token id",
            sign(&hs256, &with(json!({"tid": uuid::Uuid::now_v7()})), key),
        ),
        ("tampered payload", tampered),
        ("truncated", good[..good.len() - 10].to_owned()),
        ("two segments", good.rsplit_once('.').unwrap().0.to_owned()),
        ("not base64", "@@@.@@@.@@@".to_owned()),
        ("empty", String::new()),
        (
            "20 KiB JWT header (under the 32 KiB head limit)",
            format!(
                "{}.{}.x",
                B64.encode(big_header.to_string()),
                B64.encode(claims.to_string())
            ),
        ),
    ];
    for (what, token) in &cases {
        let resp = app
            .send(
                app.client
                    .get(format!("{}/v1/apps/web", app.base))
                    .header("authorization", format!("Bearer {token}")),
            )
            .await;
        assert_eq!(resp.status.as_u16(), 401, "{what}: {}", resp.text);
        assert_eq!(resp.content_type(), "application/problem+json", "{what}");
    }
    // Past 32 KiB of header fields the HTTP layer refuses (431) before any code reads them.
    let huge = "a".repeat(1024 * 1024);
    let resp = app
        .client
        .get(format!("{}/v1/apps/web", app.base))
        .header("authorization", format!("Bearer {huge}"))
        .send()
        .await;
    if let Ok(resp) = resp {
        assert!(resp.status().is_client_error(), "1 MiB header: {}", resp.status());
    }
    app.get("/v1/apps/web", &ada.jwt).await.expect(200);
    println!("{} forged or malformed JWTs refused", cases.len());
}
