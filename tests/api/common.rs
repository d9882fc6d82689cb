//! `TestApp`: the real server on port 0, on a fresh SQLite file or a fresh Postgres
//! database, with helpers that make each test a few lines of set-up.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::oneshot;

use rolegate::clock::ManualClock;
use rolegate::config::Config;

/// Which store a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The Postgres backend when `ROLEGATE_TEST_POSTGRES_URL` is set. With
    /// `ROLEGATE_TEST_REQUIRE_POSTGRES=1` (as in CI) a missing URL fails the test instead
    /// of skipping it.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("ROLEGATE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                if std::env::var("ROLEGATE_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                    panic!("ROLEGATE_TEST_REQUIRE_POSTGRES=1 but ROLEGATE_TEST_POSTGRES_URL is unset");
                }
                eprintln!("skipped: set ROLEGATE_TEST_POSTGRES_URL to run the Postgres suite");
                None
            }
        }
    }
}

/// Runs each named `async fn(Backend)` once on SQLite and once on Postgres, as the tests
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = $crate::common::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            }
        )*
    };
}

/// A throwaway database, dropped with the test.
enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another server's database: not dropped by this one.
    Shared,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "drop database if exists \"{name}\" with (force)"
                    )))
                    .execute(&mut conn)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// The same server URL pointing at another database.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A response: status, headers and the body as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts an `application/problem+json` error with this status, and returns it.
    #[track_caller]
    pub fn problem(self, status: u16) -> Resp {
        let resp = self.expect(status);
        assert_eq!(resp.content_type(), "application/problem+json", "{}", resp.text);
        assert_eq!(resp.body["status"], status, "{}", resp.text);
        assert!(
            resp.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:rolegate:problem:")),
            "{}",
            resp.text
        );
        assert!(
            resp.body["title"].is_string() && resp.body["detail"].is_string(),
            "{}",
            resp.text
        );
        resp
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }

    /// The `items` of a list.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {}", self.text))
    }

    /// The `field` of every entry of a 422's `errors`, in order.
    #[track_caller]
    pub fn error_fields(&self) -> Vec<String> {
        let errors = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {}", self.text));
        errors
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// One string field of every item, in order (such as every event's `type`).
    #[track_caller]
    pub fn column(&self, key: &str) -> Vec<String> {
        self.items()
            .iter()
            .map(|item| {
                item[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {key} in {item}"))
                    .to_owned()
            })
            .collect()
    }
}

/// A signed-up user with an API token and a JWT.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password: String,
    pub api_token: String,
    pub jwt: String,
}

/// The running server.
pub struct TestApp {
    pub base: String,
    /// The metrics listener's base URL (`GET {metrics_base}/metrics`).
    pub metrics_base: String,
    _metrics_stop: oneshot::Sender<()>,
    pub database_url: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// What the app's SMTP server (a real one, on a local port) received.
    pub mail: Arc<Mutex<Vec<ReceivedMail>>>,
    smtp_port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _db: Database,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The JWT secret of every test server (tests forge tokens with it).
pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// The platform token of test servers that open the internal API.
pub const PLATFORM_TOKEN: &str = "platform-token-for-tests-0123456789abcdef";

/// The secrets key of every test server (base64 of 32 bytes).
pub const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl TestApp {
    /// Starts the server on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[]).await
    }

