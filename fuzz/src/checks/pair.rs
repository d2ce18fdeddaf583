//! `session_pair`: a [`ServerSession`] and a [`ClientSession`] joined by a network whose every
//! decision (deliver, drop, duplicate, reorder, break, when time passes, what the applications
//! do) is read from the fuzz input. Then a fair tail: the client closes, everything is
//! delivered in order and time moves from deadline to deadline until both sides are closed.
//!
//! Checked throughout: messages arrive exactly once and in order in both directions, each
//! server request gets at most one answer (none after an abort, none to an id never returned),
//! buffers stay within their limits, the client keeps at most one poll and one `POST` in flight.
//! A side that ends with its peer's close frame has had every message the peer sent before it.

use super::Outcome;
use super::book::{Book, Fate};
use super::inputs::{ClientSeed, CloseSeed, ConfigSeed, Payload, close_frame};
use arbitrary::{Arbitrary, Unstructured};
use longpoll_core::client::{ClientConfig, ClientOutput, RequestKind, ServerAnswer};
use longpoll_core::reply::{EXPECTED_SEQ_HEADER, SEQ_HEADER};
use longpoll_core::{
    ClientSession, CloseFrame, CloseReason, Config, Event, Message, Reply, RequestId,
    ServerSession, SessionId, SessionParams,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Actions per run; past it the rest of the data is ignored.
pub const MAX_ACTIONS: usize = 512;
/// Steps of the fair tail before the run counts as stuck (a livelock).
const TAIL_STEPS: usize = 50_000;

/// One decision of the network, the applications or the clock.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum PairAction {
    /// A request in transit (any of them: reordering) reaches the server.
    DeliverRequest(u8),
    /// A request in transit is lost; with `reset` the client sees the failure, else it must
    /// time out.
    DropRequest {
        /// Which one.
        which: u8,
        /// Whether the client sees a reset.
        reset: bool,
    },
    /// A request in transit is duplicated (a proxy's retry; nobody hears its answer).
    DuplicateRequest(u8),
    /// An answer in transit reaches the client.
    DeliverAnswer(u8),
    /// An answer in transit is lost.
    DropAnswer {
        /// Which one.
        which: u8,
        /// Whether the client sees a reset.
        reset: bool,
    },
    /// The connection of a request the server holds breaks: the server sees an abort, the
    /// client a failure.
    BreakHeld(u8),
    /// The server application sends.
    ServerSend(Payload),
    /// The client application sends.
    ClientSend(Payload),
    /// The server application takes one event.
    ServerTake,
    /// The client application takes one event.
    ClientTake,
    /// The server application closes.
    ServerClose(Option<CloseSeed>),
    /// The client application closes.
    ClientClose(Option<CloseSeed>),
    /// Time passes; both drivers call `handle_timeout`.
    Advance {
        /// Milliseconds.
        ms: u16,
    },
    /// Time moves to the earlier of the two sessions' deadlines.
    NextDeadline,
}

struct Conn {
    client_id: RequestId,
    kind: RequestKind,
    /// The client will not hear of this connection again: answered, failed, cancelled, or a
    /// duplicate.
    deaf: bool,
    server_id: Option<RequestId>,
}

/// One application: what it sent, what it got, how it ended.
#[derive(Default)]
struct App {
    sent: Vec<Message>,
    got: usize,
    /// The close frame it closed with, once it closed an open session.
    close: Option<Option<CloseFrame>>,
    closed: Option<CloseReason>,
}

struct Pair {
    config: Arc<Config>,
    client_config: ClientConfig,
    server: ServerSession,
    client: ClientSession,
    now: Instant,
    conns: Vec<Conn>,
    in_transit: Vec<usize>,
    answers: Vec<(usize, ServerAnswer)>,
    by_server_id: HashMap<RequestId, usize>,
    book: Book,
    server_app: App,
    client_app: App,
    /// The client's requests in flight: polls, `POST`s.
    in_flight: [usize; 2],
    /// Fair steps taken in the tail.
    steps: usize,
    /// Whether the server session was over when the client's ended.
    server_closed_first: Option<bool>,
    outcome: Outcome,
}

