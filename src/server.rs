//! The router with its middleware stack, and the server loop the binary and the tests share.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, Method, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::{self, extract::BODY_LIMIT};
use crate::auth::jwt::JwtKeys;
use crate::authz::middleware::authorize;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::ApiError;
use crate::secrets::SecretBox;
use crate::state::AppState;
use crate::store;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    router_with(api::routes(), state)
}

/// The middleware stack around `routes`. Tests pass extra routes to prove that one missing
/// from the route table is refused.
pub fn router_with(routes: Router<AppState>, state: AppState) -> Router {
    let cors = (!state.config.cors_origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(state.config.cors_origins.clone())
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            // What a dashboard sends: its credentials, JSON, a request id, a retry's key, and
            // the second factor of a sign-in.
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                REQUEST_ID,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static(crate::error::OTP_HEADER),
            ])
            // What it must read beyond the safelisted headers: when to retry a 429 or 503,
            // that a sign-in wants a code, a replayed redeploy, the next page of an NDJSON
            // export.
            .expose_headers([
                REQUEST_ID,
                header::RETRY_AFTER,
                HeaderName::from_static(crate::error::OTP_HEADER),
                HeaderName::from_static("idempotent-replayed"),
                HeaderName::from_static("next-cursor"),
            ])
            .max_age(Duration::from_secs(3600))
    });
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            // The matched route, not the raw path: app names stay out of span names.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("unmatched");
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %request.method(), route, request_id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    routes
        .route_layer(from_fn_with_state(state.clone(), authorize))
        // After the authorization layer, which refuses any route missing from the route table:
        // the console's static files are not API routes (see `crate::console`).
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::NotFound("no such route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower::util::option_layer(cors))
        .layer(tower::util::option_layer(
            state
                .metrics
                .enabled()
                .then(|| from_fn_with_state(state.clone(), crate::metrics::track)),
        ))
        .layer(
            ServiceBuilder::new()
                // Outermost, so every answer carries it: errors, 404 fallbacks and panics too.
                .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    header::HeaderValue::from_static("nosniff"),
                ))
                // Every answer is someone's private data, and some carry a secret (a new token,
                // a variable's value, credentials, an invitation link): no cache keeps any.
                .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                ))
                // A client's request id is kept only when it is 1 to 128 visible ASCII
                // characters; any other is replaced by a new one (it ends up in logs).
                .layer(tower::util::MapRequestLayer::new(|mut request: Request| {
                    if request
                        .headers()
                        .get(&REQUEST_ID)
                        .is_some_and(|v| !request_id_ok(v.as_bytes()))
                    {
                        request.headers_mut().remove(&REQUEST_ID);
                    }
                    request
                }))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::internal("handler panicked").into_response()
                }))
                .layer(from_fn(refuse_long_targets)),
        )
        .with_state(state)
}

/// Longest request target (path and query) read, in bytes.
const MAX_TARGET_BYTES: usize = 8 * 1024;

/// Answers 414 to a request target over [`MAX_TARGET_BYTES`] (heads over hyper's own
/// limits never get here: see [`crate::connection`]).
async fn refuse_long_targets(request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return ApiError::UriTooLong.into_response();
    }
    next.run(request).await
}

/// Whether a client's `x-request-id` may be kept: 1 to 128 visible ASCII characters.
fn request_id_ok(value: &[u8]) -> bool {
    (1..=128).contains(&value.len()) && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = Background::start(&state);
    // The peer address is the client's, unless a trusted proxy says otherwise.
    let timeouts = state.config.timeouts;
    let served = crate::connection::serve(listener, router(state), timeouts, shutdown).await;
    background.stop().await;
    served
}

/// What a server runs besides answering requests: the outbox dispatchers and the sweeper.
struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    dispatcher: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Background {
    fn start(state: &AppState) -> Background {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        Background {
            stop,
            dispatcher: crate::dispatch::spawn(state.clone(), stopping),
            sweeper: crate::sweep::spawn(state.clone()),
        }
    }

    /// The dispatcher finishes the delivery in flight and gives back the rest of its batch.
    /// Cut off past the wait, an order is still not lost: it is retried once its lease ends.
    async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(crate::dispatch::STOP_WAIT, &mut self.dispatcher)
            .await
            .is_err()
        {
            self.dispatcher.abort();
        }
        self.sweeper.abort();
    }
}

