//! The client side of one session: which request to issue next, what to make of each answer.
//!
//! The same contract as [`ServerSession`](crate::ServerSession), mirrored. The driver opens
//! the session itself (`POST {base}`, parse [`SessionParams`]), then:
//!
//! - drains [`ClientSession::poll_output`] after every input: [`ClientOutput::Issue`] means
//!   send that HTTP request, [`ClientOutput::Cancel`] means abort that one (it timed out or the
//!   session closed; an answer that still arrives for it is ignored);
//! - reports each request's outcome with [`handle_answer`](ClientSession::handle_answer) (any
//!   HTTP status) or [`handle_failure`](ClientSession::handle_failure) (no HTTP answer);
//! - calls [`handle_timeout`](ClientSession::handle_timeout) at
//!   [`poll_timeout`](ClientSession::poll_timeout);
//! - hands [`poll_event`](ClientSession::poll_event) results to the application.
//!
//! Rules it follows: at most one poll and one `POST` in flight; every poll carries
//! `ack` = how many server frames were received; frames seen before are dropped; a `POST`
//! carries every unacknowledged client frame from the oldest (up to the body limits), so a
//! retry is the same request or a longer one; failures are retried after exponential backoff
//! with jitter; the session is given up when the server has not given a protocol answer for
//! `poll_timeout + idle_timeout` (by then it has most likely forgotten the session) and no request
//! is still in flight. While the
//! application does not take messages and the inbound buffer is full, polling pauses except
//! for a keep-alive poll every half idle timeout, and frames that do not fit are left
//! unacknowledged, so the server sends them again later.

use crate::deadline::saturating_add;
use crate::event::{CloseReason, Event, RequestId, SendError};
use crate::message::{CloseFrame, Message};
use crate::outbound::OutboundQueue;
use crate::params::SessionParams;
use crate::wire::{Frame, decode_body};
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// First retry delay after a failed request (100 ms), doubled per consecutive failure.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest retry delay (5 s).
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How much longer than the server's poll hold any request may take before it is abandoned
/// and retried (5 s). The server holds a poll at most `pollTimeoutMs` and a `POST` less than
/// that, so only a lost request or answer runs into this deadline.
pub const DEFAULT_REQUEST_GRACE: Duration = Duration::from_secs(5);

/// Client-side settings. The server's limits come from [`SessionParams`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// First retry delay. Default [`DEFAULT_BACKOFF_INITIAL`].
    pub backoff_initial: Duration,
    /// Longest retry delay. Default [`DEFAULT_BACKOFF_MAX`].
    pub backoff_max: Duration,
    /// Extra time a request may take past the server's poll hold. Default
    /// [`DEFAULT_REQUEST_GRACE`].
    pub request_grace: Duration,
    /// Unacknowledged outbound payload bytes before `send` refuses. Default 2 MiB.
    pub outbound_max_bytes: usize,
    /// Unacknowledged outbound messages before `send` refuses. Default 4,096.
    pub outbound_max_messages: usize,
    /// Received payload bytes not yet taken by the application. Default 2 MiB. When full,
    /// polling pauses (but for a keep-alive poll every half idle timeout), and frames that do
    /// not fit are left unacknowledged for the server to send again. An empty buffer takes
    /// any one message.
    pub inbound_max_bytes: usize,
    /// Received messages not yet taken by the application. Default 4,096.
    pub inbound_max_messages: usize,
    /// Whether sends carry `ack`, so that the server may answer them with its messages
    /// (`PROTOCOL.md` section 5.3): a reply the application queues while taking a send
    /// comes back in that send's answer, one exchange instead of two. A server that does not
    /// know the parameter ignores it and answers `204`. Default `true`.
    pub ack_on_send: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            request_grace: DEFAULT_REQUEST_GRACE,
            outbound_max_bytes: crate::config::DEFAULT_OUTBOUND_MAX_BYTES,
            outbound_max_messages: crate::config::DEFAULT_OUTBOUND_MAX_MESSAGES,
            inbound_max_bytes: crate::config::DEFAULT_INBOUND_MAX_BYTES,
            inbound_max_messages: crate::config::DEFAULT_INBOUND_MAX_MESSAGES,
            ack_on_send: true,
        }
    }
}

