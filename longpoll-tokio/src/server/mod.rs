//! The server side of a session: no task of its own in the message path. The core state
//! machine sits behind a mutex shared by the three parties that feed it:
//!
//! - the HTTP request handlers ([`Exchange`]): a request is handed to the core and, when the
//!   core answers at once, answered without any other task waking up; a held request waits
//!   for the party that answers it to wake it;
//! - the application's [`Session`](crate::Session) ([`app`]): it takes received messages
//!   from the core and queues its own messages there directly; or, for a callback session
//!   ([`callback`]), the request handler or watchdog that settles the core calls the
//!   application's callback with what arrived, and the application queues through a
//!   [`SessionSender`](crate::SessionSender);
//! - a small [`watchdog`] task per session that keeps the core's time: woken only by the
//!   deadline it armed (the idle timeout, a held request's), an earlier deadline appearing,
//!   a server shutdown, or the session closing.
//!
//! Whoever changes the core settles it before unlocking ([`State::settle`]): answers go to
//! the requests waiting for them, the application is woken when it has something to take or
//! room to send (or its callback is called). An echoed message thus wakes two tasks (the
//! application, the held poll's handler) instead of five; one with a callback.

pub(crate) mod app;
pub(crate) mod callback;
mod exchange;
mod shared;
mod watchdog;

pub use exchange::Exchange;
pub(crate) use shared::{OnClose, Shared};
pub(crate) use watchdog::{CloseWhenDone, watchdog};

/// The driver's clock (the core never reads one): tokio's, so paused test time applies.
fn read_clock() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