/// Binds `count` listeners on `address` that share its port (`SO_REUSEPORT`): the kernel
/// spreads new connections across them. Port 0 becomes one port for all.
fn bind_shared(address: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    // A plain bind first, so that a port another process holds (even one sharing it with
    // SO_REUSEPORT) is an error at start rather than a silent share of its traffic.
    let mut address = std::net::TcpListener::bind(address)?.local_addr()?;
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        socket.bind(address)?;
        let listener = socket.listen(1024)?;
        address = listener.local_addr()?;
        listeners.push(listener.into_std()?);
    }
    Ok(listeners)
}

/// One serving thread: a single-threaded runtime with its own listener and its own store (a
/// share of the pool), so that a request, its database round trip and its answer stay on one
/// thread, with no wake-up across threads. Reports on `ready` once its store is open, and on
/// `done` once it has stopped (its requests in flight finished).
fn spawn_lane(
    index: usize,
    listener: std::net::TcpListener,
    base: AppState,
    pool: store::PoolSettings,
    stopping: tokio::sync::watch::Receiver<bool>,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
    done: tokio::sync::oneshot::Sender<()>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new()
        .name(format!("rolegate-serve-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                let config = base.config.clone();
                let store = match base.store.lane(pool).await {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = ready.send(Err(format!("DATABASE_URL: cannot open the store: {e}")));
                        return;
                    }
                };
                let listener = match listener
                    .set_nonblocking(true)
                    .and_then(|()| TcpListener::from_std(listener))
                {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = ready.send(Err(format!("ROLEGATE_LISTEN: {e}")));
                        return;
                    }
                };
                // The listener is bound already: what connects meanwhile waits in its backlog.
                store.warm().await;
                base.metrics.add_lane_store(store.clone());
                let state = base.with_store(store.clone());
                let _ = ready.send(Ok(()));
                let mut stopping = stopping;
                let shutdown = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                if let Err(err) = crate::connection::serve(listener, router(state), config.timeouts, shutdown).await {
                    tracing::error!(error = %err, thread = index, "a serving thread failed");
                }
                store.close().await;
            });
            let _ = done.send(());
        })?;
    Ok(())
}

/// Serves on `listeners`, one serving thread each, until `shutdown` resolves; background work
/// runs here, with `state`'s store.
async fn serve_on_threads(
    listeners: Vec<std::net::TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let threads = listeners.len();
    // The pool is shared out between the threads (at least one connection each), and each
    // thread's access checks, batched, flow through one connection of its own.
    let mut pool = state.config.pool;
    pool.max_connections = (pool.max_connections / threads as u32).max(1);
    pool.access_connections = pool.access_connections.max(1);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut readies = Vec::with_capacity(threads);
    let mut dones = Vec::with_capacity(threads);
    for (index, listener) in listeners.into_iter().enumerate() {
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let (done, is_done) = tokio::sync::oneshot::channel();
        spawn_lane(index, listener, state.clone(), pool, stopping.clone(), ready, done)?;
        readies.push(is_ready);
        dones.push(is_done);
    }
    for ready in readies {
        if let Err(err) = ready
            .await
            .unwrap_or_else(|_| Err("a serving thread stopped at start".to_owned()))
        {
            let _ = stop.send(true);
            return Err(err.into());
        }
    }
    let background = Background::start(&state);
    shutdown.await;
    let _ = stop.send(true);
    for done in dones {
        let _ = done.await;
    }
    background.stop().await;
    Ok(())
}

