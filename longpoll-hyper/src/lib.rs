//! hyper 1.x adapter for [longpoll](longpoll_tokio): HTTP long-polling sessions that behave
//! like WebSockets and never lose a message.
//!
//! Two ways to mount protocol v1 (see `PROTOCOL.md`):
//!
//! **Batteries included**: [`LongPollService`] is a [`hyper::service::Service`] that answers
//! open, poll, send and close for every session under a mount path, with a registry, secure
//! ids and reaping. Any other path gets `404`: to serve your own pages on the same server,
//! route around it (call it for the paths [`LongPollService::handles`] and your own service
//! for the rest) or wrap it in your own service.
//!
//! hyper leaves the slowloris defences to you. The example sets the ones people forget:
//! a header read timeout (it needs a timer, or hyper panics; it also closes idle keep-alive
//! connections), HTTP/2 keep-alive pings that drop dead peers, and a bound on waiting for the
//! first bytes ([`peek_http_version`] tells HTTP/1.1 from HTTP/2 before hyper's header timer
//! starts, and costs less memory per connection than hyper-util's `auto` builder).
//! hyper has no body read timeout, so the service bounds the time a `POST` body may take
//! ([`DEFAULT_BODY_TIMEOUT`], `408` past it). One gap remains: hyper has no idle timeout for
//! HTTP/2 connections, so a peer that answers pings but sends no request is kept until it
//! leaves or the server shuts down.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use hyper::server::conn::{http1, http2};
//! use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
//! use longpoll_hyper::{HttpVersion, LongPoll, LongPollService, Message, peek_http_version};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # async fn run() -> std::io::Result<()> {
//! let longpoll = LongPoll::default().mount(|session| async move {
//!     let (mut tx, mut rx) = session.split();
//!     while let Some(Ok(message)) = rx.next().await {
//!         if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! });
//! let service = LongPollService::new("/longpoll", longpoll);
//!
//! let mut http1 = http1::Builder::new();
//! http1
//!     .timer(TokioTimer::new())
//!     .header_read_timeout(Duration::from_secs(10));
//! let mut http2 = http2::Builder::new(TokioExecutor::new());
//! http2
//!     .timer(TokioTimer::new())
//!     .keep_alive_interval(Duration::from_secs(20))
//!     .keep_alive_timeout(Duration::from_secs(10));
//! let builders = Arc::new((http1, http2));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let (builders, service) = (builders.clone(), service.clone());
//!     tokio::spawn(async move {
//!         // Say nothing, get nothing: hyper's header timer starts after the first bytes.
//!         let first = tokio::time::timeout(Duration::from_secs(10), peek_http_version(&stream));
//!         let Ok(Ok(Some(version))) = first.await else { return };
//!         let io = TokioIo::new(stream);
//!         let _ = match version {
//!             HttpVersion::Http1 => builders.0.serve_connection(io, service).await,
//!             HttpVersion::Http2 => builders.1.serve_connection(io, service).await,
//!         };
//!     });
//! }
//! # }
//! ```
//!
//! `longpoll-examples` has the same loop with graceful shutdown (`src/hyper_server.rs`).
//!
//! Every request first passes the configuration's origin policy ([`Config::origins`]: `403`
//! for a refused origin, CORS headers and preflight answers for allowed ones; unchecked by
//! default).
//!
//! **The primitive**: start a session with [`LongPoll::connect`], keep its
//! [`SessionHandle`] in your own state, and forward each of that session's requests with
//! [`SessionHandleExt::send`]. You choose the URLs and ids; the handle does the rest.

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use longpoll_core::origin::Headers;
use longpoll_core::route::Operation;
use longpoll_core::{Reply, Route};
use longpoll_http::{
    BodyRead, BoxError, add_headers, below_base, reply_headers, route_mount_request,
    route_session_request,
};
use std::convert::Infallible;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

mod version;

pub use longpoll_http::{check_origin, read_body};
pub use version::{HttpVersion, peek_http_version};

pub use longpoll_tokio::{
    CloseFrame, CloseReason, Config, Error, LongPoll, Message, Mount, OriginPolicy, Registry,
    Session, SessionHandle, SessionRequest, SessionSender, TrySendError, Utf8Bytes, close_code,
};

/// How long a `POST` body may take to arrive before the request is refused with
/// `408 Request Timeout` (clients retry it) and its connection closed: the core's
/// [`DEFAULT_BODY_READ_TIMEOUT`](longpoll_core::config::DEFAULT_BODY_READ_TIMEOUT). The
/// mount's [`Config::body_read_timeout`] applies unless [`LongPollService::body_timeout`]
/// overrides it.
pub const DEFAULT_BODY_TIMEOUT: Duration = longpoll_core::config::DEFAULT_BODY_READ_TIMEOUT;

/// The future of [`LongPollService::call`](hyper::service::Service::call).
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

/// A hyper [`Service`](hyper::service::Service) answering protocol v1 under a mount path:
/// `POST {base}` opens, `{base}/{id}` polls, sends and closes. Requests outside the mount
/// path get `404`. Cheap to clone: clone it into each connection.
#[derive(Debug, Clone)]
pub struct LongPollService {
    mount: Mount,
    base: Arc<str>,
    body_timeout: Option<Duration>,
}

impl LongPollService {
    /// Serves `mount` under `base` (`"/longpoll"`: a trailing `/` is ignored; `""` or `"/"`
    /// mounts at the root).
    ///
    /// # Panics
    ///
    /// If `base` is not empty and does not start with `/`, or contains `?` or `#`.
    pub fn new(base: &str, mount: Mount) -> Self {
        assert!(
            (base.is_empty() || base.starts_with('/')) && !base.contains(['?', '#']),
            "longpoll mount path {base:?} must be empty or an absolute path without query"
        );
        LongPollService {
            body_timeout: Some(mount.config().body_read_timeout),
            mount,
            base: base.trim_end_matches('/').into(),
        }
    }

