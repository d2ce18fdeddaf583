//! The server side of one session: a deterministic state machine with no I/O and no clock.
//!
//! See the crate documentation for the drive loop. In short: feed each request to a
//! `handle_*` method (which returns the request's [`RequestId`]), feed the application's sends
//! to [`ServerSession::send`], call [`ServerSession::handle_timeout`] when
//! [`ServerSession::poll_timeout`] passes, and after every call drain
//! [`ServerSession::poll_response`] (answer those requests) and, while the application has
//! room, [`ServerSession::poll_event`] (hand those to the application).

use crate::config::Config;
use crate::deadline::saturating_add;
use crate::event::{CloseReason, Event, RequestId, SendError};
use crate::message::{CloseFrame, Message};
use crate::outbound::OutboundQueue;
use crate::reply::{BadRequest, Conflict, Reply};
use crate::wire::{Frame, Frames, decode_frames};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// The answer to one request: send `reply` as the response to `request`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Response {
    /// The request to answer, as returned by the `handle_*` call that took it.
    pub request: RequestId,
    /// What to answer.
    pub reply: Reply,
}

/// One protocol v1 session, server side.
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use longpoll_core::{Event, Message, Reply, ServerSession};
///
/// # let start = longpoll_testkit::driver_clock();
/// // `start` is a reading of the driver's clock; the core never reads one.
/// let mut session = ServerSession::new(start, Default::default());
///
/// // A poll with nothing to send is held...
/// let poll = session.handle_poll(start, 0);
/// assert!(session.poll_response().is_none());
/// // ...until the application sends.
/// session.send(start, Message::from("hello")).unwrap();
/// let response = session.poll_response().unwrap();
/// assert_eq!(response.request, poll);
/// assert!(matches!(response.reply, Reply::Frames { first_seq: 0, .. }));
///
/// // Client data is accepted and handed to the application in order.
/// let body = Bytes::from_static(b"\x01\x00\x00\x00\x02hi");
/// let post = session.handle_send(start, 0, None, body.clone());
/// assert_eq!(session.poll_response().unwrap().reply, Reply::NoContent);
/// assert_eq!(session.poll_event(start), Some(Event::Message(Message::from("hi"))));
///
/// // A send that carries `ack` waits for the application's reply and takes it, instead of
/// // the held poll: one exchange per round trip.
/// let reply_body = Bytes::from_static(b"\x01\x00\x00\x00\x02ho");
/// let post = session.handle_send(start, 1, Some(1), reply_body);
/// assert_eq!(session.poll_event(start), Some(Event::Message(Message::from("ho"))));
/// session.send(start, Message::from("hey")).unwrap();
/// // The application asks for its next event: it has replied, so the send is answered.
/// assert_eq!(session.poll_event(start), None);
/// let response = session.poll_response().unwrap();
/// assert_eq!(response.request, post);
/// assert!(matches!(response.reply, Reply::Frames { first_seq: 1, .. }));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<Config>,
    state: State,
    next_request: u64,
    outbound: OutboundQueue,
    held_poll: Option<Held>,
    inbound: VecDeque<Message>,
    inbound_bytes: usize,
    /// Sequence number of the next client frame to accept.
    inbound_next: u64,
    held_send: Option<HeldSend>,
    responses: VecDeque<Response>,
    /// The close event, once the session closed, waiting until every inbound message is taken.
    close_event: Option<CloseReason>,
    last_activity: Instant,
    /// Messages were queued while a poll was held: it is answered, with all of them, before
    /// the next answer is taken or input handled (so a burst of sends is one batch).
    poll_wake_due: Option<Instant>,
    /// An accepted send that carried `ack`, waiting for the application's reply: it is
    /// answered with the frames queued until then, which the held poll leaves to it.
    answering_send: Option<AnsweringSend>,
}

/// A send waiting for the application's reply (`PROTOCOL.md` section 5.3). It is answered at
/// the first drain once `replied_at` is set, when [`Config::reply_wait`] has passed since
/// `accepted_at`, or when the client's next request arrives, whichever comes first.
#[derive(Debug)]
struct AnsweringSend {
    request: RequestId,
    ack: u64,
    accepted_at: Instant,
    /// When the application had taken the send's messages and asked for more (or when the
    /// send was accepted, if the reply wait is zero): whatever it queued in reply is queued.
    replied_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Open,
    /// The application closed; the close frame is queued and waits to be acknowledged.
    Closing(Option<CloseFrame>),
    /// Over; requests are answered `410` until `gone_until`.
    Closed {
        gone_until: Instant,
    },
    /// Forgotten; requests are answered `404` and the driver should drop the session.
    Finished,
}

