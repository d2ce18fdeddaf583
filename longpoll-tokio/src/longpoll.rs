//! The `LongPoll` builder: configuration plus `connect`, which starts a session.

use crate::handle::SessionHandle;
use crate::registry::{Mount, Registry};
use crate::server::{CloseWhenDone, OnClose, Shared, watchdog};
use crate::session::Session;
use crate::{Error, Message, SessionSender};
use longpoll_core::config::ConfigError;
use longpoll_core::{Config, ServerSession, SessionId};
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

/// How many random ids a [`Registry`] draws for one session before it gives up on an
/// [id filter](LongPoll::with_id_filter) (which then accepts almost nothing: a
/// misconfiguration).
pub const MAX_ID_DRAWS: usize = 4096;

/// Starts server sessions with one configuration.
///
/// ```no_run
/// use futures_util::{SinkExt, StreamExt};
/// use longpoll_tokio::LongPoll;
///
/// # async fn demo() {
/// let handle = LongPoll::default().connect(|session| async move {
///     let (mut tx, mut rx) = session.split();
///     while let Some(Ok(message)) = rx.next().await {
///         let _ = tx.send(message).await;
///     }
/// });
/// // Keep `handle` in your state; forward each HTTP request of this session to it
/// // (the framework adapters do that conversion).
/// println!("session {} opened", handle.id());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LongPoll {
    config: Arc<Config>,
    shutdown: CancellationToken,
    id_filter: Option<IdFilter>,
}

/// Which random ids a server may issue; see [`LongPoll::with_id_filter`].
#[derive(Clone)]
pub(crate) struct IdFilter(Arc<dyn Fn(&SessionId) -> bool + Send + Sync>);

impl IdFilter {
    pub(crate) fn accepts(&self, id: &SessionId) -> bool {
        (self.0)(id)
    }
}

impl std::fmt::Debug for IdFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdFilter")
    }
}

impl Default for LongPoll {
    fn default() -> Self {
        LongPoll {
            config: Arc::new(Config::default()),
            shutdown: CancellationToken::new(),
            id_filter: None,
        }
    }
}