    /// Starts the server with extra configuration variables.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_inner(backend, vars, None).await
    }

    /// Starts the server with the real routes plus `extra`, which are not in the route table.
    pub async fn spawn_with_extra_routes(backend: Backend, extra: axum::Router<rolegate::AppState>) -> TestApp {
        TestApp::spawn_inner(backend, &[], Some(rolegate::api::routes().merge(extra))).await
    }

    /// Starts the server on a fresh database of `backend`, reached through the
    /// `DATABASE_URL` that `server_url` makes of the database's own URL (several hosts, say).
    pub async fn spawn_reaching_database(backend: Backend, server_url: impl FnOnce(&str) -> String) -> TestApp {
        let (db, url) = TestApp::fresh_database(&backend).await;
        let server_url = server_url(&url);
        TestApp::start(
            db,
            url,
            &[("DATABASE_URL", &server_url)],
            None,
            Arc::new(ManualClock::default()),
        )
        .await
    }

    /// A second server on this one's database (as a second replica would be), sending mail
    /// to the same SMTP server.
    pub async fn replica(&self, vars: &[(&str, &str)]) -> TestApp {
        let smtp = format!("smtp://127.0.0.1:{}", self.smtp_port);
        let mut vars = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == "ROLEGATE_SMTP_URL") {
            vars.push(("ROLEGATE_SMTP_URL", &smtp));
        }
        let mut replica = TestApp::start(
            Database::Shared,
            self.database_url.clone(),
            &vars,
            None,
            self.clock.clone(),
        )
        .await;
        replica.mail = self.mail.clone();
        replica.smtp_port = self.smtp_port;
        replica
    }

    async fn spawn_inner(
        backend: Backend,
        vars: &[(&str, &str)],
        routes: Option<axum::Router<rolegate::AppState>>,
    ) -> TestApp {
        let (db, url) = TestApp::fresh_database(&backend).await;
        TestApp::start(db, url, vars, routes, Arc::new(ManualClock::default())).await
    }

    /// A new, empty database of `backend` and its URL.
    async fn fresh_database(backend: &Backend) -> (Database, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("rolegate.db").display());
                (Database::Sqlite(dir), url)
            }
            Backend::Postgres(admin_url) => {
                let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!(
                    "rolegate_test_{}_{}_{n}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                );
                let mut conn = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("connect to ROLEGATE_TEST_POSTGRES_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = with_database(admin_url, &name);
                (
                    Database::Postgres {
                        admin_url: admin_url.clone(),
                        name,
                    },
                    url,
                )
            }
        }
    }

    async fn start(
        db: Database,
        url: String,
        vars: &[(&str, &str)],
        routes: Option<axum::Router<rolegate::AppState>>,
        clock: Arc<ManualClock>,
    ) -> TestApp {
        let database_url = url.clone();
        let (mail, smtp_port) = smtp_server();
        let mut env: HashMap<String, String> = HashMap::from([
            ("ROLEGATE_SMTP_URL".to_owned(), format!("smtp://127.0.0.1:{smtp_port}")),
            (
                "ROLEGATE_MAIL_FROM".to_owned(),
                "rolegate <rolegate@example.com>".to_owned(),
            ),
            // Mail is delivered within a test's patience.
            ("ROLEGATE_DISPATCH_INTERVAL_MS".to_owned(), "25".to_owned()),
            ("DATABASE_URL".to_owned(), url),
            ("ROLEGATE_JWT_SECRET".to_owned(), JWT_SECRET.to_owned()),
            ("ROLEGATE_DB_MAX_CONNECTIONS".to_owned(), "5".to_owned()),
            (
                "ROLEGATE_PUBLIC_URL".to_owned(),
                "https://dashboard.example.com".to_owned(),
            ),
            ("ROLEGATE_SECRETS_KEY".to_owned(), SECRETS_KEY.to_owned()),
            // Metrics recorded; the harness serves them on a listener of its own.
            ("ROLEGATE_METRICS_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ]);
        for (k, v) in vars {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test config");
        let state = rolegate::build_state(config, clock.clone()).await.expect("build state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        // The metrics listener, as `ROLEGATE_METRICS_LISTEN` opens it beside the API.
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_base = format!("http://{}", metrics_listener.local_addr().expect("addr"));
        let (metrics_stop, metrics_stopping) = oneshot::channel::<()>();
        let metrics_router = rolegate::metrics::router(state.clone());
        let timeouts = state.config.timeouts;
        tokio::spawn(async move {
            let stopped = async {
                let _ = metrics_stopping.await;
            };
            rolegate::connection::serve(metrics_listener, metrics_router, timeouts, stopped)
                .await
                .expect("serve metrics");
        });
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let server = match routes {
            None => tokio::spawn(async move {
                rolegate::serve(listener, state, shutdown).await.expect("serve");
            }),
            Some(routes) => {
                // The dispatchers as `serve` starts them (the mail of sign-ups, say).
                let (_stop, stopping) = tokio::sync::watch::channel(false);
                let dispatcher = rolegate::dispatch::spawn(state.clone(), stopping);
                let timeouts = state.config.timeouts;
                let router = rolegate::router_with(routes, state);
                tokio::spawn(async move {
                    rolegate::connection::serve(listener, router, timeouts, shutdown)
                        .await
                        .expect("serve");
                    dispatcher.abort();
                })
            }
        };
        TestApp {
            base,
            metrics_base,
            _metrics_stop: metrics_stop,
            database_url,
            client: reqwest::Client::new(),
            clock,
            mail,
            smtp_port,
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
        }
    }

    /// Waits (at most 10 s) for the `n`-th mail (from 1) whose recipient is `to` and whose
    /// subject contains `subject`.
    pub async fn nth_mail(&self, to: &str, subject: &str, n: usize) -> ReceivedMail {
        for _ in 0..200 {
            let found: Vec<ReceivedMail> = self
                .mail
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject().contains(subject))
                .cloned()
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no mail {n} to {to} about {subject:?}; received: {:?}",
            self.mail.lock().unwrap()
        );
    }

    /// The first mail to `to` about `subject`.
    pub async fn mail_to(&self, to: &str, subject: &str) -> ReceivedMail {
        self.nth_mail(to, subject, 1).await
    }

    /// How many mails went to `to` about `subject` so far.
    pub fn mails_to(&self, to: &str, subject: &str) -> usize {
        self.mail
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject().contains(subject))
            .count()
    }

    /// Shuts the server down as SIGTERM would, and waits until `serve` has returned.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task");
        }
    }

    /// Sends a request; `body` is sent as JSON when present.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up `email`, verifies the address with the link of the verification mail, and
    /// returns the user with an API token and a JWT.
    pub async fn signup(&self, email: &str) -> User {
        let user = self.signup_unverified(email).await;
        self.verify_address(email).await;
        user
    }

    /// Proves `email` with the link of its (first) verification mail, as its owner would.
    pub async fn verify_address(&self, email: &str) -> Resp {
        let token = self.mail_to(email, "Verify your email address").await.link_token();
        self.call(
            Method::POST,
            "/v1/users/verify-email",
            None,
            Some(json!({ "token": token })),
        )
        .await
        .expect(200)
    }

    /// Signs up `email` without verifying the address.
    pub async fn signup_unverified(&self, email: &str) -> User {
        let password = "correct horse battery staple";
        let user = self
            .call(
                Method::POST,
                "/v1/users",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await
            .expect(201);
        let token = self
            .send(
                self.client
                    .post(format!("{}/v1/tokens", self.base))
                    .basic_auth(email, Some(password)),
            )
            .await
            .expect(201);
        let api_token = token.body["token"].as_str().expect("token").to_owned();
        let jwt = self.exchange(&api_token).await.expect(200).body["token"]
            .as_str()
            .expect("jwt")
            .to_owned();
        User {
            id: user.body["id"].as_str().expect("id").to_owned(),
            email: email.to_lowercase(),
            password: password.to_owned(),
            api_token,
            jwt,
        }
    }

    /// `POST /v1/tokens/exchange` with `-u :token`.
    pub async fn exchange(&self, api_token: &str) -> Resp {
        self.send(
            self.client
                .post(format!("{}/v1/tokens/exchange", self.base))
                .basic_auth("", Some(api_token)),
        )
        .await
    }

    /// Creates an app owned by `owner`.
    pub async fn create_app(&self, owner: &User, name: &str) -> Value {
        self.post("/v1/apps", &owner.jwt, json!({ "name": name }))
            .await
            .expect(201)
            .body
    }

    /// Invites `email` with `role` (None: the default) and returns the invitation with its token.
    pub async fn invite(&self, by: &User, app: &str, email: &str, role: Option<&str>) -> Value {
        let mut body = json!({ "email": email });
        if let Some(role) = role {
            body["role"] = json!(role);
        }
        self.post(&format!("/v1/apps/{app}/invitations"), &by.jwt, body)
            .await
            .expect(201)
            .body
    }

    /// Invites and accepts: `user` joins `app` with `role`; returns the collaborator row.
    pub async fn add_member(&self, owner: &User, app: &str, user: &User, role: &str) -> Value {
        let invitation = self.invite(owner, app, &user.email, Some(role)).await;
        self.post(
            "/v1/invitations/accept",
            &user.jwt,
            json!({ "token": invitation["token"] }),
        )
        .await
        .expect(200)
        .body
    }
}

/// An app with one member of each role and a user from another tenant.
pub struct Team {
    pub app: String,
    pub app_id: String,
    pub owner: User,
    pub collaborator: User,
    pub limited: User,
    pub outsider: User,
    pub collaborator_id: String,
    pub limited_id: String,
}

impl TestApp {
    /// Signs up four users and builds an app with an owner, a collaborator and a limited
    /// collaborator; the fourth user owns an app of their own.
    pub async fn team(&self, app: &str) -> Team {
        let owner = self.signup(&format!("owner@{app}.test")).await;
        let collaborator = self.signup(&format!("collaborator@{app}.test")).await;
        let limited = self.signup(&format!("limited@{app}.test")).await;
        let outsider = self.signup(&format!("outsider@{app}.test")).await;
        let created = self.create_app(&owner, app).await;
        self.create_app(&outsider, &format!("{app}-other")).await;
        let collaborator_row = self.add_member(&owner, app, &collaborator, "collaborator").await;
        let limited_row = self.add_member(&owner, app, &limited, "limited_collaborator").await;
        Team {
            app: app.to_owned(),
            app_id: created["id"].as_str().expect("id").to_owned(),
            owner,
            collaborator,
            limited,
            outsider,
            collaborator_id: collaborator_row["id"].as_str().expect("id").to_owned(),
            limited_id: limited_row["id"].as_str().expect("id").to_owned(),
        }
    }
}

/// `Method` from a route table verb.
pub fn method(verb: rolegate::authz::routes::Verb) -> Method {
    Method::from_str(verb.as_str()).expect("method")
}

/// A mail the test SMTP server received.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The whole message as sent: headers, a blank line, the (possibly encoded) body.
    pub raw: String,
}