/// An HTTP request the driver should issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// Report the outcome under this id.
    pub id: RequestId,
    /// What to send.
    pub kind: RequestKind,
}

/// The three session requests of protocol v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET {base}/{id}?ack={ack}`.
    Poll {
        /// Server frames received so far.
        ack: u64,
    },
    /// `POST {base}/{id}?seq={seq}` (and `&ack={ack}` when `ack` is `Some`) with
    /// `Content-Type: application/octet-stream`.
    Send {
        /// Sequence number of the first frame in `body`.
        seq: u64,
        /// Server frames received so far, when sends carry it
        /// ([`ClientConfig::ack_on_send`]).
        ack: Option<u64>,
        /// Encoded frames.
        body: Bytes,
    },
    /// `DELETE {base}/{id}`. Its outcome does not matter; report it or not.
    Delete,
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum ClientOutput {
    /// Issue this request.
    Issue(ClientRequest),
    /// Abort this request if it is still running.
    Cancel(RequestId),
}

/// An HTTP answer as the client state machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnswer {
    /// The status code.
    pub status: u16,
    /// The `Longpoll-Seq` header, parsed (`None` if absent or not a number).
    pub seq: Option<u64>,
    /// The `Retry-After` header in seconds, parsed.
    pub retry_after: Option<Duration>,
    /// The `Longpoll-Expected-Seq` header of a seq-gap `409`, parsed.
    pub expected_seq: Option<u64>,
    /// The body.
    pub body: Bytes,
}

impl ServerAnswer {
    /// An answer with this status and no headers or body.
    pub fn status(status: u16) -> Self {
        ServerAnswer {
            status,
            seq: None,
            retry_after: None,
            expected_seq: None,
            body: Bytes::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Open,
    /// The application closed; the close frame is queued behind its messages.
    Closing(Option<CloseFrame>),
    Closed,
}

/// The two request slots: one poll and one `POST` may be in flight at a time.
#[derive(Debug, Clone, Copy)]
enum Which {
    Poll,
    Send,
}

#[derive(Debug, Default)]
struct Slot {
    in_flight: Option<InFlight>,
    retry_at: Option<Instant>,
    failures: u32,
    /// Consecutive `409` answers (polls only): the first is retried at once, later ones back
    /// off, so two clients fighting over one session cannot spin.
    conflicts: u32,
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    issued_at: Instant,
    deadline: Instant,
    /// For a `POST`: how many frames it carries.
    frames: u64,
}

impl Slot {
    fn is_idle(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.retry_at.is_none_or(|at| at <= now)
    }

    fn owns(&self, id: RequestId) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.id == id)
    }

    fn succeeded(&mut self) {
        self.in_flight = None;
        self.retry_at = None;
        self.failures = 0;
        self.conflicts = 0;
    }
}

