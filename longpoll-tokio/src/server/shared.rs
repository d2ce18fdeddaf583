//! The state the request handlers, the application and the watchdog share, and the one rule
//! they all follow after changing it: settle.

use super::callback::Callback;
use longpoll_core::{CloseFrame, Message, Reply, RequestId, SendError, ServerSession, SessionId};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;
use tracing::{debug, info};

/// One session's state, shared behind a mutex.
pub(crate) struct Shared {
    pub(crate) id: SessionId,
    state: Mutex<State>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("id", &self.id).finish()
    }
}

/// Runs once the session has closed (a registry forgets it then).
pub(crate) type OnClose = Box<dyn FnOnce() + Send>;

pub(crate) struct State {
    pub(crate) core: ServerSession,
    /// Requests handed to the core and not yet taken back with their answer. At most a few:
    /// the core holds one poll and one `POST`; others are answered at once.
    waiters: Vec<Waiter>,
    /// The application waits for a message.
    pub(crate) receiver: Option<Waker>,
    /// The application waits for room to send.
    pub(crate) sender: Option<Waker>,
    /// A message the application sent while the outbound buffer was full; it goes in as soon
    /// as an acknowledgement makes room (`send` waits meanwhile, so this is the only one; a
    /// callback is not called meanwhile).
    pub(crate) unsent: Option<Message>,
    /// A callback session's close, asked for while a message waited in `unsent`: it follows
    /// that message.
    pub(crate) close_after_unsent: Option<Option<CloseFrame>>,
    /// The watchdog while it sleeps: woken when the session closes (so that it ends) or the
    /// core's next deadline comes before the one it sleeps until.
    pub(crate) watchdog: Option<Watchdog>,
    on_close: Option<OnClose>,
    /// A callback session's callback while nobody calls it ([`super::callback`]). `None` for a
    /// session the application drives through a `Session`, while a task calls the callback,
    /// and once the session has ended.
    pub(crate) callback: Option<Callback>,
    /// A task is calling the callback; it also delivers whatever arrives meanwhile.
    pub(crate) delivering: bool,
    /// The application closed the session itself, so its callback is not told about the end
    /// (a `Session`'s stream just ends then, too).
    pub(crate) closed_by_app: bool,
}

/// The sleeping watchdog.
pub(crate) struct Watchdog {
    pub(crate) waker: Waker,
    /// Its alarm; `None` when the core had no deadline.
    pub(crate) deadline: Option<Instant>,
}

struct Waiter {
    request: RequestId,
    is_poll: bool,
    waker: Option<Waker>,
    reply: Option<Reply>,
}

/// What a settle left to do once the lock is released.
#[must_use = "call `finish` after releasing the lock"]
pub(crate) struct Settled {
    on_close: Option<OnClose>,
    /// The callback has events to take.
    deliver: bool,
}

impl Settled {
    /// Runs what must not run under the session's lock: the application's callback (it may
    /// send, which locks), and the registry's forgetting (it takes the registry's lock).
    pub(crate) fn finish(self, shared: &Shared) {
        if self.deliver {
            super::callback::deliver(shared);
        }
        if let Some(on_close) = self.on_close {
            on_close();
        }
    }
}

