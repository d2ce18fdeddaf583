//! The servers under test, one per process so the harness can pin it to a core and read its
//! CPU time and memory:
//!
//! `bench-server --impl axum|axum-router|hyper|actix|plain-hyper|engineioxide
//! --scenario echo|fanout|latency|idle`
//!
//! Prints `listening <address>` once it accepts connections, and exits when its standard
//! input closes (the harness holds it open), so a harness that dies takes its servers along.
//! Every server runs one worker thread: the harness gives it one core.
//!
//! - ours (`axum`, `axum-router`, `hyper`, `actix`): protocol v1 at `/longpoll` through each
//!   adapter's public API: `axum` is `LongPollLayer` in front of a `Router`, `axum-router` is
//!   `router_at` merged into one; `hyper` is the example server's own serve loop
//!   (`longpoll-examples`). The echo, latency and idle applications are callback sessions
//!   (`LongPoll::mount_callback`, like engineioxide's handler; the latency one spawns a
//!   ticking task with its `SessionSender`, as engineioxide's `on_connect` does) unless
//!   `--session-api task` gives each session a task with a `Session`; fan-out pushes from a
//!   `Session`.
//! - `plain-hyper`: the physical floor. Every request is answered at once with `ok`, except
//!   in the idle scenario, where a request for [`HOLD_PATH`] is held forever (an idle
//!   connection with a parked request, like a parked poll).
//! - `engineioxide`: engine.io v4, polling only, at `/engine.io/`.

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use engineioxide::config::EngineIoConfig;
use engineioxide::handler::EngineIoHandler;
use engineioxide::service::EngineIoService;
use engineioxide::{DisconnectReason, Socket, Str, TransportType};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use longpoll_bench::{HOLD_PATH, IDLE_HOLD_MS, Scenario, V1_PATH, payload, stamped_payload};
use longpoll_core::Config;
use longpoll_tokio::{LongPoll, Message, Mount, Session, SessionSender, TrySendError};
use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Impl {
    Axum,
    AxumRouter,
    Hyper,
    Actix,
    PlainHyper,
    Engineioxide,
}

#[derive(Debug, Parser)]
#[command(about = "A server under test for longpoll-bench")]
struct Args {
    /// Which server.
    #[arg(long = "impl", value_enum)]
    server: Impl,
    /// What it does with its sessions.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How our servers' echo, latency and idle applications are written: callback sessions
    /// (`LongPoll::mount_callback`), or a task per session with a `Session`.
    #[arg(long, value_enum, default_value_t = SessionApi::Callback)]
    session_api: SessionApi,
}

/// Which of our session APIs the applications use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SessionApi {
    Callback,
    Task,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    exit_when_stdin_closes();
    let listener = std::net::TcpListener::bind(args.listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    if args.server == Impl::Actix {
        return serve_actix(listener, address, args.scenario, args.session_api);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        announce(address);
        match args.server {
            Impl::Axum => {
                // The echo example's app: protocol v1 answered by `LongPollLayer` in front of
                // an axum `Router`, the cheapest way to serve it on axum (`router_at` routes
                // through axum first; see BENCHMARKS.md).
                let (app, registry) =
                    longpoll_examples::echo::app_for(mount(args.scenario, args.session_api)?);
                // The loop the axum examples use, rather than `axum::serve`: it has a header
                // read timeout, and tells HTTP/1 from HTTP/2 without growing hyper's read
                // buffer (see `longpoll_examples::hyper_server`).
                longpoll_examples::echo::serve_app(
                    listener,
                    app,
                    registry,
                    longpoll_examples::hyper_server::HEADER_READ_TIMEOUT,
                    std::future::pending::<()>(),
                )
                .await;
            }
            Impl::AxumRouter => {
                // `router_at` merged into the app's router (axum's `nest` would rebuild each
                // request's URI), on the same loop.
                let (router, registry) =
                    longpoll_examples::echo::router_for(mount(args.scenario, args.session_api)?);
                longpoll_examples::echo::serve_app(
                    listener,
                    router,
                    registry,
                    longpoll_examples::hyper_server::HEADER_READ_TIMEOUT,
                    std::future::pending::<()>(),
                )
                .await;
            }
            Impl::Hyper => {
                longpoll_examples::hyper_server::serve(
                    listener,
                    mount(args.scenario, args.session_api)?,
                    std::future::pending::<()>(),
                )
                .await;
            }
            Impl::PlainHyper => serve_plain(listener, args.scenario).await,
            Impl::Engineioxide => serve_engineioxide(listener, args.scenario).await,
            Impl::Actix => unreachable!("served above"),
        }
        Ok(())
    })
}

