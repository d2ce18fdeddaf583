//! The application's message type, shaped like axum's `extract::ws::Message`.

use bytes::Bytes;
use longpoll_core::{CloseFrame, Utf8Bytes};

/// A message sent or received over a [`Session`](crate::Session).
///
/// `Text` and `Binary` are data. `Close` is the peer's close frame when received (the last
/// item before the stream ends), and closes the session when sent.
///
/// ```
/// use longpoll_tokio::Message;
///
/// let text = Message::from("hello");
/// assert_eq!(text.as_text(), Some("hello"));
/// let binary = Message::from(vec![1u8, 2, 3]);
/// assert_eq!(binary.as_bytes().map(|b| b.len()), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// UTF-8 text.
    Text(Utf8Bytes),
    /// Bytes.
    Binary(Bytes),
    /// A close frame; `None` when the close carried no code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes, for a text or binary message.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Message::Text(text) => Some(text.as_bytes()),
            Message::Binary(bytes) => Some(bytes),
            Message::Close(_) => None,
        }
    }

    /// The payload, for a text or binary message (a close has none).
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(bytes) => bytes,
            Message::Close(_) => Bytes::new(),
        }
    }
}

impl From<longpoll_core::Message> for Message {
    fn from(message: longpoll_core::Message) -> Self {
        match message {
            longpoll_core::Message::Text(text) => Message::Text(text),
            longpoll_core::Message::Binary(bytes) => Message::Binary(bytes),
        }
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

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Self {
        Message::Text(text)
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
