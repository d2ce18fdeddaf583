//! The application's end of a session: a `Stream` of received messages and a `Sink` of
//! messages to send, like axum's `WebSocket`.

use crate::{Error, Message, server};
use futures_channel::mpsc;
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use futures_util::{SinkExt, StreamExt};
use longpoll_core::{CloseFrame, CloseReason, Event};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

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
/// - any other reason (idle timeout, the session was forgotten, a protocol error, or server
///   shutdown, which closes every session with 1001 "going away" on the application's
///   behalf): `Err(Error::Ended(reason))`;
/// - this side's application closed it: nothing more, the stream just ends.
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
    link: Link,
    max_message_bytes: usize,
    reason: Option<CloseReason>,
    terminated: bool,
    /// The application asked to close (a close message, or closing the sink). Only then is
    /// a close by this side the application's own doing; otherwise (server shutdown) the
    /// stream reports the reason as an error.
    closed_here: bool,
}

/// How a `Session` reaches its protocol state machine.
#[derive(Debug)]
enum Link {
    /// Through channels to a task that owns the state machine (the client).
    Channels {
        events: mpsc::Receiver<Event>,
        outgoing: mpsc::Sender<Outgoing>,
    },
    /// Directly, under the session's lock (the server: no task in between).
    Server(Arc<server::Shared>),
}

/// The driver's end of a session that a task drives through channels (the client's; server
/// sessions need no task). Applications do not need this; it is public so other drivers can
/// build a [`Session`].
#[derive(Debug)]
pub struct SessionEndpoint {
    /// Where events for the application go, in order; [`Event::Closed`] last.
    pub events: EventSender,
    /// What the application sends.
    pub outgoing: OutgoingReceiver,
}

/// The driver's side of the application's event stream.
#[derive(Debug)]
pub struct EventSender(mpsc::Sender<Event>);

impl EventSender {
    /// Hands an event to the application. Gives it back when the application's buffer is
    /// full (wait for [`room`](Self::room)); drops it when the application has dropped its
    /// stream (nobody listens).
    pub fn try_deliver(&mut self, event: Event) -> Result<(), Event> {
        match self.0.try_send(event) {
            Ok(()) => Ok(()),
            Err(error) if error.is_full() => Err(error.into_inner()),
            Err(_) => Ok(()),
        }
    }

    /// Waits until the application's buffer has room for one more event. Returns at once
    /// (false) if the application dropped its stream.
    pub async fn room(&mut self) -> bool {
        poll_fn(|cx| self.0.poll_ready(cx)).await.is_ok()
    }
}

/// The driver's side of what the application sends.
#[derive(Debug)]
pub struct OutgoingReceiver(mpsc::Receiver<Outgoing>);

impl OutgoingReceiver {
    /// The next thing the application sends; `None` once it dropped its sending half.
    /// Cancel safe.
    pub async fn next(&mut self) -> Option<Outgoing> {
        self.0.next().await
    }

    /// What the application has sent, without waiting: `Ready(Some(_))` the next item,
    /// `Ready(None)` once it dropped its sending half, `Pending` when nothing is queued now.
    pub fn try_next(&mut self) -> Poll<Option<Outgoing>> {
        match self.0.try_recv() {
            Ok(item) => Poll::Ready(Some(item)),
            Err(mpsc::TryRecvError::Closed) => Poll::Ready(None),
            Err(mpsc::TryRecvError::Empty) => Poll::Pending,
        }
    }
}

/// Messages buffered between the application and the driver, each way, beyond the protocol
/// buffers. Small, since the protocol's own buffers hold the bulk and these are bounded by
/// count only (at most this many messages of up to `max_message_bytes` each); large enough
/// that a burst of sends reaches the driver in one wake-up and leaves in one batch.
pub const CHANNEL_CAPACITY: usize = 32;

