//! The sans-IO protocol core of longpoll: HTTP long polling that never loses a message.
//!
//! This crate holds everything protocol v1 (see `PROTOCOL.md` at the repository root) decides,
//! and nothing else: no sockets, no async, no threads, no clock and no randomness. Drivers
//! (`longpoll-tokio` and the framework adapters, or your own) feed it requests and time and
//! carry out what it answers. That keeps it deterministic: the tests drive a server and a
//! client through a lossy simulated network on a virtual clock, thousands of seeds at a time.
//!
//! # Pieces
//!
//! - [`ServerSession`]: one session, server side.
//! - [`ClientSession`]: one session, client side; the Rust and browser clients follow it.
//! - [`route()`]: turns method, path, query and content type into a [`Route`] or a refusal.
//! - [`OriginPolicy`]: which web origins may make requests, and their CORS headers.
//! - [`wire`]: the frame codec; [`query`]: `ack`/`seq` parsing; [`SessionParams`]: the open
//!   response; [`Config`] with documented `DEFAULT_*` limits.
//!
//! # Driving a server session
//!
//! Modelled on quinn-proto's `Connection`: inputs are `handle_*` methods that take `now`,
//! outputs are `poll_*` methods, and outputs must be drained after every input.
//!
//! **Inputs**
//! - [`ServerSession::handle_poll`], [`handle_send`](ServerSession::handle_send),
//!   [`handle_close`](ServerSession::handle_close): a request arrived. Each returns the
//!   [`RequestId`] its answer will carry; keep the pending HTTP response under that id.
//! - [`ServerSession::handle_abort`]: the HTTP client went away; no answer is needed.
//! - [`ServerSession::send`] and [`close`](ServerSession::close): the application acts.
//! - [`ServerSession::handle_timeout`]: the time from [`poll_timeout`](ServerSession::poll_timeout)
//!   has come. Timeouts may be spurious (too early, or for a deadline that no longer exists):
//!   they are no-ops, so a driver may simply call it on every wake-up.
//!
//! **Outputs**, after every input, in this order:
//! 1. [`ServerSession::poll_response`] until `None`: answer each request.
//! 2. [`ServerSession::poll_event`] while the application can take more: messages, then
//!    [`Event::Closed`]. Taking messages frees inbound room and may answer a held `POST`,
//!    and finding nothing (`None`) answers a send that waited for the application's reply
//!    (`PROTOCOL.md` section 5.3, bounded by [`Config::reply_wait`]), so drain
//!    `poll_response` again afterwards.
//! 3. [`ServerSession::poll_timeout`]: re-arm the single timer.
//! 4. [`ServerSession::is_finished`]: drop the session.
//!
//! Every request gets exactly one answer, and only requests the session was given get answers.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use longpoll_core::{Reply, ServerSession};
//!
//! # let mut now = longpoll_testkit::driver_clock();
//! // `now` comes from the driver's clock; the core never reads one.
//! let mut session = ServerSession::new(now, Default::default());
//! let poll = session.handle_poll(now, 0);
//! assert_eq!(session.poll_response(), None); // held: nothing to send yet
//!
//! now = session.poll_timeout().unwrap(); // the poll hold, 25 s by default
//! assert_eq!(now, session.poll_timeout().unwrap());
//! session.handle_timeout(now);
//! let response = session.poll_response().unwrap();
//! assert_eq!((response.request, response.reply), (poll, Reply::NoContent));
//! ```
//!
//! # Time and randomness
//!
//! Every input takes `now: Instant` from the driver. Session ids ([`SessionId`]) and the
//! client's retry jitter take bytes or seeds from the driver. Nothing here reads a clock or an
//! OS random source, so a run is a pure function of its inputs.

pub mod client;
pub mod config;
mod deadline;
pub mod decimal;
mod event;
mod message;
pub mod origin;
mod outbound;
pub mod params;
pub mod query;
pub mod reply;
pub mod route;
pub mod server;
pub mod session_id;
pub mod wire;

pub use client::{
    ClientConfig, ClientOutput, ClientRequest, ClientSession, RequestKind, ServerAnswer,
};
pub use config::Config;
pub use event::{CloseReason, Event, RequestId, SendError};
pub use message::{
    CloseFrame, InvalidUtf8, MAX_CLOSE_REASON_BYTES, Message, Utf8Bytes, close_code,
};
pub use origin::{OriginDecision, OriginPolicy};
pub use params::SessionParams;
pub use reply::Reply;
pub use route::{Route, route};
pub use server::{Response, ServerSession};
pub use session_id::SessionId;
