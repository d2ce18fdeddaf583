//! What the server's tasks share: the configuration, the sessions by id (with tombstones), and
//! the count of requests not yet answered, which the shutdown waits for.
//!
//! Everything runs on one thread, so this is plain `Rc`/`RefCell`/`Cell`, and a borrow is
//! never held across an `.await`.

use crate::session::{self, Input};
use async_channel::Sender;
use async_executor::LocalExecutor;
use bytes::Bytes;
use event_listener::Event;
use longpoll_core::{Config, Reply, SessionId, SessionParams};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client is told to wait before opening again when the server will not open one.
const OPEN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The shared state of one running server.
pub(crate) struct Server {
    pub(crate) config: Arc<Config>,
    /// How long a client may take to send a request head.
    pub(crate) header_timeout: Duration,
    max_sessions: Option<usize>,
    /// Where session tasks are spawned. Weak: the executor owns the tasks that own this.
    executor: Weak<LocalExecutor<'static>>,
    sessions: RefCell<Sessions>,
    next_ticket: Cell<u64>,
    in_flight: Cell<usize>,
    /// Notified when `in_flight` drops to zero.
    drained: Event,
    /// Notified when the last running session ends.
    sessions_emptied: Event,
}

#[derive(Default)]
struct Sessions {
    /// Running sessions: the way to reach each one's task.
    live: HashMap<SessionId, Sender<Input>>,
    /// Ended sessions and when to forget them, oldest first (one `gone_timeout` for all, so
    /// insertion order is expiry order). Their ids are answered `410` until then.
    gone: VecDeque<(Instant, SessionId)>,
    gone_ids: HashSet<SessionId>,
    shutting_down: bool,
}

impl Sessions {
    fn forget_expired(&mut self, now: Instant) {
        while let Some(&(expiry, id)) = self.gone.front() {
            if expiry > now {
                break;
            }
            self.gone.pop_front();
            self.gone_ids.remove(&id);
        }
    }
}

/// What the server knows of an id.
pub(crate) enum Lookup {
    Live(Sender<Input>),
    Gone,
    Unknown,
}

impl Server {
    pub(crate) fn new(
        config: Config,
        max_sessions: Option<usize>,
        header_timeout: Duration,
        executor: Weak<LocalExecutor<'static>>,
    ) -> Self {
        Server {
            config: Arc::new(config),
            header_timeout,
            max_sessions,
            executor,
            sessions: RefCell::default(),
            next_ticket: Cell::new(0),
            in_flight: Cell::new(0),
            drained: Event::new(),
            sessions_emptied: Event::new(),
        }
    }

    /// `POST {base}`: a new session with a random id and its own task. `503` when shutting
    /// down, over the cap, or without randomness.
    pub(crate) fn open(self: &Rc<Self>) -> Reply {
        let unavailable = Reply::Unavailable {
            retry_after: OPEN_RETRY_AFTER,
        };
        let Some(executor) = self.executor.upgrade() else {
            return unavailable;
        };
        let mut sessions = self.sessions.borrow_mut();
        sessions.forget_expired(Instant::now());
        let full = self
            .max_sessions
            .is_some_and(|max| sessions.live.len() >= max);
        if sessions.shutting_down || full {
            return unavailable;
        }
        let id = loop {
            let Ok(id) = random_session_id() else {
                return unavailable;
            };
            // 128 random bits do not collide in practice; checking costs nothing.
            if !sessions.live.contains_key(&id) && !sessions.gone_ids.contains(&id) {
                break id;
            }
        };
        let (inputs, receiver) = async_channel::unbounded();
        sessions.live.insert(id, inputs);
        executor
            .spawn(session::run(id, self.clone(), receiver))
            .detach();
        Reply::Opened(Bytes::from(SessionParams::new(id, &self.config).to_json()))
    }

    pub(crate) fn lookup(&self, id: &SessionId) -> Lookup {
        let mut sessions = self.sessions.borrow_mut();
        if let Some(inputs) = sessions.live.get(id) {
            return Lookup::Live(inputs.clone());
        }
        sessions.forget_expired(Instant::now());
        if sessions.gone_ids.contains(id) {
            Lookup::Gone
        } else {
            Lookup::Unknown
        }
    }

    /// A session task ended: its id is answered `410` for `gone_timeout`, then `404`.
    pub(crate) fn retire(&self, id: SessionId, now: Instant) {
        let mut sessions = self.sessions.borrow_mut();
        sessions.forget_expired(now);
        if sessions.live.remove(&id).is_some() && sessions.gone_ids.insert(id) {
            let expiry = now + self.config.gone_timeout;
            sessions.gone.push_back((expiry, id));
        }
        if sessions.live.is_empty() {
            self.sessions_emptied.notify(usize::MAX);
        }
    }

    /// Resolves once no session is running.
    pub(crate) async fn sessions_ended(&self) {
        loop {
            let listener = self.sessions_emptied.listen();
            if self.sessions.borrow().live.is_empty() {
                return;
            }
            listener.await;
        }
    }

    /// Opens no more sessions and closes every running one with 1001: held polls are
    /// answered with what is queued and the close frame.
    pub(crate) fn shut_down(&self) {
        let mut sessions = self.sessions.borrow_mut();
        sessions.shutting_down = true;
        for inputs in sessions.live.values() {
            let _ = inputs.try_send(Input::Shutdown);
        }
    }

    /// A fresh ticket to name a request between its connection and its session.
    pub(crate) fn ticket(&self) -> u64 {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        ticket
    }

    /// Counts a request as in flight until the guard is dropped (after its answer is written).
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight(self)
    }

    /// Resolves once no request is in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let listener = self.drained.listen();
            if self.in_flight.get() == 0 {
                return;
            }
            listener.await;
        }
    }
}

/// A request in flight; see [`Server::in_flight`].
pub(crate) struct InFlight<'a>(&'a Server);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let server = self.0;
        server.in_flight.set(server.in_flight.get() - 1);
        if server.in_flight.get() == 0 {
            server.drained.notify(usize::MAX);
        }
    }
}

/// 128 bits from the operating system's CSPRNG.
fn random_session_id() -> Result<SessionId, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(SessionId::from_bytes(bytes))
}
