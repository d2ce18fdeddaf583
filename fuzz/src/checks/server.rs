//! `server_session`: one [`ServerSession`] driven by an arbitrary sequence of requests,
//! application calls and clock moves, its every output checked against a model of what it
//! was given.

use super::Outcome;
use super::book::{Book, Fate};
use super::inputs::{ClientFrame, CloseSeed, ConfigSeed, Payload, Pos, close_frame};
use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use longpoll_core::reply::{BadRequest, Conflict};
use longpoll_core::wire::{Frame, FrameError, decode_body, encode_frame};
use longpoll_core::{
    CloseFrame, CloseReason, Config, Event, Message, Reply, RequestId, Response, ServerSession,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Inputs per run; past it the rest of the data is ignored (keeps executions fast).
pub const MAX_STEPS: usize = 512;

/// One input to the session.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum ServerInput {
    /// `GET ?ack=N`, `N` relative to the frames the session has numbered.
    Poll {
        /// The `ack`.
        ack: Pos,
    },
    /// `POST ?seq=N` with well-formed frames, `N` relative to the frames accepted so far.
    Send {
        /// The `seq`.
        seq: Pos,
        /// The `ack` (PROTOCOL.md 5.3), relative to the frames the session has numbered.
        ack: Option<Pos>,
        /// The body's frames (maybe over the limits, maybe a close that is not last).
        frames: Vec<ClientFrame>,
    },
    /// `POST ?seq=N` with any body.
    SendRaw {
        /// The `seq`.
        seq: Pos,
        /// The `ack`, as for `Send`.
        ack: Option<Pos>,
        /// The body.
        body: Vec<u8>,
    },
    /// `DELETE`.
    Delete,
    /// The HTTP client of a recent request goes away: the `back`-th latest id, or an id the
    /// session never returned when there are fewer.
    Abort {
        /// How far back.
        back: u8,
    },
    /// The application sends.
    AppSend(Payload),
    /// The application closes.
    AppClose(Option<CloseSeed>),
    /// The application takes one event.
    AppTake,
    /// Time passes and the driver calls `handle_timeout`.
    Advance {
        /// Milliseconds.
        ms: u16,
    },
    /// Time passes but the driver is late: no `handle_timeout` yet.
    Late {
        /// Milliseconds.
        ms: u16,
    },
    /// The driver sleeps until `poll_timeout()` and calls `handle_timeout`.
    Wake,
}

/// What a request was, to judge its answer.
#[derive(Debug)]
enum Request {
    Poll {
        ack: u64,
    },
    Send {
        seq: u64,
        ack: Option<u64>,
        /// The body as the harness decodes it under the session's limits.
        frames: Result<Vec<Frame>, FrameError>,
    },
    Delete,
}

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Request::Poll { .. } => "poll",
            Request::Send { .. } => "send",
            Request::Delete => "delete",
        }
    }
}

/// Accepted frames, past the first `skip` (received before), into the model of what the
/// application must get. Takes the model's fields rather than the harness, so the frames can
/// be borrowed from its requests.
fn replay(
    expected: &mut VecDeque<Message>,
    client_close: &mut Option<Option<CloseFrame>>,
    frames: &[Frame],
    skip: u64,
) {
    for frame in frames.iter().skip(skip as usize).cloned() {
        match frame {
            Frame::Message(message) => expected.push_back(message),
            Frame::Close(close) => *client_close = Some(close),
        }
    }
}

/// The request with this id; the caller knows the session returned it.
fn request(requests: &[(RequestId, Request)], id: RequestId) -> &Request {
    let found = requests.iter().rev().find(|(r, _)| *r == id);
    &found.expect("a returned id").1
}

/// What a refused request must leave unchanged.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    sent: u64,
    received: u64,
    outbound: (usize, usize),
    inbound: (usize, usize),
    closed: bool,
}