fn announce(address: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening {address}");
    let _ = out.flush();
}

/// The harness keeps our standard input open; when it closes (the harness ended, or died),
/// so do we.
fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut line = String::new();
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read_line(&mut line), Ok(n) if n > 0) {
            line.clear();
        }
        std::process::exit(0);
    });
}

// ----- ours ------------------------------------------------------------------------------

fn config(scenario: Scenario) -> Config {
    let mut config = Config::default();
    if scenario == Scenario::Idle {
        config.poll_timeout = Duration::from_millis(IDLE_HOLD_MS);
        config.idle_timeout = config.poll_timeout * 2;
    }
    config
}

fn mount(
    scenario: Scenario,
    session_api: SessionApi,
) -> Result<Mount, longpoll_core::config::ConfigError> {
    let longpoll = LongPoll::new(config(scenario))?;
    Ok(match scenario {
        Scenario::Echo if session_api == SessionApi::Callback => {
            longpoll.mount_callback(|sender| {
                move |item| {
                    if let Ok(message @ (Message::Text(_) | Message::Binary(_))) = item {
                        // Waits for room if it must (pausing the session's receiving), like
                        // the task's `send`; with one message in flight it never does.
                        let _ = sender.send(message);
                    }
                }
            })
        }
        Scenario::Echo => longpoll.mount(echo),
        Scenario::Fanout => longpoll.mount(fan_out),
        // Like engineioxide's `on_connect`: a task per session that pushes on its own.
        Scenario::Latency if session_api == SessionApi::Callback => {
            longpoll.mount_callback(|sender| {
                tokio::spawn(stamp_every_second_to(sender));
                |_item| {}
            })
        }
        Scenario::Latency => longpoll.mount(stamp_every_second),
        // Nothing to do per session: a callback session has no task at all.
        Scenario::Idle if session_api == SessionApi::Callback => {
            longpoll.mount_callback(|_sender| |_item| {})
        }
        Scenario::Idle => longpoll.mount(hold),
    })
}

async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(Ok(message)) = rx.next().await {
        if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
            break;
        }
    }
}

/// Once the client says go (its first message: the harness opens every session before any
/// pushing starts), sends as fast as the outbound buffer takes messages; `send` waits while
/// it is full.
async fn fan_out(mut session: Session) {
    if !matches!(session.recv().await, Some(Ok(_))) {
        return;
    }
    let message = Message::Text(payload().into());
    while session.send(message.clone()).await.is_ok() {}
}