impl LongPoll {
    /// A `LongPoll` with this configuration, once [`Config::validate`] accepts it.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(LongPoll {
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            id_filter: None,
        })
    }

    /// Issues, through a [`Registry`], only session ids that `accept` returns `true` for: ids
    /// are drawn at random until one passes (at most [`MAX_ID_DRAWS`] times; then the open is
    /// refused with `503`).
    ///
    /// This is for running several processes behind a proxy that routes each request by a
    /// hash of the id in its path: a process accepts only the ids that hash to itself, so
    /// every later request of a session it opened reaches it. Each refusal costs the id
    /// entropy: with `n` processes sharing the hash evenly, an id keeps about
    /// 128 − log2(n) random bits.
    ///
    /// ```
    /// use longpoll_tokio::LongPoll;
    ///
    /// // A toy rule: this process owns the ids that start with a digit.
    /// let longpoll = LongPoll::default()
    ///     .with_id_filter(|id| id.to_string().starts_with(|c: char| c.is_ascii_digit()));
    /// # let _ = longpoll;
    /// ```
    pub fn with_id_filter(
        mut self,
        accept: impl Fn(&SessionId) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.id_filter = Some(IdFilter(Arc::new(accept)));
        self
    }

    pub(crate) fn accepts_id(&self, id: &SessionId) -> bool {
        self.id_filter
            .as_ref()
            .is_none_or(|filter| filter.accepts(id))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts a session with a fresh random id and runs `handler` with it on a new task.
    /// Returns the handle to forward the session's requests to.
    ///
    /// When the handler returns, the session is closed (code 1000); if it panics, the
    /// session is closed with code 1011 and the server keeps serving.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if the operating system has no randomness to give.
    pub fn connect<H, F>(&self, handler: H) -> SessionHandle
    where
        H: FnOnce(Session) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let id = crate::id::random_session_id().expect("the OS random source is available");
        self.spawn(id, handler, None)
    }

    /// Protocol v1 ready to mount: a fresh [`Registry`] (no cap on sessions) and `handler`
    /// for every session opened through it. Framework adapters take the result.
    pub fn mount<H, F>(self, handler: H) -> Mount
    where
        H: Fn(Session) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        Mount::new(Registry::new(self, None), handler)
    }

    /// Closes every session started from this `LongPoll` (or its clones) with code 1001
    /// "going away": held polls are answered at once with what is queued and the close frame.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called (on this `LongPoll` or a clone).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Starts a callback session with a fresh random id: `on_open` gets the session's
    /// [`SessionSender`] and returns the callback for what arrives (see
    /// [`mount_callback`](Self::mount_callback)). Returns the handle to forward the
    /// session's requests to.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if the operating system has no randomness to give.
    pub fn connect_callback<O, C>(&self, on_open: O) -> SessionHandle
    where
        O: FnOnce(SessionSender) -> C,
        C: FnMut(Result<Message, Error>) + Send + 'static,
    {
        let id = crate::id::random_session_id().expect("the OS random source is available");
        self.start_callback(id, on_open, None)
    }

    /// Protocol v1 ready to mount, with a callback per session instead of a task: a fresh
    /// [`Registry`] (no cap on sessions), and `on_open`, called for every session opened
    /// through it with the session's [`SessionSender`]. It returns the session's callback,
    /// which is then called with each item a [`Session`] stream would yield: every message in
    /// order and exactly once, then the end (the client's close as
    /// `Ok(Message::Close(frame))`, any other end as `Err(Error::Ended(reason))`, nothing when
    /// the application closed the session itself). After the end it is dropped.
    ///
    /// The callback runs in the task of the request that brought the message (the session's
    /// timer task for a timeout or a server shutdown), one call at a time, so no task wakes
    /// up for the application: the cheapest way to serve a session whose replies are computed
    /// at once. What it sends while it takes a send's messages goes back in that send's answer
    /// when the send carried `ack` (`PROTOCOL.md` section 5.3), so a request and its reply
    /// cost one HTTP exchange; otherwise the held poll takes it. It must not block. A callback
    /// that panics closes its session with code 1011; the server keeps serving.
    ///
    /// ```
    /// use longpoll_tokio::{LongPoll, Message};
    ///
    /// // Echo every message back, as it arrives.
    /// let mount = LongPoll::default().mount_callback(|sender| {
    ///     move |item: Result<Message, _>| {
    ///         if let Ok(message @ (Message::Text(_) | Message::Binary(_))) = item {
    ///             // Waits in the session if the client is behind (and pauses this
    ///             // callback meanwhile); gives the message back once the session closed.
    ///             let _ = sender.send(message);
    ///         }
    ///     }
    /// });
    /// # let _ = mount;
    /// ```
    pub fn mount_callback<O, C>(self, on_open: O) -> Mount
    where
        O: Fn(SessionSender) -> C + Send + Sync + 'static,
        C: FnMut(Result<Message, Error>) + Send + 'static,
    {
        Mount::with_callback(Registry::new(self, None), on_open)
    }

    pub(crate) fn spawn<H, F>(
        &self,
        id: SessionId,
        handler: H,
        on_close: Option<OnClose>,
    ) -> SessionHandle
    where
        H: FnOnce(Session) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.start(id, on_close);
        let shared = handle.shared.clone();
        let session = Session::server(shared.clone(), self.config.max_message_bytes);
        let span = info_span!("longpoll_session", session = %id);
        let close_when_done = CloseWhenDone(shared);
        let handler = handler(session);
        tokio::spawn(
            async move {
                // Dropped when the handler returns or panics: the session closes then.
                let _close_when_done = close_when_done;
                handler.await;
            }
            .instrument(span),
        );
        handle
    }

    pub(crate) fn start_callback<O, C>(
        &self,
        id: SessionId,
        on_open: O,
        on_close: Option<OnClose>,
    ) -> SessionHandle
    where
        O: FnOnce(SessionSender) -> C,
        C: FnMut(Result<Message, Error>) + Send + 'static,
    {
        let handle = self.start(id, on_close);
        let callback = on_open(SessionSender::new(handle.shared.clone()));
        handle.shared.lock().callback = Some(Box::new(callback));
        handle
    }

    /// A new session's state and its watchdog: what both kinds of session have.
    fn start(&self, id: SessionId, on_close: Option<OnClose>) -> SessionHandle {
        let now = tokio::time::Instant::now().into_std();
        let core = ServerSession::new(now, self.config.clone());
        let shared = Arc::new(Shared::new(id, core, on_close));
        tokio::spawn(watchdog(shared.clone(), self.shutdown.clone()));
        info!(session = %id, "longpoll session opened");
        SessionHandle {
            id,
            shared,
            config: self.config.clone(),
        }
    }
}
