//! The handle an application (or an adapter) uses to forward HTTP exchanges to a session.

use crate::server::{Exchange, Shared};
use bytes::Bytes;
use longpoll_core::{Config, Reply, SessionId, SessionParams};
use std::sync::Arc;

/// One protocol request for an existing session, already parsed from HTTP (adapters build it
/// from [`longpoll_core::Route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRequest {
    /// `GET {base}/{id}?ack=N`.
    Poll {
        /// Server messages the client has received.
        ack: u64,
    },
    /// `POST {base}/{id}?seq=N` with its body, read under the body limit.
    Send {
        /// Sequence number of the first frame.
        seq: u64,
        /// `&ack=M`, if the client sent it: the answer may then carry server messages
        /// (`PROTOCOL.md` section 5.3), those a callback session queues while it takes the
        /// body's messages included.
        ack: Option<u64>,
        /// The frames.
        body: Bytes,
    },
    /// `DELETE {base}/{id}`.
    Close,
}

/// Forwards requests to one session. Cheap to clone; keep it wherever you keep sessions.
///
/// This is the primitive the project started from: the application stores handles itself and
/// hands each request to [`exchange`](SessionHandle::exchange). Framework adapters wrap it to
/// take and return their own request and response types.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub(crate) id: SessionId,
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: Arc<Config>,
}

impl SessionHandle {
    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// What to answer `POST {base}` with: the id, timeouts and limits a client needs
    /// ([`SessionParams::to_json`] gives the JSON).
    pub fn params(&self) -> SessionParams {
        SessionParams::new(self.id, &self.config)
    }

    /// The session's configuration (adapters read the body limit, the body read timeout and
    /// the origin policy from it).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The largest `POST` body the session takes (adapters read bodies under this limit).
    pub fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    /// Whether the session has ended (it is closed; requests get `410`).
    pub fn is_finished(&self) -> bool {
        self.shared.lock().core.is_closed()
    }

    /// Hands one request to the session and waits for its answer. A poll may wait up to the
    /// poll timeout. Once the session has ended the answer is `410` (`204` for `DELETE`, so
    /// a retried close succeeds).
    ///
    /// A request the core answers at once is answered without waking any other task; a held
    /// one waits for whoever answers it (the application sending, the next request, its
    /// deadline).
    ///
    /// Cancel safe in the protocol's sense: dropping the future is how a client disconnect
    /// reaches the session, which then forgets the request. The future owns what it needs
    /// (it does not borrow the handle) and is a few words in size.
    pub fn exchange(&self, request: SessionRequest) -> Exchange {
        Exchange::new(self.shared.clone(), request)
    }

    /// [`exchange`](SessionHandle::exchange) for a handle you no longer need (saves a
    /// reference count).
    pub(crate) fn into_exchange(self, request: SessionRequest) -> Exchange {
        Exchange::new(self.shared, request)
    }
}

/// The answer to a request for a session that has ended: `410`, except that `DELETE` gets
/// `204` so a retried close succeeds.
pub(crate) fn answer_after_close(request_is_close: bool) -> Reply {
    if request_is_close {
        Reply::NoContent
    } else {
        Reply::Gone
    }
}