impl Snapshot {
    fn of(session: &ServerSession) -> Snapshot {
        Snapshot {
            sent: session.sent_seq(),
            received: session.received_seq(),
            outbound: (session.outbound_messages(), session.outbound_bytes()),
            inbound: (session.inbound_messages(), session.inbound_bytes()),
            closed: session.is_closed(),
        }
    }
}

struct Harness {
    config: Arc<Config>,
    session: ServerSession,
    now: Instant,
    book: Book,
    requests: Vec<(RequestId, Request)>,
    /// Frames the application queued, indexed by seq.
    out_stream: Vec<Frame>,
    app_closed: bool,
    /// Accepted messages the application has not taken yet, in order.
    expected: VecDeque<Message>,
    /// The client close frame the session accepted, if any.
    client_close: Option<Option<CloseFrame>>,
    closed_event: Option<CloseReason>,
    /// Last request arrival, answer, or abort of a held request (the idle clock's start).
    last_activity: Instant,
    /// A send that carried `ack`, accepted and waiting for the application's reply
    /// (PROTOCOL.md 5.3), and when it was accepted.
    awaiting: Option<(RequestId, Instant)>,
    /// The seq after the last frame any send's `200` carried.
    send_batch_end: u64,
    outcome: Outcome,
}

/// Runs one input; `Err` names the first broken rule.
pub fn run(data: &[u8]) -> Result<Outcome, String> {
    let mut u = Unstructured::new(data);
    let Ok(seed) = ConfigSeed::arbitrary(&mut u) else {
        return Ok(Outcome::default());
    };
    let mut harness = Harness::new(seed.to_config());
    let mut steps = 0;
    while !u.is_empty() && steps < MAX_STEPS {
        let Ok(input) = ServerInput::arbitrary(&mut u) else {
            break;
        };
        harness
            .step(&input)
            .map_err(|e| format!("step {steps} ({input:?}): {e}"))?;
        steps += 1;
    }
    harness
        .finish()
        .map_err(|e| format!("after the inputs: {e}"))?;
    Ok(harness.outcome)
}

impl Harness {
    fn new(config: Config) -> Harness {
        let config = Arc::new(config);
        let now = Instant::now();
        Harness {
            session: ServerSession::new(now, config.clone()),
            config,
            now,
            book: Book::default(),
            requests: Vec::new(),
            out_stream: Vec::new(),
            app_closed: false,
            expected: VecDeque::new(),
            client_close: None,
            closed_event: None,
            last_activity: now,
            awaiting: None,
            send_batch_end: 0,
            outcome: Outcome::default(),
        }
    }