/// Creates a connected [`Session`] and [`SessionEndpoint`] pair, for a driver task.
///
/// `id` is the session id as it appears in URLs; `max_message_bytes` is the largest message
/// the peer accepts (sending a larger one fails at once with [`Error::TooLarge`]).
pub fn channel(
    id: impl Into<Arc<str>>,
    side: Side,
    max_message_bytes: usize,
) -> (Session, SessionEndpoint) {
    // futures-channel's queues allocate per message, not a block of slots up front: an idle
    // session costs a few hundred bytes here instead of kilobytes.
    let (events_tx, events_rx) = mpsc::channel(CHANNEL_CAPACITY);
    // A few slots, so a burst of sends reaches the driver in one wake-up and leaves in one
    // batch; the driver takes messages only while the protocol has room, so `send` still
    // waits on the protocol's limits (plus these few messages).
    let (outgoing_tx, outgoing_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let link = Link::Channels {
        events: events_rx,
        outgoing: outgoing_tx,
    };
    let session = Session::with_link(id.into(), side, link, max_message_bytes);
    let endpoint = SessionEndpoint {
        events: EventSender(events_tx),
        outgoing: OutgoingReceiver(outgoing_rx),
    };
    (session, endpoint)
}

impl Session {
    fn with_link(id: Arc<str>, side: Side, link: Link, max_message_bytes: usize) -> Self {
        Session {
            id,
            side,
            link,
            max_message_bytes,
            reason: None,
            terminated: false,
            closed_here: false,
        }
    }

    /// The application's end of a server session driven through `shared`.
    pub(crate) fn server(shared: Arc<server::Shared>, max_message_bytes: usize) -> Self {
        let id = shared.id.to_string().into();
        Session::with_link(id, Side::Server, Link::Server(shared), max_message_bytes)
    }

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
        last_item(self.side, reason, self.closed_here)
    }
}

/// The last item a session's stream yields for its end: the peer's close as a message, or the
/// reason as an error, or nothing when this side's application closed it (`closed_here`).
pub(crate) fn last_item(
    side: Side,
    reason: CloseReason,
    closed_here: bool,
) -> Option<Result<Message, Error>> {
    match (side, reason) {
        (Side::Server, CloseReason::ClientClosed(frame))
        | (Side::Client, CloseReason::ServerClosed(frame)) => Some(Ok(Message::Close(frame))),
        (Side::Server, CloseReason::ServerClosed(_))
        | (Side::Client, CloseReason::ClientClosed(_))
            if closed_here =>
        {
            None
        }
        (_, reason) => Some(Err(Error::Ended(reason))),
    }
}

impl Stream for Session {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.terminated {
            return Poll::Ready(None);
        }
        let event = match &mut self.link {
            Link::Channels { events, .. } => ready!(events.poll_next_unpin(cx)),
            Link::Server(shared) => Some(ready!(server::app::poll_event(shared, cx))),
        };
        match event {
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
        match &mut self.link {
            Link::Channels { outgoing, .. } => outgoing.poll_ready(cx).map_err(|_| Error::Closed),
            Link::Server(shared) => server::app::poll_ready(shared, cx),
        }
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let item = match message {
            Message::Text(text) => longpoll_core::Message::Text(text),
            Message::Binary(bytes) => longpoll_core::Message::Binary(bytes),
            Message::Close(frame) => {
                self.closed_here = true;
                return self.hand_over(Outgoing::Close(frame));
            }
        };
        if item.len() > self.max_message_bytes {
            return Err(Error::TooLarge {
                len: item.len(),
                max: self.max_message_bytes,
            });
        }
        self.hand_over(Outgoing::Message(item))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Handing a message to the driver is as far as a flush can go: delivery happens when
        // the peer polls.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.closed_here = true;
        match &mut self.link {
            Link::Channels { outgoing, .. } => {
                if outgoing.is_closed() {
                    return Poll::Ready(Ok(()));
                }
                if ready!(outgoing.poll_ready(cx)).is_ok() {
                    let _ = outgoing.start_send(Outgoing::Close(None));
                }
                outgoing.close_channel();
            }
            // A message still waiting for room goes first, then the close.
            Link::Server(shared) => {
                if ready!(server::app::poll_ready(shared, cx)).is_ok() {
                    server::app::close(shared, None);
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Session {
    /// Hands a message or the close to the driver (after `poll_ready`).
    fn hand_over(&mut self, item: Outgoing) -> Result<(), Error> {
        match (&mut self.link, item) {
            (Link::Channels { outgoing, .. }, item) => {
                outgoing.start_send(item).map_err(|_| Error::Closed)
            }
            (Link::Server(shared), Outgoing::Message(message)) => {
                server::app::start_send(shared, message);
                Ok(())
            }
            (Link::Server(shared), Outgoing::Close(frame)) => {
                server::app::close(shared, frame);
                Ok(())
            }
        }
    }
}