/// Builds the state from configuration: opens the store (applying migrations) and the keys.
pub async fn build_state(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<AppState, Box<dyn std::error::Error + Send + Sync>> {
    // Before connecting: a Postgres install without a key must not even migrate.
    let secrets = SecretBox::new(&secrets_key(&config)?);
    // The error never carries the URL (nor so its password): only what the database said.
    let store = store::connect(&config.database_url, config.pool, config.limits)
        .await
        .map_err(|e| format!("DATABASE_URL: cannot open the store: {e}"))?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => {
            tracing::warn!(
                "ROLEGATE_JWT_SECRET is unset: using a random secret, so JWTs will not survive a restart or work across replicas"
            );
            let mut secret = vec![0u8; 32];
            getrandom::fill(&mut secret)?;
            secret
        }
    };
    let jwt = JwtKeys::new(&secret, config.jwt_ttl);
    if config.accounts.mail.is_none() {
        tracing::warn!(
            "ROLEGATE_SMTP_URL is unset: no mail is sent, so addresses cannot be verified (listing one's invitations \
             and accepting them by id stay closed; invitation links still work), invitations and password resets \
             are not mailed, and security notices are not sent"
        );
    }
    let hashing = Arc::new(tokio::sync::Semaphore::new(config.accounts.hash_concurrency));
    let metrics = Arc::new(crate::metrics::Metrics::new(config.metrics_listen.is_some()));
    Ok(AppState::new(crate::state::StateFields {
        hashing,
        store,
        jwt: Arc::new(jwt),
        config: Arc::new(config),
        clock,
        secrets: Arc::new(secrets),
        throttles: Arc::default(),
        signin_turns: Arc::new(crate::auth::throttle::Turns::per_client()),
        account_turns: Arc::new(crate::auth::throttle::Turns::per_account()),
        metrics,
    }))
}

/// The key sealing secrets: configured, or on SQLite a key file kept beside the database.
fn secrets_key(config: &Config) -> Result<[u8; 32], Box<dyn std::error::Error + Send + Sync>> {
    if let Some(key) = config.secrets_key {
        return Ok(key);
    }
    let path = match crate::secrets::key_file_for(&config.database_url) {
        Some(path) => path,
        _ => {
            return Err(
                "ROLEGATE_SECRETS_KEY: must be set (base64 of 32 bytes, e.g. `openssl rand -base64 32`) \
                        when the store is Postgres, so that secrets are never kept beside the data they protect"
                    .into(),
            );
        }
    };
    tracing::warn!(path = %path.display(), "ROLEGATE_SECRETS_KEY is unset: using the key file beside the SQLite database; back it up, and keep it out of database dumps");
    Ok(crate::secrets::load_or_create_key_file(&path)?)
}

/// Runs the service as the binary does: bind, serve, stop on SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listen = config.listen;
    let grace = config.shutdown_grace;
    let state = build_state(config, Arc::new(SystemClock)).await?;
    let store = state.store.clone();
    // On Postgres, one serving thread per core (each its own runtime, listener and pool);
    // SQLite, whose one writer is shared, serves from the one multi-threaded runtime.
    let threads = if state.store.backend() == "postgres" {
        state.config.serve_threads
    } else {
        0
    };
    let listeners =
        bind_shared(listen, threads.max(1)).map_err(|e| format!("ROLEGATE_LISTEN: cannot listen on {listen}: {e}"))?;
    tracing::info!(
        address = %listeners[0].local_addr()?,
        store = state.store.backend(),
        serving_threads = threads,
        "rolegate listening"
    );
    // Metrics on a listener of their own, never through the API's port.
    let (metrics_stop, metrics_stopping) = tokio::sync::oneshot::channel::<()>();
    if let Some(address) = state.config.metrics_listen {
        let metrics = TcpListener::bind(address)
            .await
            .map_err(|e| format!("ROLEGATE_METRICS_LISTEN: cannot listen on {address}: {e}"))?;
        tracing::info!(address = %metrics.local_addr()?, "metrics listening at /metrics");
        let router = crate::metrics::router(state.clone());
        let timeouts = state.config.timeouts;
        tokio::spawn(async move {
            let stopped = async {
                let _ = metrics_stopping.await;
            };
            if let Err(err) = crate::connection::serve(metrics, router, timeouts, stopped).await {
                tracing::error!(error = %err, "the metrics listener failed");
            }
        });
    }
    // On SIGTERM the listener closes at once and requests in flight finish; a client that
    // keeps one open past the grace period does not keep the process alive.
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal().await;
        let _ = signalled.send(());
    };
    let server = async move {
        if threads == 0 {
            state.store.warm().await;
            let listener = listeners.into_iter().next().expect("one listener");
            listener.set_nonblocking(true)?;
            serve(TcpListener::from_std(listener)?, state, shutdown).await?;
            Ok(())
        } else {
            serve_on_threads(listeners, state, shutdown).await
        }
    };
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served?,
        () = async {
            if on_signal.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_seconds = grace.as_secs(), "grace period over with requests still open; exiting"),
    }
    let _ = metrics_stop.send(());
    store.close().await;
    tracing::info!("rolegate stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
