//! The longpoll echo server without tokio: `longpoll-core` driven by hand on smol's building
//! blocks (`async-io` for sockets and timers, `async-executor` for tasks), behind a small
//! hand-written HTTP/1.1 server. It is the proof that the protocol core is sans-IO: nothing
//! here comes from `longpoll-tokio`, and `cargo tree -p longpoll-example-custom` shows no
//! tokio.
//!
//! It behaves like `echo-axum`: protocol v1 at [`MOUNT_PATH`]; every message comes back with
//! the same kind; the text message `close-me` closes the session with code 4000 and reason
//! `requested`; stopping (Ctrl-C in the binary, [`RunningServer::shutdown`] here) closes every
//! session with 1001, answers the held polls, and then exits.
//!
//! ```no_run
//! use longpoll_example_custom::{Args, spawn};
//!
//! let server = spawn(Args { listen: "127.0.0.1:0".parse().unwrap(), ..Args::default() })?;
//! println!("protocol v1 at http://{}/longpoll", server.local_addr());
//! server.shutdown()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Design
//!
//! One thread runs everything on a single-threaded executor:
//!
//! - the **accept loop**, which spawns a task per connection;
//! - a **connection task** per request (`Connection: close`, so one request each): it reads
//!   the head, routes it with [`longpoll_core::route()`], reads a send's body under
//!   `max_body_bytes`, and opens a session itself or passes the request to the session's task
//!   over a channel, with a one-shot channel for the answer;
//! - a **session task** per session, which owns its `ServerSession` and runs the drive loop
//!   below. The echo application lives inside that loop: it is plain code that takes
//!   messages from the core and gives them back.
//!
//! Sessions are found by id in a registry. When a session ends, its task leaves a tombstone
//! there: the id is answered `410` for `gone_timeout`, then `404`. Ids are 128 bits from the
//! OS CSPRNG (`getrandom`).
//!
//! # The drive loop
//!
//! `longpoll-core` never does I/O and never reads a clock: the connection tasks do the I/O, and
//! each session task reads the clock and runs this loop:
//!
//! 1. **Outputs, after every input.** The application takes events (`poll_event`): it echoes
//!    each message with `send`, or `close`s on `close-me`; when the outbound buffer is full it
//!    stops taking events until an acknowledgement makes room. Then every answer
//!    (`poll_response`) goes to the connection waiting for it. Once the application has taken
//!    `Event::Closed`, the task ends.
//! 2. **Sleep** until an input arrives or the instant `poll_timeout()` names, whichever comes
//!    first. There is no tick: each session has one timer, set to the core's next deadline
//!    (the poll hold, the send hold, the idle timeout).
//! 3. **One input**, with `now = Instant::now()`: `handle_poll`, `handle_send`,
//!    `handle_close`, `handle_abort`, `close` (shutdown), or `handle_timeout` when the timer
//!    fired. Then back to 1.
//!
//! # Clients that leave
//!
//! While a request waits for its answer, its connection task reads the socket. End of stream
//! or an error (reset) means the client went away: the task sends `Abort`, and the session
//! calls `handle_abort` if the request is still held (the core then forgets it and restarts
//! the idle clock). What this detects: a closed or reset connection. What it cannot detect: a
//! client that vanished without a FIN or RST (a dead network path); that request is answered
//! into the void when the poll times out, as with any HTTP server. A client that half-closes
//! its sending side after the request is also taken as gone if its request is held (as hyper
//! does by default); a request answered at once is still answered.
//!
//! # HTTP support
//!
//! See the `http` module: request bodies with `Content-Length` or chunked; heads up to 16 KiB
//! (`431` beyond), within the header read timeout ([`DEFAULT_HEADER_TIMEOUT`], the connection
//! is closed past it); bodies within [`Config::body_read_timeout`] (`408` past it); the
//! origin policy ([`Config::origins`]) checked on every request before routing; malformed
//! requests `400`; every response with `Content-Length` (but
//! `204`) and `Connection: close`; no keep-alive, no pipelining, no TLS.

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use clap::Parser;
use futures_lite::future;
use longpoll_core::config::ConfigError;
use longpoll_core::{Config, OriginPolicy};
use server::Server;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

