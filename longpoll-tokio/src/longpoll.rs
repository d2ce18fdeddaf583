//! The `LongPoll` builder: configuration plus `connect`, which starts a session.

use crate::driver::Driver;
use crate::handle::SessionHandle;
use crate::registry::{Mount, Registry};
use crate::session::{self, Session, Side};
use longpoll_core::config::ConfigError;
use longpoll_core::{Config, ServerSession, SessionId};
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

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
}

impl Default for LongPoll {
    fn default() -> Self {
        LongPoll {
            config: Arc::new(Config::default()),
            shutdown: CancellationToken::new(),
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
        })
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

    pub(crate) fn spawn<H, F>(
        &self,
        id: SessionId,
        handler: H,
        on_exit: Option<Box<dyn FnOnce() + Send>>,
    ) -> SessionHandle
    where
        H: FnOnce(Session) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let now = tokio::time::Instant::now().into_std();
        let (session, endpoint) =
            session::channel(id.to_string(), Side::Server, self.config.max_message_bytes);
        let (requests_tx, requests_rx) = futures_channel::mpsc::unbounded();
        let span = info_span!("longpoll_session", session = %id);
        let handler = tokio::spawn(handler(session).instrument(span.clone()));
        let driver = Driver {
            id,
            core: ServerSession::new(now, self.config.clone()),
            requests: requests_rx,
            endpoint,
            handler,
            shutdown: self.shutdown.child_token(),
            on_exit,
        };
        info!(session = %id, "longpoll session opened");
        tokio::spawn(driver.run().instrument(span));
        SessionHandle {
            id,
            requests: requests_tx,
            config: self.config.clone(),
        }
    }
}
