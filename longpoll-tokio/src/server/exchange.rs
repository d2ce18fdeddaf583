//! One HTTP request, from the handler's side: hand it to the core and, if the core holds it,
//! wait for its answer without any other task in between.
//!
//! A held request has no timer of its own: the session's watchdog sleeps until the core's
//! next deadline (it is woken when a held request brings an earlier one) and lets the core
//! answer what is due. That keeps a parked poll down to this small future, and spares the
//! timer wheel an insert and a removal per message.

use super::{Shared, read_clock};
use crate::handle::SessionRequest;
use longpoll_core::{Reply, RequestId};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The answer to one request handed to a session: the future
/// [`SessionHandle::exchange`](crate::SessionHandle::exchange) returns.
///
/// The request reaches the session when the future is first polled. Dropping it before it
/// is ready (the client went away) tells the session to forget the request, so a poll that
/// was dropped does not take messages with it. Owns what it needs (`'static`), and is a few
/// machine words in size: a parked poll costs little.
#[must_use = "the request reaches the session only when the future is polled"]
pub struct Exchange {
    shared: Arc<Shared>,
    stage: Stage,
}

enum Stage {
    /// Not yet handed to the session.
    Start(SessionRequest),
    /// Handed over; the core holds it.
    Held(RequestId),
    /// Answered.
    Done,
}

impl Exchange {
    pub(crate) fn new(shared: Arc<Shared>, request: SessionRequest) -> Self {
        Exchange {
            shared,
            stage: Stage::Start(request),
        }
    }
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Start(_) => "start",
            Stage::Held(_) => "held",
            Stage::Done => "done",
        };
        f.debug_struct("Exchange")
            .field("session", &self.shared.id)
            .field("stage", &stage)
            .finish()
    }
}

impl Future for Exchange {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let this = self.get_mut();
        let now = read_clock();
        let mut state = this.shared.lock();
        let request = match std::mem::replace(&mut this.stage, Stage::Done) {
            Stage::Start(request) => {
                let is_poll = matches!(request, SessionRequest::Poll { .. });
                let is_send = matches!(request, SessionRequest::Send { .. });
                let id = match request {
                    SessionRequest::Poll { ack } => state.core.handle_poll(now, ack),
                    SessionRequest::Send { seq, ack, body } => {
                        state.core.handle_send(now, seq, ack, body)
                    }
                    SessionRequest::Close => state.core.handle_close(now),
                };
                state.wait_for(id, is_poll);
                if is_send && state.callback_can_take() {
                    // A callback session takes the messages before the answers are drained,
                    // so a send that carried `ack` carries its replies (see `callback`).
                    drop(state);
                    super::callback::deliver(&this.shared);
                    state = this.shared.lock();
                }
                id
            }
            Stage::Held(id) => id,
            Stage::Done => panic!("`Exchange` polled after it was ready"),
        };
        // Answers what is due: a poll woken by the application takes everything queued
        // since, as one batch.
        let settled = state.settle(this.shared.id, now);
        let reply = state.take_reply(request);
        if reply.is_none() {
            state.wake_when_answered(request, cx.waker());
            this.stage = Stage::Held(request);
        }
        drop(state);
        settled.finish(&this.shared);
        match reply {
            Some(reply) => Poll::Ready(reply),
            None => Poll::Pending,
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let Stage::Held(request) = self.stage else {
            return;
        };
        let now = read_clock();
        let settled = {
            let mut state = self.shared.lock();
            if state.forget(request) {
                state.core.handle_abort(now, request);
            }
            state.settle(self.shared.id, now)
        };
        settled.finish(&self.shared);
    }
}
