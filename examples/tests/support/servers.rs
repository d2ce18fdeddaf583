//! Starts each echo server (axum, hyper, actix-web, the custom runtime without tokio) on an
//! ephemeral loopback port, so one test can run unchanged against all of them.

use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{actix_server, echo, hyper_server};
use std::net::SocketAddr;

/// The echo servers, one per way of driving the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Axum,
    Hyper,
    Actix,
    Custom,
}

impl Adapter {
    /// Every echo server.
    pub const ALL: [Adapter; 4] = [
        Adapter::Axum,
        Adapter::Hyper,
        Adapter::Actix,
        Adapter::Custom,
    ];

    /// The name tests print.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Axum => "axum",
            Adapter::Hyper => "hyper",
            Adapter::Actix => "actix",
            Adapter::Custom => "custom (no tokio)",
        }
    }
}

/// Flags for an echo server on an ephemeral loopback port with the given timeouts.
pub fn args(poll_timeout_ms: u64, idle_timeout_ms: u64) -> EchoArgs {
    EchoArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_timeout_ms: Some(poll_timeout_ms),
        idle_timeout_ms: Some(idle_timeout_ms),
        max_body_bytes: None,
    }
}

/// A running echo server; [`Running::stop`] shuts it down gracefully.
pub struct Running {
    pub adapter: Adapter,
    pub address: SocketAddr,
    stop: Stop,
}

enum Stop {
    Axum(tokio::sync::oneshot::Sender<()>, longpoll_tokio::Registry),
    Hyper(tokio::sync::oneshot::Sender<()>, longpoll_tokio::Registry),
    Actix(actix_server::RunningActix),
    Custom(longpoll_example_custom::RunningServer),
}

/// Starts `adapter`'s echo server with `args` (its `listen` is ignored: 127.0.0.1:0).
pub async fn start(adapter: Adapter, args: &EchoArgs) -> Running {
    start_with_config(adapter, args.config().expect("valid echo flags")).await
}

/// Starts `adapter`'s echo server on 127.0.0.1:0 with any valid `config` (one the flags
/// cannot express, such as a short `gone_timeout`).
pub async fn start_with_config(adapter: Adapter, config: longpoll_core::Config) -> Running {
    let (address, stop) = match adapter {
        Adapter::Axum => {
            let (router, registry) = echo::router(config).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let shutdown_registry = registry.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                        shutdown_registry.shutdown();
                    })
                    .await
                    .expect("serve");
            });
            (address, Stop::Axum(tx, registry))
        }
        Adapter::Hyper => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let mount = longpoll_tokio::LongPoll::new(config)
                .unwrap()
                .mount(echo::echo);
            let registry = mount.registry().clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(hyper_server::serve(listener, mount, rx));
            (address, Stop::Hyper(tx, registry))
        }
        Adapter::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let server = actix_server::spawn(listener, config).unwrap();
            (server.address, Stop::Actix(server))
        }
        Adapter::Custom => {
            let listen = "127.0.0.1:0".parse().unwrap();
            let server = longpoll_example_custom::spawn_with(listen, config, None).unwrap();
            (server.local_addr(), Stop::Custom(server))
        }
    };
    Running {
        adapter,
        address,
        stop,
    }
}

impl Running {
    /// The session registry, for the servers on `longpoll-tokio` (the custom one has its own).
    pub fn registry(&self) -> Option<&longpoll_tokio::Registry> {
        match &self.stop {
            Stop::Axum(_, registry) | Stop::Hyper(_, registry) => Some(registry),
            Stop::Actix(server) => Some(&server.registry),
            Stop::Custom(_) => None,
        }
    }

    /// Shuts the server down gracefully: every session is closed "going away" first.
    pub async fn stop(self) {
        match self.stop {
            Stop::Axum(tx, _) | Stop::Hyper(tx, _) => {
                let _ = tx.send(());
            }
            Stop::Actix(server) => tokio::task::spawn_blocking(move || server.stop())
                .await
                .unwrap(),
            Stop::Custom(server) => tokio::task::spawn_blocking(move || server.shutdown())
                .await
                .unwrap()
                .unwrap(),
        }
    }
}
