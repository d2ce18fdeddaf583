//! The batteries-included path: a registry of sessions by id, and `Mount`, which answers every
//! protocol request given a routed request and its body.

use crate::handle::{SessionHandle, SessionRequest, answer_after_close};
use crate::id::RandomIdHash;
use crate::longpoll::{LongPoll, MAX_ID_DRAWS};
use crate::server::Exchange;
use crate::server::OnClose;
use crate::session::Session;
use crate::{Error, Message, SessionSender};
use bytes::Bytes;
use longpoll_core::{Config, Reply, Route, SessionId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::warn;

/// How long a client is told to wait before opening again when the registry is full.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Sessions by id. Opening adds one; a session leaves when it closes (the client closed, the
/// application closed, the idle timeout reaped it), whether its handler returned, panicked,
/// or is still running. Its id is then remembered for [`Config::gone_timeout`] so requests
/// for it get `410 Gone` rather than `404`.
///
/// ```
/// use longpoll_tokio::{LongPoll, Registry};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = Registry::new(LongPoll::default(), Some(10_000));
/// let handle = registry.open(|_session| async {}).unwrap();
/// assert!(registry.get(&handle.id()).is_some());
/// # }
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    longpoll: LongPoll,
    sessions: Mutex<Sessions>,
    max_sessions: Option<usize>,
    /// Notified whenever the last open session leaves.
    emptied: Notify,
}

#[derive(Default)]
struct Sessions {
    live: HashMap<SessionId, SessionHandle, RandomIdHash>,
    /// Ids of closed sessions and when to forget them, oldest first (every session has the
    /// same `gone_timeout`, so insertion order is expiry order).
    gone: VecDeque<(Instant, SessionId)>,
    gone_ids: HashSet<SessionId, RandomIdHash>,
}

impl Sessions {
    fn forget_expired(&mut self, now: Instant) {
        while let Some((expiry, id)) = self.gone.front().copied() {
            if expiry > now {
                break;
            }
            self.gone.pop_front();
            self.gone_ids.remove(&id);
        }
    }
}

/// What a registry knows of an id.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A session that is open (or closing).
    Live(SessionHandle),
    /// A session that closed within the last [`Config::gone_timeout`].
    Gone,
    /// No session has this id (or it closed long ago).
    Unknown,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("sessions", &self.len())
            .field("max_sessions", &self.inner.max_sessions)
            .finish()
    }
}

/// Why a session could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The registry holds `max` sessions already.
    Full {
        /// The cap.
        max: usize,
    },
    /// The operating system gave no randomness for the id.
    NoRandomness,
    /// The [id filter](LongPoll::with_id_filter) refused [`MAX_ID_DRAWS`] random ids in a row.
    NoAcceptableId,
    /// The server is shutting down ([`Registry::shutdown`]).
    ShuttingDown,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Full { max } => write!(f, "session registry is full ({max} sessions)"),
            OpenError::NoRandomness => f.write_str("no randomness available for a session id"),
            OpenError::NoAcceptableId => write!(
                f,
                "the id filter refused {MAX_ID_DRAWS} random session ids in a row"
            ),
            OpenError::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

impl std::error::Error for OpenError {}

impl Registry {
    /// An empty registry whose sessions use `longpoll`'s configuration. With `max_sessions`,
    /// opening beyond that many live sessions fails (adapters answer `503`).
    pub fn new(longpoll: LongPoll, max_sessions: Option<usize>) -> Self {
        Registry {
            inner: Arc::new(Inner {
                longpoll,
                sessions: Mutex::new(Sessions::default()),
                max_sessions,
                emptied: Notify::new(),
            }),
        }
    }

    /// The sessions' configuration.
    pub fn config(&self) -> &Config {
        self.inner.longpoll.config()
    }

