//! axum 0.8 adapter for [longpoll](longpoll_tokio): HTTP long-polling sessions that behave
//! like WebSockets and never lose a message.
//!
//! Two ways to mount protocol v1 (see `PROTOCOL.md`):
//!
//! **Batteries included**: [`router_at`] answers open, poll, send and close for every
//! session under a mount path, with a registry, secure ids and reaping. Merge it into your
//! app ([`router`] is the same to `nest`, at a little more cost per request):
//!
//! ```no_run
//! use axum::Router;
//! use futures_util::{SinkExt, StreamExt};
//! use longpoll_axum::{LongPoll, Message};
//!
//! # async fn run() {
//! let longpoll = LongPoll::default().mount(|session| async move {
//!     let (mut tx, mut rx) = session.split();
//!     while let Some(Ok(message)) = rx.next().await {
//!         if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! });
//! let app = Router::new().merge(longpoll_axum::router_at("/longpoll", longpoll));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! // `into_make_service` shares the router between connections; `axum::serve(listener, app)`
//! // would rebuild its routes for each one (about 3 KB more per idle session, measured).
//! axum::serve(listener, app.into_make_service()).await.unwrap();
//! # }
//! ```
//!
//! `axum::serve` is the short way. For the least memory per idle session, serve the router
//! through hyper's own HTTP/1 and HTTP/2 builders, choosing between them with
//! `longpoll_hyper::peek_http_version`: `axum::serve`'s `auto` builder makes hyper keep a
//! 16 KiB read buffer per connection instead of 8 (about 5 KB more per idle session,
//! measured). The examples' `serve_router` (in `longpoll-examples`) does that, with the
//! header read timeout `axum::serve` lacks.
//!
//! **The primitive**: start a session with [`LongPoll::connect`], keep its
//! [`SessionHandle`] in your own state, and forward each of that session's requests with
//! [`SessionHandleExt::send`]. You choose the URLs and ids; the handle does the rest.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any_service;
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, StatusCode};
use longpoll_core::origin::Headers;
use longpoll_core::reply::HeaderText;
use longpoll_core::route::Operation;
use longpoll_core::{Reply, Route};
use longpoll_http::{BodyRead, add_headers, content_type, header_value, reply_headers};
use longpoll_tokio::Dispatch;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use longpoll_http::{check_origin, read_body};
pub use longpoll_tokio::{
    CloseFrame, CloseReason, Config, Error, LongPoll, Message, Mount, OriginPolicy, Registry,
    Session, SessionHandle, SessionRequest, Utf8Bytes, close_code,
};

/// A router that answers protocol v1 at its root (`POST /` opens, `/{id}` polls, sends and
/// closes). Nest it at the mount path; any method, path or query it does not expect gets the
/// status `PROTOCOL.md` names.
///
/// Every request first passes the configuration's origin policy
/// ([`Config::origins`](longpoll_core::Config::origins): `403` for a refused origin, CORS
/// headers and preflight answers for allowed ones). A `POST` body must arrive within
/// [`Config::body_read_timeout`](longpoll_core::Config::body_read_timeout) (30 s by default,
/// `408` past it). axum has no header read timeout of its own: serve the router through
/// hyper-util with `http1().header_read_timeout(..)` (as `longpoll-examples` does) or behind a
/// proxy that has one.
pub fn router(mount: Mount) -> Router {
    // A fallback rather than `/{*rest}`: the core routes the path itself, so axum need not
    // match a wildcard and collect it as a path parameter on every request.
    Router::new().fallback_service(MountService(Arc::new(Mounted {
        mount,
        base: "".into(),
    })))
}

