//! The echo service on actix-web: several single-threaded workers sharing one registry.

use crate::echo::{MOUNT_PATH, echo};
use actix_web::{App, HttpServer};
use longpoll_actix::{LongPoll, Mount, Registry};
use longpoll_core::Config;
use std::net::{SocketAddr, TcpListener};

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
    /// Closes every session ("going away"), stops accepting, lets requests in flight finish,
    /// and waits for the server thread.
    pub fn stop(mut self) {
        self.registry.shutdown();
        let handle = self.handle.clone();
        // `stop` only sends a command to the server's own runtime; any executor can await it.
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() {
            runtime.block_on(handle.stop(true));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the actix echo server on `listener` on its own thread (actix runs its own runtime
/// per worker). `config` must be valid.
pub fn spawn(listener: TcpListener, config: Config) -> std::io::Result<RunningActix> {
    let longpoll = LongPoll::new(config).map_err(std::io::Error::other)?;
    spawn_mount(listener, longpoll.mount(echo))
}

/// Starts an actix server on `listener` serving `mount` at [`MOUNT_PATH`].
pub fn spawn_mount(listener: TcpListener, mount: Mount) -> std::io::Result<RunningActix> {
    let address = listener.local_addr()?;
    let registry = mount.registry().clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().service(longpoll_actix::scope(MOUNT_PATH, mount.clone()))
            })
            .workers(WORKERS)
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
