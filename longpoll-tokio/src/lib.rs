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
//! # One task per session
//!
//! Each session runs on its own task, which owns the core state machine, the pending HTTP
//! answers and a single timer (the core's next deadline); tokio's timer wheel is shared
//! already, so a task per session costs one task and one timer entry, and keeps each
//! session's logic sequential and simple. Measured on the development machine (2 cores,
//! release build, 100,000 sessions, RSS growth per session):
//!
//! | what | bytes per session |
//! |---|---|
//! | the bare core state machine (the floor any design pays) | 415 |
//! | a full idle session: core, session task, channels, the handler's task | 3,637 |
//! | the same with a poll parked on it | 4,402 |
//!
//! A shared-timer design could save at most the difference between the first two rows, about
//! 3 KiB per session, against roughly 14 KB that the HTTP connection of each parked poll
//! costs a hyper server anyway; the task design stays. The channels between the application
//! and the driver come from `futures-channel`, which allocates per message; tokio's `mpsc`
//! allocates a block of 32 slots per channel up front and tripled the figure. Re-measure with
//!
//! ```sh
//! cargo test --release -p longpoll-tokio --test idle_memory -- --ignored --nocapture
//! ```

mod driver;
mod error;
mod handle;
pub mod id;
mod longpoll;
mod message;
mod registry;
pub mod session;

pub use error::Error;
pub use handle::{SessionHandle, SessionRequest};
pub use longpoll::{LongPoll, MAX_ID_DRAWS};
pub use longpoll_core::{
    CloseFrame, CloseReason, Config, OriginPolicy, SessionId, Utf8Bytes, close_code,
};
pub use message::Message;
pub use registry::{Lookup, Mount, OpenError, Registry};
pub use session::Session;
