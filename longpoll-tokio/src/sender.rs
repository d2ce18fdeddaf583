//! The sending end of a callback session: queue without waiting, from anywhere.

use crate::Message;
use crate::server::{Shared, callback};
use longpoll_core::{CloseFrame, SessionId};
use std::fmt;
use std::sync::Arc;

/// Sends on a callback session (see [`LongPoll::mount_callback`](crate::LongPoll::mount_callback)).
/// Cheap to clone; keep clones wherever messages for the session come from.
///
/// It never blocks. [`send`](Self::send) queues a message, or lets it wait in the session
/// while the outbound buffer is full (pausing the callback, so the client's sends wait too);
/// [`try_send`](Self::try_send) gives it back instead. A producer that runs ahead of its
/// client on its own (not in reply to messages) is better served by a
/// [`Session`](crate::Session), whose `send` waits.
#[derive(Clone)]
pub struct SessionSender {
    shared: Arc<Shared>,
}

impl SessionSender {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SessionSender { shared }
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.shared.id
    }

    /// Queues `message` for the client; a held poll takes it at once (or, sent from the
    /// callback, the answer to the send whose message it is taking, if that send carried
    /// `ack`: `PROTOCOL.md` section 5.3). When the outbound buffer (messages the client has
    /// not acknowledged yet) is full, the message waits in the session for room, and the
    /// callback is not called again until it has gone in: received messages wait in the
    /// session meanwhile, and the client's sends are held, then refused with `503` and
    /// retried. That is backpressure, as a [`Session`](crate::Session)'s `send` gives, and
    /// nothing is lost.
    ///
    /// [`Message::Close`] closes the session, like [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// Gives the message back, unsent: [`TrySendError::Full`] while another message waits
    /// for room (only one can), [`TrySendError::TooLarge`] over the session's size limit,
    /// [`TrySendError::Closed`] once the session is closing or closed.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        callback::queue(&self.shared, message.into(), true)
    }

    /// Queues `message` only if the outbound buffer has room now, as [`send`](Self::send)
    /// does otherwise: for messages the application would rather drop (or handle some other
    /// way) than wait with.
    ///
    /// # Errors
    ///
    /// Gives the message back, unsent, when the buffer is full (or a message waits for room),
    /// the message is over the session's size limit, or the session is closing or closed.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        callback::queue(&self.shared, message.into(), false)
    }

    /// Closes the session: everything queued before (a message waiting for room included) is
    /// still delivered, then the close frame. The callback is not called again. Closing a
    /// closed (or closing) session does nothing.
    pub fn close(&self, frame: Option<CloseFrame>) {
        callback::close(&self.shared, frame);
    }

    /// Whether the session has ended (closed; its requests are answered `410`).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().core.is_closed()
    }
}

impl fmt::Debug for SessionSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSender")
            .field("session", &self.shared.id)
            .finish()
    }
}

/// Why [`SessionSender::try_send`] did not queue a message. Each case gives the message back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySendError {
    /// The outbound buffer is full: the client has not acknowledged enough yet. Try again
    /// later, or drop the message, or close the session; that is the application's policy.
    Full(Message),
    /// The message is over the session's message size limit; it can never be sent.
    TooLarge(Message),
    /// The session is closing or closed.
    Closed(Message),
}

impl TrySendError {
    /// The message that was not sent.
    pub fn into_message(self) -> Message {
        match self {
            TrySendError::Full(message)
            | TrySendError::TooLarge(message)
            | TrySendError::Closed(message) => message,
        }
    }
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "the session's outbound buffer is full",
            TrySendError::TooLarge(_) => "the message is over the session's size limit",
            TrySendError::Closed(_) => "the session is closed",
        })
    }
}

impl std::error::Error for TrySendError {}
