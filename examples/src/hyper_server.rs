//! The echo service on hyper 1.x: HTTP/1.1 and HTTP/2 on one port, the slowloris timeouts
//! hyper leaves to you, and a graceful shutdown with a bounded wait. The axum echo server runs
//! on the same loop ([`serve_service`]), since `axum::serve` has no header read timeout.

use crate::echo::MOUNT_PATH;
use hyper::body::{Body, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use longpoll_hyper::{HttpVersion, LongPollService, Mount, Registry, peek_http_version};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// How long a client may take to send a request head, and how long an idle HTTP/1
/// keep-alive connection is kept, unless the flags say otherwise. Also bounds the wait for a
/// new connection's first bytes.
pub const HEADER_READ_TIMEOUT: Duration = crate::cli::DEFAULT_HEADER_TIMEOUT;

/// How often an HTTP/2 connection is pinged, to drop peers that vanished.
pub const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long an HTTP/2 ping may go unanswered before the connection is closed.
pub const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the sessions' clients to fetch their close frames, and then
/// for open connections to finish their requests (each at most this long).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The HTTP/1.1 and HTTP/2 connection builders `serve` uses: the timeouts above, and this
/// header read timeout.
#[derive(Clone, Debug)]
pub struct Builders {
    /// For connections that speak HTTP/1.1 (with upgrades, so a WebSocket route works).
    pub http1: http1::Builder,
    /// For connections that open with HTTP/2's preface (prior knowledge, `h2c`).
    pub http2: http2::Builder<TokioExecutor>,
}

impl Builders {
    /// Both builders, with hyper's timer, `header_timeout` for HTTP/1 request heads, and
    /// HTTP/2 keep-alive pings.
    pub fn new(header_timeout: Duration) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
        Self { http1, http2 }
    }
}

/// Drives `connection` to its end; once the server stops, lets it finish the requests in
/// flight and close (`graceful` is the connection type's `graceful_shutdown`).
async fn drive<C>(
    connection: C,
    graceful: fn(Pin<&mut C>),
    mut stopped: watch::Receiver<()>,
) -> hyper::Result<()>
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result,
        _ = stopped.changed() => graceful(connection.as_mut()),
    }
    connection.await
}

/// Serves `mount` at [`MOUNT_PATH`] on `listener` until `shutdown` completes, with the
/// default header read timeout; see [`serve_service`] for the shutdown.
pub async fn serve(listener: TcpListener, mount: Mount, shutdown: impl Future) {
    let registry = mount.registry().clone();
    let service = LongPollService::new(MOUNT_PATH, mount);
    serve_service(listener, service, registry, HEADER_READ_TIMEOUT, shutdown).await;
}

/// Serves any hyper service (the longpoll service, or an axum router through
/// [`CallAtOnce`](crate::tower_to_hyper::CallAtOnce)) on `listener`, with `header_timeout` as the header read timeout,
/// until `shutdown` completes. Then it shuts down gracefully:
///
/// 1. every session of `registry` is closed with 1001 "going away" (held polls are answered at
///    once with what is queued and the close frame), and no session is opened any more
///    (`503`);
/// 2. the server keeps serving, so clients can fetch their last messages and close frames,
///    until every session has ended or [`SHUTDOWN_GRACE`] has passed;
/// 3. it stops accepting, lets each connection finish its requests, and waits for that at
///    most [`SHUTDOWN_GRACE`].
pub async fn serve_service<S, B>(
    listener: TcpListener,
    service: S,
    registry: Registry,
    header_timeout: Duration,
    shutdown: impl Future,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let drain = async {
        shutdown.await;
        info!("shutting down: closing every session");
        registry.shutdown();
        if tokio::time::timeout(SHUTDOWN_GRACE, registry.drained())
            .await
            .is_err()
        {
            warn!(
                sessions = registry.len(),
                "sessions still open after the grace period"
            );
        }
    };
    serve_connections(listener, service, header_timeout, drain).await;
}

/// The connection loop under [`serve_service`], for any hyper service: accepts until `stop`
/// completes, serving each connection with HTTP/1.1 or HTTP/2 as its first bytes say; then
/// lets each connection finish its requests, waiting for that at most [`SHUTDOWN_GRACE`].
pub async fn serve_connections<S, B>(
    listener: TcpListener,
    service: S,
    header_timeout: Duration,
    stop: impl Future,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builders = Arc::new(Builders::new(header_timeout));
    // Tells connections to finish their requests and close; each holds a receiver, so the
    // sender sees when the last one has ended.
    let (stopping, stopped) = watch::channel(());
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: let connections finish and retry.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let (builders, service) = (builders.clone(), service.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            // Peeked, not read, before hyper's header timer starts: a client that connects and
            // says nothing is dropped here, and hyper reads the first request head whole (see
            // `peek_http_version` for the memory this saves over hyper-util's `auto`).
            let version = tokio::select! {
                first = tokio::time::timeout(header_timeout, peek_http_version(&stream)) => {
                    first.ok().and_then(Result::ok).flatten()
                }
                _ = stopped.changed() => None,
            };
            let io = TokioIo::new(stream);
            let served = match version {
                None => {
                    debug!(%peer, "connection sent nothing; closed");
                    return;
                }
                // With upgrades, so a router that also serves WebSocket (the chat) works here.
                Some(HttpVersion::Http1) => {
                    let connection = builders.http1.serve_connection(io, service).with_upgrades();
                    drive(
                        connection,
                        http1::UpgradeableConnection::graceful_shutdown,
                        stopped,
                    )
                    .await
                }
                Some(HttpVersion::Http2) => {
                    let connection = builders.http2.serve_connection(io, service);
                    drive(connection, http2::Connection::graceful_shutdown, stopped).await
                }
            };
            if let Err(error) = served {
                debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(stopped);
    let _ = stopping.send(());
    if tokio::time::timeout(SHUTDOWN_GRACE, stopping.closed())
        .await
        .is_err()
    {
        warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period");
    }
}
