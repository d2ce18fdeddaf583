//! actix-web 4 adapter for [longpoll](longpoll_tokio): HTTP long-polling sessions that behave
//! like WebSockets and never lose a message.
//!
//! **Batteries included**: [`scope`] mounts protocol v1 (open, poll, send, close) under a
//! path, with a registry, secure ids and reaping:
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use futures_util::{SinkExt, StreamExt};
//! use longpoll_actix::{LongPoll, Message};
//!
//! # async fn run() -> std::io::Result<()> {
//! let mount = LongPoll::default().mount(|session| async move {
//!     let (mut tx, mut rx) = session.split();
//!     while let Some(Ok(message)) = rx.next().await {
//!         if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! });
//! HttpServer::new(move || App::new().service(longpoll_actix::scope("/longpoll", mount.clone())))
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! **The primitive**: keep [`SessionHandle`]s yourself and answer a session's requests with
//! [`respond`].
//!
//! actix runs one single-threaded runtime per worker. A session's task lives on the worker
//! that opened it; its handle is `Send`, so requests for it may arrive on any worker.
//! actix's `PayloadConfig` does not apply to a raw [`web::Payload`], so bodies are read here
//! under the session's body limit, refusing with `413` as soon as it is passed, and within
//! [`Config::body_read_timeout`] (30 s by default; actix has no body read timeout of its own),
//! answering `408` past it. Every request first passes the configuration's origin policy
//! ([`Config::origins`]: `403` for a refused origin, CORS headers and preflight answers for
//! allowed ones). For slow request heads, set actix's own
//! `HttpServer::client_request_timeout` (5 s by default).
//!
//! One limit of actix remains: after a refused body (`413`, `408`, `415`) actix sends the
//! answer with `Connection: close` at once, but reads and discards the rest of the body before
//! it closes the connection, so a client that keeps trickling such a body keeps its
//! connection for as long as it does. Put a proxy with a body timeout in front of actix if
//! that matters; the hyper, axum (through hyper-util) and custom echo servers do not wait for
//! the rest of such a body (the custom one reads on for at most 2 s, so that the answer is not
//! lost to a reset).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Scope, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use longpoll_core::reply::{BadRequest, HeaderText, TooLarge};
use longpoll_core::route::Operation;
use longpoll_core::{OriginDecision, Reply, Route};

pub use longpoll_tokio::{
    CloseFrame, CloseReason, Config, Error, LongPoll, Message, Mount, OriginPolicy, Registry,
    Session, SessionHandle, SessionRequest, SessionSender, TrySendError, Utf8Bytes, close_code,
};

/// A scope that answers protocol v1 at `path` (`POST {path}` opens, `{path}/{id}` polls,
/// sends and closes). Any method, path or query it does not expect gets the status
/// `PROTOCOL.md` names.
pub fn scope(path: &str, mount: Mount) -> Scope {
    let base: std::sync::Arc<str> = path.trim_end_matches('/').into();
    web::scope(path)
        .app_data(web::Data::new(Mounted { mount, base }))
        .default_service(web::to(serve))
}

struct Mounted {
    mount: Mount,
    base: std::sync::Arc<str>,
}

async fn serve(
    request: HttpRequest,
    payload: web::Payload,
    mounted: web::Data<Mounted>,
) -> HttpResponse {
    let decision = check_origin(mounted.mount.config(), &request);
    let response = match decision.early_reply() {
        Some(reply) => into_response(reply),
        None => answer(&request, payload, &mounted).await,
    };
    with_headers(response, decision.headers())
}

async fn answer(request: &HttpRequest, payload: web::Payload, mounted: &Mounted) -> HttpResponse {
    let below = request.path().strip_prefix(&*mounted.base).unwrap_or("");
    let route = match longpoll_core::route(
        request.method().as_str(),
        below,
        query(request),
        content_type(request),
    ) {
        Ok(route) => route,
        Err(reply) => return into_response(reply),
    };
    let body = match route {
        Route::Send { .. } => {
            match read_body_within(request, payload, mounted.mount.config()).await {
                Ok(body) => body,
                Err(reply) => return into_response(reply),
            }
        }
        _ => Bytes::new(),
    };
    into_response(mounted.mount.dispatch(route, body).await)
}

/// Answers one request of a session you keep yourself (the primitive path): `GET ?ack=N`
/// polls, `POST ?seq=N` sends, `DELETE` closes; anything else gets its refusal status. The
/// session's origin policy is applied first (`403`, or a preflight answered `204`); a body
/// must arrive within the body read timeout (`408`). Never fails: "this session is gone" is
/// a `410`/`404` response too.
pub async fn respond(
    handle: &SessionHandle,
    request: &HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let decision = check_origin(handle.config(), request);
    let response = match decision.early_reply() {
        Some(reply) => into_response(reply),
        None => answer_for(handle, request, payload).await,
    };
    with_headers(response, decision.headers())
}

async fn answer_for(
    handle: &SessionHandle,
    request: &HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let operation = match longpoll_core::route::operation(
        request.method().as_str(),
        query(request),
        content_type(request),
    ) {
        Ok(operation) => operation,
        Err(reply) => return into_response(reply),
    };
    let session_request = match operation {
        Operation::Poll { ack } => SessionRequest::Poll { ack },
        Operation::Close => SessionRequest::Close,
        Operation::Send { seq, ack } => {
            match read_body_within(request, payload, handle.config()).await {
                Ok(body) => SessionRequest::Send { seq, ack, body },
                Err(reply) => return into_response(reply),
            }
        }
    };
    into_response(handle.exchange(session_request).await)
}

/// What the configuration's [`OriginPolicy`] decides about a request (a non-text `Origin`
/// header counts as a malformed origin).
pub fn check_origin(config: &Config, request: &HttpRequest) -> OriginDecision {
    config
        .origins
        .check_headers(request.method().as_str(), |name| {
            request.headers().get(name).map(HeaderValue::as_bytes)
        })
}

/// [`read_body`] under the configuration's body limit, within its body read timeout (`408`).
async fn read_body_within(
    request: &HttpRequest,
    payload: web::Payload,
    config: &Config,
) -> Result<Bytes, Reply> {
    let read = read_body(request, payload, config.max_body_bytes);
    actix_web::rt::time::timeout(config.body_read_timeout, read)
        .await
        .unwrap_or(Err(Reply::RequestTimeout))
}

fn with_headers(mut response: HttpResponse, extra: &[(&'static str, String)]) -> HttpResponse {
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn query(request: &HttpRequest) -> Option<&str> {
    Some(request.query_string()).filter(|q| !q.is_empty())
}

fn content_type(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Reads a request body under `max` bytes: refused with `413` up front from
/// `Content-Length`, or as soon as the streamed body passes the limit.
pub async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Bytes, Reply> {
    let too_large = || Reply::PayloadTooLarge(TooLarge::Body { max });
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.map_or(0, |len| len as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Reply::BadRequest(BadRequest::UnreadableBody))?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Turns a protocol answer into an actix response.
pub fn into_response(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in reply.headers() {
        match value {
            HeaderText::Static(text) => response.insert_header((name, text)),
            HeaderText::Number(number) => response.insert_header((name, number)),
        };
    }
    response.body(reply.into_body())
}
