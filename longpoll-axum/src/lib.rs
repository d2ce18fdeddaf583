//! axum 0.8 adapter for [longpoll](longpoll_tokio): HTTP long-polling sessions that behave
//! like WebSockets and never lose a message.
//!
//! Three ways to mount protocol v1 (see `PROTOCOL.md`):
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
//! measured). The examples' `serve_app` (in `longpoll-examples`) does that, with the
//! header read timeout `axum::serve` lacks, and calls the app as soon as hyper hands over a
//! request (`CallAtOnce`: `axum::serve` keeps the request until its future is first polled,
//! which makes hyper allocate a new 8 KiB read buffer for every request).
//!
//! **In front of the router**: [`LongPollLayer`] answers the same requests as [`router_at`]
//! before axum routes them, and hands every other request to your app. It skips axum's
//! routing, body boxing and path parameters for every long-poll request: the cheapest way
//! on axum (see its docs for the figures).
//!
//! **The primitive**: start a session with [`LongPoll::connect`], keep its
//! [`SessionHandle`] in your own state, and forward each of that session's requests with
//! [`SessionHandleExt::send`]. You choose the URLs and ids; the handle does the rest.

mod handle;
mod layer;
mod mounted;
mod response;
mod router;

pub use handle::SessionHandleExt;
pub use layer::{LongPollFuture, LongPollLayer, LongPollService};
pub use longpoll_http::{check_origin, read_body};
pub use longpoll_tokio::{
    CloseFrame, CloseReason, Config, Error, LongPoll, Message, Mount, OriginPolicy, Registry,
    Session, SessionHandle, SessionRequest, SessionSender, TrySendError, Utf8Bytes, close_code,
};
pub use response::into_response;
pub use router::{router, router_at};
