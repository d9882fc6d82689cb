//! The accept loop and each connection's pace.
//!
//! `axum::serve` lets a client hold a connection as long as it likes; this loop serves each
//! connection with hyper's HTTP/1.1 and a watchdog that closes the stalled ones
//! (slowloris, OWASP API4):
//! - **headers**: a request whose head is not complete [`Timeouts::header`] after its first
//!   byte is answered `408` and closed; a new connection that sends nothing for as long is
//!   closed;
//! - **bodies**: a body that yields nothing for [`Timeouts::body`] fails its read, which the
//!   body extractors answer `408` (and the connection is closed);
//! - **idle**: a keep-alive connection without a request for [`Timeouts::idle`] is closed.
//!
//! A request in the hands of a handler is never cut by the watchdog. Head limits are
//! hyper's (at most [`MAX_HEADERS`] fields and [`MAX_HEAD_BYTES`] in all): hyper answers an
//! oversized or unparseable head by itself, and [`Watched`] rewrites that bare answer into
//! the API's problem+json with an `x-request-id`, like every other answer.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::error::ApiError;

/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Largest request head (request line and header fields), in bytes.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a client may stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `ROLEGATE_HEADER_TIMEOUT_MS` (default 10 s): from a request's first byte to the end of
    /// its head, and from a connection's opening to its first byte.
    pub header: Duration,
    /// `ROLEGATE_BODY_TIMEOUT_MS` (default 30 s): the longest a request body may yield nothing.
    pub body: Duration,
    /// `ROLEGATE_IDLE_TIMEOUT_MS` (default 60 s): the longest a keep-alive connection may wait
    /// for its next request.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets the
/// requests in flight finish and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    // Every connection holds a receiver; `closed()` resolves once the last one is done.
    let (open, connections) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    if !is_connection_error(&err) {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::error!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stopping = stopping.clone();
        let held = connections.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, timeouts, stopping).await;
            drop(held);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(connections);
    open.closed().await;
    Ok(())
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// What the watchdog knows of one connection, kept up to date by its reads and requests.
struct Pace {
    opened: Instant,
    /// Requests handed to the router whose answer is not yet written.
    in_flight: AtomicUsize,
    /// Requests handed to the router so far.
    requests: AtomicU64,
    /// Since when (ms after `opened`) the connection has had nothing in flight.
    idle_since: AtomicU64,
    /// When (ms after `opened`, plus one) the first byte of the next request head arrived;
    /// 0 while none has.
    head_since: AtomicU64,
}

/// What the watchdog decides.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Fine,
    /// Close without a word: nothing was asked.
    Close,
    /// Answer 408 and close: a request head stalled.
    HeadTimeout,
}

impl Pace {
    fn new() -> Self {
        Pace {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes arrived: between requests, they start the next head.
    fn read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_since.load(Ordering::Relaxed) == 0 {
            self.head_since.store(self.now() + 1, Ordering::Relaxed);
        }
    }

    /// A head is complete and goes to the router.
    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
    }

