//! A deterministic simulation: one `ServerSession` and one `ClientSession` joined by a
//! simulated HTTP network on a virtual clock, with a seeded fault model. In the spirit of
//! quinn-proto's `Pair` and str0m's network emulator.
//!
//! Each seed picks a configuration, fault rates, traffic and an ending, runs to completion and
//! checks the invariants after every step. A run is a pure function of its seed: a failure
//! prints the seed, and `SIM_SEED=<seed>` replays exactly that schedule.

mod rng;

use bytes::Bytes;
use longpoll_core::client::{ClientConfig, ClientOutput, RequestKind, ServerAnswer};
use longpoll_core::reply::{EXPECTED_SEQ_HEADER, SEQ_HEADER};
use longpoll_core::{
    ClientSession, CloseFrame, CloseReason, Config, Event, Message, Reply, RequestId,
    ServerSession, SessionId, SessionParams,
};
pub(crate) use rng::Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The client closes once it has everything; the server must see all its messages first.
    ClientCloses,
    /// The server closes once it has everything; the client must get every message, then close.
    ServerCloses,
    /// The client vanishes at a random moment; the server must free the session in time.
    ClientVanishes,
}

/// Probabilities and delays of the simulated network, picked per seed.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    /// Losses severe enough that a session may die of them.
    pub(crate) harsh: bool,
    pub(crate) drop_request: f64,
    pub(crate) drop_response: f64,
    /// When a request or response is dropped: the client sees a reset (else it hears nothing
    /// and must time out).
    pub(crate) reset_on_drop: f64,
    pub(crate) duplicate_request: f64,
    pub(crate) break_held_request: f64,
    pub(crate) max_latency_ms: u64,
    /// Chance that one delivery is delayed far beyond the timeouts.
    pub(crate) long_delay: f64,
}

/// What one run saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) server_to_client: u64,
    pub(crate) client_to_server: u64,
    pub(crate) dropped: u64,
    pub(crate) duplicated: u64,
    pub(crate) broken: u64,
    pub(crate) statuses: HashMap<u16, u64>,
    /// Sends answered `200` with server frames (they carried `ack`).
    pub(crate) send_answers_with_frames: u64,
    /// The run ended because the harsh network kept a side from hearing the other.
    pub(crate) died_of_faults: bool,
}

struct Conn {
    client_id: RequestId,
    issued_at: Instant,
    kind: RequestKind,
    /// The client will not hear this connection's answer (it cancelled, the connection broke,
    /// or this is a proxy's duplicate).
    client_deaf: bool,
    server_id: Option<RequestId>,
}

enum Step {
    RequestArrives(usize),
    AnswerArrives(usize, ServerAnswer),
    ClientSeesFailure(usize),
    ServerSeesAbort(usize),
    Break(usize),
}

struct App {
    /// Messages to send, with the instant each becomes ready.
    to_send: VecDeque<(Instant, Message)>,
    sent: u64,
    received: u64,
    /// The application takes no events until this instant (a slow consumer).
    paused_until: Instant,
    closed: Option<CloseReason>,
}

pub(crate) struct Sim {
    rng: Rng,
    base: Instant,
    now: Instant,
    config: Arc<Config>,
    faults: Faults,
    ending: Ending,
    server: ServerSession,
    client: ClientSession,
    client_config: ClientConfig,
    server_app: App,
    client_app: App,
    total_s: u64,
    total_c: u64,
    steps: BinaryHeap<Reverse<(Instant, u64)>>,
    step_bodies: HashMap<u64, Step>,
    next_step: u64,
    conns: Vec<Conn>,
    by_server_id: HashMap<RequestId, usize>,
    answered: HashSet<RequestId>,
    aborted: HashSet<RequestId>,
    /// Last time the server took a request, answered one, or lost one to an abort.
    server_last_activity: Instant,
    vanished_at: Option<Instant>,
    /// When the server session itself closed, and its last activity before that.
    core_closed: Option<(Instant, Instant)>,
    close_requested: bool,
    /// When the client issued each request, when it last heard a protocol answer, and when
    /// it closed: to tell a session the network killed from one a bug killed.
    client_issued: Vec<Instant>,
    client_last_answer: Instant,
    client_closed_at: Option<Instant>,
    trace: bool,
    pub(crate) stats: Stats,
}