    /// Sets how long a `POST` body may take to arrive (the mount's
    /// [`Config::body_read_timeout`] unless set, [`DEFAULT_BODY_TIMEOUT`] by default; `None`
    /// waits forever).
    pub fn body_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.body_timeout = timeout.into();
        self
    }

    /// The mount path (without a trailing `/`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The mount behind this service (its registry shuts every session down).
    pub fn mount(&self) -> &Mount {
        &self.mount
    }

    /// Whether a request path is this service's: the mount path, or below it. Use it to
    /// serve your own pages beside the protocol:
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    /// use hyper::body::Incoming;
    /// use hyper::service::{Service, service_fn};
    /// use hyper::{Request, Response};
    /// use longpoll_hyper::{LongPoll, LongPollService};
    ///
    /// # fn demo() {
    /// let longpoll = LongPollService::new("/longpoll", LongPoll::default().mount(|_| async {}));
    /// let app = service_fn(move |request: Request<Incoming>| {
    ///     let longpoll = longpoll.clone();
    ///     async move {
    ///         if longpoll.handles(request.uri().path()) {
    ///             return longpoll.call(request).await;
    ///         }
    ///         Ok(Response::new(Full::new(Bytes::from_static(b"my own page"))))
    ///     }
    /// });
    /// // Serve `app` like the service in the crate example.
    /// # let _ = app;
    /// # }
    /// ```
    pub fn handles(&self, path: &str) -> bool {
        below_base(&self.base, path).is_some()
    }
}

impl<B> hyper::service::Service<Request<B>> for LongPollService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> Self::Future {
        let routed = match route_mount_request(self.mount.config(), &self.base, request) {
            Ok(routed) => routed,
            Err((reply, extra)) => return Box::pin(answered(reply, &extra)),
        };
        let (route, parts, body, extra) = (routed.route, routed.parts, routed.body, routed.extra);
        if !matches!(route, Route::Send { .. }) {
            let exchange = self.mount.dispatch(route, Bytes::new());
            return Box::pin(respond_at_once(exchange, extra).map(Ok));
        }
        let max = self.mount.config().max_body_bytes;
        let read = BodyRead::new(body, &parts.headers, max, self.body_timeout);
        let mount = self.mount.clone();
        let exchange = move |body| mount.dispatch(route, body);
        Box::pin(respond_after_body(read, extra, exchange).map(Ok))
    }
}

/// The response to a request whose head has been read and dropped (a held poll's head would
/// pin hyper's read buffer), and that has no body: a held poll's future is little more than
/// its `exchange`.
fn respond_at_once<F>(exchange: F, extra: Headers) -> impl Future<Output = Response<Full<Bytes>>>
where
    F: Future<Output = Reply>,
{
    exchange.map(move |reply| with_headers(into_response(reply), &extra))
}

/// The response to a send: `exchange` starts once the body has arrived.
async fn respond_after_body<B, F>(
    read: BodyRead<B>,
    extra: Headers,
    exchange: impl FnOnce(Bytes) -> F,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<BoxError>,
    F: Future<Output = Reply>,
{
    with_headers(into_response(read.then_reply(exchange).await), &extra)
}

/// The response to a request answered without the session (an early reply or a refusal).
fn answered(
    reply: Reply,
    extra: &[(&'static str, String)],
) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    std::future::ready(Ok(with_headers(into_response(reply), extra)))
}

/// Forwarding requests to a session you keep yourself (the primitive path).
pub trait SessionHandleExt {
    /// Answers one HTTP request of this session: `GET ?ack=N` polls, `POST ?seq=N` sends,
    /// `DELETE` closes; anything else gets its refusal status. The session's origin policy is
    /// applied first (`403`, or a preflight answered `204`). The body of a `POST` is read
    /// under the session's body limit (`413` past it) within its body read timeout (`408`
    /// past it; hyper closes an HTTP/1 connection whose body was left unread). Never fails:
    /// every outcome, including "this session has ended" (`410`), is a response.
    fn send<B>(
        &mut self,
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send
    where
        B: Body + Send,
        B::Data: Send,
        B::Error: Into<BoxError>;
}

impl SessionHandleExt for SessionHandle {
    fn send<B>(
        &mut self,
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send
    where
        B: Body + Send,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let routed = match route_session_request(self.config(), request) {
            Ok(routed) => routed,
            Err((reply, extra)) => return Either::Left(Either::Right(answered(reply, &extra))),
        };
        let (route, parts, body, extra) = (routed.route, routed.parts, routed.body, routed.extra);
        let request = match route {
            Operation::Poll { ack } => SessionRequest::Poll { ack },
            Operation::Close => SessionRequest::Close,
            Operation::Send { seq, ack } => {
                let config = self.config();
                let timeout = Some(config.body_read_timeout);
                let read = BodyRead::new(body, &parts.headers, config.max_body_bytes, timeout);
                let handle = self.clone();
                let exchange = move |body| handle.exchange(SessionRequest::Send { seq, ack, body });
                return Either::Right(respond_after_body(read, extra, exchange).map(Ok));
            }
        };
        Either::Left(Either::Left(
            respond_at_once(self.exchange(request), extra).map(Ok),
        ))
    }
}

fn with_headers(
    mut response: Response<Full<Bytes>>,
    extra: &[(&'static str, String)],
) -> Response<Full<Bytes>> {
    add_headers(response.headers_mut(), extra);
    response
}

/// Turns a protocol answer into a hyper response.
pub fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = reply_headers(&reply);
    let mut response = Response::new(Full::new(reply.into_body()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
