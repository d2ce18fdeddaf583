//! The batteries-included path: a registry of sessions by id, and `Mount`, which answers every
//! protocol request given a routed request and its body.

use crate::handle::{SessionHandle, SessionRequest};
use crate::longpoll::LongPoll;
use crate::session::Session;
use bytes::Bytes;
use longpoll_core::{Config, Reply, Route, SessionId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tracing::warn;

/// How long a client is told to wait before opening again when the registry is full.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Sessions by id. Opening adds one; a session removes itself when its task ends (closed and
/// past its `410` period, or abandoned and idle-timed-out), whether its handler returned,
/// panicked, or is still running.
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
    sessions: Mutex<HashMap<SessionId, SessionHandle>>,
    max_sessions: Option<usize>,
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
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Full { max } => write!(f, "session registry is full ({max} sessions)"),
            OpenError::NoRandomness => f.write_str("no randomness available for a session id"),
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
                sessions: Mutex::new(HashMap::new()),
                max_sessions,
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
        let mut sessions = self.lock();
        if let Some(max) = self.inner.max_sessions
            && sessions.len() >= max
        {
            return Err(OpenError::Full { max });
        }
        let id = loop {
            let id = crate::id::random_session_id().map_err(|_| OpenError::NoRandomness)?;
            // 128 random bits never collide in practice; checking costs nothing.
            if !sessions.contains_key(&id) {
                break id;
            }
        };
        let registry = Arc::downgrade(&self.inner);
        let on_exit = Box::new(move || forget(&registry, id));
        let handle = self.inner.longpoll.spawn(id, handler, Some(on_exit));
        sessions.insert(id, handle.clone());
        Ok(handle)
    }

    /// The session with this id, while it exists.
    pub fn get(&self, id: &SessionId) -> Option<SessionHandle> {
        self.lock().get(id).cloned()
    }

    /// How many sessions exist (open, or closed and still answering `410`).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every session with code 1001 "going away" (see [`LongPoll::shutdown`]).
    pub fn shutdown(&self) {
        self.inner.longpoll.shutdown();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, SessionHandle>> {
        // A panic while holding this lock cannot leave the map half-changed (every critical
        // section is a single map operation), so a poisoned lock is still consistent.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn forget(registry: &Weak<Inner>, id: SessionId) {
    if let Some(inner) = registry.upgrade() {
        let mut sessions = inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions.remove(&id);
    }
}

type BoxedHandler = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Protocol v1, ready to mount: a [`Registry`] and the handler every new session runs.
///
/// Framework adapters route a request with [`longpoll_core::route()`], read the body of a
/// `POST` under [`Config::max_body_bytes`], and answer with [`Mount::dispatch`]. Cheap to
/// clone.
#[derive(Clone)]
pub struct Mount {
    registry: Registry,
    handler: BoxedHandler,
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount").field("registry", &self.registry).finish()
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
            handler: Arc::new(move |session| Box::pin(handler(session))),
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
    pub async fn dispatch(&self, route: Route, body: Bytes) -> Reply {
        let (id, request) = match route {
            Route::Open => return self.open(),
            Route::Poll { id, ack } => (id, SessionRequest::Poll { ack }),
            Route::Send { id, seq } => (id, SessionRequest::Send { seq, body }),
            Route::Close { id } => (id, SessionRequest::Close),
        };
        match self.registry.get(&id) {
            Some(handle) => handle.exchange(request).await,
            None => Reply::NotFound,
        }
    }

    fn open(&self) -> Reply {
        let handler = self.handler.clone();
        match self.registry.open(move |session| handler(session)) {
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