    /// An answer is written (or abandoned).
    fn end(&self) {
        self.idle_since.store(self.now(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn check(&self, timeouts: &Timeouts) -> Verdict {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Verdict::Fine;
        }
        let now = self.now();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.head_since.load(Ordering::Relaxed) {
            0 => {
                let idle = now.saturating_sub(self.idle_since.load(Ordering::Relaxed));
                let limit = if self.requests.load(Ordering::Relaxed) == 0 {
                    timeouts.header
                } else {
                    timeouts.idle
                };
                if idle >= millis(limit) {
                    Verdict::Close
                } else {
                    Verdict::Fine
                }
            }
            since if now.saturating_sub(since - 1) >= millis(timeouts.header) => Verdict::HeadTimeout,
            _ => Verdict::Fine,
        }
    }
}

/// Ends its request's time in flight when dropped.
struct InFlight(Arc<Pace>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that keeps its request in flight until hyper has taken all of it.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    mut stopping: watch::Receiver<bool>,
) {
    let pace = Arc::new(Pace::new());
    let io = TokioIo::new(Watched {
        stream,
        pace: pace.clone(),
        rewrite: None,
    });
    let requests = pace.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        requests.begin();
        let in_flight = InFlight(requests.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|body| Body::new(TimeoutBody::new(timeouts.body, body)));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Tracked {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES)
        .serve_connection(io, service);
    let tick = (timeouts.header.min(timeouts.idle) / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stalled = loop {
        tokio::select! {
            served = &mut conn => {
                if let Err(err) = served {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed() => {
                // Finish what is in flight; an idle connection closes at once.
                Pin::new(&mut conn).graceful_shutdown();
                let _ = conn.await;
                return;
            }
            _ = ticks.tick() => match pace.check(&timeouts) {
                Verdict::Fine => {}
                Verdict::Close => return,
                Verdict::HeadTimeout => break true,
            },
        }
    };
    if stalled {
        // Nothing is being answered on this connection: it may still hear why it closes.
        let mut stream = conn.into_parts().io.into_inner().stream;
        let answer = raw_problem(&ApiError::RequestTimeout(
            "the request's header fields did not arrive in time; the connection is closed",
        ));
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
}

/// `error` as a whole HTTP/1.1 answer, for the cases where hyper or the watchdog answers
/// before any request reaches the router: problem+json, a new `x-request-id`, and the
/// headers every answer carries.
fn raw_problem(error: &ApiError) -> Vec<u8> {
    let status = error.status();
    let body = error.problem_body();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {}\r\nx-content-type-options: nosniff\r\n\
         cache-control: no-store\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
        uuid::Uuid::new_v4(),
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// Whether `head` is an answer hyper wrote by itself: every answer of the router carries
/// an `x-request-id`; hyper's bare `400`, `414` and `431` to a head it cannot take do not.
fn hyper_answer(head: &[u8]) -> Option<ApiError> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if head[..end]
        .windows(15)
        .any(|w| w.eq_ignore_ascii_case(b"\r\nx-request-id:"))
    {
        return None;
    }
    Some(match status {
        b"431" => ApiError::HeadersTooLarge,
        b"414" => ApiError::UriTooLong,
        b"400" => ApiError::BadRequest("the request is not valid HTTP/1.1".into()),
        _ => return None,
    })
}

/// The connection's socket, telling the [`Pace`] when bytes arrive and rewriting hyper's
/// own bare error answers.
struct Watched {
    stream: TcpStream,
    pace: Arc<Pace>,
    /// A rewritten answer being written: its bytes and how many are out. Whatever hyper
    /// writes after it is dropped (the connection closes).
    rewrite: Option<(Vec<u8>, usize)>,
}

impl Watched {
    /// Writes what is left of the rewritten answer.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, written)) = &mut self.rewrite {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Whether hyper is writing its own answer (from now on, or already): then `len` bytes
    /// are taken and dropped, and the rewrite goes out instead.
    fn rewriting(&mut self, first: &[u8]) -> bool {
        if self.rewrite.is_some() {
            return true;
        }
        if self.pace.in_flight.load(Ordering::Relaxed) > 0 {
            return false;
        }
        match hyper_answer(first) {
            Some(error) => {
                self.rewrite = Some((raw_problem(&error), 0));
                true
            }
            None => false,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.pace.read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.rewriting(buf) {
            ready!(self.poll_rewrite(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        if self.rewriting(first) {
            ready!(self.poll_rewrite(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_rewrite(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_rewrite(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_bare_answers_are_recognised() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert!(matches!(hyper_answer(bare), Some(ApiError::HeadersTooLarge)));
        let ours = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 2\r\nx-request-id: abc\r\n\r\n{}";
        assert!(hyper_answer(ours).is_none());
        assert!(hyper_answer(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(hyper_answer(b"{\"items\": []}").is_none());
    }

    #[test]
    fn raw_problem_is_a_whole_answer() {
        let answer = String::from_utf8(raw_problem(&ApiError::UriTooLong)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("x-request-id: "));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["type"], "urn:rolegate:problem:uri-too-long");
    }

    #[test]
    fn a_stalled_head_times_out_but_a_request_in_flight_does_not() {
        let timeouts = Timeouts {
            header: Duration::ZERO,
            body: Duration::ZERO,
            idle: Duration::from_secs(60),
        };
        let pace = Pace::new();
        pace.read();
        assert_eq!(pace.check(&timeouts), Verdict::HeadTimeout);
        pace.begin();
        assert_eq!(pace.check(&timeouts), Verdict::Fine);
        pace.end();
        // Kept alive, idle for less than a minute.
        assert_eq!(pace.check(&timeouts), Verdict::Fine);
    }
}
