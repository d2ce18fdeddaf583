//! Errors of the session API.

use longpoll_core::CloseReason;
use std::fmt;

/// Why a [`Session`](crate::Session) could not receive or send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The session ended for this reason without a close from the peer: the idle timeout,
    /// the server forgetting the session, a protocol error, or a server shutdown. The stream
    /// yields this as its last item.
    Ended(CloseReason),
    /// The session is closed: nothing more can be sent.
    Closed,
    /// The message is over the session's message size limit; it was not sent.
    TooLarge {
        /// The message's payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl Error {
    /// The close reason, when the session ended with one.
    pub fn reason(&self) -> Option<&CloseReason> {
        match self {
            Error::Ended(reason) => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Ended(reason) => write!(f, "session ended: {reason}"),
            Error::Closed => f.write_str("session is closed"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes is over the limit of {max} bytes")
            }
        }
    }
}

impl std::error::Error for Error {}