const SERVER_CLOSE: u16 = 4000;
const CLIENT_CLOSE: u16 = 4001;

impl Sim {
    pub(crate) fn new(seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let base = Instant::now();
        let config = random_config(&mut rng);
        // Most networks are fair: requests and answers are lost only with a reset the client
        // sees, and nothing is delayed past a deadline. There every run must reach its planned
        // end. Harsh networks also lose silently and delay for minutes; a silent loss costs
        // the client a whole request deadline, so two in a row can outlast the idle timeout
        // and kill the session. It must then die for a reason the network explains.
        let harsh = rng.chance(0.3);
        let scale = if harsh { 1.0 } else { 0.2 };
        let faults = Faults {
            harsh,
            drop_request: rng.fraction(0.25 * scale),
            drop_response: rng.fraction(0.25 * scale),
            reset_on_drop: if harsh { rng.fraction(1.0) } else { 1.0 },
            duplicate_request: rng.fraction(0.15),
            break_held_request: rng.fraction(0.15),
            max_latency_ms: rng.range(0, 400),
            long_delay: if harsh { rng.fraction(0.03) } else { 0.0 },
        };
        let ending = match rng.below(3) {
            0 => Ending::ClientCloses,
            1 => Ending::ServerCloses,
            _ => Ending::ClientVanishes,
        };
        let mut client_config = ClientConfig::default();
        // Sends that carry `ack` get answers with frames; both kinds of client must hold.
        client_config.ack_on_send = rng.chance(0.7);
        client_config.outbound_max_messages = rng.range(1, 12) as usize;
        client_config.outbound_max_bytes = config.max_message_bytes + rng.range(0, 300) as usize;
        client_config.inbound_max_messages = rng.range(1, 12) as usize;
        client_config.inbound_max_bytes = rng.range(1, 400) as usize;
        // The grace must cover a round trip, or every held poll times out just before its
        // answer arrives (PROTOCOL.md says so too).
        let round_trip = 2 * faults.max_latency_ms;
        client_config.request_grace = Duration::from_millis(rng.range(round_trip + 100, 6_000));
        let params = SessionParams::new(SessionId::from_bytes([9; 16]), &config);
        let client = ClientSession::new(base, params, client_config.clone(), rng.next_u64());
        let server = ServerSession::new(base, config.clone());
        let total_s = rng.range(0, 60);
        let total_c = rng.range(0, 60);
        let server_app = App::new(&mut rng, base, "s", total_s, config.max_message_bytes);
        let client_app = App::new(&mut rng, base, "c", total_c, config.max_message_bytes);
        let vanished_at = (ending == Ending::ClientVanishes)
            .then(|| base + Duration::from_millis(rng.range(0, 120_000)));
        Sim {
            rng,
            base,
            now: base,
            config,
            faults,
            ending,
            server,
            client,
            client_config,
            server_app,
            client_app,
            total_s,
            total_c,
            steps: BinaryHeap::new(),
            step_bodies: HashMap::new(),
            next_step: 0,
            conns: Vec::new(),
            by_server_id: HashMap::new(),
            answered: HashSet::new(),
            aborted: HashSet::new(),
            server_last_activity: base,
            vanished_at,
            core_closed: None,
            close_requested: false,
            client_issued: Vec::new(),
            client_last_answer: base,
            client_closed_at: None,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            stats: Stats::default(),
        }
    }

    pub(crate) fn ending(&self) -> Ending {
        self.ending
    }