/// One protocol v1 session, client side.
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use longpoll_core::client::{ClientOutput, RequestKind, ServerAnswer};
/// use longpoll_core::{ClientSession, Config, Event, Message, SessionId, SessionParams};
///
/// # let now = longpoll_testkit::driver_clock(); // the driver's clock
/// let params = SessionParams::new(SessionId::from_bytes([7; 16]), &Config::default());
/// let mut client = ClientSession::new(now, params, Default::default(), 42);
///
/// // The first thing to do is poll from 0.
/// let Some(ClientOutput::Issue(poll)) = client.poll_output(now) else { panic!() };
/// assert_eq!(poll.kind, RequestKind::Poll { ack: 0 });
///
/// // The server answers with one text frame numbered 0.
/// let mut answer = ServerAnswer::status(200);
/// answer.seq = Some(0);
/// answer.body = Bytes::from_static(b"\x01\x00\x00\x00\x02hi");
/// client.handle_answer(now, poll.id, answer);
/// assert_eq!(client.poll_event(), Some(Event::Message(Message::from("hi"))));
///
/// // The next poll acknowledges it.
/// let Some(ClientOutput::Issue(next)) = client.poll_output(now) else { panic!() };
/// assert_eq!(next.kind, RequestKind::Poll { ack: 1 });
/// ```
#[derive(Debug)]
pub struct ClientSession {
    params: SessionParams,
    config: ClientConfig,
    state: State,
    next_request: u64,
    /// Server frames received (the next poll's `ack`).
    received: u64,
    inbound: VecDeque<Message>,
    inbound_bytes: usize,
    poll: Slot,
    outbound: OutboundQueue,
    send: Slot,
    /// The server refused sends (`404`/`410` on a `POST`): stop sending, keep polling to learn why.
    sends_refused: bool,
    delete_pending: bool,
    cancels: VecDeque<RequestId>,
    close_event: Option<CloseReason>,
    /// A poll answer held a frame that did not fit the inbound buffer.
    left_unstored: bool,
    /// Last protocol answer from the server (drives giving up).
    last_answer: Instant,
    /// When the last poll was issued (drives keep-alive polls while inbound is full).
    last_poll_at: Instant,
    rng: u64,
}

impl ClientSession {
    /// A client for the session described by `params`, opened at `now`. `seed` drives the
    /// retry jitter; pass a random value (clients that share a seed retry in lockstep).
    pub fn new(now: Instant, params: SessionParams, config: ClientConfig, seed: u64) -> Self {
        ClientSession {
            params,
            config,
            state: State::Open,
            next_request: 0,
            received: 0,
            inbound: VecDeque::new(),
            inbound_bytes: 0,
            poll: Slot::default(),
            outbound: OutboundQueue::default(),
            send: Slot::default(),
            sends_refused: false,
            delete_pending: false,
            cancels: VecDeque::new(),
            close_event: None,
            left_unstored: false,
            last_answer: now,
            last_poll_at: now,
            rng: seed,
        }
    }

    /// The session's parameters, as the server announced them.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    // ----- inputs: the application ------------------------------------------------------

    /// Whether a message of `len` bytes would be taken now by [`send`](Self::send).
    pub fn can_send(&self, len: usize) -> bool {
        self.state == State::Open
            && !self.sends_refused
            && len <= self.params.max_message_bytes
            && self.outbound.has_room(
                len,
                self.config.outbound_max_bytes,
                self.config.outbound_max_messages,
            )
    }