    /// Opens a session with a fresh id from the OS CSPRNG and runs `handler` with it.
    pub fn open<H, F>(&self, handler: H) -> Result<SessionHandle, OpenError>
    where
        H: FnOnce(Session) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        self.open_with(|longpoll, id, on_close| longpoll.spawn(id, handler, Some(on_close)))
    }

    /// Opens a callback session with a fresh id from the OS CSPRNG: `on_open` gets its
    /// [`SessionSender`] and returns its callback (see [`LongPoll::mount_callback`]).
    ///
    /// ```
    /// use longpoll_tokio::{LongPoll, Registry};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = Registry::new(LongPoll::default(), None);
    /// let handle = registry.open_callback(|_sender| |_item| {}).unwrap();
    /// assert!(registry.get(&handle.id()).is_some());
    /// # }
    /// ```
    pub fn open_callback<O, C>(&self, on_open: O) -> Result<SessionHandle, OpenError>
    where
        O: FnOnce(SessionSender) -> C,
        C: FnMut(Result<Message, Error>) + Send + 'static,
    {
        self.open_with(|longpoll, id, on_close| {
            longpoll.start_callback(id, on_open, Some(on_close))
        })
    }

    /// Draws an id and registers the session `start` starts with it.
    fn open_with(
        &self,
        start: impl FnOnce(&LongPoll, SessionId, OnClose) -> SessionHandle,
    ) -> Result<SessionHandle, OpenError> {
        let mut sessions = self.lock();
        sessions.forget_expired(Instant::now());
        if self.inner.longpoll.is_shutting_down() {
            return Err(OpenError::ShuttingDown);
        }
        if let Some(max) = self.inner.max_sessions
            && sessions.live.len() >= max
        {
            return Err(OpenError::Full { max });
        }
        let mut draws = 0;
        let id = loop {
            if draws == MAX_ID_DRAWS {
                return Err(OpenError::NoAcceptableId);
            }
            draws += 1;
            let id = crate::id::random_session_id().map_err(|_| OpenError::NoRandomness)?;
            // 128 random bits never collide in practice; checking costs nothing.
            if self.inner.longpoll.accepts_id(&id)
                && !sessions.live.contains_key(&id)
                && !sessions.gone_ids.contains(&id)
            {
                break id;
            }
        };
        let registry = Arc::downgrade(&self.inner);
        let on_close: OnClose = Box::new(move || retire(&registry, id));
        let handle = start(&self.inner.longpoll, id, on_close);
        sessions.live.insert(id, handle.clone());
        Ok(handle)
    }

    /// The open session with this id.
    pub fn get(&self, id: &SessionId) -> Option<SessionHandle> {
        self.lock().live.get(id).cloned()
    }

    /// Whether the id is an open session, a recently closed one, or unknown.
    pub fn lookup(&self, id: &SessionId) -> Lookup {
        let mut sessions = self.lock();
        if let Some(handle) = sessions.live.get(id) {
            return Lookup::Live(handle.clone());
        }
        sessions.forget_expired(Instant::now());
        if sessions.gone_ids.contains(id) {
            Lookup::Gone
        } else {
            Lookup::Unknown
        }
    }

    /// How many sessions are open (closed sessions are not counted).
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many closed sessions' ids are remembered to answer `410`.
    pub fn gone_len(&self) -> usize {
        let mut sessions = self.lock();
        sessions.forget_expired(Instant::now());
        sessions.gone.len()
    }

    /// Closes every session with code 1001 "going away" (see [`LongPoll::shutdown`]), and
    /// refuses to open more ([`OpenError::ShuttingDown`], answered `503`). Sessions stay
    /// reachable until they end, so their clients can still fetch the queued messages and the
    /// close frame; [`drained`](Self::drained) tells when the last one has.
    pub fn shutdown(&self) {
        self.inner.longpoll.shutdown();
    }

    /// Resolves once no session is open. After [`shutdown`](Self::shutdown), a server keeps
    /// serving until this (or its grace period) so that clients receive their close frames.
    pub async fn drained(&self) {
        loop {
            let emptied = self.inner.emptied.notified();
            let mut emptied = std::pin::pin!(emptied);
            // Registered before looking, so a session leaving in between still wakes us.
            emptied.as_mut().enable();
            if self.is_empty() {
                return;
            }
            emptied.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        // A panic while holding this lock cannot leave the map half-changed (every critical
        // section is a single map operation), so a poisoned lock is still consistent.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A session closed: its id moves from the open sessions to the recently closed ones.
fn retire(registry: &Weak<Inner>, id: SessionId) {
    if let Some(inner) = registry.upgrade() {
        let gone_timeout = inner.longpoll.config().gone_timeout;
        let mut sessions = inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        sessions.forget_expired(now);
        if sessions.live.remove(&id).is_some() && sessions.gone_ids.insert(id) {
            sessions.gone.push_back((now + gone_timeout, id));
        }
        if sessions.live.is_empty() {
            inner.emptied.notify_waiters();
        }
    }
}

/// Opens a session in the registry and runs the mount's handler with it. Type-erased here,
/// where the handler's future type is still known, so each session's task holds that future
/// itself rather than a second allocation (a boxed future) inside the task.
type Opener = Arc<dyn Fn(&Registry) -> Result<SessionHandle, OpenError> + Send + Sync>;

/// Protocol v1, ready to mount: a [`Registry`] and the handler every new session runs.
///
/// Framework adapters route a request with [`longpoll_core::route()`], read the body of a
/// `POST` under [`Config::max_body_bytes`], and answer with [`Mount::dispatch`]. Cheap to
/// clone.
#[derive(Clone)]
pub struct Mount {
    registry: Registry,
    opener: Opener,
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("registry", &self.registry)
            .finish()
    }
}

impl Mount {
    /// Mounts `handler` for every session opened through this mount.
    pub fn new<H, F>(registry: Registry, handler: H) -> Self
    where
        H: Fn(Session) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        Mount {
            registry,
            opener: Arc::new(move |registry: &Registry| registry.open(&handler)),
        }
    }

    /// Mounts a callback per session, made by `on_open` for every session opened through this
    /// mount (see [`LongPoll::mount_callback`]).
    pub fn with_callback<O, C>(registry: Registry, on_open: O) -> Self
    where
        O: Fn(SessionSender) -> C + Send + Sync + 'static,
        C: FnMut(Result<Message, Error>) + Send + 'static,
    {
        Mount {
            registry,
            opener: Arc::new(move |registry: &Registry| registry.open_callback(&on_open)),
        }
    }

    /// The registry behind this mount.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The sessions' configuration (adapters read `max_body_bytes` from it).
    pub fn config(&self) -> &Config {
        self.registry.config()
    }

    /// Answers one routed request. `body` is the `POST` body (empty otherwise).
    ///
    /// The session is looked up at once; the request reaches it (or a session is opened) when
    /// the returned future is first polled. The future owns what it needs (`'static`), so a
    /// service can return it without holding the request or this mount.
    pub fn dispatch(&self, route: Route, body: Bytes) -> Dispatch {
        let (id, request) = match route {
            Route::Open => return Dispatch(Stage::Open(self.clone())),
            Route::Poll { id, ack } => (id, SessionRequest::Poll { ack }),
            Route::Send { id, seq, ack } => (id, SessionRequest::Send { seq, ack, body }),
            Route::Close { id } => (id, SessionRequest::Close),
        };
        Dispatch(match self.registry.lookup(&id) {
            Lookup::Live(handle) => Stage::Exchange(handle.into_exchange(request)),
            Lookup::Gone => {
                Stage::Answered(Some(answer_after_close(request == SessionRequest::Close)))
            }
            Lookup::Unknown => Stage::Answered(Some(Reply::NotFound)),
        })
    }

    fn open(&self) -> Reply {
        match (self.opener)(&self.registry) {
            Ok(handle) => Reply::Opened(Bytes::from(handle.params().to_json())),
            Err(error) => {
                warn!(%error, "refused to open a longpoll session");
                Reply::Unavailable {
                    retry_after: FULL_RETRY_AFTER,
                }
            }
        }
    }
}

/// The answer to one routed request: the future [`Mount::dispatch`] returns. Dropping it
/// before it is ready forgets the request, as dropping an [`Exchange`] does.
#[derive(Debug)]
#[must_use = "the request reaches its session only when the future is polled"]
pub struct Dispatch(Stage);

#[derive(Debug)]
enum Stage {
    Open(Mount),
    Exchange(Exchange),
    Answered(Option<Reply>),
}

impl Future for Dispatch {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let stage = &mut self.get_mut().0;
        match stage {
            Stage::Open(mount) => {
                let reply = mount.open();
                // Opened once: polling again is a bug, caught like the other stages'.
                *stage = Stage::Answered(None);
                Poll::Ready(reply)
            }
            Stage::Exchange(exchange) => Pin::new(exchange).poll(cx),
            Stage::Answered(reply) => {
                Poll::Ready(reply.take().expect("`Dispatch` polled after it was ready"))
            }
        }
    }
}