    /// Runs the schedule to its end; `Err` names the first invariant broken.
    pub(crate) fn run(&mut self) -> Result<(), String> {
        let limit = self.base + Duration::from_secs(4 * 3600);
        let mut iterations = 0u64;
        self.drain()?;
        loop {
            iterations += 1;
            if iterations > 1_000_000 {
                return Err(format!(
                    "no progress at {:?}: server timeout {:?}, client timeout {:?}, next step {:?}",
                    self.elapsed(),
                    self.server.poll_timeout().map(|t| t - self.base),
                    self.client.poll_timeout().map(|t| t - self.base),
                    self.steps.peek().map(|Reverse((t, _))| *t - self.base),
                ));
            }
            if self.finished()? {
                return self.every_request_answered();
            }
            let Some(next) = self.next_wakeup() else {
                return Err(format!("stuck: nothing scheduled at {:?}", self.elapsed()));
            };
            if next > limit {
                return Err(format!(
                    "not done after {:?} of virtual time",
                    limit - self.base
                ));
            }
            self.now = self.now.max(next);
            while let Some(Reverse((at, key))) = self.steps.peek().copied() {
                if at > self.now {
                    break;
                }
                self.steps.pop();
                let step = self.step_bodies.remove(&key).expect("scheduled step");
                self.run_step(step)?;
                self.drain()?;
            }
            self.server.handle_timeout(self.now);
            if !self.client_gone() {
                self.client.handle_timeout(self.now);
            }
            self.drain()?;
        }
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.trace {
            eprintln!("{:>10.3?} {what}", self.elapsed());
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    fn client_gone(&self) -> bool {
        self.vanished_at.is_some_and(|at| at <= self.now)
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let apps = [&self.server_app, &self.client_app]
            .into_iter()
            // Only future instants: a message that is ready but blocked waits for an input.
            .flat_map(|app| {
                [
                    app.to_send.front().map(|(at, _)| *at),
                    Some(app.paused_until),
                ]
            })
            .flatten()
            .filter(|at| *at > self.now);
        let client = if self.client_gone() {
            None
        } else {
            self.client.poll_timeout()
        };
        [
            self.steps.peek().map(|Reverse((at, _))| *at),
            self.server.poll_timeout(),
            client,
            self.vanished_at.filter(|at| *at > self.now),
        ]
        .into_iter()
        .flatten()
        .chain(apps)
        .map(|at| at.max(self.now))
        .min()
    }

    fn schedule(&mut self, delay: Duration, step: Step) {
        let key = self.next_step;
        self.next_step += 1;
        self.steps.push(Reverse((self.now + delay, key)));
        self.step_bodies.insert(key, step);
    }

    fn latency(&mut self) -> Duration {
        if self.rng.chance(self.faults.long_delay) {
            return Duration::from_millis(self.rng.range(20_000, 90_000));
        }
        Duration::from_millis(self.rng.range(0, self.faults.max_latency_ms))
    }

    // ----- the network ------------------------------------------------------------------

    fn issue(&mut self, id: RequestId, kind: RequestKind) {
        self.log(format_args!("client issues {id:?} {}", describe(&kind)));
        self.stats.requests += 1;
        self.client_issued.push(self.now);
        let conn = self.conns.len();
        let duplicate = self.rng.chance(self.faults.duplicate_request);
        self.conns.push(Conn {
            client_id: id,
            issued_at: self.now,
            kind: kind.clone(),
            client_deaf: false,
            server_id: None,
        });
        if self.rng.chance(self.faults.drop_request) {
            self.log(format_args!("  network drops request {id:?}"));
            self.stats.dropped += 1;
            if self.rng.chance(self.faults.reset_on_drop) {
                let delay = self.latency();
                self.schedule(delay, Step::ClientSeesFailure(conn));
            }
        } else {
            let delay = self.latency();
            self.schedule(delay, Step::RequestArrives(conn));
        }
        if duplicate {
            // A proxy or the network delivers the request twice; only the first answer counts.
            self.stats.duplicated += 1;
            let copy = self.conns.len();
            self.conns.push(Conn {
                client_id: id,
                issued_at: self.now,
                kind,
                client_deaf: true,
                server_id: None,
            });
            let delay = self.latency() + self.latency();
            self.schedule(delay, Step::RequestArrives(copy));
        }
    }

    fn cancel(&mut self, id: RequestId) {
        for conn in 0..self.conns.len() {
            if self.conns[conn].client_id == id && !self.conns[conn].client_deaf {
                self.conns[conn].client_deaf = true;
                let delay = self.latency();
                self.schedule(delay, Step::ServerSeesAbort(conn));
            }
        }
    }

    fn run_step(&mut self, step: Step) -> Result<(), String> {
        if self.trace {
            let (what, conn) = match &step {
                Step::RequestArrives(c) => ("request arrives", *c),
                Step::AnswerArrives(c, a) => {
                    self.log(format_args!(
                        "answer {} arrives for {:?}",
                        a.status, self.conns[*c].client_id
                    ));
                    ("", *c)
                }
                Step::ClientSeesFailure(c) => ("client sees failure", *c),
                Step::ServerSeesAbort(c) => ("server sees abort", *c),
                Step::Break(c) => ("connection breaks", *c),
            };
            if !what.is_empty() {
                let c = &self.conns[conn];
                self.log(format_args!(
                    "{what}: {:?} {} deaf={}",
                    c.client_id,
                    describe(&c.kind),
                    c.client_deaf
                ));
            }
        }
        match step {
            Step::RequestArrives(conn) => {
                let now = self.now;
                let server_id = match self.conns[conn].kind.clone() {
                    RequestKind::Poll { ack } => self.server.handle_poll(now, ack),
                    RequestKind::Send { seq, ack, body } => {
                        self.server.handle_send(now, seq, ack, body)
                    }
                    RequestKind::Delete => self.server.handle_close(now),
                };
                if self.by_server_id.insert(server_id, conn).is_some() {
                    return Err(format!("server reused request id {server_id:?}"));
                }
                self.conns[conn].server_id = Some(server_id);
                self.server_last_activity = now;
                if self.rng.chance(self.faults.break_held_request) {
                    let after = Duration::from_millis(self.rng.range(0, 30_000));
                    self.schedule(after, Step::Break(conn));
                }
            }
            Step::AnswerArrives(conn, answer) => {
                if !self.conns[conn].client_deaf && !self.client_gone() {
                    let id = self.conns[conn].client_id;
                    let protocol = matches!(answer.status, 200 | 204 | 404 | 409 | 410 | 503);
                    if protocol && self.client_closed_at.is_none() {
                        self.client_last_answer = self.now;
                    }
                    self.client.handle_answer(self.now, id, answer);
                }
            }
            Step::ClientSeesFailure(conn) => {
                if !self.conns[conn].client_deaf && !self.client_gone() {
                    self.conns[conn].client_deaf = true;
                    let id = self.conns[conn].client_id;
                    self.note_failure_seen(conn);
                    self.client.handle_failure(self.now, id);
                }
            }
            Step::ServerSeesAbort(conn) => self.server_abort(conn),
            Step::Break(conn) => {
                // The connection drops while the server may still hold the request.
                let Some(server_id) = self.conns[conn].server_id else {
                    return Ok(());
                };
                if self.answered.contains(&server_id) {
                    return Ok(());
                }
                self.stats.broken += 1;
                self.server_abort(conn);
                if !self.conns[conn].client_deaf && !self.client_gone() {
                    self.conns[conn].client_deaf = true;
                    let id = self.conns[conn].client_id;
                    self.note_failure_seen(conn);
                    self.client.handle_failure(self.now, id);
                }
            }
        }
        Ok(())
    }

    /// A request that failed after half the poll hold counts as a sign of life to the client
    /// (see `ClientSession::handle_failure`); mirror that when judging its give-up.
    fn note_failure_seen(&mut self, conn: usize) {
        let held = self.now - self.conns[conn].issued_at;
        if held >= self.config.poll_timeout / 2 && self.client_closed_at.is_none() {
            self.client_last_answer = self.now;
        }
    }

    fn server_abort(&mut self, conn: usize) {
        if let Some(server_id) = self.conns[conn].server_id
            && !self.answered.contains(&server_id)
            && self.aborted.insert(server_id)
        {
            self.server.handle_abort(self.now, server_id);
            self.server_last_activity = self.now;
        }
    }

    fn deliver_response(&mut self, request: RequestId, reply: Reply) -> Result<(), String> {
        let Some(&conn) = self.by_server_id.get(&request) else {
            return Err(format!(
                "answer to a request the server never got: {request:?}"
            ));
        };
        if !self.answered.insert(request) {
            return Err(format!("second answer to {request:?}: {reply:?}"));
        }
        if self.aborted.contains(&request) {
            return Err(format!("answer to aborted request {request:?}"));
        }
        self.server_last_activity = self.now;
        self.log(format_args!(
            "server answers {:?} (client {:?}) {}",
            request,
            self.conns[conn].client_id,
            reply.status()
        ));
        *self.stats.statuses.entry(reply.status()).or_default() += 1;
        if matches!(self.conns[conn].kind, RequestKind::Send { .. }) && reply.status() == 200 {
            self.stats.send_answers_with_frames += 1;
        }
        if self.conns[conn].client_deaf || self.client_gone() {
            return Ok(());
        }
        if self.rng.chance(self.faults.drop_response) {
            self.log(format_args!("  network drops that answer"));
            // Cut mid-body: the client sees a reset, or nothing and must time out.
            self.stats.dropped += 1;
            if self.rng.chance(self.faults.reset_on_drop) {
                let delay = self.latency();
                self.schedule(delay, Step::ClientSeesFailure(conn));
            }
            return Ok(());
        }
        let answer = to_answer(&reply);
        let delay = self.latency();
        self.schedule(delay, Step::AnswerArrives(conn, answer));
        Ok(())
    }

    // ----- the applications and the drive loop ------------------------------------------

    /// Drains every output after an input, as a driver must, then checks the invariants.
    fn drain(&mut self) -> Result<(), String> {
        loop {
            let mut progressed = false;
            // A driver may let the application take a message and send before it drains the
            // answers (a send that carried `ack` then takes what was sent): both orders hold.
            if self.rng.chance(0.5) {
                progressed |= self.server_app_turn()?;
            }
            while let Some(response) = self.server.poll_response() {
                progressed = true;
                self.deliver_response(response.request, response.reply)?;
            }
            progressed |= self.server_app_turn()?;
            if !self.client_gone() {
                while let Some(output) = self.client.poll_output(self.now) {
                    progressed = true;
                    match output {
                        ClientOutput::Issue(request) => self.issue(request.id, request.kind),
                        ClientOutput::Cancel(id) => self.cancel(id),
                    }
                }
                if self.client_app.paused_until <= self.now
                    && let Some(event) = self.client.poll_event()
                {
                    progressed = true;
                    self.client_event(event)?;
                    if self.rng.chance(0.05) {
                        let pause = Duration::from_millis(self.rng.range(0, 3_000));
                        self.client_app.paused_until = self.now + pause;
                    }
                }
                progressed |= self.client_app_sends();
            }
            progressed |= self.server_app_sends();
            progressed |= self.maybe_close();
            if !progressed {
                break;
            }
        }
        if self.core_closed.is_none() && self.server.is_closed() {
            self.core_closed = Some((self.now, self.server_last_activity));
        }
        self.check_bounds()
    }

    /// The server application takes one message (unless paused) and sends what is due.
    fn server_app_turn(&mut self) -> Result<bool, String> {
        let mut progressed = false;
        if self.server_app.paused_until <= self.now {
            // Finding nothing tells a send that carried `ack` that the application has
            // replied: the drain that follows answers it.
            let send_waits = self.server.send_answer_pending();
            match self.server.poll_event(self.now) {
                Some(event) => {
                    progressed = true;
                    self.server_event(event)?;
                    self.maybe_pause_server_app();
                }
                None => progressed = send_waits,
            }
        }
        Ok(self.server_app_sends() | progressed)
    }

    fn maybe_pause_server_app(&mut self) {
        if self.rng.chance(0.05) {
            // Sometimes longer than the inbound hold, so held POSTs get 503.
            let pause = Duration::from_millis(self.rng.range(0, 12_000));
            self.server_app.paused_until = self.now + pause;
        }
    }

    fn server_event(&mut self, event: Event) -> Result<(), String> {
        self.log(format_args!("server app gets {}", describe_event(&event)));
        if self.server_app.closed.is_some() {
            return Err(format!("server event after Closed: {event:?}"));
        }
        match event {
            Event::Message(message) => {
                expect_next(&mut self.server_app.received, "c", &message, self.total_c)?;
                self.stats.client_to_server += 1;
            }
            Event::Closed(reason) => self.server_app.closed = Some(reason),
        }
        Ok(())
    }

    fn client_event(&mut self, event: Event) -> Result<(), String> {
        self.log(format_args!("client app gets {}", describe_event(&event)));
        if self.client_app.closed.is_some() {
            return Err(format!("client event after Closed: {event:?}"));
        }
        match event {
            Event::Message(message) => {
                expect_next(&mut self.client_app.received, "s", &message, self.total_s)?;
                self.stats.server_to_client += 1;
            }
            Event::Closed(reason) => {
                self.client_closed_at = Some(self.now);
                self.client_app.closed = Some(reason);
            }
        }
        Ok(())
    }

    fn server_app_sends(&mut self) -> bool {
        let mut progressed = false;
        while let Some((ready, message)) = self.server_app.to_send.front()
            && *ready <= self.now
            && self.server.can_send(message.len())
        {
            let (_, message) = self.server_app.to_send.pop_front().expect("front exists");
            self.server
                .send(self.now, message)
                .expect("can_send said yes");
            self.server_app.sent += 1;
            progressed = true;
        }
        progressed
    }

    fn client_app_sends(&mut self) -> bool {
        let mut progressed = false;
        while let Some((ready, message)) = self.client_app.to_send.front()
            && *ready <= self.now
            && self.client.can_send(message.len())
        {
            let (_, message) = self.client_app.to_send.pop_front().expect("front exists");
            self.client.send(message).expect("can_send said yes");
            self.client_app.sent += 1;
            progressed = true;
        }
        progressed
    }

    fn maybe_close(&mut self) -> bool {
        if self.close_requested {
            return false;
        }
        let everything_sent = |app: &App| app.to_send.is_empty();
        match self.ending {
            Ending::ClientCloses
                if everything_sent(&self.client_app)
                    && self.client_app.received == self.total_s
                    && !self.client_gone() =>
            {
                self.client
                    .close(Some(CloseFrame::new(CLIENT_CLOSE, "client done")));
            }
            Ending::ServerCloses
                if everything_sent(&self.server_app)
                    && self.server_app.received == self.total_c =>
            {
                let close = CloseFrame::new(SERVER_CLOSE, "server done");
                self.server.close(self.now, Some(close));
            }
            _ => return false,
        }
        self.close_requested = true;
        true
    }

    fn check_bounds(&self) -> Result<(), String> {
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
        // An empty buffer takes any one message; past that the limits hold.
        let client_in = (self.client.inbound_messages(), self.client.inbound_bytes());
        let single = client_in.0 == 1 && client_in.1 <= c.max_message_bytes;
        if !single && (client_in.0 > cc.inbound_max_messages || client_in.1 > cc.inbound_max_bytes)
        {
            return Err(format!("client inbound over its limits: {client_in:?}"));
        }
        Ok(())
    }

    /// Once the server session is over, every request it took has had its one answer, or
    /// was aborted by the client going away.
    fn every_request_answered(&self) -> Result<(), String> {
        let unanswered: Vec<_> = self
            .by_server_id
            .keys()
            .filter(|id| !self.answered.contains(id) && !self.aborted.contains(id))
            .collect();
        if unanswered.is_empty() {
            Ok(())
        } else {
            Err(format!("requests never answered: {unanswered:?}"))
        }
    }

    /// Whether the run is over, checking the ending's promises when it is.
    fn finished(&mut self) -> Result<bool, String> {
        if self.vanished_at.is_some() && self.core_closed.is_none() {
            // Anything held is answered within the poll or inbound hold, which counts as
            // activity; from the last activity the idle timeout must close the session.
            let hold = self
                .config
                .poll_timeout
                .max(self.config.inbound_hold_timeout);
            let bound = self.server_last_activity + hold + self.config.idle_timeout;
            if self.now > bound + Duration::from_millis(1) {
                return Err(format!(
                    "abandoned session still open {:?} after its last activity",
                    self.now - self.server_last_activity
                ));
            }
        }
        let Some(server_reason) = &self.server_app.closed else {
            return Ok(false);
        };
        match self.ending {
            Ending::ClientVanishes
                if self
                    .client_closed_at
                    .is_some_and(|at| self.vanished_at.is_some_and(|v| at < v)) =>
            {
                // The client closed (gave up) before it was to vanish.
                let client_reason = self.client_app.closed.clone().expect("closed");
                let server_reason = server_reason.clone();
                self.explain_death(&server_reason, &client_reason)
                    .map_err(|why| {
                        format!(
                            "closed with server {server_reason:?}, client {client_reason:?}: {why}"
                        )
                    })?;
                self.stats.died_of_faults = true;
                Ok(true)
            }
            Ending::ClientVanishes => {
                let (at, last_activity) = self.core_closed.expect("closed before the event");
                if *server_reason != CloseReason::IdleTimeout {
                    return Err(format!("abandoned session closed with {server_reason:?}"));
                }
                if at != last_activity + self.config.idle_timeout {
                    return Err(format!(
                        "idle close {:?} after the last activity, not the idle timeout {:?}",
                        at - last_activity,
                        self.config.idle_timeout
                    ));
                }
                Ok(true)
            }
            Ending::ClientCloses | Ending::ServerCloses => {
                let Some(client_reason) = &self.client_app.closed else {
                    return Ok(false);
                };
                let (expect_server, expect_client) = if self.ending == Ending::ClientCloses {
                    let frame = Some(CloseFrame::new(CLIENT_CLOSE, "client done"));
                    let reason = CloseReason::ClientClosed(frame);
                    (reason.clone(), reason)
                } else {
                    let frame = Some(CloseFrame::new(SERVER_CLOSE, "server done"));
                    let reason = CloseReason::ServerClosed(frame);
                    (reason.clone(), reason)
                };
                if *server_reason != expect_server || *client_reason != expect_client {
                    let (server_reason, client_reason) =
                        (server_reason.clone(), client_reason.clone());
                    self.explain_death(&server_reason, &client_reason).map_err(|why| {
                        format!("closed with server {server_reason:?}, client {client_reason:?}: {why}")
                    })?;
                    self.stats.died_of_faults = true;
                    return Ok(true);
                }
                if self.server_app.received != self.total_c
                    || self.client_app.received != self.total_s
                {
                    return Err(format!(
                        "lost messages: server got {}/{}, client got {}/{}",
                        self.server_app.received,
                        self.total_c,
                        self.client_app.received,
                        self.total_s
                    ));
                }
                Ok(true)
            }
        }
    }
}

impl Sim {
    /// A session that did not end as planned must have been killed by the network: only a
    /// harsh network may do that, and each side's reason must follow from what it saw.
    fn explain_death(&self, server: &CloseReason, client: &CloseReason) -> Result<(), String> {
        if !self.faults.harsh {
            return Err("on a fair network".into());
        }
        let client_at = self.client_closed_at.expect("client closed");
        let give_up = self.config.poll_timeout + self.config.idle_timeout;
        match client {
            CloseReason::IdleTimeout if client_at >= self.client_last_answer + give_up => {}
            CloseReason::IdleTimeout => {
                return Err(format!(
                    "client gave up at {:?}, {:?} after its last answer (limit {give_up:?})",
                    client_at - self.base,
                    client_at - self.client_last_answer
                ));
            }
            CloseReason::SessionGone if self.core_closed.is_some_and(|(at, _)| at <= client_at) => {
            }
            CloseReason::SessionGone => return Err("client told gone by a live server".into()),
            CloseReason::ClientClosed(_) | CloseReason::ServerClosed(_) => {}
            CloseReason::ProtocolError(_) => return Err("protocol error".into()),
        }
        if *server == CloseReason::IdleTimeout {
            let (at, last_activity) = self.core_closed.expect("server closed");
            // The client keeps a request going (or retries within the backoff cap, or sends
            // a keep-alive within half the idle timeout) until it closes; if the server heard
            // nothing for the idle timeout, the client must have been trying, or be gone.
            let tried = self
                .client_issued
                .iter()
                .any(|t| *t > last_activity && *t <= at);
            let client_was_closed = client_at <= at;
            if !tried && !client_was_closed {
                return Err(format!(
                    "server idled out while the client sent nothing for {:?}",
                    at - last_activity
                ));
            }
        }
        Ok(())
    }
}

impl App {
    fn new(rng: &mut Rng, base: Instant, tag: &str, count: u64, max_len: usize) -> App {
        let mut at = base;
        let to_send = (0..count)
            .map(|i| {
                at += Duration::from_millis(rng.range(0, 2_000) * u64::from(rng.chance(0.5)));
                (at, make_message(rng, tag, i, max_len))
            })
            .collect();
        App {
            to_send,
            sent: 0,
            received: 0,
            paused_until: base,
            closed: None,
        }
    }
}

/// Message `i` of stream `tag`: its number first, then random padding; text or binary.
fn make_message(rng: &mut Rng, tag: &str, i: u64, max_len: usize) -> Message {
    let mut text = format!("{tag}{i}:");
    let pad = rng.range(0, (max_len.saturating_sub(text.len())) as u64) as usize;
    text.extend(std::iter::repeat_n('x', pad));
    if rng.chance(0.5) {
        Message::from(text)
    } else {
        Message::Binary(Bytes::from(text))
    }
}

fn expect_next(received: &mut u64, tag: &str, message: &Message, total: u64) -> Result<(), String> {
    let bytes = match message {
        Message::Text(text) => text.as_bytes().clone(),
        Message::Binary(bytes) => bytes.clone(),
    };
    let expected = format!("{tag}{received}:");
    if !bytes.starts_with(expected.as_bytes()) {
        let got = String::from_utf8_lossy(&bytes[..bytes.len().min(12)]).into_owned();
        return Err(format!(
            "expected message {expected} got {got:?} (duplicate, loss or reorder)"
        ));
    }
    *received += 1;
    if *received > total {
        return Err(format!("more {tag} messages than were sent"));
    }
    Ok(())
}

fn describe(kind: &RequestKind) -> String {
    match kind {
        RequestKind::Poll { ack } => format!("GET ack={ack}"),
        RequestKind::Send { seq, ack, body } => {
            let ack = ack.map_or(String::new(), |ack| format!(" ack={ack}"));
            format!("POST seq={seq}{ack} ({} bytes)", body.len())
        }
        RequestKind::Delete => "DELETE".into(),
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Message(Message::Text(t)) => format!("text {:?}", &t[..t.len().min(8)]),
        Event::Message(Message::Binary(b)) => {
            format!("binary {:?}", String::from_utf8_lossy(&b[..b.len().min(8)]))
        }
        Event::Closed(reason) => format!("closed: {reason}"),
    }
}

/// Turns a server reply into what an HTTP client would see, through the headers as sent.
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

/// A configuration that passes `validate`, with small limits so backpressure happens often.
fn random_config(rng: &mut Rng) -> Arc<Config> {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_millis(rng.range(500, 25_000));
    // At least 2 s more than the poll hold, so half of it covers the client's grace.
    config.idle_timeout = config.poll_timeout + Duration::from_millis(rng.range(2_000, 30_000));
    config.gone_timeout = Duration::from_millis(rng.range(1, 30_000));
    config.max_message_bytes = rng.range(8, 64) as usize;
    // Any frame, a close frame (up to 125 bytes of payload) included, must fit a body.
    let frame = config.max_message_bytes.max(125) + 5;
    config.max_body_bytes = frame + rng.range(0, 200) as usize;
    config.max_frames_per_request = rng.range(1, 8) as usize;
    config.max_response_bytes = frame + rng.range(0, 200) as usize;
    config.max_frames_per_response = rng.range(1, 8) as usize;
    config.outbound_max_bytes = config.max_message_bytes + rng.range(0, 300) as usize;
    config.outbound_max_messages = rng.range(1, 16) as usize;
    config.inbound_max_bytes = config.max_body_bytes + rng.range(0, 300) as usize;
    config.inbound_max_messages = config.max_frames_per_request + rng.range(0, 8) as usize;
    let hold_ms = (config.poll_timeout.as_millis() as u64 - 1).min(8_000);
    config.inbound_hold_timeout = Duration::from_millis(rng.range(100, hold_ms));
    let quarter_idle = config.idle_timeout.as_millis() as u64 / 4;
    config.retry_after = Duration::from_millis(rng.range(0, 3_000.min(quarter_idle)));
    // How long a send that carried `ack` waits for the reply: none (answered at the next
    // drain), a short wait, or as long as the inbound hold leaves under the poll hold.
    let room_ms = (config.poll_timeout - config.inbound_hold_timeout).as_millis() as u64 - 1;
    config.reply_wait = Duration::from_millis(match rng.below(3) {
        _ if room_ms == 0 => 0,
        0 => 0,
        1 => rng.range(1, 50.min(room_ms)),
        _ => rng.range(1, room_ms),
    });
    config.validate().expect("random config is valid");
    Arc::new(config)
}