    /// Queues a message for the server. Refused, with the message handed back, when the
    /// outbound buffer is full (wait until acknowledgements make room), when it is over the
    /// server's message limit, or when the session is closing or closed.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        if self.state != State::Open || self.sends_refused {
            return Err(SendError::Closed(message));
        }
        if message.len() > self.params.max_message_bytes {
            return Err(SendError::TooLarge(message));
        }
        if !self.can_send(message.len()) {
            return Err(SendError::Full(message));
        }
        self.outbound.push(Frame::Message(message));
        Ok(())
    }

    /// Closes the session: messages already queued are delivered, then the close frame; the
    /// session is closed when the server accepts it. Polling stops at once. Calling it again
    /// does nothing.
    pub fn close(&mut self, close: Option<CloseFrame>) {
        if self.state != State::Open {
            return;
        }
        let close = close.map(CloseFrame::truncated);
        self.cancel_poll();
        if self.sends_refused {
            self.delete_pending = true;
            self.finish(CloseReason::ClientClosed(close));
            return;
        }
        self.outbound.push(Frame::Close(close.clone()));
        self.state = State::Closing(close);
    }

    // ----- inputs: the network ----------------------------------------------------------

    /// The HTTP answer to request `id` arrived. Answers to unknown or cancelled requests
    /// change nothing, except that a protocol answer still shows the server is alive.
    ///
    /// Protocol answers (and any answer that came only after half the poll hold, such as a
    /// proxy's `504` for a poll the server held) count as signs of life for giving up.
    pub fn handle_answer(&mut self, now: Instant, id: RequestId, answer: ServerAnswer) {
        if is_protocol_answer(&answer) || self.held_long(now, id) {
            self.last_answer = now;
        }
        if self.poll.owns(id) {
            self.poll_answered(now, answer);
        } else if self.send.owns(id) {
            self.send_answered(now, answer);
        }
    }

    /// Request `id` got no HTTP answer (connection refused or reset, body cut short). It is
    /// retried after a backoff.
    ///
    /// A request that failed only after at least half the poll hold still counts as a sign
    /// of life for giving up: something held it that long, and a dead server fails fast
    /// (refused, or a proxy's immediate `502`). So a proxy that cuts long polls short does
    /// not make the client abandon a live session.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId) {
        if self.held_long(now, id) {
            self.last_answer = now;
        }
        if self.poll.owns(id) {
            self.fail_after_backoff(Which::Poll, now, None);
        } else if self.send.owns(id) {
            self.fail_after_backoff(Which::Send, now, None);
        }
    }

    /// Time has passed; call at [`poll_timeout`](Self::poll_timeout). Spurious calls are
    /// harmless. A request past its deadline is cancelled and retried.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        // A retry time that has come is spent: the slot is free to issue. Clearing it keeps
        // `poll_timeout` from reporting a past instant while nothing can be issued (for
        // example while polling pauses for inbound room).
        for slot in [&mut self.poll, &mut self.send] {
            slot.retry_at = slot.retry_at.filter(|at| *at > now);
        }
        for which in [Which::Poll, Which::Send] {
            let in_flight = self.slot(which).in_flight.as_ref();
            if let Some(id) = in_flight.filter(|f| f.deadline <= now).map(|f| f.id) {
                // The wait itself was the backoff: retry at once.
                self.cancels.push_back(id);
                self.fail(which, None);
            }
        }
        if self.give_up_due().is_some_and(|at| at <= now) {
            self.delete_pending = true;
            self.finish(CloseReason::IdleTimeout);
        }
    }

    // ----- outputs ----------------------------------------------------------------------

    /// The next thing for the driver to do. Drain after every input.
    pub fn poll_output(&mut self, now: Instant) -> Option<ClientOutput> {
        if let Some(id) = self.cancels.pop_front() {
            return Some(ClientOutput::Cancel(id));
        }
        if self.state == State::Closed {
            if self.delete_pending {
                self.delete_pending = false;
                let id = self.next_id();
                return Some(ClientOutput::Issue(ClientRequest {
                    id,
                    kind: RequestKind::Delete,
                }));
            }
            return None;
        }
        if self.wants_to_poll(now) {
            let id = self.next_id();
            let deadline = self.request_deadline(now);
            self.poll.in_flight = Some(InFlight {
                id,
                issued_at: now,
                deadline,
                frames: 0,
            });
            self.last_poll_at = now;
            let kind = RequestKind::Poll { ack: self.received };
            return Some(ClientOutput::Issue(ClientRequest { id, kind }));
        }
        if !self.sends_refused && !self.outbound.is_empty() && self.send.is_idle(now) {
            let batch = self.outbound.batch(
                self.outbound.base(),
                self.params.max_frames_per_request,
                self.params.max_body_bytes,
            )?;
            let id = self.next_id();
            let deadline = self.request_deadline(now);
            self.send.in_flight = Some(InFlight {
                id,
                issued_at: now,
                deadline,
                frames: batch.frames as u64,
            });
            let kind = RequestKind::Send {
                seq: batch.first_seq,
                ack: self.config.ack_on_send.then_some(self.received),
                body: batch.body,
            };
            return Some(ClientOutput::Issue(ClientRequest { id, kind }));
        }
        None
    }

    /// The next event for the application: server messages in order and exactly once, then
    /// [`Event::Closed`] once.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(message) = self.inbound.pop_front() {
            self.inbound_bytes -= message.len();
            self.left_unstored = false;
            return Some(Event::Message(message));
        }
        self.close_event.take().map(Event::Closed)
    }

    /// When [`handle_timeout`](Self::handle_timeout) (and then
    /// [`poll_output`](Self::poll_output)) should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let slots = [&self.poll, &self.send]
            .into_iter()
            .flat_map(|slot| [slot.in_flight.as_ref().map(|f| f.deadline), slot.retry_at]);
        // Only while polling pauses for room; otherwise a poll is in flight or due anyway.
        let paused = self.state == State::Open
            && self.poll.in_flight.is_none()
            && self.poll.retry_at.is_none()
            && !self.inbound_has_room();
        let keep_alive = paused.then(|| self.keep_alive_at());
        slots
            .chain([self.give_up_due(), keep_alive])
            .flatten()
            .min()
    }

    // ----- observers --------------------------------------------------------------------

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Server frames received so far.
    pub fn received_seq(&self) -> u64 {
        self.received
    }

    /// Client messages not yet acknowledged by the server.
    pub fn outbound_messages(&self) -> usize {
        self.outbound.messages()
    }

    /// Payload bytes of the client messages not yet acknowledged.
    pub fn outbound_bytes(&self) -> usize {
        self.outbound.payload_bytes()
    }

    /// Received messages not yet taken by the application.
    pub fn inbound_messages(&self) -> usize {
        self.inbound.len()
    }

    /// Payload bytes of the received messages not yet taken.
    pub fn inbound_bytes(&self) -> usize {
        self.inbound_bytes
    }

    // ----- internals --------------------------------------------------------------------

    fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    /// Polls while the inbound buffer has room; while it is full, only a keep-alive poll
    /// every half idle timeout, so the server does not reap a session whose application is
    /// merely slow.
    /// Whether request `id` is in flight and has been for at least half the poll hold.
    fn held_long(&self, now: Instant, id: RequestId) -> bool {
        [&self.poll, &self.send]
            .into_iter()
            .filter_map(|slot| slot.in_flight.as_ref())
            .find(|f| f.id == id)
            .is_some_and(|f| {
                now.saturating_duration_since(f.issued_at) >= self.params.poll_timeout / 2
            })
    }

    fn wants_to_poll(&self, now: Instant) -> bool {
        self.state == State::Open
            && self.poll.is_idle(now)
            && (self.inbound_has_room() || self.keep_alive_at() <= now)
    }

    fn inbound_has_room(&self) -> bool {
        self.inbound.is_empty()
            || (!self.left_unstored
                && self.inbound.len() < self.config.inbound_max_messages
                && self.inbound_bytes < self.config.inbound_max_bytes)
    }

    fn keep_alive_at(&self) -> Instant {
        saturating_add(self.last_poll_at, self.params.idle_timeout / 2)
    }

    /// Whether one more message of `len` bytes fits the inbound buffer (an empty buffer takes
    /// any message, so a large one cannot wedge the session).
    fn inbound_fits(&self, len: usize) -> bool {
        self.inbound.is_empty()
            || (self.inbound.len() < self.config.inbound_max_messages
                && self.inbound_bytes + len <= self.config.inbound_max_bytes)
    }

    /// A request may take the poll hold plus the grace, but the grace is capped at half the
    /// gap between the poll hold and the idle timeout: after a silently lost answer the retry
    /// must reach the server before it gives the session up.
    fn request_deadline(&self, now: Instant) -> Instant {
        let slack = self
            .params
            .idle_timeout
            .saturating_sub(self.params.poll_timeout)
            / 2;
        let grace = self.config.request_grace.min(slack);
        saturating_add(now, self.params.poll_timeout + grace)
    }

    /// When to give the session up: `poll_timeout + idle_timeout` after the last protocol
    /// answer, but never while a request is in flight (a poll the server holds proves
    /// nothing yet; its answer or failure comes by its deadline).
    fn give_up_due(&self) -> Option<Instant> {
        let waiting = self.poll.in_flight.is_some() || self.send.in_flight.is_some();
        (!waiting).then(|| {
            saturating_add(
                self.last_answer,
                self.params.poll_timeout + self.params.idle_timeout,
            )
        })
    }

    fn poll_answered(&mut self, now: Instant, answer: ServerAnswer) {
        match answer.status {
            200 => {
                self.poll.succeeded();
                self.take_frames(answer);
            }
            204 => self.poll.succeeded(),
            // A newer poll replaced ours (a stale duplicate): poll again at once, but back off
            // if it keeps happening (another client is using this session).
            409 => {
                let conflicts = self.poll.conflicts + 1;
                self.poll.succeeded();
                self.poll.conflicts = conflicts;
                if conflicts > 1 {
                    let delay = self.backoff(conflicts - 2, None);
                    self.poll.retry_at = Some(saturating_add(now, delay));
                }
            }
            404 | 410 => self.finish(CloseReason::SessionGone),
            400 => self.protocol_error(format!("server refused a poll: {}", body_text(&answer))),
            _ => self.fail_after_backoff(Which::Poll, now, answer.retry_after),
        }
    }

    fn take_frames(&mut self, answer: ServerAnswer) {
        let Some(first) = answer.seq else {
            return self.protocol_error("200 answer without Longpoll-Seq".into());
        };
        if first > self.received {
            return self.protocol_error(format!(
                "server skipped messages: got seq {first}, expected {}",
                self.received
            ));
        }
        let frames = match decode_body(answer.body, self.params.max_message_bytes, usize::MAX) {
            Ok(frames) => frames,
            Err(error) => return self.protocol_error(format!("bad frames from server: {error}")),
        };
        for (seq, frame) in (first..).zip(frames) {
            if seq < self.received {
                continue; // seen before: a re-sent frame
            }
            match frame {
                Frame::Message(message) => {
                    if !self.inbound_fits(message.len()) {
                        // No room: leave it and the rest unacknowledged; the server re-sends.
                        // Until the application takes a message, polling again would only
                        // fetch the same frames.
                        self.left_unstored = true;
                        return;
                    }
                    self.received += 1;
                    self.inbound_bytes += message.len();
                    self.inbound.push_back(message);
                }
                Frame::Close(close) => {
                    self.received += 1;
                    // Acknowledge the close so the server can forget the session now.
                    self.delete_pending = true;
                    return self.finish(CloseReason::ServerClosed(close));
                }
            }
        }
    }

    fn send_answered(&mut self, now: Instant, answer: ServerAnswer) {
        match answer.status {
            // Accepted; a `200` also brings server frames, when the send carried `ack` (to one
            // that did not, it is no protocol v1 answer: retried below, like any other).
            status @ (200 | 204) if status == 204 || self.config.ack_on_send => {
                let frames = self.send.in_flight.as_ref().map_or(0, |f| f.frames);
                self.send.succeeded();
                self.outbound.ack(self.outbound.base() + frames);
                if let State::Closing(close) = &self.state
                    && self.outbound.is_empty()
                {
                    let reason = CloseReason::ClientClosed(close.clone());
                    self.finish(reason);
                }
                if answer.status == 200 && self.state != State::Closed {
                    self.take_frames(answer);
                }
            }
            404 | 410 => {
                self.send.succeeded();
                if let State::Closing(close) = &self.state {
                    // Both sides closed at once; DELETE completes the server's close too.
                    let reason = CloseReason::ClientClosed(close.clone());
                    self.delete_pending = true;
                    return self.finish(reason);
                }
                // The server is closing or has closed; the poll will tell which.
                self.sends_refused = true;
                self.outbound.clear();
            }
            400 | 413 | 415 => {
                self.protocol_error(format!("server refused a POST: {}", body_text(&answer)))
            }
            409 if answer.expected_seq.is_some() => self.protocol_error(format!(
                "server expects seq {} but {} were acknowledged: it lost state",
                answer.expected_seq.unwrap_or_default(),
                self.outbound.base()
            )),
            // 409 without a gap: a newer copy of this POST superseded it. 503 and anything
            // else (a proxy's 502, say): retry after a backoff.
            _ => self.fail_after_backoff(Which::Send, now, answer.retry_after),
        }
    }

    fn slot(&mut self, which: Which) -> &mut Slot {
        match which {
            Which::Poll => &mut self.poll,
            Which::Send => &mut self.send,
        }
    }

    /// The request in `which` failed; retry it at `retry_at` (`None`: at once).
    fn fail(&mut self, which: Which, retry_at: Option<Instant>) {
        let slot = self.slot(which);
        slot.in_flight = None;
        slot.failures += 1;
        slot.retry_at = retry_at;
    }

    /// The request in `which` failed quickly; retry after a backoff, and not before `at_least`.
    fn fail_after_backoff(&mut self, which: Which, now: Instant, at_least: Option<Duration>) {
        let failures = self.slot(which).failures;
        let delay = self.backoff(failures, at_least);
        self.fail(which, Some(saturating_add(now, delay)));
    }

    /// Exponential backoff with jitter in [50%, 100%], never below `at_least` (the server's
    /// `Retry-After`). Both are capped at a quarter of the idle timeout, so retries reach the
    /// server before it gives up on us.
    fn backoff(&mut self, failures: u32, at_least: Option<Duration>) -> Duration {
        let cap = self.config.backoff_max.min(self.params.idle_timeout / 4);
        let exp = self
            .config
            .backoff_initial
            .saturating_mul(1u32 << failures.min(16))
            .min(cap);
        let jitter = 0.5 + (self.next_random() >> 11) as f64 / (1u64 << 54) as f64;
        // `Retry-After` is honoured up to the same cap: waiting longer than a quarter of the
        // idle timeout would let the server reap the session while we wait.
        let at_least = at_least
            .unwrap_or_default()
            .min(self.params.idle_timeout / 4);
        exp.mul_f64(jitter).max(at_least)
    }

    /// splitmix64: small, fast and plenty for jitter.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn cancel_poll(&mut self) {
        if let Some(in_flight) = self.poll.in_flight.take() {
            self.cancels.push_back(in_flight.id);
        }
    }

    fn protocol_error(&mut self, detail: String) {
        self.delete_pending = true;
        self.finish(CloseReason::ProtocolError(detail));
    }

    /// Ends the session: requests in flight are cancelled, unsent messages dropped, and the
    /// close event queued behind the received messages.
    fn finish(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.cancel_poll();
        if let Some(in_flight) = self.send.in_flight.take() {
            self.cancels.push_back(in_flight.id);
        }
        self.outbound.clear();
        self.state = State::Closed;
        self.close_event = Some(reason);
    }
}

/// Whether an answer comes from a protocol v1 server (as opposed to, say, a proxy's `502`
/// while the server is down). Only these show the server is alive and reset the give-up clock.
fn is_protocol_answer(answer: &ServerAnswer) -> bool {
    match answer.status {
        200 | 204 | 404 | 409 | 410 => true,
        503 => answer.retry_after.is_some(),
        _ => false,
    }
}

fn body_text(answer: &ServerAnswer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    format!("{} {}", answer.status, text.trim())
}
