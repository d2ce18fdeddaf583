//! axum 0.8 adapter for [longpoll](longpoll_tokio): HTTP long-polling sessions that behave
//! like WebSockets and never lose a message.
//!
//! Two ways to mount protocol v1 (see `PROTOCOL.md`):
//!
//! **Batteries included**: [`router`] answers open, poll, send and close for every session,
//! with a registry, secure ids and reaping. Nest it at your mount path:
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
//! let app = Router::new().nest("/longpoll", longpoll_axum::router(longpoll));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! **The primitive**: start a session with [`LongPoll::connect`], keep its
//! [`SessionHandle`] in your own state, and forward each of that session's requests with
//! [`SessionHandleExt::send`]. You choose the URLs and ids; the handle does the rest.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use longpoll_core::reply::{BadRequest, TooLarge};
use longpoll_core::route::Operation;
use longpoll_core::{Reply, Route};
use std::convert::Infallible;
use std::future::Future;

pub use longpoll_tokio::{
    CloseFrame, CloseReason, Config, Error, LongPoll, Message, Mount, Registry, Session,
    SessionHandle, SessionRequest, Utf8Bytes, close_code,
};

/// A router that answers protocol v1 at its root (`POST /` opens, `/{id}` polls, sends and
/// closes). Nest it at the mount path; any method, path or query it does not expect gets the
/// status `PROTOCOL.md` names.
pub fn router(mount: Mount) -> Router {
    Router::new()
        .route("/", any(serve))
        .route("/{*rest}", any(serve))
        .with_state(mount)
}

async fn serve(State(mount): State<Mount>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let route = match longpoll_core::route(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        content_type,
    ) {
        Ok(route) => route,
        Err(reply) => return into_response(reply),
    };
    let body = match route {
        Route::Send { .. } => {
            match read_body(body, &parts.headers, mount.config().max_body_bytes).await {
                Ok(body) => body,
                Err(reply) => return into_response(reply),
            }
        }
        _ => Bytes::new(),
    };
    into_response(mount.dispatch(route, body).await)
}

/// Forwarding requests to a session you keep yourself (the primitive path).
pub trait SessionHandleExt {
    /// Answers one HTTP request of this session: `GET ?ack=N` polls, `POST ?seq=N` sends,
    /// `DELETE` closes; anything else gets its refusal status. The body of a `POST` is read
    /// under the session's body limit (`413` past it). Never fails: every outcome, including
    /// "this session is gone" (`404`), is a response.
    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send;
}

impl SessionHandleExt for SessionHandle {
    async fn send(&mut self, request: Request) -> Result<Response, Infallible> {
        let (parts, body) = request.into_parts();
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let operation = match longpoll_core::route::operation(
            parts.method.as_str(),
            parts.uri.query(),
            content_type,
        ) {
            Ok(operation) => operation,
            Err(reply) => return Ok(into_response(reply)),
        };
        let request = match operation {
            Operation::Poll { ack } => SessionRequest::Poll { ack },
            Operation::Close => SessionRequest::Close,
            Operation::Send { seq } => {
                let max = self.max_body_bytes();
                match read_body(body, &parts.headers, max).await {
                    Ok(body) => SessionRequest::Send { seq, body },
                    Err(reply) => return Ok(into_response(reply)),
                }
            }
        };
        Ok(into_response(self.exchange(request).await))
    }
}

/// Reads a request body, refusing it with `413` as soon as it passes `max` bytes (by its
/// `Content-Length`, or while streaming when there is none).
pub async fn read_body(body: Body, headers: &http::HeaderMap, max: usize) -> Result<Bytes, Reply> {
    let too_large = || Reply::PayloadTooLarge(TooLarge::Body { max });
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(Reply::BadRequest(BadRequest::UnreadableBody)),
    }
}

/// Turns a protocol answer into an axum response.
pub fn into_response(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body()));
    *response.status_mut() = http::StatusCode::from_u16(reply.status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers() {
        // Names and values come from the core: fixed ASCII, always valid.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}
