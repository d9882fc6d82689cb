//! Clients that stall or send more than the server reads: closed, with a problem+json
//! answer where one is still possible, while other clients keep being served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    stalled_connections_are_closed_while_others_are_served,
    oversized_heads_get_problem_answers
);

/// Short timeouts so the test waits little: headers 400 ms, bodies 600 ms, idle 800 ms.
const TIMEOUTS: [(&str, &str); 3] = [
    ("ROLEGATE_HEADER_TIMEOUT_MS", "400"),
    ("ROLEGATE_BODY_TIMEOUT_MS", "600"),
    ("ROLEGATE_IDLE_TIMEOUT_MS", "800"),
];

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Everything the server sends until it closes the connection, and how long that took.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .expect("read");
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

/// The problem+json body of a raw answer, after checking its head.
fn problem_of(answer: &str, status: u16) -> serde_json::Value {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/problem+json"), "{answer}");
    assert!(head.contains("x-request-id: "), "{answer}");
    assert!(head.contains("connection: close"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(body["status"], status, "{answer}");
    body
}

async fn stalled_connections_are_closed_while_others_are_served(backend: Backend) {
    let app = TestApp::spawn_with(backend, &TIMEOUTS).await;

    // A connection that never sends a byte.
    let mut silent = connect(&app).await;
    // A head that stops half-way.
    let mut slow_head = connect(&app).await;
    slow_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: rolegate\r\nX-Slow: ")
        .await
        .unwrap();
    // A body that stops half-way, on a route that reads it.
    let mut slow_body = connect(&app).await;
    slow_body
        .write_all(
            b"POST /v1/users HTTP/1.1\r\nHost: rolegate\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\": \"slow",
        )
        .await
        .unwrap();
    // A keep-alive connection that asks once, then says nothing.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: rolegate\r\n\r\n")
        .await
        .unwrap();
    let asked = Instant::now();

    // Meanwhile others are answered.
    for _ in 0..5 {
        app.call(reqwest::Method::GET, "/healthz", None, None).await.expect(200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (said, after) = until_closed(&mut silent).await;
    assert_eq!(said, "", "nothing was asked, nothing is answered");
    assert!(after < Duration::from_secs(3), "closed after {after:?}");

    let (said, after) = until_closed(&mut slow_head).await;
    let problem = problem_of(&said, 408);
    assert_eq!(problem["type"], "urn:rolegate:problem:request-timeout");
    assert!(after < Duration::from_secs(3), "closed after {after:?}");

    let (said, after) = until_closed(&mut slow_body).await;
    let problem = problem_of(&said, 408);
    assert_eq!(problem["type"], "urn:rolegate:problem:request-timeout");
    assert!(problem["detail"].as_str().unwrap().contains("body"), "{problem}");
    assert!(after < Duration::from_secs(3), "closed after {after:?}");

    // The idle one got its answer, then was closed once idle for long enough.
    let (said, _) = until_closed(&mut idle).await;
    let after = asked.elapsed();
    assert!(said.starts_with("HTTP/1.1 200 "), "{said}");
    assert_eq!(said.matches("HTTP/1.1").count(), 1, "{said}");
    assert!(after >= Duration::from_millis(800), "closed too early, after {after:?}");
    assert!(after < Duration::from_secs(4), "closed after {after:?}");

    // Nothing stored was touched by the half-sent sign-up, and the server still answers.
    app.call(reqwest::Method::GET, "/healthz", None, None).await.expect(200);
    assert!(app.mail.lock().unwrap().is_empty());
}

async fn oversized_heads_get_problem_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signup("heads@example.com").await;

    // A request target over 8 KiB: 414 from the router, with the client's request id kept.
    let long = format!("/v1/apps/{}", "a".repeat(9 * 1024));
    let answer = app
        .send(
            app.client
                .get(format!("{}{long}", app.base))
                .bearer_auth(&user.api_token)
                .header("x-request-id", "long-target-1"),
        )
        .await
        .problem(414);
    assert_eq!(answer.body["type"], "urn:rolegate:problem:uri-too-long");
    assert_eq!(answer.headers["x-request-id"], "long-target-1");

    // More than 100 header fields, and header fields over 32 KiB in all: 431, written for
    // hyper, with a new request id.
    let mut many = app
        .client
        .get(format!("{}/v1/users/self", app.base))
        .bearer_auth(&user.api_token);
    for i in 0..120 {
        many = many.header(format!("x-filler-{i}"), "x");
    }
    let big = app
        .client
        .get(format!("{}/v1/users/self", app.base))
        .bearer_auth(&user.api_token)
        .header("x-filler", "b".repeat(40 * 1024));
    for request in [many, big] {
        let answer = app.send(request).await.problem(431);
        assert_eq!(answer.body["type"], "urn:rolegate:problem:headers-too-large");
        let request_id = answer.headers["x-request-id"].to_str().unwrap();
        assert_eq!(request_id.len(), 36, "a new request id: {request_id}");
    }

    // A request line hyper cannot parse at all: 400 problem+json.
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")
        .await
        .unwrap();
    let (said, _) = until_closed(&mut stream).await;
    let problem = problem_of(&said, 400);
    assert_eq!(problem["type"], "urn:rolegate:problem:bad-request");

    // The server is unharmed.
    app.get("/v1/users/self", &user.api_token).await.expect(200);
}
