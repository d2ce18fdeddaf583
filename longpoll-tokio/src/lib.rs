//! Long-polling sessions on tokio, as pleasant as a WebSocket.
//!
//! This crate drives [`longpoll_core`]'s sans-IO state machines with tokio timers and
//! channels. The application sees a [`Session`]: a `Stream` of [`Message`]s and a `Sink` for
//! them, split like axum's `WebSocket`. Which HTTP request carries which message, acks,
//! retries and timeouts are not its concern.
//!
//! Two ways to use it:
//!
//! 1. **The primitive.** [`LongPoll::connect`] starts a session and returns a
//!    [`SessionHandle`]; the application keeps handles in its own state and forwards each
//!    request of that session with [`SessionHandle::exchange`] (framework adapters wrap this
//!    for their request types).
//! 2. **Batteries included.** A [`Registry`] creates sessions with secure ids, finds them,
//!    and forgets them when they end; a [`Mount`] answers every protocol request with it.
//!    Framework adapters turn a `Mount` into a router or service in one call.
//!
//! The application's end of a session comes in two shapes:
//!
//! - **A task per session** reading a [`Session`] ([`LongPoll::mount`], [`LongPoll::connect`]):
//!   write it like a WebSocket handler, await what you like, and let `send` wait for room.
//!   What the task sends between taking a client's messages and asking for the next one goes
//!   back in the answer to the send that brought them, when the client's sends carry `ack`
//!   (`PROTOCOL.md` section 5.3; the project's clients' do), unless it takes longer than
//!   [`Config::reply_wait`](longpoll_core::Config::reply_wait) (10 ms by default): one HTTP
//!   exchange per round trip.
//! - **A callback per session** ([`LongPoll::mount_callback`], [`LongPoll::connect_callback`]):
//!   called with each received message in the task of the request that brought it, sending
//!   with a [`SessionSender`] that never waits. No task wakes for the application, and an idle
//!   session has none: the cheapest shape for replies computed at once (echo, request and
//!   response, handing messages to a channel). A reply sent while the callback takes a message
//!   goes back in the answer to the send that brought it, when the client's sends carry `ack`
//!   (`PROTOCOL.md` section 5.3; the project's clients' do): one HTTP exchange per round trip.
//!
//! # No task in the message path
//!
//! A server session's state machine sits behind a mutex that the HTTP request handlers and
//! the application's [`Session`] lock in turn: a request the core can answer at once is
//! answered by its own handler, and the application takes and queues messages in place. An
//! echoed message wakes two tasks, the application and the handler of the send (with `ack`)
//! or of the held poll (without); with a callback, none (the reply goes in the send's
//! answer) or only the latter (a send without `ack`). A small task per session (the
//! watchdog) sleeps through the traffic and wakes only for the idle timeout, a held
//! request's deadline (a send waiting for a task's reply included), a server shutdown, or
//! the close. A parked poll is a
//! few words: it has no timer of its own. Measure a session's memory with
//!
//! ```sh
//! cargo test --release -p longpoll-tokio --test idle_memory -- --ignored --nocapture
//! ```

mod error;
mod handle;
pub mod id;
mod longpoll;
mod message;
mod registry;
mod sender;
mod server;
pub mod session;

pub use error::Error;
pub use handle::{SessionHandle, SessionRequest};
pub use longpoll::{LongPoll, MAX_ID_DRAWS};
pub use longpoll_core::{
    CloseFrame, CloseReason, Config, OriginPolicy, SessionId, Utf8Bytes, close_code,
};
pub use message::Message;
pub use registry::{Dispatch, Lookup, Mount, OpenError, Registry};
pub use sender::{SessionSender, TrySendError};
pub use server::Exchange;
pub use session::Session;
