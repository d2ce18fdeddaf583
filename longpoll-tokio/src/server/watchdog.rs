//! The only task a session has besides the application's: it keeps the core's time (the
//! idle timeout, held requests' deadlines) and closes the session on server shutdown. It
//! sleeps through the message traffic: it wakes at the deadline it armed, lets the core time
//! out what is due, and sleeps until the next one. A change that brings an earlier deadline
//! (a request held, usually) wakes it to re-arm ([`State::settle`](super::shared::State)).

use super::shared::Watchdog;
use super::{Shared, read_clock};
use longpoll_core::{CloseFrame, close_code};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// Runs until the session closes.
pub(crate) async fn watchdog(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut timer = pin!(sleep_until(Instant::now()));
    let mut armed = None;
    let mut shutdown = pin!(shutdown.cancelled_owned());
    let mut shutting_down = false;
    poll_fn(|cx| {
        loop {
            let now = read_clock();
            let mut state = shared.lock();
            // Ours to settle now: nobody need wake us until we sleep again.
            state.watchdog = None;
            if state.core.is_closed() {
                return Poll::Ready(());
            }
            if !shutting_down && shutdown.as_mut().poll(cx).is_ready() {
                shutting_down = true;
                let frame = CloseFrame::new(close_code::GOING_AWAY, "server shutting down");
                state.core.close(now, Some(frame));
                let settled = state.settle(shared.id, now);
                drop(state);
                settled.finish(&shared);
                continue;
            }
            let deadline = state.core.poll_timeout();
            if deadline != armed {
                if let Some(deadline) = deadline {
                    timer.as_mut().reset(Instant::from_std(deadline));
                }
                armed = deadline;
            }
            if armed.is_some() && timer.as_mut().poll(cx).is_ready() {
                // A fired timer stays ready: re-arm it from the core's next deadline.
                armed = None;
                state.core.handle_timeout(now);
                let settled = state.settle(shared.id, now);
                drop(state);
                settled.finish(&shared);
                continue;
            }
            state.watchdog = Some(Watchdog {
                waker: cx.waker().clone(),
                deadline: armed,
            });
            return Poll::Pending;
        }
    })
    .await;
    debug!(session = %shared.id, "longpoll session watchdog finished");
}

/// Closes the session when the application's handler returns (code 1000) or panics (1011),
/// whatever the handler did with its `Session`.
pub(crate) struct CloseWhenDone(pub(crate) Arc<Shared>);

impl Drop for CloseWhenDone {
    fn drop(&mut self) {
        let frame = if std::thread::panicking() {
            info!(session = %self.0.id, "longpoll handler panicked; closing the session");
            CloseFrame::new(close_code::INTERNAL_ERROR, "handler panicked")
        } else {
            CloseFrame::new(close_code::NORMAL, "")
        };
        let now = read_clock();
        let settled = {
            let mut state = self.0.lock();
            state.core.close(now, Some(frame));
            state.settle(self.0.id, now)
        };
        settled.finish(&self.0);
    }
}
