//! The echo service on hyper 1.x: HTTP/1.1 and HTTP/2 on one port (`auto`), the slowloris
//! timeouts hyper leaves to you, and a graceful shutdown with a bounded wait. The axum echo
//! server runs on the same loop ([`serve_service`]), since `axum::serve` has no header read
//! timeout.

use crate::echo::MOUNT_PATH;
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use longpoll_hyper::{LongPollService, Mount, Registry};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// How long a client may take to send a request head, and how long an idle HTTP/1
/// keep-alive connection is kept, unless the flags say otherwise. Also bounds the wait for a
/// new connection's first byte.
pub const HEADER_READ_TIMEOUT: Duration = crate::cli::DEFAULT_HEADER_TIMEOUT;

/// How often an HTTP/2 connection is pinged, to drop peers that vanished.
pub const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long an HTTP/2 ping may go unanswered before the connection is closed.
pub const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the sessions' clients to fetch their close frames, and then
/// for open connections to finish their requests (each at most this long).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The connection builder `serve` uses: HTTP/1.1 and HTTP/2, with the timeouts above and
/// this header read timeout.
pub fn builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
    builder
}

/// Serves `mount` at [`MOUNT_PATH`] on `listener` until `shutdown` completes, with the
/// default header read timeout; see [`serve_service`] for the shutdown.
pub async fn serve(listener: TcpListener, mount: Mount, shutdown: impl Future) {
    let registry = mount.registry().clone();
    let service = LongPollService::new(MOUNT_PATH, mount);
    serve_service(listener, service, registry, HEADER_READ_TIMEOUT, shutdown).await;
}

/// Serves any hyper service (the longpoll service, or an axum router through
/// `TowerToHyperService`) on `listener`, with `header_timeout` as the header read timeout,
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
    let builder = Arc::new(builder(header_timeout));
    let graceful = GracefulShutdown::new();
    // Tells connections still waiting for their first byte (not yet hyper's) to give up.
    let (stopping, stopped) = tokio::sync::watch::channel(());
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
    let mut drain = std::pin::pin!(drain);
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
            () = &mut drain => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, service) = (builder.clone(), service.clone());
        let (watcher, mut stopped) = (graceful.watcher(), stopped.clone());
        tokio::spawn(async move {
            // `auto` reads the first bytes to tell HTTP/1 from HTTP/2 before hyper's header
            // timer starts: a client that connects and says nothing is dropped here.
            let first_byte = tokio::select! {
                ready = tokio::time::timeout(header_timeout, stream.readable()) => {
                    matches!(ready, Ok(Ok(())))
                }
                _ = stopped.changed() => false,
            };
            if !first_byte {
                debug!(%peer, "connection sent nothing; closed");
                return;
            }
            // With upgrades, so a router that also serves WebSocket (the chat) works here too.
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stopping.send(());
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period");
    }
}
