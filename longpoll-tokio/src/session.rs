//! The application's end of a session: a `Stream` of received messages and a `Sink` of
//! messages to send, like axum's `WebSocket`.

use crate::{Error, Message};
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use futures_util::{SinkExt, StreamExt};
use longpoll_core::{CloseFrame, CloseReason, Event};
use std::sync::Arc;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// Which end of the protocol a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server's end: the peer is the client.
    Server,
    /// The client's end: the peer is the server.
    Client,
}

/// What the application hands to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A message to queue.
    Message(longpoll_core::Message),
    /// Close the session after everything queued before.
    Close(Option<CloseFrame>),
}

/// One long-polling session, from the application's side.
///
/// Receive with [`recv`](Session::recv) or as a [`Stream`] of `Result<Message, Error>`; send
/// with [`send`](Session::send) or as a [`Sink`]; [`split`](StreamExt::split) it to do both
/// from different tasks, exactly like a WebSocket:
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use longpoll_tokio::{Message, Session};
///
/// async fn echo(session: Session) {
///     let (mut tx, mut rx) = session.split();
///     while let Some(Ok(message)) = rx.next().await {
///         if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
/// ```
///
/// **How it ends.** Messages arrive in order and exactly once. When the session ends the
/// stream yields one last item, then `None`:
/// - the peer closed: `Ok(Message::Close(frame))`;
/// - any other reason (idle timeout, server shutdown, the session was forgotten, a protocol
///   error): `Err(Error::Ended(reason))`;
/// - this side closed it: nothing more, the stream just ends.
///
/// [`close_reason`](Session::close_reason) tells the reason afterwards in every case.
///
/// **Backpressure.** `send` waits while the outbound buffer (messages the peer has not yet
/// acknowledged) is full; nothing is dropped. Received messages wait in a bounded buffer
/// until the application takes them; when it is full the peer's sends are held, then refused
/// with `503` and retried.
///
/// **Cancel safety.** `recv` is cancel safe: a message is either returned or still there for
/// the next call. `send` is not: if cancelled before it completes, the message may not have
/// been queued (it is never queued twice, and never half-sent).
#[derive(Debug)]
pub struct Session {
    id: Arc<str>,
    side: Side,
    events: mpsc::Receiver<Event>,
    outgoing: PollSender<Outgoing>,
    max_message_bytes: usize,
    reason: Option<CloseReason>,
    terminated: bool,
}

/// The driver's end of a session (the server task, or the client task). Applications do not
/// need this; it is public so other drivers can build a [`Session`].
#[derive(Debug)]
pub struct SessionEndpoint {
    /// Events for the application, in order. Send [`Event::Closed`] last.
    pub events: mpsc::Sender<Event>,
    /// What the application sends. `None` from `recv` means the application dropped its
    /// sending half.
    pub outgoing: mpsc::Receiver<Outgoing>,
}

/// Messages buffered between the application and the driver, each way, beyond the protocol
/// buffers (small: the protocol's own buffers hold the bulk).
pub const CHANNEL_CAPACITY: usize = 16;

/// Creates a connected [`Session`] and [`SessionEndpoint`] pair.
///
/// `id` is the session id as it appears in URLs; `max_message_bytes` is the largest message
/// the peer accepts (sending a larger one fails at once with [`Error::TooLarge`]).
pub fn channel(
    id: impl Into<Arc<str>>,
    side: Side,
    max_message_bytes: usize,
) -> (Session, SessionEndpoint) {
    let (events_tx, events_rx) = mpsc::channel(CHANNEL_CAPACITY);
    // One slot: the driver takes a message only when the protocol has room for it, so
    // `send` waits on the protocol's limits rather than on a deep channel.
    let (outgoing_tx, outgoing_rx) = mpsc::channel(1);
    let session = Session {
        id: id.into(),
        side,
        events: events_rx,
        outgoing: PollSender::new(outgoing_tx),
        max_message_bytes,
        reason: None,
        terminated: false,
    };
    let endpoint = SessionEndpoint {
        events: events_tx,
        outgoing: outgoing_rx,
    };
    (session, endpoint)
}

impl Session {
    /// The session's id, as it appears in URLs.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Why the session ended, once the stream has reported its end.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.reason.as_ref()
    }

    /// The next message, `None` once the session has ended. Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.next().await
    }

    /// Sends a message, waiting while the outbound buffer is full. Sending
    /// [`Message::Close`] closes the session.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        SinkExt::send(self, message).await
    }

    /// Closes the session: everything sent before is still delivered, then the close frame.
    /// The stream ends once the peer has the close (or the session times out).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.send(Message::Close(frame)).await
    }

    fn end_item(&mut self, reason: CloseReason) -> Option<Result<Message, Error>> {
        self.reason = Some(reason.clone());
        self.terminated = true;
        match (self.side, reason) {
            (Side::Server, CloseReason::ClientClosed(frame))
            | (Side::Client, CloseReason::ServerClosed(frame)) => Some(Ok(Message::Close(frame))),
            (Side::Server, CloseReason::ServerClosed(_))
            | (Side::Client, CloseReason::ClientClosed(_)) => None,
            (_, reason) => Some(Err(Error::Ended(reason))),
        }
    }
}

impl Stream for Session {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.terminated {
            return Poll::Ready(None);
        }
        match ready!(self.events.poll_recv(cx)) {
            Some(Event::Message(message)) => Poll::Ready(Some(Ok(message.into()))),
            Some(Event::Closed(reason)) => Poll::Ready(self.end_item(reason)),
            // The driver went away without a close (its runtime is shutting down).
            None => {
                self.terminated = true;
                Poll::Ready(None)
            }
        }
    }
}

impl FusedStream for Session {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl Sink<Message> for Session {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.outgoing.poll_reserve(cx).map_err(|_| Error::Closed)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let item = match message {
            Message::Text(text) => longpoll_core::Message::Text(text),
            Message::Binary(bytes) => longpoll_core::Message::Binary(bytes),
            Message::Close(frame) => {
                return self
                    .outgoing
                    .send_item(Outgoing::Close(frame))
                    .map_err(|_| Error::Closed);
            }
        };
        if item.len() > self.max_message_bytes {
            // Give the reserved slot back so the next send can use it.
            self.outgoing.abort_send();
            return Err(Error::TooLarge {
                len: item.len(),
                max: self.max_message_bytes,
            });
        }
        self.outgoing
            .send_item(Outgoing::Message(item))
            .map_err(|_| Error::Closed)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Handing a message to the driver is as far as a flush can go: delivery happens when
        // the peer polls.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.outgoing.is_closed() {
            return Poll::Ready(Ok(()));
        }
        match ready!(self.outgoing.poll_reserve(cx)) {
            Ok(()) => {
                let _ = self.outgoing.send_item(Outgoing::Close(None));
            }
            Err(_) => return Poll::Ready(Ok(())),
        }
        self.outgoing.close();
        Poll::Ready(Ok(()))
    }
}
