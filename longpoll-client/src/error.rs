//! Why a session could not be opened.

use longpoll_core::params::ParamsError;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Why [`Client::connect`](crate::Client::connect) could not open a session.
///
/// Nothing is retried automatically: a caller that wants to retry (for example after a
/// `503`, honouring [`retry_after`](ConnectError::retry_after)) calls `connect` again.
///
/// ```
/// use longpoll_client::{Client, ConnectError};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let error = Client::new().connect("https://example.com/longpoll").await.unwrap_err();
/// assert!(matches!(error, ConnectError::InvalidUrl { .. }));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The base URL is not an absolute `http://` URL without query or fragment.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The open request got no complete HTTP answer: the connection was refused or reset,
    /// or the response body was cut short.
    Http(Box<dyn StdError + Send + Sync>),
    /// No answer within the client's open timeout
    /// ([`Client::with_open_timeout`](crate::Client::with_open_timeout)).
    TimedOut(Duration),
    /// The server answered with a status other than `2xx`.
    Status {
        /// The status code, for example `404` (wrong base URL) or `503` (session cap reached).
        status: u16,
        /// The `Retry-After` header, in seconds, if the server sent one.
        retry_after: Option<Duration>,
    },
    /// The open response body is longer than the client accepts.
    ResponseTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The server answered `2xx`, but its body is not a protocol v1 open response
    /// (`PROTOCOL.md`, section 3.1).
    InvalidResponse(ParamsError),
}

impl ConnectError {
    /// The HTTP status, when the server answered with one other than `2xx`.
    ///
    /// ```
    /// use longpoll_client::ConnectError;
    ///
    /// let error = ConnectError::Status { status: 503, retry_after: None };
    /// assert_eq!(error.status(), Some(503));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked the client to wait before trying again (`Retry-After`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use longpoll_client::ConnectError;
    ///
    /// let error = ConnectError::Status { status: 503, retry_after: Some(Duration::from_secs(1)) };
    /// assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidUrl { url, reason } => {
                write!(f, "invalid longpoll base URL {url:?}: {reason}")
            }
            ConnectError::Http(error) => write!(f, "opening the session failed: {error}"),
            ConnectError::TimedOut(after) => {
                write!(f, "opening the session timed out after {after:?}")
            }
            ConnectError::Status {
                status,
                retry_after,
            } => {
                write!(f, "the server refused to open a session: status {status}")?;
                if let Some(after) = retry_after {
                    write!(f, " (retry after {} s)", after.as_secs())?;
                }
                Ok(())
            }
            ConnectError::ResponseTooLarge { max } => {
                write!(f, "the open response is over the limit of {max} bytes")
            }
            ConnectError::InvalidResponse(error) => {
                write!(f, "the server's open response is not usable: {error}")
            }
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ConnectError::Http(error) => Some(&**error),
            ConnectError::InvalidResponse(error) => Some(error),
            _ => None,
        }
    }
}
