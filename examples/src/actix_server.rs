//! The echo service on actix-web: several single-threaded workers sharing one registry.

use crate::echo::{MOUNT_PATH, echo};
use crate::hyper_server::SHUTDOWN_GRACE;
use actix_web::{App, HttpServer};
use longpoll_actix::{LongPoll, Mount, Registry};
use longpoll_core::Config;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Workers the echo server runs: more than one, so a session's requests can land on a worker
/// other than the one that runs the session.
pub const WORKERS: usize = 2;

/// A running actix echo server.
#[derive(Debug)]
pub struct RunningActix {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its sessions.
    pub registry: Registry,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningActix {
    /// Shuts down gracefully: closes every session ("going away"; held polls are answered
    /// with what is queued and the close frame) and opens no more; keeps serving until every
    /// session has ended or [`SHUTDOWN_GRACE`] has passed, so clients fetch their close
    /// frames; then stops accepting, lets requests in flight finish (at most
    /// [`SHUTDOWN_GRACE`]) and waits for the server thread.
    pub fn stop(mut self) {
        self.registry.shutdown();
        let handle = self.handle.clone();
        // Both waits only need a timer; the server runs on its own runtime meanwhile.
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            runtime.block_on(async {
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.registry.drained()).await;
                handle.stop(true).await;
            });
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the actix echo server on `listener` on its own thread (actix runs its own runtime
/// per worker), with the default header read timeout. `config` must be valid.
pub fn spawn(listener: TcpListener, config: Config) -> std::io::Result<RunningActix> {
    let longpoll = LongPoll::new(config).map_err(std::io::Error::other)?;
    spawn_mount(
        listener,
        longpoll.mount(echo),
        crate::cli::DEFAULT_HEADER_TIMEOUT,
    )
}

/// Starts an actix server on `listener` serving `mount` at [`MOUNT_PATH`]. A client must send
/// its request head within `header_timeout` (actix's `client_request_timeout`: `408`, then
/// the connection is closed).
pub fn spawn_mount(
    listener: TcpListener,
    mount: Mount,
    header_timeout: Duration,
) -> std::io::Result<RunningActix> {
    let address = listener.local_addr()?;
    let registry = mount.registry().clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().service(longpoll_actix::scope(MOUNT_PATH, mount.clone()))
            })
            .workers(WORKERS)
            .client_request_timeout(header_timeout)
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            .disable_signals()
            .listen(listener)?
            .run();
            let _ = ready_tx.send(server.handle());
            server.await
        })
    });
    let handle = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("actix server failed to start"))?;
    Ok(RunningActix {
        address,
        registry,
        handle,
        thread: Some(thread),
    })
}