/// [`router`], answering under `base` (`"/longpoll"`) itself: merge it into your app instead
/// of nesting. It does the same and costs less per request, because axum's `nest` rebuilds
/// every request's URI to strip the prefix (measured with `longpoll-bench`'s echo: about 6%
/// less server CPU per message, 17% fewer instructions).
///
/// ```no_run
/// use axum::Router;
/// use longpoll_axum::LongPoll;
///
/// # async fn run() {
/// let longpoll = LongPoll::default().mount(|_session| async {});
/// let app = Router::new().merge(longpoll_axum::router_at("/longpoll", longpoll));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app.into_make_service()).await.unwrap();
/// # }
/// ```
///
/// A trailing `/` is ignored; `""` or `"/"` mounts at the root.
///
/// # Panics
///
/// If `base` is not empty and does not start with `/`, or contains `?`, `#`, `{` or `}`.
pub fn router_at(base: &str, mount: Mount) -> Router {
    assert!(
        (base.is_empty() || base.starts_with('/')) && !base.contains(['?', '#', '{', '}']),
        "longpoll mount path {base:?} must be empty or an absolute path without query"
    );
    let base = base.trim_end_matches('/');
    let service = MountService(Arc::new(Mounted {
        mount,
        base: base.into(),
    }));
    let exact = if base.is_empty() { "/" } else { base };
    Router::new()
        .route(exact, any_service(service.clone()))
        .route(
            &format!("{base}/{{*{AXUM_NEST_TAIL}}}"),
            any_service(service),
        )
}

/// The name of the wildcard below the base. axum percent-decodes every path parameter into
/// the request's extensions (allocations for each; skipping it saves about 5% of the axum echo
/// server's instructions per message under callgrind), except those named like the tail of
/// its own `nest`, which start with this. [`serve`] reads the path itself, so the wildcard's name starts so too:
/// nothing is decoded. `MatchedPath` shows the name:
/// `{base}/{*__private__axum_nest_tail_param_session}`. Should axum rename its tail, this is
/// an ordinary wildcard again: decoded, unused, and still correct.
const AXUM_NEST_TAIL: &str = "__private__axum_nest_tail_param_session";

/// A mount and the path prefix that [`serve`] strips (empty when axum's `nest` did).
struct Mounted {
    mount: Mount,
    base: Box<str>,
}

/// A boxed response future: early answers and sends, so that a held poll's future (the
/// common one, and the one that waits) stays small.
type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The service behind [`router`] and [`router_at`]. A tower service rather than a handler:
/// axum then runs no extractors and boxes no handler future (about 3% fewer instructions
/// per echoed message under callgrind). Mounted with `any_service`: `route_service` would
/// box and clone it twice more per request.
#[derive(Clone)]
struct MountService(Arc<Mounted>);

impl tower_service::Service<Request> for MountService {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        Answer(serve(&self.0, request))
    }
}

/// [`MountService`]'s future: polls, opens and closes are answered without a box.
struct Answer(Either<AtOnce<Dispatch>, Boxed>);

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll_unpin(cx).map(Ok)
    }
}

/// The head is read and dropped here, before any waiting: a held poll keeps only what the
/// session needs (the head would pin the server's read buffer).
fn serve(mounted: &Arc<Mounted>, request: Request) -> Either<AtOnce<Dispatch>, Boxed> {
    let mount = &mounted.mount;
    let decision = check_origin(mount.config(), &request);
    if let Some(reply) = decision.early_reply() {
        return Either::Right(answered(reply, decision.headers()));
    }
    let extra = decision.into_headers();
    let (parts, body) = request.into_parts();
    // Routed here, so the prefix is there.
    let path = parts.uri.path().strip_prefix(&*mounted.base).unwrap_or("");
    let route = match longpoll_core::route(
        parts.method.as_str(),
        path,
        parts.uri.query(),
        content_type(&parts.headers),
    ) {
        Ok(route) => route,
        Err(reply) => return Either::Right(answered(reply, &extra)),
    };
    if !matches!(route, Route::Send { .. }) {
        let exchange = mount.dispatch(route, Bytes::new());
        return Either::Left(AtOnce { exchange, extra });
    }
    let read = body_read(body, &parts.headers, mount.config());
    let mounted = Arc::clone(mounted);
    let exchange = move |body| mounted.mount.dispatch(route, body);
    Either::Right(Box::pin(respond_after_body(read, extra, exchange)))
}

