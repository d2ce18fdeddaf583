//! The Rust client of longpoll: HTTP long polling that never loses a message.
//!
//! [`Client::connect`] opens a session on a longpoll server (`POST {base}`) and returns the
//! same [`Session`] the server side uses: a `Stream` of received [`Message`]s and a `Sink` of
//! messages to send, split like a WebSocket. Polls, acknowledgements, retries with backoff,
//! re-sends and timeouts are handled by a driver task that runs
//! [`longpoll_core::ClientSession`], the protocol's client state machine, over hyper.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use longpoll_client::{Client, CloseFrame, Message};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let session = Client::new().connect("http://127.0.0.1:3000/longpoll").await?;
//! let (mut tx, mut rx) = session.split();
//! tx.send(Message::from("hello")).await?;
//! while let Some(item) = rx.next().await {
//!     match item? {
//!         Message::Text(text) => println!("server says {text}"),
//!         Message::Binary(bytes) => println!("{} bytes", bytes.len()),
//!         Message::Close(frame) => println!("server closed: {frame:?}"),
//!     }
//! }
//! // Or close it ourselves: everything sent before is delivered first.
//! tx.send(Message::Close(Some(CloseFrame::new(1000, "bye")))).await.ok();
//! # Ok(()) }
//! ```
//!
//! # What the client guarantees
//!
//! Every message either side sends is delivered to the other side's application once and in
//! order, even when requests or responses are lost, cut short or duplicated on the way
//! (`PROTOCOL.md`, section 11). A lost poll response is fetched again with the same `ack`; a
//! send whose answer is lost is repeated with the same `seq` and the server drops what it
//! already has.
//!
//! # Transport
//!
//! Plain HTTP/1.1 only for now: base URLs are `http://host[:port][/path]`. There is **no TLS
//! support yet** (`https://` URLs are refused with [`ConnectError::InvalidUrl`]); run it
//! behind a TLS-terminating proxy or on a trusted network. Session ids are bearer
//! credentials, so do not use plain HTTP across networks you do not trust.
//!
//! Each session uses at most two requests at a time (a poll and a send), plus a short
//! `DELETE` when it ends; connections are pooled per [`Client`], so clone a `Client` rather
//! than building one per session. Sends carry `ack`, so a server reply made while it takes a
//! message comes back in that send's answer and the poll stays parked (`PROTOCOL.md` section
//! 5.3); [`ClientConfig::ack_on_send`] turns that off.
//!
//! # Runtime
//!
//! The client runs on tokio: [`Client::connect`] must be called inside a tokio runtime (it
//! spawns the session's driver task and one task per HTTP request).

mod client;
mod driver;
mod error;
mod fetch;
mod url;

pub use client::{
    Client, DEFAULT_MAX_OPEN_RESPONSE_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_OPEN_TIMEOUT,
    DELETE_TIMEOUT,
};
pub use error::ConnectError;
pub use longpoll_core::params::ParamsError;
pub use longpoll_core::{ClientConfig, CloseFrame, CloseReason, Utf8Bytes, close_code};
pub use longpoll_tokio::{Error, Message, Session};