/// Runs one input; `Err` names the first broken rule.
pub fn run(data: &[u8]) -> Result<Outcome, String> {
    let mut u = Unstructured::new(data);
    let (Ok(config), Ok(client)) = (ConfigSeed::arbitrary(&mut u), ClientSeed::arbitrary(&mut u))
    else {
        return Ok(Outcome::default());
    };
    let mut pair = Pair::new(config.to_config(), &client);
    pair.drain().map_err(|e| format!("at the start: {e}"))?;
    let mut steps = 0;
    while !u.is_empty() && steps < MAX_ACTIONS {
        let Ok(action) = PairAction::arbitrary(&mut u) else {
            break;
        };
        pair.act(&action)
            .and_then(|()| pair.drain())
            .map_err(|e| format!("action {steps} ({action:?}): {e}"))?;
        steps += 1;
    }
    pair.finish().map_err(|e| format!("fair tail: {e}"))?;
    Ok(pair.outcome)
}

impl Pair {
    fn new(config: Config, client: &ClientSeed) -> Pair {
        let config = Arc::new(config);
        let now = Instant::now();
        let params = SessionParams::new(SessionId::from_bytes([7; 16]), &config);
        let client_config = client.to_config(config.max_message_bytes);
        Pair {
            server: ServerSession::new(now, config.clone()),
            client: ClientSession::new(now, params, client_config.clone(), client.jitter_seed),
            config,
            client_config,
            now,
            conns: Vec::new(),
            in_transit: Vec::new(),
            answers: Vec::new(),
            by_server_id: HashMap::new(),
            book: Book::default(),
            server_app: App::default(),
            client_app: App::default(),
            in_flight: [0, 0],
            steps: 0,
            server_closed_first: None,
            outcome: Outcome::default(),
        }
    }