/// The response to a request with no body, once `exchange` has its answer. A named future,
/// so that [`Answer`] holds it unboxed.
struct AtOnce<F> {
    exchange: F,
    extra: Headers,
}

impl<F: Future<Output = Reply> + Unpin> Future for AtOnce<F> {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let reply = std::task::ready!(Pin::new(&mut self.exchange).poll(cx));
        Poll::Ready(with_headers(into_response(reply), &self.extra))
    }
}

/// The response to a send: `exchange` starts once the body has arrived.
async fn respond_after_body<F>(
    read: BodyRead<Body>,
    extra: Headers,
    exchange: impl FnOnce(Bytes) -> F,
) -> Response
where
    F: Future<Output = Reply>,
{
    let response = match read.within_timeout().await {
        Ok(body) => into_response(exchange(body).await),
        Err(reply) => into_response(reply),
    };
    with_headers(response, &extra)
}

fn answered(reply: Reply, extra: &[(&'static str, String)]) -> Boxed {
    Box::pin(std::future::ready(with_headers(
        into_response(reply),
        extra,
    )))
}

/// A `POST` body to read under the session's limits.
fn body_read(body: Body, headers: &HeaderMap, config: &Config) -> BodyRead<Body> {
    let timeout = Some(config.body_read_timeout);
    BodyRead::new(body, headers, config.max_body_bytes, timeout)
}

fn with_headers(mut response: Response, extra: &[(&'static str, String)]) -> Response {
    add_headers(response.headers_mut(), extra);
    response
}

/// Forwarding requests to a session you keep yourself (the primitive path).
pub trait SessionHandleExt {
    /// Answers one HTTP request of this session: `GET ?ack=N` polls, `POST ?seq=N` sends,
    /// `DELETE` closes; anything else gets its refusal status. The session's origin policy is
    /// applied first (`403`, or a preflight answered `204`). The body of a `POST` is read
    /// under the session's body limit (`413` past it) within its body read timeout (`408`
    /// past it). Never fails: every outcome, including
    /// "this session is gone" (`404`), is a response.
    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send;
}

impl SessionHandleExt for SessionHandle {
    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send {
        let decision = check_origin(self.config(), &request);
        if let Some(reply) = decision.early_reply() {
            return Either::Right(answered(reply, decision.headers())).map(Ok);
        }
        let extra = decision.into_headers();
        let (parts, body) = request.into_parts();
        let operation = match longpoll_core::route::operation(
            parts.method.as_str(),
            parts.uri.query(),
            content_type(&parts.headers),
        ) {
            Ok(operation) => operation,
            Err(reply) => return Either::Right(answered(reply, &extra)).map(Ok),
        };
        let request = match operation {
            Operation::Poll { ack } => SessionRequest::Poll { ack },
            Operation::Close => SessionRequest::Close,
            Operation::Send { seq } => {
                let read = body_read(body, &parts.headers, self.config());
                let handle = self.clone();
                let exchange = move |body| handle.exchange(SessionRequest::Send { seq, body });
                let respond: Boxed = Box::pin(respond_after_body(read, extra, exchange));
                return Either::Right(respond).map(Ok);
            }
        };
        Either::Left(AtOnce {
            exchange: self.exchange(request),
            extra,
        })
        .map(Ok)
    }
}

/// Turns a protocol answer into an axum response.
pub fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = reply_headers(&reply);
    let body = reply.into_body();
    // Set here, from a table for most lengths: axum would write it into a new allocation.
    // (An empty body gets axum's fixed "0", or none for a 204.)
    if !body.is_empty()
        && let Some(length) = header_value(HeaderText::Number(body.len() as u64))
    {
        headers.insert(CONTENT_LENGTH, length);
    }
    // An empty body boxes nothing (`Body::from` would box a `Full`).
    let body = if body.is_empty() {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
