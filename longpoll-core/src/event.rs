//! Types shared by the server and client state machines: request ids, application events,
//! close reasons and send errors.

use crate::message::{CloseFrame, Message};
use std::fmt;

/// Identifies one HTTP request in flight on one session, assigned by the state machine.
///
/// The server session hands one out for each request it is given and later answers it exactly
/// once; the client hands one out for each request it asks the driver to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What a state machine hands to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message from the peer, in order, exactly once.
    Message(Message),
    /// The session is over; no more events follow. Comes after every message received before.
    Closed(CloseReason),
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed: with a close frame, or with `DELETE` (`None`).
    ClientClosed(Option<CloseFrame>),
    /// The server application closed.
    ServerClosed(Option<CloseFrame>),
    /// No request arrived within the idle timeout (server), or the server could not be reached
    /// for that long (client).
    IdleTimeout,
    /// The server answered `404` or `410`: it no longer has the session (client only).
    SessionGone,
    /// The peer broke the protocol (client only: the server sent something impossible, or
    /// refused a request as malformed).
    ProtocolError(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn frame(f: &mut fmt::Formatter<'_>, close: &Option<CloseFrame>) -> fmt::Result {
            match close {
                Some(close) => write!(
                    f,
                    " (code {}, reason {:?})",
                    close.code,
                    close.reason.as_str()
                ),
                None => Ok(()),
            }
        }
        match self {
            CloseReason::ClientClosed(close) => {
                f.write_str("client closed")?;
                frame(f, close)
            }
            CloseReason::ServerClosed(close) => {
                f.write_str("server closed")?;
                frame(f, close)
            }
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::SessionGone => f.write_str("session gone"),
            CloseReason::ProtocolError(detail) => write!(f, "protocol error: {detail}"),
        }
    }
}

/// A message the state machine would not take; the message is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The outbound buffer is full; retry once the peer has acknowledged some messages.
    Full(Message),
    /// The message is over the message size limit; it can never be sent.
    TooLarge(Message),
    /// The session is closing or closed.
    Closed(Message),
}

impl SendError {
    /// The message that was not taken.
    pub fn into_message(self) -> Message {
        match self {
            SendError::Full(m) | SendError::TooLarge(m) | SendError::Closed(m) => m,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("outbound buffer is full"),
            SendError::TooLarge(m) => write!(f, "message of {} bytes is over the limit", m.len()),
            SendError::Closed(_) => f.write_str("session is closed"),
        }
    }
}

impl std::error::Error for SendError {}