mod connection;
mod http;
mod server;
mod session;

pub use session::{CLOSE_ME, CLOSE_ME_CODE, SHUTDOWN_REASON};

/// The path protocol v1 is mounted at.
pub const MOUNT_PATH: &str = "/longpoll";

/// How long a shutdown keeps serving so that clients fetch their close frames, and then how
/// long it waits for the answers of requests in flight before exiting anyway (each at most
/// this long).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a client may take to send its request head before the connection is closed
/// without an answer (10 s unless `--header-timeout-ms` says otherwise): the slowloris
/// defence. The body has [`Config::body_read_timeout`] (30 s by default, `408` past it).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Command-line flags, the same as `echo-axum`'s, with the core's defaults.
#[derive(Debug, Clone, Parser)]
#[command(about = "A longpoll echo server without tokio: protocol v1 at /longpoll")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// How long a poll is held before 204 (default: the core's, 25000).
    #[arg(long)]
    pub poll_timeout_ms: Option<u64>,
    /// How long a session lives without requests (default: the core's, 35000).
    #[arg(long)]
    pub idle_timeout_ms: Option<u64>,
    /// Largest POST body (default: the core's, 1048576).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Most sessions open at once; opening more is answered 503 with Retry-After (default:
    /// no cap).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// How long a client may take to send a request head before its connection is closed
    /// (default 10000).
    #[arg(long)]
    pub header_timeout_ms: Option<u64>,
    /// How long a POST body may take to arrive before 408 (default: the core's, 30000).
    #[arg(long)]
    pub body_timeout_ms: Option<u64>,
    /// A web origin allowed to use the server from a browser (`https://app.example`;
    /// repeatable; `*` for any). Without it, origins are not checked and no CORS headers are
    /// sent; with it, other origins get 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            poll_timeout_ms: None,
            idle_timeout_ms: None,
            max_body_bytes: None,
            max_sessions: None,
            header_timeout_ms: None,
            body_timeout_ms: None,
            allow_origins: Vec::new(),
        }
    }
}

impl Args {
    /// The session configuration these flags ask for, exactly as `echo-axum` derives it: a
    /// shorter poll timeout shortens the send hold to half of it and the reply wait to a
    /// quarter; a smaller body limit
    /// lowers the message limit to fit, a larger one raises the inbound buffer to hold one
    /// body.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(ms) = self.poll_timeout_ms {
            config.poll_timeout = Duration::from_millis(ms);
            config.inbound_hold_timeout = config.inbound_hold_timeout.min(config.poll_timeout / 2);
            config.reply_wait = config.reply_wait.min(config.poll_timeout / 4);
        }
        if let Some(ms) = self.idle_timeout_ms {
            config.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_body_bytes {
            config.max_body_bytes = bytes;
            config.max_message_bytes = config.max_message_bytes.min(bytes.saturating_sub(5));
            config.inbound_max_bytes = config.inbound_max_bytes.max(bytes);
        }
        if let Some(ms) = self.body_timeout_ms {
            config.body_read_timeout = Duration::from_millis(ms);
        }
        if !self.allow_origins.is_empty() {
            config.origins = OriginPolicy::allow(&self.allow_origins)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// The header read timeout: `--header-timeout-ms`, or [`DEFAULT_HEADER_TIMEOUT`].
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout_ms
            .map_or(DEFAULT_HEADER_TIMEOUT, Duration::from_millis)
    }
}

/// Binds `args.listen` and serves the echo server on its own thread.
///
/// Fails if the flags make an invalid configuration (`InvalidInput`) or the address cannot be
/// bound.
pub fn spawn(args: Args) -> io::Result<RunningServer> {
    let config = args.config().map_err(invalid_input)?;
    spawn_with_header_timeout(
        args.listen,
        config,
        args.max_sessions,
        args.header_timeout(),
    )
}