async fn stamp_every_second(session: Session) {
    let (mut tx, mut rx) = session.split();
    let sender = async move {
        let mut ticks = every_second();
        loop {
            ticks.tick().await;
            if tx
                .send(Message::Text(stamped_payload().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    // Ends with the session: the receiving half reports its end.
    tokio::select! {
        () = sender => {}
        () = async { while rx.next().await.is_some() {} } => {}
    }
}

/// The latency application of a callback session: ends when the session is closed.
async fn stamp_every_second_to(sender: SessionSender) {
    let mut ticks = every_second();
    loop {
        ticks.tick().await;
        // One message a second never waits for room; `Full` would only drop a stamp.
        if let Err(TrySendError::Closed(_)) = sender.send(Message::Text(stamped_payload().into())) {
            break;
        }
    }
}

async fn hold(mut session: Session) {
    while session.recv().await.is_some() {}
}

/// A session's one-second ticks, every latency application's (ours and engineioxide's).
fn every_second() -> tokio::time::Interval {
    tokio::time::interval_at(
        tokio::time::Instant::now() + random_phase(),
        Duration::from_secs(1),
    )
}

/// Spreads the sessions' one-second ticks over the second, so the server pushes evenly.
fn random_phase() -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(longpoll_bench::monotonic_nanos());
    Duration::from_micros(hasher.finish() % 1_000_000)
}

fn serve_actix(
    listener: std::net::TcpListener,
    address: SocketAddr,
    scenario: Scenario,
    session_api: SessionApi,
) -> Result<(), Box<dyn std::error::Error>> {
    listener.set_nonblocking(false)?;
    let mount = mount(scenario, session_api)?;
    actix_web::rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().service(longpoll_actix::scope(V1_PATH, mount.clone()))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        announce(address);
        server.await
    })?;
    Ok(())
}

// ----- the plain hyper floor ----------------------------------------------------------

async fn serve_plain(listener: tokio::net::TcpListener, scenario: Scenario) {
    let hold_forever = scenario == Scenario::Idle;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: hyper::Request<_>| async move {
                    if hold_forever && request.uri().path() == HOLD_PATH {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

// ----- engineioxide ----------------------------------------------------------------------

#[derive(Debug)]
struct EngineIoBench {
    scenario: Scenario,
}

impl EngineIoHandler for EngineIoBench {
    /// Fan-out: whether the pushing started.
    type Data = AtomicBool;

    fn on_connect(self: Arc<Self>, socket: Arc<Socket<AtomicBool>>) {
        if self.scenario == Scenario::Latency {
            tokio::spawn(engineio_stamp_every_second(socket));
        }
    }

    fn on_disconnect(&self, _socket: Arc<Socket<AtomicBool>>, _reason: DisconnectReason) {}

    fn on_message(self: &Arc<Self>, message: Str, socket: Arc<Socket<AtomicBool>>) {
        match self.scenario {
            Scenario::Echo => {
                let _ = socket.emit(message);
            }
            // The client's first message says go, as for ours.
            Scenario::Fanout if !socket.data.swap(true, Ordering::Relaxed) => {
                tokio::spawn(engineio_fan_out(socket));
            }
            _ => {}
        }
    }

    fn on_binary(self: &Arc<Self>, data: Bytes, socket: Arc<Socket<AtomicBool>>) {
        if self.scenario == Scenario::Echo {
            let _ = socket.emit_binary(data);
        }
    }
}

/// engineioxide has no way to wait for buffer room: `emit` fails when its buffer (128
/// packets) is full. Fill it, then retry after a pause that doubles while it stays full
/// (1 to 16 ms), so a session waiting for its client's poll costs few wake-ups.
///
/// engineioxide closes a session whose buffer is full when a ping is due (every 25 s), so
/// fan-out runs stay shorter than that.
async fn engineio_fan_out(socket: Arc<Socket<AtomicBool>>) {
    let message = Str::from(payload());
    let mut pause = Duration::from_millis(1);
    loop {
        match socket.emit(message.clone()) {
            Ok(()) => pause = Duration::from_millis(1),
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(16));
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
}

async fn engineio_stamp_every_second(socket: Arc<Socket<AtomicBool>>) {
    let mut ticks = every_second();
    loop {
        ticks.tick().await;
        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) =
            socket.emit(stamped_payload())
        {
            break;
        }
    }
}

async fn serve_engineioxide(listener: tokio::net::TcpListener, scenario: Scenario) {
    let mut config = EngineIoConfig::builder().transports([TransportType::Polling]);
    if scenario == Scenario::Idle {
        config = config.ping_interval(Duration::from_millis(IDLE_HOLD_MS));
    }
    let service =
        EngineIoService::with_config(Arc::new(EngineIoBench { scenario }), config.build());
    // The connection loop ours run on: every hyper-based server is served alike, so the
    // figures compare the transports.
    longpoll_examples::hyper_server::serve_connections(
        listener,
        longpoll_examples::tower_to_hyper::CallAtOnce(service),
        longpoll_examples::hyper_server::HEADER_READ_TIMEOUT,
        std::future::pending::<()>(),
    )
    .await;
}
