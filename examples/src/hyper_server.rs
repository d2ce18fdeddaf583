//! The echo service on hyper 1.x: HTTP/1.1 and HTTP/2 on one port (`auto`), the slowloris
//! timeouts hyper leaves to you, and a graceful shutdown with a bounded wait.

use crate::echo::MOUNT_PATH;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use longpoll_hyper::{LongPollService, Mount};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// How long a client may take to send a request head, and how long an idle HTTP/1
/// keep-alive connection is kept. Also bounds the wait for a new connection's first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an HTTP/2 connection is pinged, to drop peers that vanished.
pub const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long an HTTP/2 ping may go unanswered before the connection is closed.
pub const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The connection builder `serve` uses: HTTP/1.1 and HTTP/2, with the timeouts above.
pub fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
    builder
}

/// Serves `mount` at [`MOUNT_PATH`] on `listener` until `shutdown` completes; then closes
/// every session ("going away", held polls are answered at once), stops accepting, lets each
/// connection finish its requests and waits for that at most [`SHUTDOWN_GRACE`].
pub async fn serve(listener: TcpListener, mount: Mount, shutdown: impl Future) {
    let registry = mount.registry().clone();
    let service = LongPollService::new(MOUNT_PATH, mount);
    let builder = Arc::new(builder());
    let graceful = GracefulShutdown::new();
    // Tells connections still waiting for their first byte (not yet hyper's) to give up.
    let (stopping, stopped) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
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
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, service) = (builder.clone(), service.clone());
        let (watcher, mut stopped) = (graceful.watcher(), stopped.clone());
        tokio::spawn(async move {
            // `auto` reads the first bytes to tell HTTP/1 from HTTP/2 before hyper's header
            // timer starts: a client that connects and says nothing is dropped here.
            let first_byte = tokio::select! {
                ready = tokio::time::timeout(HEADER_READ_TIMEOUT, stream.readable()) => {
                    matches!(ready, Ok(Ok(())))
                }
                _ = stopped.changed() => false,
            };
            if !first_byte {
                debug!(%peer, "connection sent nothing; closed");
                return;
            }
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    info!("shutting down: closing every session");
    registry.shutdown();
    drop(listener);
    let _ = stopping.send(());
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period");
    }
}
