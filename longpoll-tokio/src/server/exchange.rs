//! One HTTP request, from the handler's side: hand it to the core and, if the core holds it,
//! wait for its answer (or its deadline) without any other task in between.

use super::{Shared, read_clock};
use crate::handle::SessionRequest;
use longpoll_core::{Reply, RequestId};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::time::{Instant, sleep_until};

/// Hands `request` to the session's core and returns its answer.
pub(crate) async fn exchange(shared: &Arc<Shared>, request: SessionRequest) -> Reply {
    let now = read_clock();
    let (request, reply, deadline, settled) = {
        let mut state = shared.lock();
        let is_poll = matches!(request, SessionRequest::Poll { .. });
        let id = match request {
            SessionRequest::Poll { ack } => state.core.handle_poll(now, ack),
            SessionRequest::Send { seq, body } => state.core.handle_send(now, seq, body),
            SessionRequest::Close => state.core.handle_close(now),
        };
        state.wait_for(id, is_poll);
        let settled = state.settle(shared.id, now);
        let reply = state.take_reply(id);
        (id, reply, state.core.poll_timeout(), settled)
    };
    settled.finish();
    if let Some(reply) = reply {
        return reply;
    }
    // Held: dropping this future (the client went away) tells the core to forget it.
    let held = Held {
        shared,
        request,
        answered: false,
    };
    held.wait(deadline).await
}

/// A request the core holds.
struct Held<'a> {
    shared: &'a Arc<Shared>,
    request: RequestId,
    answered: bool,
}

impl Held<'_> {
    async fn wait(mut self, deadline: Option<std::time::Instant>) -> Reply {
        // The core's next deadline, which is this request's or earlier (another held
        // request's): when it passes, whoever is awake lets the core time out what is due.
        let mut timer = pin!(sleep_until(to_tokio(deadline)));
        let mut armed = deadline;
        poll_fn(|cx| {
            loop {
                let now = read_clock();
                let mut state = self.shared.lock();
                // Answers what is due: a poll woken by the application takes everything queued
                // since, as one batch.
                let settled = state.settle(self.shared.id, now);
                if let Some(reply) = state.take_reply(self.request) {
                    drop(state);
                    settled.finish();
                    self.answered = true;
                    return Poll::Ready(reply);
                }
                let deadline = state.core.poll_timeout();
                if deadline != armed {
                    timer.as_mut().reset(to_tokio(deadline));
                    armed = deadline;
                }
                if armed.is_some() && timer.as_mut().poll(cx).is_ready() {
                    armed = None;
                    state.core.handle_timeout(now);
                    let settled_again = state.settle(self.shared.id, now);
                    drop(state);
                    settled.finish();
                    settled_again.finish();
                    continue;
                }
                state.wake_when_answered(self.request, cx.waker());
                drop(state);
                settled.finish();
                return Poll::Pending;
            }
        })
        .await
    }
}

fn to_tokio(deadline: Option<std::time::Instant>) -> Instant {
    // No deadline cannot happen while a request is held (its own is one); a day is "never".
    deadline.map_or_else(
        || Instant::now() + std::time::Duration::from_secs(86_400),
        Instant::from_std,
    )
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let now = read_clock();
        let settled = {
            let mut state = self.shared.lock();
            if state.forget(self.request) {
                state.core.handle_abort(now, self.request);
            }
            state.settle(self.shared.id, now)
        };
        settled.finish();
    }
}
