//! Callback sessions: the application's callback takes each received message in the task
//! that brought it (the `POST`'s handler; the watchdog's for a timeout or shutdown), so no
//! application task wakes up per message.
//!
//! One task at a time calls the callback, and it delivers everything that arrives while it
//! does: whoever settles the core with events pending calls [`deliver`] after unlocking; if
//! another task is delivering already, that task picks the events up before it gives the
//! callback back. The check for more events and the hand-back happen under one lock, so no
//! event waits for the next request.
//!
//! A `POST` delivers its messages before the core's answers are drained, and the delivery is
//! settled only once the callback has taken every message: a send that carried `ack` is then
//! answered with what the callback queued in reply (one exchange per round trip,
//! `PROTOCOL.md` 5.3).

use super::{Shared, read_clock};
use crate::session::{Side, last_item};
use crate::{Error, Message, TrySendError};
use longpoll_core::{CloseFrame, Event, SendError, close_code};
use std::panic::{AssertUnwindSafe, catch_unwind};
use tracing::info;

/// What a callback session calls with each item its `Session` stream would yield.
pub(crate) type Callback = Box<dyn FnMut(Result<Message, Error>) + Send>;

/// Calls the callback with every event the core has, unless another task is doing so.
pub(crate) fn deliver(shared: &Shared) {
    let mut state = shared.lock();
    if state.delivering {
        return;
    }
    let Some(mut callback) = state.callback.take() else {
        return;
    };
    state.delivering = true;
    loop {
        let now = read_clock();
        // A message waiting for room pauses the callback (see `Settled`); the settle that
        // lets it in delivers again.
        let event = match state.unsent {
            Some(_) => None,
            None => state.core.poll_event(now),
        };
        let Some(event) = event else {
            // Settled once the callback has nothing left to take: finding nothing told a
            // send that carried `ack` that the callback has replied, so it is answered with
            // what the callback queued; and the messages taken freed inbound room, which may
            // have accepted a held `POST`.
            state.callback = Some(callback);
            state.delivering = false;
            let settled = state.settle(shared.id, now);
            drop(state);
            settled.finish(shared);
            return;
        };
        let (item, last) = match event {
            Event::Message(message) => (Some(Ok(message.into())), false),
            Event::Closed(reason) => (last_item(Side::Server, reason, state.closed_by_app), true),
        };
        drop(state);
        let called = match item {
            Some(item) => catch_unwind(AssertUnwindSafe(|| callback(item))).is_ok(),
            None => true,
        };
        if last || !called {
            let settled = shared.lock().settle(shared.id, now);
            settled.finish(shared);
            // The session is over for the application: its callback (and what it holds) goes
            // now, outside the lock, since dropping it runs the application's code too.
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(callback))).is_ok();
            if !called || !dropped {
                info!(session = %shared.id, "longpoll callback panicked; closing the session");
                close(
                    shared,
                    Some(CloseFrame::new(
                        close_code::INTERNAL_ERROR,
                        "handler panicked",
                    )),
                );
            }
            shared.lock().delivering = false;
            return;
        }
        state = shared.lock();
    }
}

/// Queues `message` for [`SessionSender`](crate::SessionSender): `try_send` when `may_wait`
/// is false; `send` when true, which lets a message the outbound buffer has no room for wait
/// in `unsent` (and the callback with it: see `Settled`).
pub(crate) fn queue(shared: &Shared, message: Message, may_wait: bool) -> Result<(), TrySendError> {
    let message = match message {
        Message::Text(text) => longpoll_core::Message::Text(text),
        Message::Binary(bytes) => longpoll_core::Message::Binary(bytes),
        Message::Close(frame) => {
            close(shared, frame);
            return Ok(());
        }
    };
    let mut state = shared.lock();
    if state.unsent.is_some() {
        // One message waits for room already; nothing may overtake it.
        return Err(if state.core.is_closed() {
            TrySendError::Closed(message.into())
        } else {
            TrySendError::Full(message.into())
        });
    }
    match state.core.send(read_clock(), message) {
        Ok(()) => {
            // The held poll's handler takes it, with everything queued until it runs; unless
            // a send waiting for this reply takes it (answered once the callback returns and
            // no message is left for it).
            state.wake_held_poll();
            Ok(())
        }
        Err(SendError::Full(message)) if may_wait => {
            state.unsent = Some(message);
            Ok(())
        }
        Err(SendError::Full(message)) => Err(TrySendError::Full(message.into())),
        Err(SendError::TooLarge(message)) => Err(TrySendError::TooLarge(message.into())),
        Err(SendError::Closed(message)) => Err(TrySendError::Closed(message.into())),
    }
}

/// The application closes the session, after everything it queued (a message waiting for
/// room included); its callback is not called again.
pub(crate) fn close(shared: &Shared, frame: Option<CloseFrame>) {
    let now = read_clock();
    let settled = {
        let mut state = shared.lock();
        if state.core.is_closed() {
            return;
        }
        state.closed_by_app = true;
        if state.unsent.is_some() {
            // The first close asked for wins, as with the core's own close.
            if state.close_after_unsent.is_none() {
                state.close_after_unsent = Some(frame);
            }
            return;
        }
        state.core.close(now, frame);
        state.settle(shared.id, now)
    };
    settled.finish(shared);
}