impl Shared {
    pub(crate) fn new(id: SessionId, core: ServerSession, on_close: Option<OnClose>) -> Self {
        Shared {
            id,
            state: Mutex::new(State {
                core,
                waiters: Vec::new(),
                receiver: None,
                sender: None,
                unsent: None,
                close_after_unsent: None,
                watchdog: None,
                on_close,
                callback: None,
                delivering: false,
                closed_by_app: false,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under this lock would be a bug in the core; its state is still the best
        // there is, and refusing every later request would not help the client.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Routes the core's answers to the requests waiting for them, queues the application's
    /// waiting message if there is room now, and wakes whoever has something to do. Call after
    /// every change to the core, before unlocking.
    pub(crate) fn settle(&mut self, id: SessionId, now: std::time::Instant) -> Settled {
        // First, so that a close waiting for it (and the answers that brings) happens now.
        if let Some(message) = self.unsent.take() {
            match self.core.send(now, message) {
                Err(SendError::Full(message)) => self.unsent = Some(message),
                // Queued, or dropped because the session is closing: either way `send` is done.
                _ => {
                    self.wake_sender();
                    self.wake_held_poll();
                    if let Some(frame) = self.close_after_unsent.take() {
                        self.core.close(now, frame);
                    }
                }
            }
        }
        while let Some(response) = self.core.poll_response() {
            let status = response.reply.status();
            if (400..500).contains(&status) && ![404, 409, 410].contains(&status) {
                debug!(session = %id, status, reply = %response.reply, "refused a request");
            }
            // Nobody waits when the HTTP side gave up already: then there is nobody to tell.
            if let Some(waiter) = self.waiter(response.request) {
                waiter.reply = Some(response.reply);
                if let Some(waker) = waiter.waker.take() {
                    waker.wake();
                }
            }
        }
        let has_event = self.core.has_event();
        if has_event && let Some(receiver) = self.receiver.take() {
            receiver.wake();
        }
        let mut on_close = None;
        if self.core.is_closed() {
            self.wake_sender();
            self.wake_watchdog();
            on_close = self.on_close.take();
            if on_close.is_some() {
                info!(session = %id, "longpoll session closed");
            }
        }
        if let Some(watchdog) = &self.watchdog
            && let Some(next) = self.core.poll_timeout()
            && watchdog.deadline.is_none_or(|armed| next < armed)
        {
            self.wake_watchdog();
        }
        Settled {
            on_close,
            // Not while a message waits for room: received ones wait in the core meanwhile,
            // which holds the client's sends (backpressure, as for a `Session`).
            deliver: self.callback_can_take(),
        }
    }

    /// Whether a callback is free to take the core's events now (no task calls it, and no
    /// message waits for room).
    pub(crate) fn callback_can_take(&self) -> bool {
        self.callback.is_some() && self.unsent.is_none() && self.core.has_event()
    }

    fn wake_watchdog(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.waker.wake();
        }
    }

    /// The application queued a message: the held poll, if any, should take it (with
    /// whatever else is queued by the time its handler runs: one batch for a burst), unless
    /// a send waiting for the application's reply takes it (`PROTOCOL.md` 5.3).
    pub(crate) fn wake_held_poll(&mut self) {
        if self.core.send_answer_pending() {
            return;
        }
        if let Some(waker) = self
            .waiters
            .iter_mut()
            .find(|waiter| waiter.is_poll && waiter.reply.is_none())
            .and_then(|waiter| waiter.waker.take())
        {
            waker.wake();
        }
    }

    fn wake_sender(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.wake();
        }
    }

    pub(crate) fn wait_for(&mut self, request: RequestId, is_poll: bool) {
        // Room for the usual two (a held poll and a held `POST`) rather than `Vec`'s first
        // step of four: this stays allocated for the session's life.
        if self.waiters.capacity() == 0 {
            self.waiters.reserve_exact(2);
        }
        self.waiters.push(Waiter {
            request,
            is_poll,
            waker: None,
            reply: None,
        });
    }

    /// The answer to `request`, if it has one; the request is then no longer waited for.
    pub(crate) fn take_reply(&mut self, request: RequestId) -> Option<Reply> {
        let index = self
            .waiters
            .iter()
            .position(|waiter| waiter.request == request && waiter.reply.is_some())?;
        self.waiters.swap_remove(index).reply
    }

    /// Wakes `waker` when `request` is answered (or the application queues a message, for a
    /// poll).
    pub(crate) fn wake_when_answered(&mut self, request: RequestId, waker: &Waker) {
        if let Some(waiter) = self.waiter(request) {
            match &mut waiter.waker {
                Some(known) if known.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Stops waiting for `request`; true if it had not been answered.
    pub(crate) fn forget(&mut self, request: RequestId) -> bool {
        match self.waiters.iter().position(|w| w.request == request) {
            Some(index) => self.waiters.swap_remove(index).reply.is_none(),
            None => false,
        }
    }

    fn waiter(&mut self, request: RequestId) -> Option<&mut Waiter> {
        self.waiters.iter_mut().find(|w| w.request == request)
    }
}
