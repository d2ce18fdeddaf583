//! Messages an application exchanges over a session: text, binary, and the close frame.

use bytes::Bytes;
use std::fmt;

/// Bytes that are known to be valid UTF-8, shared without copying.
///
/// A text message's payload. Cloning is cheap (it clones a [`Bytes`] handle).
///
/// ```
/// use longpoll_core::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps a `'static` string without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor checks UTF-8, so this cannot fail; fall back to "" rather than panic.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Unwraps the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The bytes were not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Offset of the first byte that is not part of a valid UTF-8 sequence.
    pub valid_up_to: usize,
}

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid UTF-8 after byte {}", self.valid_up_to)
    }
}

impl std::error::Error for InvalidUtf8 {}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;

    fn try_from(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Utf8Bytes(bytes)),
            Err(e) => Err(InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            }),
        }
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A data message: what the application sends and receives.
///
/// The close handshake is not a `Message`; it travels as a [`CloseFrame`] through the
/// sessions' `close` calls and close reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message (frame kind `0x01`).
    Text(Utf8Bytes),
    /// A binary message (frame kind `0x02`).
    Binary(Bytes),
}

impl Message {
    /// Length of the payload in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.into())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text.into())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(bytes.into())
    }
}

/// A close code and reason, as in a WebSocket close frame (frame kind `0x03`).
///
/// Codes follow the WebSocket registry: `1000` normal, `1001` going away, `4000..=4999` for
/// applications. The reason is UTF-8 text.
///
/// ```
/// use longpoll_core::CloseFrame;
///
/// let frame = CloseFrame::new(4000, "requested");
/// assert_eq!(frame.code, 4000);
/// assert_eq!(frame.reason, "requested");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: u16,
    /// Why the session closed; may be empty.
    pub reason: Utf8Bytes,
}

/// Longest close reason in bytes (123, as in WebSocket): a close frame's payload is at most
/// 125 bytes whatever the message size limit, so it always fits a body.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

impl CloseFrame {
    /// A close frame with this code and reason. A reason over [`MAX_CLOSE_REASON_BYTES`] is
    /// cut at the last character boundary that fits.
    pub fn new(code: u16, reason: impl Into<Utf8Bytes>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
        .truncated()
    }

    /// This frame with its reason cut to [`MAX_CLOSE_REASON_BYTES`] at a character boundary.
    /// The sessions apply it to every close frame they send.
    pub fn truncated(mut self) -> Self {
        if self.reason.len() > MAX_CLOSE_REASON_BYTES {
            let text = self.reason.as_str();
            let mut end = MAX_CLOSE_REASON_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = self.reason.as_bytes().slice(..end);
            self.reason = Utf8Bytes::try_from(cut).unwrap_or_default();
        }
        self
    }
}

/// Well-known close codes (the WebSocket registry's, reused with the same meaning).
pub mod close_code {
    /// The purpose of the session was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down or the page is navigating away.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message was too large to accept.
    pub const TOO_BIG: u16 = 1009;
    /// The server hit an unexpected condition (for example, the application's handler panicked).
    pub const INTERNAL_ERROR: u16 = 1011;
}