/// Like [`spawn`], with any valid configuration (tests shorten `gone_timeout`, for example)
/// and an optional cap on running sessions, past which opening is answered `503`.
pub fn spawn_with(
    listen: SocketAddr,
    config: Config,
    max_sessions: Option<usize>,
) -> io::Result<RunningServer> {
    spawn_with_header_timeout(listen, config, max_sessions, DEFAULT_HEADER_TIMEOUT)
}

/// Like [`spawn_with`], with a header read timeout other than [`DEFAULT_HEADER_TIMEOUT`].
pub fn spawn_with_header_timeout(
    listen: SocketAddr,
    config: Config,
    max_sessions: Option<usize>,
    header_timeout: Duration,
) -> io::Result<RunningServer> {
    config.validate().map_err(invalid_input)?;
    let listener = TcpListener::bind(listen)?;
    let address = listener.local_addr()?;
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let thread = std::thread::Builder::new()
        .name("longpoll-custom".to_string())
        .spawn(move || run(listener, config, max_sessions, header_timeout, stopped))?;
    Ok(RunningServer {
        address,
        stop: StopHandle(stop),
        thread: Some(thread),
    })
}

fn invalid_input(error: ConfigError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

/// A server running on its own thread. Dropping it shuts it down, as
/// [`shutdown`](Self::shutdown) does.
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    stop: StopHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Starts a graceful shutdown from anywhere (a Ctrl-C handler, another thread). Cheap to
/// clone; stopping twice is harmless.
#[derive(Debug, Clone)]
pub struct StopHandle(async_channel::Sender<()>);

impl StopHandle {
    /// Closes every session with 1001 "server shutting down" (held polls are answered with
    /// what is queued and the close frame) and opens no more (`503`); keeps serving until
    /// every session has ended or [`SHUTDOWN_GRACE`] has passed, so clients fetch their close
    /// frames; then stops accepting and exits once the requests in flight are answered (at
    /// most [`SHUTDOWN_GRACE`] more). Returns at once.
    pub fn stop(&self) {
        self.0.close();
    }
}

impl RunningServer {
    /// The address the server listens on (with the actual port when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// A handle that stops the server.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Stops the server (see [`StopHandle::stop`]) and waits until it has exited.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop.stop();
        self.join()
    }

    /// Waits until the server has exited, after a [`StopHandle::stop`] elsewhere.
    pub fn wait(mut self) -> io::Result<()> {
        self.join()
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.stop();
        let _ = self.join();
    }
}

/// The server thread: one executor, the accept loop, then the shutdown.
fn run(
    listener: TcpListener,
    config: Config,
    max_sessions: Option<usize>,
    header_timeout: Duration,
    stopped: async_channel::Receiver<()>,
) -> io::Result<()> {
    let executor = Rc::new(LocalExecutor::new());
    let server = Rc::new(Server::new(
        config,
        max_sessions,
        header_timeout,
        Rc::downgrade(&executor),
    ));
    let listener = Async::new(listener)?;
    async_io::block_on(executor.run(async {
        // Resolves once a stop was asked for and the sessions have ended (or the grace ran
        // out); connections are accepted until then, so clients can fetch their close frames.
        let drain = async {
            let _ = stopped.recv().await; // closed by `StopHandle::stop`
            server.shut_down();
            future::or(server.sessions_ended(), async {
                Timer::after(SHUTDOWN_GRACE).await;
            })
            .await;
        };
        let mut drain = std::pin::pin!(drain);
        loop {
            let accepted = future::or(async { Some(listener.accept().await) }, async {
                drain.as_mut().await;
                None
            })
            .await;
            match accepted {
                Some(Ok((stream, _))) => {
                    let _ = stream.get_ref().set_nodelay(true);
                    let task = connection::serve(stream, server.clone());
                    executor.spawn(task).detach();
                }
                // Out of file descriptors, say: wait a little rather than spin.
                Some(Err(_)) => {
                    Timer::after(Duration::from_millis(50)).await;
                }
                None => break,
            }
        }
        drop(listener); // new connections are refused from here on
        future::or(server.drained(), async {
            Timer::after(SHUTDOWN_GRACE).await;
        })
        .await;
    }));
    // Dropping the executor drops what is left: sessions, connections that sent nothing.
    drop(executor);
    Ok(())
}
