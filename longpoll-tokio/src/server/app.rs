//! The application's side of a server session: `Session`'s stream and sink take from and
//! queue into the core directly, under the session's lock.

use super::{Shared, read_clock};
use crate::Error;
use longpoll_core::{CloseFrame, Event, Message, SendError};
use std::task::{Context, Poll};

/// The next event for the application, or `Pending` (woken when one arrives).
pub(crate) fn poll_event(shared: &Shared, cx: &mut Context<'_>) -> Poll<Event> {
    let now = read_clock();
    let mut state = shared.lock();
    match state.core.poll_event(now) {
        Some(event) => {
            // Taking a message frees inbound room, which may accept a held `POST`.
            let settled = state.settle(shared.id, now);
            drop(state);
            settled.finish(shared);
            Poll::Ready(event)
        }
        None => {
            match &state.receiver {
                Some(known) if known.will_wake(cx.waker()) => {}
                _ => state.receiver = Some(cx.waker().clone()),
            }
            if state.core.send_answer_pending() {
                // Asking for more tells a send that carried `ack` that the application has
                // replied: it is answered now, with the reply (`PROTOCOL.md` 5.3).
                let settled = state.settle(shared.id, now);
                drop(state);
                settled.finish(shared);
            }
            Poll::Pending
        }
    }
}

/// Ready when a message can be handed over: the one waiting for room (if any) has gone in.
pub(crate) fn poll_ready(shared: &Shared, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    let mut state = shared.lock();
    if state.core.is_closed() {
        return Poll::Ready(Err(Error::Closed));
    }
    if let Some(message) = state.unsent.take() {
        match state.core.send(read_clock(), message) {
            Err(SendError::Full(message)) => {
                state.unsent = Some(message);
                match &state.sender {
                    Some(known) if known.will_wake(cx.waker()) => {}
                    _ => state.sender = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            // Queued, or dropped because the session is closing.
            _ => state.wake_held_poll(),
        }
    }
    Poll::Ready(Ok(()))
}

/// Queues `message` (after [`poll_ready`]); when the outbound buffer is full it waits for room
/// in the state, and the next `poll_ready` waits for it to go in.
pub(crate) fn start_send(shared: &Shared, message: Message) {
    let mut state = shared.lock();
    match state.core.send(read_clock(), message) {
        // The held poll's handler takes it, with everything queued until it runs.
        Ok(()) => state.wake_held_poll(),
        Err(SendError::Full(message)) => state.unsent = Some(message),
        // Closing: nothing more goes out. Over the limit: `Session` checked it already.
        Err(_) => {}
    }
}

/// The application closes the session (after everything queued before).
pub(crate) fn close(shared: &Shared, frame: Option<CloseFrame>) {
    let now = read_clock();
    let settled = {
        let mut state = shared.lock();
        // A message still waiting for room goes before the close frame.
        if let Some(message) = state.unsent.take() {
            let _ = state.core.send(now, message);
        }
        state.core.close(now, frame);
        state.settle(shared.id, now)
    };
    settled.finish(shared);
}