    fn step(&mut self, input: &ServerInput) -> Result<(), String> {
        let before = Snapshot::of(&self.session);
        let now = self.now;
        let mut new_request = None;
        let mut timed_out = false;
        let awaiting = self.awaiting;
        // Whether this input ends the wait of a send waiting for the reply.
        let mut ends_wait = false;
        match input {
            ServerInput::Poll { ack } => {
                let ack = ack.resolve(self.session.sent_seq());
                let id = self.session.handle_poll(now, ack);
                new_request = Some(self.took(id, Request::Poll { ack })?);
            }
            ServerInput::Send { seq, ack, frames } => {
                let mut body = BytesMut::new();
                for frame in frames {
                    let frame = match frame {
                        ClientFrame::Message(payload) => Frame::Message(payload.to_message()),
                        ClientFrame::Close(close) => Frame::Close(close_frame(close)),
                    };
                    encode_frame(&frame, &mut body).map_err(|e| e.to_string())?;
                }
                let seq = seq.resolve(self.session.received_seq());
                let ack = ack.map(|ack| ack.resolve(self.session.sent_seq()));
                new_request = self.send(seq, ack, body)?;
            }
            ServerInput::SendRaw { seq, ack, body } => {
                let seq = seq.resolve(self.session.received_seq());
                let ack = ack.map(|ack| ack.resolve(self.session.sent_seq()));
                new_request = self.send(seq, ack, BytesMut::from(&body[..]))?;
            }
            ServerInput::Delete => {
                let id = self.session.handle_close(now);
                new_request = Some(self.took(id, Request::Delete)?);
            }
            ServerInput::Abort { back } => {
                let back = usize::from(*back);
                let order = &self.book.order;
                let id = match order.len().checked_sub(back + 1) {
                    Some(i) => order[i],
                    None => RequestId(u64::MAX - back as u64),
                };
                if self.book.abort(id) {
                    self.outcome.saw("abort of a held request");
                    self.last_activity = now;
                }
                if self.awaiting.is_some_and(|(waiting, _)| waiting == id) {
                    self.outcome.saw("abort of a send waiting for the reply");
                    self.awaiting = None;
                }
                self.session.handle_abort(now, id);
            }
            ServerInput::AppSend(payload) => self.app_send(payload.to_message())?,
            ServerInput::AppClose(close) => {
                let close = close_frame(close);
                let open = !self.app_closed && !self.session.is_closed();
                self.session.close(now, close.clone());
                if open {
                    self.out_stream
                        .push(Frame::Close(close.map(CloseFrame::truncated)));
                }
                self.app_closed = true;
            }
            ServerInput::AppTake => ends_wait = self.take_event()?,
            ServerInput::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.session.handle_timeout(self.now);
                timed_out = true;
            }
            ServerInput::Late { ms } => self.now += Duration::from_millis(u64::from(*ms)),
            ServerInput::Wake => {
                if let Some(at) = self.session.poll_timeout() {
                    self.now = self.now.max(at);
                }
                self.session.handle_timeout(self.now);
                timed_out = true;
            }
        }
        ends_wait |= match input {
            // Each request answers the send before it (handle_send does so before anything
            // else, so also when it refuses the new one), and so does the application's close.
            ServerInput::Poll { .. } | ServerInput::Delete | ServerInput::AppClose(_) => true,
            ServerInput::Send { .. } | ServerInput::SendRaw { .. } => new_request.is_some(),
            ServerInput::Advance { .. } | ServerInput::Wake => awaiting
                .is_some_and(|(_, accepted_at)| accepted_at + self.config.reply_wait <= self.now),
            _ => false,
        };
        self.after_input(before, new_request, timed_out, awaiting)?;
        self.check_reply_wait(awaiting, ends_wait)
    }

    /// A send that carried `ack` waits for the application's reply: it is answered once the
    /// application asks for more (`AppTake` finding nothing), when `reply_wait` has passed,
    /// when the client's next request arrives or when the application closes, and not before.
    fn check_reply_wait(
        &mut self,
        awaiting: Option<(RequestId, Instant)>,
        ends_wait: bool,
    ) -> Result<(), String> {
        if let Some((id, accepted_at)) = awaiting {
            match self.book.fate(id) {
                Some(Fate::Answered) if !ends_wait && !self.session.is_closed() => {
                    return Err(format!(
                        "send {id:?}, accepted {:?} ago, answered before the application \
                         replied or the reply wait ({:?}) passed",
                        self.now - accepted_at,
                        self.config.reply_wait
                    ));
                }
                Some(Fate::Pending) if ends_wait => {
                    return Err(format!(
                        "send {id:?}, accepted {:?} ago, still waits (reply wait {:?})",
                        self.now - accepted_at,
                        self.config.reply_wait
                    ));
                }
                Some(Fate::Answered) if ends_wait => {
                    self.outcome
                        .saw("send answered after waiting for the reply");
                }
                _ => {}
            }
        }
        if self.awaiting.is_some() && self.config.reply_wait.is_zero() {
            return Err("a send waits for a reply with no reply wait".into());
        }
        Ok(())
    }

    fn took(&mut self, id: RequestId, request: Request) -> Result<RequestId, String> {
        self.book.issued(id, self.now)?;
        self.requests.push((id, request));
        self.last_activity = self.now;
        Ok(id)
    }

    /// A `POST`; bodies over the body limit are refused by the driver while reading (`413`)
    /// and never reach the session, whose inbound limits count on that.
    fn send(
        &mut self,
        seq: u64,
        ack: Option<u64>,
        body: BytesMut,
    ) -> Result<Option<RequestId>, String> {
        if body.len() > self.config.max_body_bytes {
            self.outcome
                .saw("send over the body limit, refused by the driver");
            return Ok(None);
        }
        let body = body.freeze();
        let frames = decode_body(
            body.clone(),
            self.config.max_message_bytes,
            self.config.max_frames_per_request,
        );
        let id = self.session.handle_send(self.now, seq, ack, body);
        self.took(id, Request::Send { seq, ack, frames }).map(Some)
    }

    fn request(&self, id: RequestId) -> &Request {
        request(&self.requests, id)
    }

    fn app_send(&mut self, message: Message) -> Result<(), String> {
        let can = self.session.can_send(message.len());
        match self.session.send(self.now, message.clone()) {
            Ok(()) if can => {
                self.outcome.saw("app send taken");
                self.out_stream.push(Frame::Message(message));
                Ok(())
            }
            Ok(()) => Err("send took a message can_send refused".into()),
            Err(_) if can => Err("send refused a message can_send allowed".into()),
            Err(error) => {
                self.outcome.saw(&format!("app send refused: {error}"));
                if error.into_message() != message {
                    return Err("send handed back another message".into());
                }
                Ok(())
            }
        }
    }

    /// One `poll_event`; true when it found nothing.
    fn take_event(&mut self) -> Result<bool, String> {
        match self.session.poll_event(self.now) {
            Some(Event::Message(message)) => {
                if self.closed_event.is_some() {
                    return Err(format!("message after Closed: {message:?}"));
                }
                let Some(expected) = self.expected.pop_front() else {
                    return Err(format!("message that was never accepted: {message:?}"));
                };
                if message != expected {
                    return Err(format!("got {message:?}, expected {expected:?}"));
                }
                self.outcome.saw("event message");
            }
            Some(Event::Closed(reason)) => {
                if let Some(first) = &self.closed_event {
                    return Err(format!("second Closed ({reason:?}) after {first:?}"));
                }
                if !self.expected.is_empty() {
                    return Err(format!(
                        "Closed ({reason:?}) before {} accepted messages",
                        self.expected.len()
                    ));
                }
                if !self.session.is_closed() {
                    return Err(format!("Closed ({reason:?}) while the session is open"));
                }
                if let Some(close) = &self.client_close
                    && reason != CloseReason::ClientClosed(close.clone())
                {
                    return Err(format!(
                        "client close frame {close:?} accepted, closed {reason:?}"
                    ));
                }
                self.outcome.saw(&format!("event closed: {reason}"));
                self.closed_event = Some(reason);
            }
            None => {
                if !self.expected.is_empty() {
                    return Err(format!(
                        "{} accepted messages withheld",
                        self.expected.len()
                    ));
                }
                if self.session.is_closed() && self.closed_event.is_none() {
                    return Err("session closed without a Closed event".into());
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Drains the answers and checks every rule; `timed_out` after `handle_timeout`.
    fn after_input(
        &mut self,
        before: Snapshot,
        new_request: Option<RequestId>,
        timed_out: bool,
        awaiting: Option<(RequestId, Instant)>,
    ) -> Result<(), String> {
        let mut responses = Vec::new();
        while let Some(response) = self.session.poll_response() {
            self.answer(&response)?;
            responses.push(response);
        }
        self.check_accepted(before.received, &responses)?;
        if let Some(id) = new_request
            && let Some(response) = responses.iter().find(|r| r.request == id)
            && matches!(response.reply.status(), 400 | 409 | 413)
        {
            // A refused request changes nothing (PROTOCOL.md 2.4, 11), but for answering the
            // send that waited for a reply (and the held poll, with what that answer had no
            // room for).
            let after = Snapshot::of(&self.session);
            let ended_wait = awaiting
                .map(|(waiting, _)| waiting)
                .filter(|waiting| responses.iter().any(|r| r.request == *waiting));
            let unrelated = responses
                .iter()
                .filter(|r| {
                    let follows_the_wait = ended_wait.is_some_and(|waiting| {
                        r.request == waiting
                            || matches!(self.request(r.request), Request::Poll { .. })
                    });
                    r.request != id && !follows_the_wait
                })
                .count();
            if ended_wait.is_some() {
                self.outcome.saw("refusal that ended a reply wait");
            }
            if after != before || unrelated > 0 {
                return Err(format!(
                    "refusal {:?} changed the session: {before:?} -> {after:?}, answers {responses:?}",
                    response.reply
                ));
            }
        }
        self.check_state(timed_out)
    }

    fn answer(&mut self, response: &Response) -> Result<(), String> {
        self.book.answered(response.request)?;
        if self
            .awaiting
            .is_some_and(|(waiting, _)| waiting == response.request)
        {
            self.awaiting = None;
        }
        self.last_activity = self.now;
        let reply = &response.reply;
        let status = reply.status();
        let request = request(&self.requests, response.request);
        self.outcome.saw(&format!("{} {status}", request.name()));
        let allowed: &[u16] = match request {
            Request::Poll { .. } => &[200, 204, 400, 404, 409, 410],
            // Only a send that carried `ack` may bring frames back (PROTOCOL.md 5.3).
            Request::Send { ack: Some(_), .. } => &[200, 204, 400, 404, 409, 410, 413, 503],
            Request::Send { ack: None, .. } => &[204, 400, 404, 409, 410, 413, 503],
            Request::Delete => &[204, 404],
        };
        if !allowed.contains(&status) {
            return Err(format!("{} answered {reply:?}", request.name()));
        }
        match (request, reply) {
            (Request::Poll { ack }, Reply::Frames { first_seq, body }) => {
                self.check_batch(*ack, *first_seq, body).map(drop)
            }
            (
                Request::Send {
                    ack: Some(ack),
                    frames: Ok(_),
                    ..
                },
                Reply::Frames { first_seq, body },
            ) => {
                let end = self.check_batch(*ack, *first_seq, body)?;
                self.send_batch_end = self.send_batch_end.max(end);
                Ok(())
            }
            (
                Request::Send {
                    frames: Err(error), ..
                },
                _,
            ) => {
                let refusal = Reply::from(error.clone());
                if *reply != refusal && !matches!(status, 404 | 410) {
                    return Err(format!(
                        "body refused by decoding ({error}), answered {reply:?}"
                    ));
                }
                Ok(())
            }
            (Request::Send { seq, .. }, Reply::Conflict(Conflict::SeqGap { expected, got })) => {
                if got != seq || expected >= seq {
                    return Err(format!("bad gap answer {reply:?} to seq {seq}"));
                }
                Ok(())
            }
            (
                Request::Send { ack: Some(ack), .. },
                Reply::BadRequest(BadRequest::AckBeyondSent { ack: said, sent }),
            ) => {
                // Answered as it arrived, so the application's frames then are all there are.
                let numbered = self.out_stream.len() as u64;
                if said != ack || *sent != numbered || *ack <= numbered {
                    return Err(format!("{reply:?} to ack {ack} with {numbered} numbered"));
                }
                Ok(())
            }
            (Request::Send { .. }, Reply::BadRequest(_) | Reply::PayloadTooLarge(_)) => {
                Err(format!("well-formed body refused: {reply:?}"))
            }
            _ => Ok(()),
        }
    }

    /// A `200`: consecutive frames the application queued, starting at or after `ack`,
    /// within the response limits. Returns the seq after its last frame.
    fn check_batch(&self, ack: u64, first_seq: u64, body: &Bytes) -> Result<u64, String> {
        let frames = decode_body(body.clone(), usize::MAX, usize::MAX)
            .map_err(|e| format!("undecodable 200 body: {e}"))?;
        let c = &self.config;
        if frames.is_empty()
            || frames.len() > c.max_frames_per_response
            || (frames.len() > 1 && body.len() > c.max_response_bytes)
        {
            return Err(format!(
                "batch of {} frames, {} bytes",
                frames.len(),
                body.len()
            ));
        }
        if first_seq < ack {
            return Err(format!("batch from {first_seq} for ack {ack}"));
        }
        for (seq, frame) in (first_seq..).zip(&frames) {
            let sent = usize::try_from(seq)
                .ok()
                .and_then(|i| self.out_stream.get(i));
            if sent != Some(frame) {
                return Err(format!(
                    "frame {seq} is {frame:?}, the application queued {sent:?}"
                ));
            }
        }
        Ok(first_seq + frames.len() as u64)
    }

    /// Every `204` to a `POST` (or `200`, to one that carried `ack`) means all its frames were
    /// accepted, and frames are accepted only with such an answer, or by a held send that
    /// carried `ack` and now waits for the application's reply (PROTOCOL.md 5.3): replays
    /// them into the model of what the application must get.
    fn check_accepted(&mut self, before: u64, responses: &[Response]) -> Result<(), String> {
        let after = self.session.received_seq();
        let mut cursor = before;
        for response in responses {
            let Request::Send {
                seq, ack, frames, ..
            } = request(&self.requests, response.request)
            else {
                continue;
            };
            let (Reply::NoContent | Reply::Frames { .. }, Ok(frames)) = (&response.reply, frames)
            else {
                continue;
            };
            let (seq, end) = (*seq, seq + frames.len() as u64);
            if end <= cursor {
                continue; // a retry of frames accepted before
            }
            if seq > cursor {
                return Err(format!(
                    "204 to seq {seq} while {cursor} frames were accepted"
                ));
            }
            if ack.is_some() && !self.config.reply_wait.is_zero() && !self.session.is_closed() {
                return Err(format!(
                    "send {:?} answered as it was accepted, without waiting for the reply",
                    response.request
                ));
            }
            replay(
                &mut self.expected,
                &mut self.client_close,
                frames,
                cursor - seq,
            );
            cursor = end;
        }
        if cursor < after {
            let waiting =
                self.book
                    .pending()
                    .find_map(|(id, _)| match request(&self.requests, id) {
                        Request::Send {
                            seq,
                            ack: Some(_),
                            frames: Ok(frames),
                        } if *seq <= cursor && seq + frames.len() as u64 == after => {
                            Some((id, cursor - seq, frames))
                        }
                        _ => None,
                    });
            let Some((id, skip, frames)) = waiting else {
                return Err(format!(
                    "received_seq went {before} -> {after}, the answers account for {cursor} \
                     and no held send that carried ack for the rest"
                ));
            };
            if let Some((other, _)) = self.awaiting {
                return Err(format!(
                    "{id:?} waits for a reply while {other:?} still does"
                ));
            }
            replay(&mut self.expected, &mut self.client_close, frames, skip);
            self.outcome.saw("send waiting for the reply");
            self.awaiting = Some((id, self.now));
            cursor = after;
        }
        if cursor != after {
            return Err(format!(
                "received_seq went {before} -> {after}, the 204s account for {cursor}"
            ));
        }
        Ok(())
    }

    fn check_state(&self, timed_out: bool) -> Result<(), String> {
        let s = &self.session;
        let c = &self.config;
        if s.sent_seq() != self.out_stream.len() as u64 {
            return Err(format!(
                "sent_seq {} but the application queued {} frames",
                s.sent_seq(),
                self.out_stream.len()
            ));
        }
        let outbound = (s.outbound_messages(), s.outbound_bytes());
        if outbound.0 > c.outbound_max_messages || outbound.1 > c.outbound_max_bytes {
            return Err(format!("outbound {outbound:?} over its limits"));
        }
        let inbound = (s.inbound_messages(), s.inbound_bytes());
        if inbound.0 > c.inbound_max_messages || inbound.1 > c.inbound_max_bytes {
            return Err(format!("inbound {inbound:?} over its limits"));
        }
        let model = (
            self.expected.len(),
            self.expected.iter().map(Message::len).sum::<usize>(),
        );
        if inbound != model {
            return Err(format!(
                "inbound {inbound:?}, accepted and not taken {model:?}"
            ));
        }
        if s.is_closed() && outbound != (0, 0) {
            return Err(format!("closed session retains outbound {outbound:?}"));
        }
        if s.is_finished() && !s.is_closed() {
            return Err("finished but not closed".into());
        }
        let (mut polls, mut sends) = (Vec::new(), Vec::new());
        let waiting = self.awaiting.map(|(id, _)| id);
        for (id, at) in self.book.pending() {
            match self.request(id) {
                Request::Poll { .. } => polls.push(at),
                // Accepted, waiting for the reply: `check_reply_wait` bounds it.
                Request::Send { .. } if Some(id) == waiting => {}
                Request::Send { .. } => sends.push(at),
                Request::Delete => return Err(format!("DELETE {id:?} left unanswered")),
            }
        }
        if polls.len() > 1 || sends.len() + usize::from(waiting.is_some()) > 1 {
            return Err(format!(
                "{} polls and {} sends held, {:?} waiting for a reply",
                polls.len(),
                sends.len(),
                waiting
            ));
        }
        if s.is_closed() && !(polls.is_empty() && sends.is_empty()) {
            return Err("a closed session still holds a request".into());
        }
        // A poll is held only while there is nothing to send from its ack but what a send's
        // answer took or will take (PROTOCOL.md 5.3); a send only while the inbound buffer
        // has no room for it (an empty buffer takes any send). Frames are released as a
        // prefix, so a retained message and a last seq past every send's batch mean the last
        // frame waits for the poll.
        if !polls.is_empty()
            && waiting.is_none()
            && outbound.0 > 0
            && s.sent_seq() > self.send_batch_end
        {
            return Err(format!("a poll held while {} messages wait", outbound.0));
        }
        if !sends.is_empty() && inbound.0 == 0 {
            return Err("a send held while the inbound buffer is empty".into());
        }
        if !timed_out {
            return Ok(());
        }
        let now = self.now;
        if s.poll_timeout().is_some_and(|at| at <= now) {
            return Err("poll_timeout() is not in the future after handle_timeout".into());
        }
        if s.is_closed() {
            return Ok(());
        }
        // Bounded lifetime (PROTOCOL.md 8.9): holds end on time; the idle clock runs from the
        // last activity while nothing is held.
        let late = |at: Instant, limit: Duration| now >= at + limit;
        if polls.iter().any(|at| late(*at, c.poll_timeout)) {
            return Err("a poll held past the poll timeout".into());
        }
        if sends.iter().any(|at| late(*at, c.inbound_hold_timeout)) {
            return Err("a send held past the inbound hold timeout".into());
        }
        if polls.is_empty()
            && sends.is_empty()
            && waiting.is_none()
            && late(self.last_activity, c.idle_timeout)
        {
            return Err(format!(
                "open {:?} after its last activity (idle timeout {:?})",
                now - self.last_activity,
                c.idle_timeout
            ));
        }
        Ok(())
    }

    /// Lets the session run out: the application takes every event, the driver wakes at each
    /// deadline. Every request must then be answered or aborted, the session finished, and
    /// every accepted message handed out before one `Closed`.
    fn finish(&mut self) -> Result<(), String> {
        for _ in 0..1_000 {
            let pending_event = self.session.inbound_messages() > 0
                || (self.session.is_closed() && self.closed_event.is_none());
            if pending_event {
                self.step(&ServerInput::AppTake)?;
            } else if self.session.poll_timeout().is_some() {
                self.step(&ServerInput::Wake)?;
            } else {
                break;
            }
        }
        if !self.session.is_finished() || self.session.poll_timeout().is_some() {
            return Err("the session never finished".into());
        }
        let unanswered: Vec<_> = self.book.pending().map(|(id, _)| id).collect();
        if !unanswered.is_empty() {
            return Err(format!("requests never answered: {unanswered:?}"));
        }
        if self.closed_event.is_none() || !self.expected.is_empty() {
            return Err("the application did not get every message and one Closed".into());
        }
        Ok(())
    }
}
