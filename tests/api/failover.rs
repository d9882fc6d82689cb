//! A multi-host `DATABASE_URL` (`postgres://…@h1,h2/db?target_session_attrs=read-write`), on
//! the real Postgres: a first host that is down or read-only is passed over, and a host that
//! stops taking writes while rolegate runs is left for the next one without a restart.
//!
//! The "hosts" are TCP proxies in front of the one test Postgres. A proxy can make the
//! sessions it carries read-only (it adds `-c default_transaction_read_only=on` to the
//! startup message, as a standby's sessions are) and cut the sessions it carries (as a
//! server that shuts down for a failover does).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Backend, Binary, TestApp, pg_stat};

/// A TCP proxy to the test Postgres that plays one host of a cluster.
struct Host {
    port: u16,
    read_only: Arc<AtomicBool>,
    sessions: Arc<AtomicUsize>,
    live: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Host {
    async fn start(upstream: String) -> Host {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let read_only = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (read_only, sessions, live) = (read_only.clone(), sessions.clone(), live.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let read_only = read_only.load(Ordering::SeqCst);
                    sessions.fetch_add(1, Ordering::SeqCst);
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        let _ = relay(client, &upstream, read_only).await;
                    });
                    live.lock().unwrap().push(task.abort_handle());
                }
            }
        });
        Host {
            port,
            read_only,
            sessions,
            live,
            accept,
        }
    }

    /// A failover on this host: the sessions it carries end, and new ones are read-only.
    fn demote(&self) {
        self.read_only.store(true, Ordering::SeqCst);
        for task in self.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// `host:port`, as the URL names it.
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Carries one session, making it read-only when asked. Expects `sslmode=disable`: refuses
/// an SSL request, then rewrites the startup message.
async fn relay(mut client: TcpStream, upstream: &str, read_only: bool) -> std::io::Result<()> {
    let mut message = read_message(&mut client).await?;
    // SSLRequest or GSSENCRequest: answer "no" and read the startup message.
    if message.len() == 8 && matches!(message[4..8], [4, 210, 22, 47] | [4, 210, 22, 48]) {
        client.write_all(b"N").await?;
        message = read_message(&mut client).await?;
    }
    if read_only {
        message = with_read_only(&message);
    }
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&message).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

/// One length-prefixed message of the start-up phase.
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await?;
    let len = (u32::from_be_bytes(head) as usize).clamp(8, 10_000);
    let mut message = head.to_vec();
    message.resize(len, 0);
    stream.read_exact(&mut message[4..]).await?;
    Ok(message)
}