impl ReceivedMail {
    pub fn subject(&self) -> String {
        self.raw
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The body, decoded from quoted-printable when it is.
    pub fn text(&self) -> String {
        let (headers, body) = self.raw.split_once("\r\n\r\n").unwrap_or(("", &self.raw));
        if !headers.to_ascii_lowercase().contains("quoted-printable") {
            return body.to_owned();
        }
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The secret of the link in the mail (after `#token=`).
    pub fn link_token(&self) -> String {
        let text = self.text();
        let at = text.find("#token=").unwrap_or_else(|| panic!("no link in {text}"));
        text[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Clone)]
struct Sink {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    current: Option<ReceivedMail>,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.current = Some(ReceivedMail {
            from: from.to_owned(),
            to: to.to_vec(),
            raw: String::new(),
        });
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(mail) = &mut self.current {
            mail.raw.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        if let Some(mail) = self.current.take() {
            self.received.lock().unwrap().push(mail);
        }
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on a local port (mailin-embedded, in a thread of its own for the life
/// of the test process), and what it receives.
fn smtp_server() -> (Arc<Mutex<Vec<ReceivedMail>>>, u16) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
    let port = listener.local_addr().expect("smtp addr").port();
    let mut server = mailin_embedded::Server::new(Sink {
        received: received.clone(),
        current: None,
    });
    server
        .with_name("smtp.test")
        .with_ssl(mailin_embedded::SslConfig::None)
        .expect("no tls")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (received, port)
}

/// Runs the futures concurrently on the current task and returns their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (output, future) in outputs.iter_mut().zip(pending.iter_mut()) {
            if let Some(running) = future {
                match running.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *future = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// The binary on `database_url` with `threads` serving threads (each its own runtime and
/// pools), stopped when dropped.
pub struct Binary {
    child: std::process::Child,
    pub base: String,
}

impl Binary {
    pub async fn start(database_url: &str, threads: usize) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_rolegate"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("DATABASE_URL", database_url)
            .env("ROLEGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROLEGATE_SERVE_THREADS", threads.to_string())
            .env("ROLEGATE_JWT_SECRET", JWT_SECRET)
            .env("ROLEGATE_SECRETS_KEY", SECRETS_KEY)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let binary = Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let started = std::time::Instant::now();
        while reqwest::get(format!("{}/readyz", binary.base))
            .await
            .map_or(true, |r| r.status() != 200)
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the binary did not become ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        binary
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A number about `database_url`'s database from Postgres's statistics views: `sql` gets the
/// database's name as `$1`. Read on a new connection of the admin URL, so that the statistics
/// are current.
pub async fn pg_stat(database_url: &str, sql: &str) -> i64 {
    let Some(Backend::Postgres(admin)) = Backend::postgres() else {
        unreachable!("a Postgres test")
    };
    let name = database_url.rsplit('/').next().unwrap();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    value
}