    fn act(&mut self, action: &PairAction) -> Result<(), String> {
        let pick = |len: usize, i: u8| (len > 0).then(|| usize::from(i) % len);
        match action {
            PairAction::DeliverRequest(i) => {
                if let Some(i) = pick(self.in_transit.len(), *i) {
                    let conn = self.in_transit.remove(i);
                    self.arrive(conn)?;
                }
            }
            PairAction::DropRequest { which, reset } => {
                if let Some(i) = pick(self.in_transit.len(), *which) {
                    let conn = self.in_transit.remove(i);
                    self.outcome.saw("request dropped");
                    if *reset {
                        self.fail(conn);
                    }
                }
            }
            PairAction::DuplicateRequest(i) => {
                if let Some(i) = pick(self.in_transit.len(), *i) {
                    let original = &self.conns[self.in_transit[i]];
                    let copy = Conn {
                        client_id: original.client_id,
                        kind: original.kind.clone(),
                        deaf: true,
                        server_id: None,
                    };
                    self.conns.push(copy);
                    self.in_transit.push(self.conns.len() - 1);
                    self.outcome.saw("request duplicated");
                }
            }
            PairAction::DeliverAnswer(i) => {
                if let Some(i) = pick(self.answers.len(), *i) {
                    let (conn, answer) = self.answers.remove(i);
                    self.hear(conn, answer);
                }
            }
            PairAction::DropAnswer { which, reset } => {
                if let Some(i) = pick(self.answers.len(), *which) {
                    let (conn, _) = self.answers.remove(i);
                    self.outcome.saw("answer dropped");
                    if *reset {
                        self.fail(conn);
                    }
                }
            }
            PairAction::BreakHeld(i) => {
                let held: Vec<(usize, RequestId)> = (self.conns.iter().enumerate())
                    .filter_map(|(conn, c)| c.server_id.map(|id| (conn, id)))
                    .filter(|(_, id)| self.book.fate(*id) == Some(Fate::Pending))
                    .collect();
                if let Some(i) = pick(held.len(), *i) {
                    let (conn, id) = held[i];
                    self.book.abort(id);
                    self.server.handle_abort(self.now, id);
                    self.fail(conn);
                    self.outcome.saw("held request broken");
                }
            }
            PairAction::ServerSend(payload) => {
                let message = payload.to_message();
                if self.server.send(self.now, message.clone()).is_ok() {
                    self.server_app.sent.push(message);
                }
            }
            PairAction::ClientSend(payload) => {
                let message = payload.to_message();
                if self.client.send(message.clone()).is_ok() {
                    self.client_app.sent.push(message);
                }
            }
            PairAction::ServerTake => self.server_take()?,
            PairAction::ClientTake => self.client_take()?,
            PairAction::ServerClose(close) => {
                let close = close_frame(close);
                if self.server_app.close.is_none() && !self.server.is_closed() {
                    self.server_app.close = Some(close.clone().map(CloseFrame::truncated));
                }
                self.server.close(self.now, close);
            }
            PairAction::ClientClose(close) => self.client_close(close_frame(close)),
            PairAction::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.timeouts();
            }
            PairAction::NextDeadline => {
                let next = [self.server.poll_timeout(), self.client.poll_timeout()];
                if let Some(at) = next.into_iter().flatten().min() {
                    self.now = self.now.max(at);
                }
                self.timeouts();
            }
        }
        Ok(())
    }

    fn timeouts(&mut self) {
        self.server.handle_timeout(self.now);
        self.client.handle_timeout(self.now);
    }

    fn client_close(&mut self, close: Option<CloseFrame>) {
        if self.client_app.close.is_none() && !self.client.is_closed() {
            self.client_app.close = Some(close.clone().map(CloseFrame::truncated));
        }
        self.client.close(close);
    }

    /// A request reaches the server.
    fn arrive(&mut self, conn: usize) -> Result<(), String> {
        let now = self.now;
        let id = match self.conns[conn].kind.clone() {
            RequestKind::Poll { ack } => self.server.handle_poll(now, ack),
            RequestKind::Send { seq, ack, body } => self.server.handle_send(now, seq, ack, body),
            RequestKind::Delete => self.server.handle_close(now),
        };
        self.book.issued(id, now)?;
        self.by_server_id.insert(id, conn);
        self.conns[conn].server_id = Some(id);
        Ok(())
    }

    /// The client will not hear of `conn` again; false if it already would not.
    fn deafen(&mut self, conn: usize) -> bool {
        let conn = &mut self.conns[conn];
        if conn.deaf {
            return false;
        }
        conn.deaf = true;
        if let Some(slot) = slot(&conn.kind) {
            self.in_flight[slot] -= 1;
        }
        true
    }

    /// The client learns that `conn` failed.
    fn fail(&mut self, conn: usize) {
        if self.deafen(conn) {
            self.client
                .handle_failure(self.now, self.conns[conn].client_id);
        }
    }

    /// An answer reaches the client.
    fn hear(&mut self, conn: usize, answer: ServerAnswer) {
        if self.deafen(conn) {
            let id = self.conns[conn].client_id;
            self.client.handle_answer(self.now, id, answer);
        }
    }

    /// The client aborts its request `id`: a copy still in transit never arrives, one the
    /// server holds is aborted there.
    fn cancel(&mut self, id: RequestId) {
        for conn in 0..self.conns.len() {
            if self.conns[conn].client_id != id || !self.deafen(conn) {
                continue;
            }
            self.in_transit.retain(|t| *t != conn);
            if let Some(server_id) = self.conns[conn].server_id
                && self.book.abort(server_id)
            {
                self.server.handle_abort(self.now, server_id);
            }
        }
    }

    /// Drains both sessions' outputs, as drivers must after every input, then checks.
    fn drain(&mut self) -> Result<(), String> {
        for _ in 0..10_000 {
            let mut progressed = false;
            while let Some(response) = self.server.poll_response() {
                progressed = true;
                self.book.answered(response.request)?;
                let status = response.reply.status();
                self.outcome.saw(&format!("status {status}"));
                let conn = self.by_server_id[&response.request];
                if !self.conns[conn].deaf {
                    self.answers.push((conn, to_answer(&response.reply)));
                }
            }
            while let Some(output) = self.client.poll_output(self.now) {
                progressed = true;
                match output {
                    ClientOutput::Issue(request) => {
                        if let RequestKind::Send { body, .. } = &request.kind
                            && body.len() > self.config.max_body_bytes
                        {
                            return Err(format!("client POST of {} bytes", body.len()));
                        }
                        let slot = slot(&request.kind);
                        if let Some(slot) = slot {
                            self.in_flight[slot] += 1;
                            if self.in_flight[slot] > 1 {
                                return Err(format!(
                                    "client issued {request:?} with {} of its kind in flight",
                                    self.in_flight[slot] - 1
                                ));
                            }
                        }
                        self.conns.push(Conn {
                            client_id: request.id,
                            kind: request.kind,
                            deaf: false,
                            server_id: None,
                        });
                        self.in_transit.push(self.conns.len() - 1);
                    }
                    ClientOutput::Cancel(id) => self.cancel(id),
                }
            }
            if !progressed {
                return self.check();
            }
        }
        Err("the sessions keep producing output at one instant".into())
    }

    fn server_take(&mut self) -> Result<(), String> {
        let event = self.server.poll_event(self.now);
        let app = &mut self.server_app;
        take(app, &self.client_app, event, &mut self.outcome, "server")?;
        if let Some(CloseReason::ClientClosed(Some(close))) = &app.closed {
            // Only the client's close frame says that: it follows all its messages.
            if self.client_app.close != Some(Some(close.clone())) {
                return Err(format!(
                    "server closed with a close frame {close:?} never sent"
                ));
            }
            if app.got != self.client_app.sent.len() {
                return Err(format!(
                    "server got the client's close frame after {} of {} messages",
                    app.got,
                    self.client_app.sent.len()
                ));
            }
        }
        Ok(())
    }

    fn client_take(&mut self) -> Result<(), String> {
        let event = self.client.poll_event();
        let app = &mut self.client_app;
        take(app, &self.server_app, event, &mut self.outcome, "client")?;
        match &app.closed {
            // An honest server on a network that loses, duplicates and reorders, but never
            // corrupts, gives the client no reason to see a protocol error (PROTOCOL.md 11).
            Some(CloseReason::ProtocolError(detail)) => {
                return Err(format!("client closed with a protocol error: {detail}"));
            }
            Some(CloseReason::SessionGone) if self.server_closed_first != Some(true) => {
                return Err("client told the session is gone by a live server".into());
            }
            _ => {}
        }
        if let Some(CloseReason::ServerClosed(close)) = &app.closed {
            if self.server_app.close != Some(close.clone()) {
                return Err(format!(
                    "client closed with a close frame {close:?} never sent"
                ));
            }
            if app.got != self.server_app.sent.len() {
                return Err(format!(
                    "client got the server's close frame after {} of {} messages",
                    app.got,
                    self.server_app.sent.len()
                ));
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), String> {
        if self.client.is_closed() && self.server_closed_first.is_none() {
            self.server_closed_first = Some(self.server.is_closed());
        }
        let c = &self.config;
        let server_out = (
            self.server.outbound_messages(),
            self.server.outbound_bytes(),
        );
        if server_out.0 > c.outbound_max_messages || server_out.1 > c.outbound_max_bytes {
            return Err(format!("server outbound over its limits: {server_out:?}"));
        }
        let server_in = (self.server.inbound_messages(), self.server.inbound_bytes());
        if server_in.0 > c.inbound_max_messages || server_in.1 > c.inbound_max_bytes {
            return Err(format!("server inbound over its limits: {server_in:?}"));
        }
        let cc = &self.client_config;
        let client_out = (
            self.client.outbound_messages(),
            self.client.outbound_bytes(),
        );
        if client_out.0 > cc.outbound_max_messages || client_out.1 > cc.outbound_max_bytes {
            return Err(format!("client outbound over its limits: {client_out:?}"));
        }
        // An empty client inbound buffer takes any one message.
        let client_in = (self.client.inbound_messages(), self.client.inbound_bytes());
        let single = client_in.0 == 1 && client_in.1 <= c.max_message_bytes;
        if !single && (client_in.0 > cc.inbound_max_messages || client_in.1 > cc.inbound_max_bytes)
        {
            return Err(format!("client inbound over its limits: {client_in:?}"));
        }
        if self.client.received_seq() > self.server.sent_seq() {
            return Err("client received more frames than the server numbered".into());
        }
        let held = |poll: bool| {
            let kind = |id: &RequestId| {
                let conn = &self.conns[self.by_server_id[id]];
                matches!(conn.kind, RequestKind::Poll { .. }) == poll
            };
            self.book.pending().map(|(id, _)| id).filter(kind).count()
        };
        if held(true) > 1 || held(false) > 1 {
            return Err(format!(
                "server holds {} polls and {} POSTs",
                held(true),
                held(false)
            ));
        }
        Ok(())
    }

    /// The fair tail. Every request and answer is delivered in order, the applications take
    /// everything, time moves from deadline to deadline. First, unless an application closed
    /// or a side died of the earlier faults, every message sent must get through (no stall, no
    /// silent loss). Then the client closes: both sides must close, each with one `Closed`,
    /// and every server request must end answered or aborted.
    fn finish(&mut self) -> Result<(), String> {
        let c = &self.config;
        let patience = 10 * (c.poll_timeout + c.idle_timeout) + Duration::from_secs(60);
        let limit = self.now + patience;
        let healthy = |p: &Pair| {
            p.server_app.close.is_none()
                && p.client_app.close.is_none()
                && !p.server.is_closed()
                && !p.client.is_closed()
        };
        let complete = |p: &Pair| {
            p.server_app.got == p.client_app.sent.len()
                && p.client_app.got == p.server_app.sent.len()
        };
        if !self.fair_until(limit, |p| !healthy(p) || complete(p))? {
            return Err(format!(
                "stalled for {patience:?}: server got {}/{}, client got {}/{}",
                self.server_app.got,
                self.client_app.sent.len(),
                self.client_app.got,
                self.server_app.sent.len()
            ));
        }
        if healthy(self) {
            self.outcome.saw("everything delivered");
        }
        self.client_close(Some(CloseFrame::new(4001, "tail")));
        self.drain()?;
        let limit = self.now + patience;
        let closed = |p: &Pair| p.server.is_closed() && p.client.is_closed();
        if !self.fair_until(limit, closed)? {
            return Err(format!("not both closed after {patience:?}"));
        }
        // Deliver what is left in transit, and the last events.
        let quiet = |p: &Pair| {
            p.in_transit.is_empty()
                && p.answers.is_empty()
                && p.server_app.closed.is_some()
                && p.client_app.closed.is_some()
        };
        if !self.fair_until(limit, quiet)? {
            return Err("an application never got Closed".into());
        }
        let unanswered: Vec<_> = self.book.pending().map(|(id, _)| id).collect();
        if !unanswered.is_empty() {
            return Err(format!("server requests never answered: {unanswered:?}"));
        }
        let reason = |app: &App| app.closed.as_ref().map_or(String::new(), |r| r.to_string());
        let label = format!(
            "ended: server {}, client {}",
            reason(&self.server_app),
            reason(&self.client_app)
        );
        self.outcome.saw(&label);
        Ok(())
    }

    /// Takes fair steps until `done`; false if the network runs out of things to do first.
    fn fair_until(&mut self, limit: Instant, done: impl Fn(&Pair) -> bool) -> Result<bool, String> {
        loop {
            if done(self) {
                return Ok(true);
            }
            if !self.fair_step(limit)? {
                return Ok(done(self));
            }
        }
    }

    /// One step of a fair network: the applications take every event, then the oldest
    /// request or answer in transit is delivered, or else time moves to the next deadline.
    /// False when there is nothing left to do, or the next deadline is past `limit`.
    fn fair_step(&mut self, limit: Instant) -> Result<bool, String> {
        self.steps += 1;
        if self.steps > TAIL_STEPS {
            return Err(format!("still going after {TAIL_STEPS} fair steps"));
        }
        while self.server.inbound_messages() > 0
            || self.server.is_closed() && self.server_app.closed.is_none()
        {
            self.server_take()?;
            self.drain()?;
        }
        while self.client.inbound_messages() > 0
            || self.client.is_closed() && self.client_app.closed.is_none()
        {
            self.client_take()?;
            self.drain()?;
        }
        if !self.in_transit.is_empty() {
            let conn = self.in_transit.remove(0);
            self.arrive(conn)?;
        } else if !self.answers.is_empty() {
            let (conn, answer) = self.answers.remove(0);
            self.hear(conn, answer);
        } else {
            let next = [self.server.poll_timeout(), self.client.poll_timeout()];
            let Some(at) = next.into_iter().flatten().min() else {
                return Ok(false);
            };
            if at > limit {
                return Ok(false);
            }
            self.now = self.now.max(at);
            self.timeouts();
        }
        self.drain()?;
        Ok(true)
    }
}

/// Which in-flight slot a request takes: polls 0, `POST`s 1, `DELETE`s none.
fn slot(kind: &RequestKind) -> Option<usize> {
    match kind {
        RequestKind::Poll { .. } => Some(0),
        RequestKind::Send { .. } => Some(1),
        RequestKind::Delete => None,
    }
}

/// `app` takes `event`; its messages must be `peer`'s, in order, once, then one `Closed`.
fn take(
    app: &mut App,
    peer: &App,
    event: Option<Event>,
    outcome: &mut Outcome,
    side: &str,
) -> Result<(), String> {
    match event {
        Some(Event::Message(message)) => {
            if app.closed.is_some() {
                return Err(format!("{side} got a message after Closed"));
            }
            let expected = peer.sent.get(app.got);
            if expected != Some(&message) {
                return Err(format!(
                    "{side} got {message:?} as message {}, expected {expected:?}",
                    app.got
                ));
            }
            app.got += 1;
            outcome.saw(&format!("{side} got a message"));
        }
        Some(Event::Closed(reason)) => {
            if let Some(first) = &app.closed {
                return Err(format!(
                    "{side} got a second Closed ({reason:?}) after {first:?}"
                ));
            }
            outcome.saw(&format!("{side} closed: {reason}"));
            app.closed = Some(reason);
        }
        None => {}
    }
    Ok(())
}

/// What an HTTP client sees of a reply: status, the headers the client reads, body.
fn to_answer(reply: &Reply) -> ServerAnswer {
    let mut answer = ServerAnswer::status(reply.status());
    for (name, value) in reply.headers() {
        // As text, the way a client reads it off the wire.
        let value = value.to_string();
        if name.eq_ignore_ascii_case(SEQ_HEADER) {
            answer.seq = value.parse().ok();
        } else if name.eq_ignore_ascii_case(EXPECTED_SEQ_HEADER) {
            answer.expected_seq = value.parse().ok();
        } else if name.eq_ignore_ascii_case("Retry-After") {
            answer.retry_after = value.parse().ok().map(Duration::from_secs);
        }
    }
    answer.body = reply.body();
    answer
}