#[derive(Debug)]
struct Held {
    request: RequestId,
    ack: u64,
    deadline: Instant,
}

#[derive(Debug)]
struct HeldSend {
    request: RequestId,
    /// The send's `ack`: it is answered with frames (see `answering_send`).
    ack: Option<u64>,
    /// Frames numbered from the session's `inbound_next`.
    frames: Frames,
    /// Message frames among `frames` and their payload bytes, counted once: the room check
    /// runs again each time the application takes a message.
    messages: usize,
    payload_bytes: usize,
    deadline: Instant,
}

impl ServerSession {
    /// A new open session. `config` should have passed [`Config::validate`].
    pub fn new(now: Instant, config: Arc<Config>) -> Self {
        ServerSession {
            config,
            state: State::Open,
            next_request: 0,
            outbound: OutboundQueue::default(),
            held_poll: None,
            inbound: VecDeque::new(),
            inbound_bytes: 0,
            inbound_next: 0,
            held_send: None,
            responses: VecDeque::new(),
            close_event: None,
            last_activity: now,
            poll_wake_due: None,
            answering_send: None,
        }
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- inputs: requests -------------------------------------------------------------

    /// `GET {base}/{id}?ack=N` arrived. Returns the id its answer will carry.
    ///
    /// Messages below `ack` are released. If messages from `ack` on are retained they are
    /// answered at once; otherwise the poll is held until one is sent or the poll times out.
    /// A held older poll is answered `409`. An `ack` beyond what was sent is answered `400`
    /// and changes nothing.
    pub fn handle_poll(&mut self, now: Instant, ack: u64) -> RequestId {
        self.answer_before_request(now);
        let request = self.start_request(now);
        if let Some(reply) = self.refusal_when_over() {
            self.respond(now, request, reply);
            return request;
        }
        let sent = self.outbound.end();
        if ack > sent {
            self.respond(
                now,
                request,
                Reply::BadRequest(BadRequest::AckBeyondSent { ack, sent }),
            );
            return request;
        }
        self.outbound.ack(ack);
        if let Some(older) = self.held_poll.take() {
            self.respond(now, older.request, Reply::Conflict(Conflict::Superseded));
        }
        if let State::Closing(close) = &self.state
            && ack == sent
        {
            // The client has the close frame: the close handshake is complete.
            let reason = CloseReason::ServerClosed(close.clone());
            self.respond(now, request, Reply::Gone);
            self.close_now(now, reason);
            return request;
        }
        if !self.answer_poll(now, request, ack) {
            self.held_poll = Some(Held {
                request,
                ack,
                deadline: saturating_add(now, self.config.poll_timeout),
            });
        }
        request
    }

    /// `POST {base}/{id}?seq=N` (with `&ack=M` when `ack` is `Some`) arrived with this body
    /// (already read under the body limit).
    ///
    /// Frames already received are dropped (an idempotent retry); a gap is `409`; a malformed
    /// body `400`, a frame over the limits `413`. New frames are accepted whole (`204`) when
    /// the inbound buffer has room, else the request is held until it has, or answered `503`
    /// after [`Config::inbound_hold_timeout`]. A close frame, which must come last, closes the
    /// session after the frames before it.
    ///
    /// With `ack` (`PROTOCOL.md` section 5.3), server messages below it are released as by a
    /// poll (an `ack` beyond what was sent is `400` and changes nothing), and where the answer
    /// would be `204` it is `200` with the retained frames from `ack` if there are any. An
    /// accepted send waits for the application's reply: it is answered at the first drain
    /// after [`poll_event`](Self::poll_event) has found nothing more to give (the application
    /// took the send's messages and asks for more), after [`Config::reply_wait`] (at
    /// [`handle_timeout`](Self::handle_timeout)), when the client's next request arrives, or
    /// when the application closes, whichever comes first. Messages the application queues meanwhile go with it, and the
    /// held poll stays held.
    pub fn handle_send(
        &mut self,
        now: Instant,
        seq: u64,
        ack: Option<u64>,
        body: Bytes,
    ) -> RequestId {
        self.answer_before_request(now);
        let request = self.start_request(now);
        if let Some(reply) = self.refusal_when_over() {
            self.respond(now, request, reply);
            return request;
        }
        if matches!(self.state, State::Closing(_)) {
            self.respond(now, request, Reply::Gone);
            return request;
        }
        let frames = match decode_frames(
            body,
            self.config.max_message_bytes,
            self.config.max_frames_per_request,
        ) {
            Ok(frames) => frames,
            Err(error) => {
                self.respond(now, request, Reply::from(error));
                return request;
            }
        };
        let sent = self.outbound.end();
        if let Some(ack) = ack
            && ack > sent
        {
            let beyond = BadRequest::AckBeyondSent { ack, sent };
            self.respond(now, request, Reply::BadRequest(beyond));
            return request;
        }
        let expected = self.inbound_next;
        if seq > expected {
            let gap = Conflict::SeqGap { expected, got: seq };
            self.respond(now, request, Reply::Conflict(gap));
            return request;
        }
        if let Some(ack) = ack {
            self.outbound.ack(ack);
        }
        let already_received = expected - seq;
        let new_frames: Frames = match usize::try_from(already_received) {
            Ok(0) if !frames.is_empty() => frames,
            Ok(skip) if skip < frames.len() => frames.skip(skip),
            // Everything in it was received before: a retry whose answer was lost.
            _ => {
                let _ = self.answer_send(now, request, ack);
                return request;
            }
        };
        if let Some(older) = self.held_send.take() {
            self.respond(now, older.request, Reply::Conflict(Conflict::Superseded));
        }
        let (messages, payload_bytes) = new_frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::Message(message) => Some(message.len()),
                Frame::Close(_) => None,
            })
            .fold((0, 0), |(count, bytes), len| (count + 1, bytes + len));
        let held = HeldSend {
            request,
            ack,
            frames: new_frames,
            messages,
            payload_bytes,
            deadline: saturating_add(now, self.config.inbound_hold_timeout),
        };
        if self.inbound_has_room(&held) {
            self.accept(now, held);
        } else {
            self.held_send = Some(held);
        }
        request
    }

    /// `DELETE {base}/{id}` arrived: the client closes the session. Answered `204` (also when
    /// already closed, so a retried `DELETE` succeeds).
    pub fn handle_close(&mut self, now: Instant) -> RequestId {
        self.answer_before_request(now);
        let request = self.start_request(now);
        match &self.state {
            State::Open => {
                self.respond(now, request, Reply::NoContent);
                self.close_now(now, CloseReason::ClientClosed(None));
            }
            State::Closing(close) => {
                let reason = CloseReason::ServerClosed(close.clone());
                self.respond(now, request, Reply::NoContent);
                self.close_now(now, reason);
            }
            State::Closed { .. } => self.respond(now, request, Reply::NoContent),
            State::Finished => self.respond(now, request, Reply::NotFound),
        }
        request
    }

    /// The HTTP client went away before request `request` was answered. The request is
    /// forgotten without an answer; unknown or already answered ids are ignored.
    pub fn handle_abort(&mut self, now: Instant, request: RequestId) {
        if self
            .answering_send
            .take_if(|send| send.request == request)
            .is_some()
        {
            // Its frames stay accepted; the client's retry is answered as a duplicate. What the
            // application queued for its answer goes to the held poll instead.
            self.last_activity = now;
            if self.held_poll.is_some() {
                self.poll_wake_due.get_or_insert(now);
            }
        }
        let held_poll = self
            .held_poll
            .take_if(|poll| poll.request == request)
            .is_some();
        let held_send = self
            .held_send
            .take_if(|send| send.request == request)
            .is_some();
        if held_poll || held_send {
            self.last_activity = now;
        }
        // After the forgetting, so that an answer that was due is not given to it.
        self.answer_due();
    }

    /// Time has passed. Call when [`poll_timeout`](Self::poll_timeout) is reached; calling it
    /// early or twice is harmless (nothing is due, nothing happens).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.answer_due();
        if self
            .answering_send
            .as_ref()
            .is_some_and(|send| self.reply_deadline(send) <= now)
        {
            self.answer_waiting_send(now);
        }
        if let Some(held) = self.held_poll.take_if(|h| h.deadline <= now)
            // Frames a send's answer took may be retained still (that answer may be lost).
            && !self.answer_poll(now, held.request, held.ack)
        {
            self.respond(now, held.request, Reply::NoContent);
        }
        if let Some(held) = self.held_send.take_if(|h| h.deadline <= now) {
            let retry_after = self.config.retry_after;
            self.respond(now, held.request, Reply::Unavailable { retry_after });
        }
        if self.idle_deadline().is_some_and(|deadline| deadline <= now) {
            let reason = match &self.state {
                State::Closing(close) => CloseReason::ServerClosed(close.clone()),
                _ => CloseReason::IdleTimeout,
            };
            self.close_now(now, reason);
        }
        if let State::Closed { gone_until } = self.state
            && gone_until <= now
        {
            self.state = State::Finished;
        }
    }

    // ----- inputs: the application ------------------------------------------------------

    /// Whether a message of `len` payload bytes would be taken now by [`send`](Self::send).
    pub fn can_send(&self, len: usize) -> bool {
        self.state == State::Open
            && len <= self.config.max_message_bytes
            && self.outbound.has_room(
                len,
                self.config.outbound_max_bytes,
                self.config.outbound_max_messages,
            )
    }

    /// Queues a message for the client. A held poll is answered with it (and with every
    /// message queued after it until then) at the next [`poll_response`](Self::poll_response)
    /// or input: a burst of sends goes out as one batch, without waiting for more.
    ///
    /// Refused with the message handed back when the outbound buffer is full
    /// ([`SendError::Full`]: wait for the client to acknowledge, which shows as
    /// [`can_send`](Self::can_send) turning true after a later input), when it is over the
    /// message limit, or when the session is closing or closed.
    pub fn send(&mut self, now: Instant, message: Message) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed(message));
        }
        if message.len() > self.config.max_message_bytes {
            return Err(SendError::TooLarge(message));
        }
        if !self.can_send(message.len()) {
            return Err(SendError::Full(message));
        }
        self.outbound.push(Frame::Message(message));
        // A send being answered takes it; the held poll is left alone.
        if self.held_poll.is_some() && self.poll_wake_due.is_none() && self.answering_send.is_none()
        {
            self.poll_wake_due = Some(now);
        }
        Ok(())
    }

    /// The application closes the session. Everything queued is still delivered, then the
    /// close frame; the session is closed once the client acknowledges the close frame (or
    /// sends `DELETE`), or after the idle timeout. Calling it again does nothing.
    pub fn close(&mut self, now: Instant, close: Option<CloseFrame>) {
        // The application says no more: a send waiting for its reply has it all, and the
        // close frame is left to the held poll.
        self.answer_before_request(now);
        if self.state != State::Open {
            return;
        }
        let close = close.map(CloseFrame::truncated);
        self.outbound.push(Frame::Close(close.clone()));
        self.state = State::Closing(close);
        if let Some(held) = self.held_send.take() {
            self.respond(now, held.request, Reply::Gone);
        }
        self.wake_held_poll(now);
    }

    // ----- outputs ----------------------------------------------------------------------

    /// The next answer to send. Drain after every input.
    pub fn poll_response(&mut self) -> Option<Response> {
        self.answer_due();
        self.responses.pop_front()
    }

    /// The next event for the application: client messages in order, then, once the session
    /// is over, [`Event::Closed`] exactly once. Call only when the application can take it;
    /// taking a message frees inbound room, which may accept a held `POST`, and finding
    /// nothing tells a send that carried `ack` that the application has replied (drain
    /// [`poll_response`](Self::poll_response) afterwards, in both cases).
    pub fn poll_event(&mut self, now: Instant) -> Option<Event> {
        if let Some(message) = self.inbound.pop_front() {
            self.inbound_bytes -= message.len();
            if let Some(held) = self.held_send.take() {
                if self.inbound_has_room(&held) {
                    self.accept(now, held);
                } else {
                    self.held_send = Some(held);
                }
            }
            return Some(Event::Message(message));
        }
        let closed = self.close_event.take();
        if closed.is_none()
            && let Some(send) = &mut self.answering_send
        {
            // The application took the send's messages and asks for more: it has replied.
            send.replied_at.get_or_insert(now);
        }
        closed.map(Event::Closed)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Drivers ask after every change, so this is written out rather than as a `min` over
        // an iterator of options (several times the instructions).
        let held = match (&self.held_poll, &self.held_send) {
            (Some(poll), Some(send)) => Some(poll.deadline.min(send.deadline)),
            (Some(poll), None) => Some(poll.deadline),
            (None, Some(send)) => Some(send.deadline),
            (None, None) => None,
        };
        // A send that has its reply is due at once (the next drain answers it, and so does a
        // timeout for a driver that drains only then).
        let held = match (held, &self.answering_send) {
            (held, Some(send)) => {
                let due = send.replied_at.unwrap_or_else(|| self.reply_deadline(send));
                Some(held.map_or(due, |held| held.min(due)))
            }
            (held, None) => held,
        };
        match (held, &self.state) {
            (_, State::Closed { gone_until }) => {
                Some(held.map_or(*gone_until, |held| held.min(*gone_until)))
            }
            (None, _) => self.idle_deadline(),
            (Some(held), _) => Some(held),
        }
    }

    // ----- observers --------------------------------------------------------------------

    /// Whether the session is over (closed and answering `410`, or finished).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. } | State::Finished)
    }

    /// Whether the session is over and its `410` period has passed: the driver should drop it
    /// (after draining [`poll_event`](Self::poll_event)).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Server messages retained (sent or queued, not yet acknowledged), excluding the close frame.
    pub fn outbound_messages(&self) -> usize {
        self.outbound.messages()
    }

    /// Payload bytes of the retained server messages.
    pub fn outbound_bytes(&self) -> usize {
        self.outbound.payload_bytes()
    }

    /// Whether [`poll_event`](Self::poll_event) has an event to give: a client message, or the
    /// close once the session is over. A driver that hands events over on demand uses it to
    /// decide whether to wake the application.
    pub fn has_event(&self) -> bool {
        !self.inbound.is_empty() || self.close_event.is_some()
    }

    /// Whether an accepted send that carried `ack` waits to be answered: messages sent until
    /// then go with that answer, so the held poll need not be woken.
    pub fn send_answer_pending(&self) -> bool {
        self.answering_send.is_some()
    }

    /// Client messages received and not yet taken by the application.
    pub fn inbound_messages(&self) -> usize {
        self.inbound.len()
    }

    /// Payload bytes of the client messages not yet taken by the application.
    pub fn inbound_bytes(&self) -> usize {
        self.inbound_bytes
    }

    /// How many server frames have been numbered (messages plus a close frame).
    pub fn sent_seq(&self) -> u64 {
        self.outbound.end()
    }

    /// How many client frames have been accepted.
    pub fn received_seq(&self) -> u64 {
        self.inbound_next
    }

    // ----- internals --------------------------------------------------------------------

    fn start_request(&mut self, now: Instant) -> RequestId {
        self.last_activity = now;
        let request = RequestId(self.next_request);
        self.next_request += 1;
        request
    }

    fn respond(&mut self, now: Instant, request: RequestId, reply: Reply) {
        self.last_activity = now;
        self.responses.push_back(Response { request, reply });
    }

    /// The answer to any request once the session is over.
    fn refusal_when_over(&self) -> Option<Reply> {
        match self.state {
            State::Closed { .. } => Some(Reply::Gone),
            State::Finished => Some(Reply::NotFound),
            _ => None,
        }
    }

    /// Answers a poll with retained frames from `ack`; false when there are none.
    fn answer_poll(&mut self, now: Instant, request: RequestId, ack: u64) -> bool {
        self.answer_with_batch(now, request, ack).is_some()
    }

    /// Answers `request` `200` with the retained frames from `ack` (section 8.3 of
    /// `PROTOCOL.md`), if there are any; returns the seq after the batch's last frame.
    fn answer_with_batch(&mut self, now: Instant, request: RequestId, ack: u64) -> Option<u64> {
        let batch = self.outbound.batch(
            ack,
            self.config.max_frames_per_response,
            self.config.max_response_bytes,
        )?;
        let end = batch.first_seq + batch.frames as u64;
        let reply = Reply::Frames {
            first_seq: batch.first_seq,
            body: batch.body,
        };
        self.respond(now, request, reply);
        Some(end)
    }

    /// Gives the answers left for the next drain: the held poll that [`send`](Self::send)
    /// woke, as of that send, then the send that carried `ack` if the application replied,
    /// with what was queued since.
    fn answer_due(&mut self) {
        if let Some(queued_at) = self.poll_wake_due.take() {
            self.wake_held_poll(queued_at);
        }
        if let Some(replied_at) = self
            .answering_send
            .as_ref()
            .and_then(|send| send.replied_at)
        {
            self.answer_waiting_send(replied_at);
        }
    }

    /// Before a request is handled or the application closes: everything due, and the send
    /// waiting for a reply too (the client has moved on, or the application has no more to
    /// say; and only one send waits at a time).
    fn answer_before_request(&mut self, now: Instant) {
        self.answer_due();
        self.answer_waiting_send(now);
    }

    /// Answers the send waiting for the application's reply, if any, with what is queued.
    fn answer_waiting_send(&mut self, now: Instant) {
        if let Some(send) = self.answering_send.take() {
            let answered = self.answer_send(now, send.request, Some(send.ack));
            // More than one batch was queued: the held poll takes the rest (from its own
            // `ack`, so the batch above may come twice; the client drops duplicates).
            if answered.is_some_and(|end| end < self.outbound.end()) {
                self.wake_held_poll(now);
            }
        }
    }

    fn reply_deadline(&self, send: &AnsweringSend) -> Instant {
        saturating_add(send.accepted_at, self.config.reply_wait)
    }

    /// Answers a send whose frames are all accepted: `200` with the retained frames from
    /// `ack` if it carried one and there are any, else `204`. Returns the seq after the
    /// answer's last frame, if it has frames.
    fn answer_send(&mut self, now: Instant, request: RequestId, ack: Option<u64>) -> Option<u64> {
        let answered = ack.and_then(|ack| self.answer_with_batch(now, request, ack));
        if answered.is_none() {
            self.respond(now, request, Reply::NoContent);
        }
        answered
    }

    fn wake_held_poll(&mut self, now: Instant) {
        if let Some(held) = self.held_poll.take()
            && !self.answer_poll(now, held.request, held.ack)
        {
            self.held_poll = Some(held);
        }
    }

    fn inbound_has_room(&self, send: &HeldSend) -> bool {
        self.inbound.is_empty()
            || (self.inbound.len() + send.messages <= self.config.inbound_max_messages
                && self.inbound_bytes + send.payload_bytes <= self.config.inbound_max_bytes)
    }

    fn accept(&mut self, now: Instant, send: HeldSend) {
        match send.ack {
            Some(ack) => {
                // Only one waits at a time (each request answers the one before), but should
                // one still wait, it goes first.
                self.answer_waiting_send(now);
                self.answering_send = Some(AnsweringSend {
                    request: send.request,
                    ack,
                    accepted_at: now,
                    replied_at: self.config.reply_wait.is_zero().then_some(now),
                });
            }
            None => self.respond(now, send.request, Reply::NoContent),
        }
        for frame in send.frames {
            self.inbound_next += 1;
            match frame {
                Frame::Message(message) => {
                    self.inbound_bytes += message.len();
                    self.inbound.push_back(message);
                }
                Frame::Close(close) => {
                    self.close_now(now, CloseReason::ClientClosed(close));
                    return;
                }
            }
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let active = matches!(self.state, State::Open | State::Closing(_));
        let nothing_held =
            self.held_poll.is_none() && self.held_send.is_none() && self.answering_send.is_none();
        (active && nothing_held)
            .then(|| saturating_add(self.last_activity, self.config.idle_timeout))
    }

    /// Ends the session: held requests are answered `410`, unacknowledged server messages are
    /// dropped, and the close event waits behind the inbound messages.
    fn close_now(&mut self, now: Instant, reason: CloseReason) {
        if let Some(send) = self.answering_send.take() {
            // Its frames were accepted; what it would have carried is dropped below.
            self.respond(now, send.request, Reply::NoContent);
        }
        if let Some(held) = self.held_poll.take() {
            self.respond(now, held.request, Reply::Gone);
        }
        if let Some(held) = self.held_send.take() {
            self.respond(now, held.request, Reply::Gone);
        }
        self.outbound.clear();
        self.close_event = Some(reason);
        self.state = State::Closed {
            gone_until: saturating_add(now, self.config.gone_timeout),
        };
    }
}