/// The startup message with `default_transaction_read_only=on` added to its `options`.
fn with_read_only(message: &[u8]) -> Vec<u8> {
    const SETTING: &str = "-c default_transaction_read_only=on";
    let mut fields: Vec<String> = message[8..]
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    // Pairs of key and value, then an empty terminator.
    while fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    match fields.iter().position(|f| f == "options") {
        Some(i) => fields[i + 1] = format!("{} {SETTING}", fields[i + 1]),
        None => fields.extend(["options".to_owned(), SETTING.to_owned()]),
    }
    let mut body = message[4..8].to_vec();
    for field in fields {
        body.extend(field.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// `host:port` of the test Postgres.
fn upstream(admin_url: &str) -> String {
    let options = sqlx::postgres::PgConnectOptions::from_str(admin_url).unwrap();
    format!("{}:{}", options.get_host(), options.get_port())
}

/// The URL of `database_url`'s database on `hosts`, with `attrs`.
fn multi_host(database_url: &str, hosts: &[String], attrs: &str) -> String {
    let name = database_url.rsplit('/').next().unwrap();
    format!(
        "postgres://postgres@{}/{name}?sslmode=disable&target_session_attrs={attrs}",
        hosts.join(",")
    )
}

/// A local port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Sets a variable of `web`: 201 when it is stored (whatever the database answered).
async fn write_variable(app: &TestApp, jwt: &str, name: &str) -> u16 {
    let resp = app
        .put(&format!("/v1/apps/web/variables/{name}"), jwt, json!({"value": "v"}))
        .await;
    match resp.status.as_u16() {
        200 | 201 => 201,
        503 => {
            assert_eq!(resp.headers["retry-after"], "1");
            503
        }
        other => panic!("a write answered {other}: {}", resp.text),
    }
}

async fn readyz(app: &TestApp) -> u16 {
    app.call(reqwest::Method::GET, "/readyz", None, None)
        .await
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_host_that_is_down_is_passed_over() {
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let real = upstream(admin_url);
    let down = format!("127.0.0.1:{}", closed_port().await);
    let app = TestApp::spawn_reaching_database(backend, |url| multi_host(url, &[down, real], "any")).await;
    let owner = app.signup("down@example.com").await;
    app.create_app(&owner, "web").await;
    assert_eq!(write_variable(&app, &owner.jwt, "A").await, 201);
    assert_eq!(readyz(&app).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_host_that_is_read_only_is_passed_over_when_writes_are_asked_for() {
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let standby = Host::start(upstream(admin_url)).await;
    standby.demote();
    let primary = Host::start(upstream(admin_url)).await;
    // A second way to the primary that the running app never uses (see below).
    let spare = Host::start(upstream(admin_url)).await;
    let hosts = [standby.address(), primary.address()];
    let app = TestApp::spawn_reaching_database(backend, |url| multi_host(url, &hosts, "read-write")).await;
    let owner = app.signup("standby-first@example.com").await;
    app.create_app(&owner, "web").await;
    assert_eq!(write_variable(&app, &owner.jwt, "A").await, 201);
    assert_eq!(readyz(&app).await, 200);
    assert!(primary.sessions() > 0);

    // With `any`, as libpq, the first host is taken though it is read-only: rolegate does
    // not start on it (its migrations cannot run), rather than answer every write with 503.
    // The second host here is one the running app does not use, so that its own background
    // connections to the primary cannot be mistaken for a try.
    let url = multi_host(&app.database_url, &[standby.address(), spare.address()], "any");
    let err = rolegate::store::connect(&url, Default::default(), Default::default())
        .await
        .err()
        .expect("a read-only first host is refused with target_session_attrs=any");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(
        spare.sessions(),
        0,
        "the second host is not tried while the first answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_taking_writes_is_left_for_the_next_without_a_restart() {
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let first = Host::start(upstream(admin_url)).await;
    let second = Host::start(upstream(admin_url)).await;
    let hosts = [first.address(), second.address()];
    let app = TestApp::spawn_reaching_database(backend, |url| multi_host(url, &hosts, "read-write")).await;
    let owner = app.signup("failover@example.com").await;
    app.create_app(&owner, "web").await;
    assert_eq!(write_variable(&app, &owner.jwt, "BEFORE").await, 201);
    assert_eq!(second.sessions(), 0, "the first host is used while it takes writes");

    // The failover: the first host's sessions end and new ones are read-only.
    first.demote();
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut n = 0;
    let healed = loop {
        n += 1;
        let status = write_variable(&app, &owner.jwt, &format!("DURING{n}")).await;
        statuses.push(status);
        assert!(status == 201 || status == 503, "a write answered {status}");
        if status == 201 {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not healed: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(healed < Duration::from_secs(5), "healed after {healed:?}: {statuses:?}");
    assert!(second.sessions() > 0);
    // It stays healed: every write and /readyz on the new host.
    for i in 0..20 {
        assert_eq!(write_variable(&app, &owner.jwt, &format!("AFTER{i}")).await, 201);
    }
    assert_eq!(readyz(&app).await, 200);
    let names = app.get("/v1/apps/web/variables", &owner.jwt).await.expect(200);
    assert!(names.text.contains("AFTER19"), "{}", names.text);
}

/// The failover watchers' probe sessions on `database_url`'s database.
async fn probe_sessions(database_url: &str) -> i64 {
    let sql = format!(
        "select count(*) from pg_stat_activity where datname = $1 and application_name = '{}'",
        rolegate::store::failover::PROBE_APPLICATION_NAME
    );
    pg_stat(database_url, &sql).await
}

/// The serving threads of one process share one failover watcher (one probe session, not
/// one per thread), and a switch moves the pools of every thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serving_threads_share_one_watcher_and_all_follow_a_switch() {
    let Some(backend) = Backend::postgres() else { return };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let admin_url = admin_url.clone();
    let first = Host::start(upstream(&admin_url)).await;
    let second = Host::start(upstream(&admin_url)).await;
    let hosts = [first.address(), second.address()];
    // The in-process server makes the database, the owner and the app; the binary, with
    // four serving threads, is a second process on the same URL.
    let app = TestApp::spawn_reaching_database(backend, |url| multi_host(url, &hosts, "read-write")).await;
    let owner = app.signup("threads@example.com").await;
    app.create_app(&owner, "web").await;
    let url = multi_host(&app.database_url, &hosts, "read-write");
    let binary = Binary::start(&url, 4).await;

    // One probe session per process: the in-process server's and the binary's.
    let started = Instant::now();
    while probe_sessions(&app.database_url).await != 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the watchers' probe sessions are not 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(probe_sessions(&app.database_url).await, 2);

    // Each write on a connection of its own, so the kernel spreads them over the threads.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let write = |name: String| {
        let request = client
            .put(format!("{}/v1/apps/web/variables/{name}", binary.base))
            .bearer_auth(&owner.jwt)
            .json(&json!({"value": "v"}));
        // 200 or 201 is stored, as `write_variable` counts it.
        async move {
            match request.send().await.unwrap().status().as_u16() {
                200 => 201,
                status => status,
            }
        }
    };
    for i in 0..8 {
        assert_eq!(write(format!("BEFORE{i}")).await, 201);
    }
    assert_eq!(second.sessions(), 0, "the first host is used while it takes writes");

    first.demote();
    let started = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let status = write(format!("DURING{n}")).await;
        assert!(status == 201 || status == 503, "a write answered {status}");
        if status == 201 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not healed after {n} writes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every thread's pool moved: forty writes on new connections, all stored.
    for i in 0..40 {
        assert_eq!(write(format!("AFTER{i}")).await, 201, "write {i} after the switch");
    }
    assert_eq!(probe_sessions(&app.database_url).await, 2);
}
