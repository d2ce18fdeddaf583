//! Starts each echo server (axum's router and layer, hyper, actix-web, the custom runtime without tokio) on an
//! ephemeral loopback port, so one test can run unchanged against all of them.

use futures_util::future::BoxFuture;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{actix_server, echo, hyper_server};
use longpoll_tokio::Session;
use std::net::SocketAddr;
use std::sync::Arc;

/// The echo servers, one per way of driving the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `longpoll_axum::router_at` merged into an axum `Router`.
    Axum,
    /// `longpoll_axum::LongPollLayer` in front of an axum `Router`.
    AxumLayer,
    /// `longpoll_hyper::LongPollService`, with the echo as a callback per session.
    Hyper,
    Actix,
    Custom,
}

impl Adapter {
    /// Every echo server.
    pub const ALL: [Adapter; 5] = [
        Adapter::Axum,
        Adapter::AxumLayer,
        Adapter::Hyper,
        Adapter::Actix,
        Adapter::Custom,
    ];

    /// The name tests print.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Axum => "axum",
            Adapter::AxumLayer => "axum (layer)",
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
        ..EchoArgs::default()
    }
}

/// A session handler a test supplies instead of the echo (servers on `longpoll-tokio` only:
/// the custom server's application is built in).
pub type Handler = Arc<dyn Fn(Session) -> BoxFuture<'static, ()> + Send + Sync>;

/// A running echo server; [`Running::stop`] shuts it down gracefully.
pub struct Running {
    pub adapter: Adapter,
    pub address: SocketAddr,
    stop: Stop,
}

enum Stop {
    Tokio(
        tokio::sync::oneshot::Sender<()>,
        longpoll_tokio::Registry,
        tokio::task::JoinHandle<()>,
    ),
    Actix(actix_server::RunningActix),
    Custom(longpoll_example_custom::RunningServer),
}

/// Starts `adapter`'s echo server with `args` (its `listen` is ignored: 127.0.0.1:0).
pub async fn start(adapter: Adapter, args: &EchoArgs) -> Running {
    start_with(adapter, args, None).await
}

/// Like [`start`], with `handler` instead of the echo for every session when given (ignored
/// by the custom server, whose echo is built into its session loop).
pub async fn start_with(adapter: Adapter, args: &EchoArgs, handler: Option<Handler>) -> Running {
    let config = args.config().expect("valid echo flags");
    start_configured(adapter, args, config, handler).await
}

/// Starts `adapter`'s echo server with a session `config` the flags cannot express (such as
/// a short `gone_timeout`), and the flags' defaults for everything else.
pub async fn start_with_config(adapter: Adapter, config: longpoll_core::Config) -> Running {
    start_configured(adapter, &EchoArgs::default(), config, None).await
}

async fn start_configured(
    adapter: Adapter,
    args: &EchoArgs,
    config: longpoll_core::Config,
    handler: Option<Handler>,
) -> Running {
    let mount = || {
        let longpoll = longpoll_tokio::LongPoll::new(config.clone()).expect("a valid config");
        let registry = longpoll_tokio::Registry::new(longpoll, args.max_sessions);
        match handler.clone() {
            Some(handler) => longpoll_tokio::Mount::new(registry, move |session| handler(session)),
            // As `echo-hyper` serves it: every suite also runs the callback session API.
            None if adapter == Adapter::Hyper => {
                longpoll_tokio::Mount::with_callback(registry, echo::echo_callback)
            }
            None => longpoll_tokio::Mount::new(registry, echo::echo),
        }
    };
    let (address, stop) = match adapter {
        Adapter::Axum | Adapter::AxumLayer | Adapter::Hyper => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let mount = mount();
            let registry = mount.registry().clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let header_timeout = args.header_timeout();
            let server = if adapter == Adapter::Axum {
                let (router, registry) = echo::router_for(mount);
                tokio::spawn(echo::serve_app(
                    listener,
                    router,
                    registry,
                    header_timeout,
                    rx,
                ))
            } else if adapter == Adapter::AxumLayer {
                let (app, registry) = echo::app_for(mount);
                tokio::spawn(echo::serve_app(listener, app, registry, header_timeout, rx))
            } else {
                let service = longpoll_hyper::LongPollService::new(echo::MOUNT_PATH, mount);
                tokio::spawn(hyper_server::serve_service(
                    listener,
                    service,
                    registry.clone(),
                    header_timeout,
                    rx,
                ))
            };
            (address, Stop::Tokio(tx, registry, server))
        }
        Adapter::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let server =
                actix_server::spawn_mount(listener, mount(), args.header_timeout()).unwrap();
            (server.address, Stop::Actix(server))
        }
        Adapter::Custom => {
            let server = longpoll_example_custom::spawn_with_header_timeout(
                "127.0.0.1:0".parse().unwrap(),
                config,
                args.max_sessions,
                args.header_timeout(),
            )
            .unwrap();
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
            Stop::Tokio(_, registry, _) => Some(registry),
            Stop::Actix(server) => Some(&server.registry),
            Stop::Custom(_) => None,
        }
    }

    /// Shuts the server down gracefully (every session is closed "going away" first; the
    /// server serves until the sessions have ended or its grace period ran out) and waits
    /// until it has stopped.
    pub async fn stop(self) {
        match self.stop {
            Stop::Tokio(tx, _, server) => {
                let _ = tx.send(());
                server.await.unwrap();
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
