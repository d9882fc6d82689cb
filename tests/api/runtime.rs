//! What the server adds to every answer, whatever the route.

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(every_answer_says_nosniff);

/// Successes, refusals, problem answers and the 404 fallback all carry
/// `X-Content-Type-Options: nosniff`.
async fn every_answer_says_nosniff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signup("nosniff@example.com").await;
    let answers = [
        app.get("/v1/users/self", &user.api_token).await.expect(200),
        app.get("/v1/users/self", "rg_not_a_token").await.problem(401),
        app.get("/v1/apps/missing", &user.api_token).await.problem(404),
        app.get("/v1/no-such-route", &user.api_token).await.problem(404),
        app.call(reqwest::Method::GET, "/healthz", None, None).await.expect(200),
    ];
    for answer in answers {
        assert_eq!(
            answer
                .headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "status {}",
            answer.status
        );
    }
}
