//! The seed corpus, written as the inputs it decodes to.
//!
//! [`Encode`] writes the bytes from which `arbitrary` decodes a given value (the inverse of
//! the derived `Arbitrary` impls for the input types), so each seed reads as a scenario.
//! `cargo test -p longpoll-core --test fuzz_corpus` checks that every seed decodes back to its
//! scenario and is committed under `fuzz/corpus/<target>/`; after changing a scenario or an
//! input type, rewrite them with `FUZZ_WRITE_SEEDS=1` on that command.

use super::inputs::{ClientFrame, ClientSeed, CloseSeed, ConfigSeed, Payload, Pos};
use super::pair::PairAction;
use super::server::ServerInput;
use arbitrary::{Arbitrary, Unstructured};

/// Writes the bytes `arbitrary` decodes `self` from.
pub trait Encode {
    /// Appends the encoding of `self`.
    fn encode(&self, out: &mut Vec<u8>);
}

impl Encode for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Encode for i8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
}

impl Encode for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
}

impl Encode for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

/// Each element follows a `true` continuation byte; a `false` one ends the list.
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        for item in self {
            true.encode(out);
            item.encode(out);
        }
        false.encode(out);
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.is_some().encode(out);
        if let Some(value) = self {
            value.encode(out);
        }
    }
}

/// A derived enum reads a `u32` and takes variant `(x * count) >> 32`: write the smallest
/// such `x`.
fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
    let x = u32::try_from((index << 32).div_ceil(count)).expect("index < count");
    out.extend(x.to_le_bytes());
}

impl Encode for Payload {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Text(bytes) => {
                variant(out, 0, 3);
                bytes.encode(out);
            }
            Payload::Binary(bytes) => {
                variant(out, 1, 3);
                bytes.encode(out);
            }
            Payload::Filled { text, len, byte } => {
                variant(out, 2, 3);
                text.encode(out);
                len.encode(out);
                byte.encode(out);
            }
        }
    }
}

impl Encode for CloseSeed {
    fn encode(&self, out: &mut Vec<u8>) {
        self.code.encode(out);
        self.reason.encode(out);
        self.pad.encode(out);
    }
}

impl Encode for ClientFrame {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientFrame::Message(payload) => {
                variant(out, 0, 2);
                payload.encode(out);
            }
            ClientFrame::Close(close) => {
                variant(out, 1, 2);
                close.encode(out);
            }
        }
    }
}

impl Encode for Pos {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Pos::Rel(delta) => {
                variant(out, 0, 2);
                delta.encode(out);
            }
            Pos::Abs(value) => {
                variant(out, 1, 2);
                value.encode(out);
            }
        }
    }
}

impl Encode for ConfigSeed {
    fn encode(&self, out: &mut Vec<u8>) {
        let ConfigSeed {
            poll_ms,
            idle_extra_ms,
            gone_ms,
            hold_ms,
            retry_ms,
            max_message,
            body_extra,
            frames_per_request,
            response_extra,
            frames_per_response,
            outbound_extra,
            outbound_messages,
            inbound_extra,
            inbound_messages_extra,
            reply_wait_ms,
        } = self;
        for n in [poll_ms, idle_extra_ms, gone_ms, hold_ms, retry_ms] {
            n.encode(out);
        }
        for n in [
            max_message,
            body_extra,
            frames_per_request,
            response_extra,
            frames_per_response,
            outbound_extra,
            outbound_messages,
            inbound_extra,
            inbound_messages_extra,
        ] {
            n.encode(out);
        }
        reply_wait_ms.encode(out);
    }
}

impl Encode for ClientSeed {
    fn encode(&self, out: &mut Vec<u8>) {
        let ClientSeed {
            outbound_messages,
            outbound_extra,
            inbound_messages,
            inbound_bytes,
            grace_ms,
            backoff_ms,
            backoff_extra_ms,
            jitter_seed,
        } = self;
        outbound_messages.encode(out);
        outbound_extra.encode(out);
        inbound_messages.encode(out);
        for n in [inbound_bytes, grace_ms, backoff_ms, backoff_extra_ms] {
            n.encode(out);
        }
        jitter_seed.encode(out);
    }
}

impl Encode for ServerInput {
    fn encode(&self, out: &mut Vec<u8>) {
        const N: u64 = 11;
        match self {
            ServerInput::Poll { ack } => {
                variant(out, 0, N);
                ack.encode(out);
            }
            ServerInput::Send { seq, ack, frames } => {
                variant(out, 1, N);
                seq.encode(out);
                ack.encode(out);
                frames.encode(out);
            }
            ServerInput::SendRaw { seq, ack, body } => {
                variant(out, 2, N);
                seq.encode(out);
                ack.encode(out);
                body.encode(out);
            }
            ServerInput::Delete => variant(out, 3, N),
            ServerInput::Abort { back } => {
                variant(out, 4, N);
                back.encode(out);
            }
            ServerInput::AppSend(payload) => {
                variant(out, 5, N);
                payload.encode(out);
            }
            ServerInput::AppClose(close) => {
                variant(out, 6, N);
                close.encode(out);
            }
            ServerInput::AppTake => variant(out, 7, N),
            ServerInput::Advance { ms } => {
                variant(out, 8, N);
                ms.encode(out);
            }
            ServerInput::Late { ms } => {
                variant(out, 9, N);
                ms.encode(out);
            }
            ServerInput::Wake => variant(out, 10, N),
        }
    }
}

impl Encode for PairAction {
    fn encode(&self, out: &mut Vec<u8>) {
        const N: u64 = 14;
        match self {
            PairAction::DeliverRequest(i) => {
                variant(out, 0, N);
                i.encode(out);
            }
            PairAction::DropRequest { which, reset } => {
                variant(out, 1, N);
                which.encode(out);
                reset.encode(out);
            }
            PairAction::DuplicateRequest(i) => {
                variant(out, 2, N);
                i.encode(out);
            }
            PairAction::DeliverAnswer(i) => {
                variant(out, 3, N);
                i.encode(out);
            }
            PairAction::DropAnswer { which, reset } => {
                variant(out, 4, N);
                which.encode(out);
                reset.encode(out);
            }
            PairAction::BreakHeld(i) => {
                variant(out, 5, N);
                i.encode(out);
            }
            PairAction::ServerSend(payload) => {
                variant(out, 6, N);
                payload.encode(out);
            }
            PairAction::ClientSend(payload) => {
                variant(out, 7, N);
                payload.encode(out);
            }
            PairAction::ServerTake => variant(out, 8, N),
            PairAction::ClientTake => variant(out, 9, N),
            PairAction::ServerClose(close) => {
                variant(out, 10, N);
                close.encode(out);
            }
            PairAction::ClientClose(close) => {
                variant(out, 11, N);
                close.encode(out);
            }
            PairAction::Advance { ms } => {
                variant(out, 12, N);
                ms.encode(out);
            }
            PairAction::NextDeadline => variant(out, 13, N),
        }
    }
}

/// A `server_session` input: the configuration, then the inputs one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerScenario {
    /// The configuration.
    pub config: ConfigSeed,
    /// The inputs.
    pub inputs: Vec<ServerInput>,
}

impl ServerScenario {
    /// Decodes a fuzz input the way `server_session` does (without its input limit).
    pub fn parse(bytes: &[u8]) -> Option<ServerScenario> {
        let mut u = Unstructured::new(bytes);
        let config = ConfigSeed::arbitrary(&mut u).ok()?;
        let mut inputs = Vec::new();
        while !u.is_empty() {
            inputs.push(ServerInput::arbitrary(&mut u).ok()?);
        }
        Some(ServerScenario { config, inputs })
    }

    /// The fuzz input.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.config.encode(&mut out);
        for input in &self.inputs {
            input.encode(&mut out);
        }
        out
    }
}

/// A `session_pair` input: both configurations, then the actions one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairScenario {
    /// The server configuration.
    pub config: ConfigSeed,
    /// The client configuration.
    pub client: ClientSeed,
    /// The actions.
    pub actions: Vec<PairAction>,
}

impl PairScenario {
    /// Decodes a fuzz input the way `session_pair` does (without its action limit).
    pub fn parse(bytes: &[u8]) -> Option<PairScenario> {
        let mut u = Unstructured::new(bytes);
        let config = ConfigSeed::arbitrary(&mut u).ok()?;
        let client = ClientSeed::arbitrary(&mut u).ok()?;
        let mut actions = Vec::new();
        while !u.is_empty() {
            actions.push(PairAction::arbitrary(&mut u).ok()?);
        }
        Some(PairScenario {
            config,
            client,
            actions,
        })
    }

    /// The fuzz input.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.config.encode(&mut out);
        self.client.encode(&mut out);
        for action in &self.actions {
            action.encode(&mut out);
        }
        out
    }
}

/// A seed: its target, its file name, and for structured targets what it decodes to.
#[derive(Debug, Clone)]
pub struct Seed {
    /// `wire_decode`, `server_session` or `session_pair`.
    pub target: &'static str,
    /// The file name under `fuzz/corpus/<target>/`.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

fn text(s: &str) -> Payload {
    Payload::Text(s.as_bytes().to_vec())
}

fn close(code: u16, reason: &str) -> Option<CloseSeed> {
    Some(CloseSeed {
        code,
        reason: reason.as_bytes().to_vec(),
        pad: 0,
    })
}

/// Server limits small enough that every limit is hit within a few inputs: 1 s poll hold,
/// 3 s idle, 1 s gone, 300 ms inbound hold, 700 ms `Retry-After`, 50 ms reply wait, 16-byte
/// messages, 2 frames per `POST`, inbound 2 messages, outbound 3 messages, 2 frames per
/// response.
pub fn small_config() -> ConfigSeed {
    ConfigSeed {
        poll_ms: 998,
        idle_extra_ms: 1_999,
        gone_ms: 999,
        hold_ms: 299,
        retry_ms: 700,
        max_message: 16,
        body_extra: 0,
        frames_per_request: 1,
        response_extra: 60,
        frames_per_response: 1,
        outbound_extra: 32,
        outbound_messages: 2,
        inbound_extra: 0,
        inbound_messages_extra: 0,
        reply_wait_ms: 4 * 49 + 1,
    }
}

/// The `server_session` scenarios.
pub fn server_scenarios() -> Vec<(&'static str, ServerScenario)> {
    use ServerInput::*;
    let rel = Pos::Rel;
    let msg = |s: &str| ClientFrame::Message(text(s));
    let scenario = |inputs: Vec<ServerInput>| ServerScenario {
        config: small_config(),
        inputs,
    };
    vec![
        (
            "echo-then-server-close",
            scenario(vec![
                Poll { ack: rel(0) },
                AppSend(text("hello")),
                Poll { ack: rel(0) },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![
                        msg("hi"),
                        ClientFrame::Message(Payload::Binary(vec![0, 255])),
                    ],
                },
                AppTake,
                AppTake,
                Wake,
                AppClose(close(1000, "bye")),
                Poll { ack: rel(0) },
                AppTake,
            ]),
        ),
        (
            "sends-carrying-ack",
            scenario(vec![
                Poll { ack: rel(0) },
                // Accepted, it waits for the reply: the application takes, replies, and
                // asks for more, which answers it with the reply.
                Send {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    frames: vec![msg("ping")],
                },
                AppTake,
                AppSend(text("pong")),
                AppTake,
                // Waits again; the client's next request (a retry) ends that wait.
                Send {
                    seq: rel(0),
                    ack: Some(rel(-1)),
                    frames: vec![msg("again")],
                },
                Send {
                    seq: rel(-1),
                    ack: Some(rel(0)),
                    frames: vec![msg("again")],
                },
                Send {
                    seq: rel(0),
                    ack: Some(rel(3)),
                    frames: vec![msg("beyond")],
                },
                AppTake,
                // The application is slow: the reply wait (50 ms) ends it.
                Send {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    frames: vec![msg("slow")],
                },
                Advance { ms: 60 },
                AppTake,
                // A refused request (a malformed body) ends a wait too, and changes nothing
                // else.
                Send {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    frames: vec![msg("more")],
                },
                SendRaw {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    body: vec![9, 0, 0, 0, 0],
                },
                AppTake,
                // The client goes away while its send waits.
                Send {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    frames: vec![msg("gone")],
                },
                Abort { back: 0 },
                AppTake,
                AppTake,
                AppTake,
                Wake,
                Send {
                    seq: rel(0),
                    ack: Some(rel(0)),
                    frames: vec![msg("last")],
                },
            ]),
        ),
        (
            "inbound-full-hold-then-503",
            scenario(vec![
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("a"), msg("b")],
                },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("c")],
                },
                AppTake,
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("d"), msg("e")],
                },
                Advance { ms: 400 },
                AppTake,
                AppTake,
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("d"), msg("e")],
                },
            ]),
        ),
        (
            "supersede-abort-late",
            scenario(vec![
                Poll { ack: rel(0) },
                Poll { ack: rel(0) },
                Abort { back: 0 },
                Abort { back: 200 },
                Poll { ack: rel(0) },
                Late { ms: 5_000 },
                Poll { ack: rel(0) },
                AppSend(text("late")),
                Poll { ack: rel(0) },
                Advance { ms: 999 },
            ]),
        ),
        (
            "refusals",
            scenario(vec![
                Poll { ack: rel(3) },
                Poll {
                    ack: Pos::Abs(u64::MAX),
                },
                SendRaw {
                    seq: rel(0),
                    ack: None,
                    body: vec![9, 0, 0, 0, 0],
                },
                SendRaw {
                    seq: rel(0),
                    ack: None,
                    body: vec![2, 0xff, 0xff, 0xff, 0xff],
                },
                SendRaw {
                    seq: rel(0),
                    ack: None,
                    body: vec![1, 0, 0, 0, 1, 0xff],
                },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("a"), msg("b"), msg("c")],
                },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![ClientFrame::Close(None), msg("x")],
                },
                Send {
                    seq: rel(2),
                    ack: None,
                    frames: vec![msg("gap")],
                },
                Send {
                    seq: Pos::Abs(u64::MAX),
                    ack: None,
                    frames: vec![msg("max")],
                },
                AppSend(Payload::Filled {
                    text: false,
                    len: 17,
                    byte: 1,
                }),
            ]),
        ),
        (
            "retries-are-idempotent",
            scenario(vec![
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("one"), msg("two")],
                },
                Send {
                    seq: rel(-2),
                    ack: None,
                    frames: vec![msg("one"), msg("two")],
                },
                AppTake,
                Send {
                    seq: rel(-1),
                    ack: None,
                    frames: vec![msg("two"), msg("three")],
                },
                AppTake,
                AppTake,
                AppTake,
            ]),
        ),
        (
            "client-close-frame-then-gone",
            scenario(vec![
                Poll { ack: rel(0) },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("last"), ClientFrame::Close(close(4000, "done"))],
                },
                Poll { ack: rel(0) },
                AppTake,
                AppTake,
                Advance { ms: 1_000 },
                Poll { ack: rel(0) },
                Delete,
            ]),
        ),
        (
            "delete-while-held",
            scenario(vec![
                Poll { ack: rel(0) },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("a"), msg("b")],
                },
                Send {
                    seq: rel(0),
                    ack: None,
                    frames: vec![msg("c")],
                },
                Delete,
                Delete,
                AppTake,
            ]),
        ),
        (
            "idle-timeout",
            scenario(vec![
                AppSend(text("unread")),
                Advance { ms: 2_000 },
                Advance { ms: 2_000 },
                AppTake,
                Wake,
            ]),
        ),
        (
            "outbound-full-and-batches",
            scenario(vec![
                AppSend(text("m0")),
                AppSend(text("m1")),
                AppSend(text("m2")),
                AppSend(text("m3")),
                AppSend(Payload::Filled {
                    text: true,
                    len: 200,
                    byte: b'x',
                }),
                Poll { ack: rel(0) },
                Poll { ack: rel(-1) },
                Poll { ack: rel(0) },
                AppSend(text("m3")),
                AppClose(Some(CloseSeed {
                    code: 4000,
                    reason: b"long".to_vec(),
                    pad: 100,
                })),
                AppSend(text("refused")),
                Poll { ack: rel(0) },
                Poll { ack: rel(0) },
            ]),
        ),
    ]
}

/// The `session_pair` scenarios.
pub fn pair_scenarios() -> Vec<(&'static str, PairScenario)> {
    use PairAction::*;
    let client = ClientSeed {
        outbound_messages: 3,
        outbound_extra: 32,
        inbound_messages: 2,
        inbound_bytes: 40,
        grace_ms: 500,
        backoff_ms: 99,
        backoff_extra_ms: 900,
        jitter_seed: 7,
    };
    let scenario = |actions: Vec<PairAction>| PairScenario {
        config: small_config(),
        client: client.clone(),
        actions,
    };
    let pump = |n: usize| {
        (0..n)
            .flat_map(|_| [DeliverRequest(0), DeliverAnswer(0), ServerTake, ClientTake])
            .collect::<Vec<_>>()
    };
    let with = |mut first: Vec<PairAction>, rest: Vec<PairAction>| {
        first.extend(rest);
        first
    };
    vec![
        (
            "fair-exchange",
            scenario(with(
                vec![
                    ClientSend(text("c0")),
                    ServerSend(text("s0")),
                    ClientSend(text("c1")),
                    ServerSend(Payload::Binary(vec![1, 2, 3])),
                ],
                pump(6),
            )),
        ),
        (
            "server-closes",
            scenario(with(
                vec![
                    ServerSend(text("s0")),
                    ServerSend(text("s1")),
                    ServerSend(text("s2")),
                    ServerClose(close(4000, "bye")),
                ],
                pump(8),
            )),
        ),
        (
            "losses-and-duplicates",
            scenario(vec![
                ClientSend(text("c0")),
                ServerSend(text("s0")),
                DuplicateRequest(0),
                DropRequest {
                    which: 0,
                    reset: true,
                },
                DeliverRequest(0),
                DeliverRequest(0),
                DropAnswer {
                    which: 0,
                    reset: false,
                },
                DeliverAnswer(0),
                NextDeadline,
                DeliverRequest(1),
                DeliverRequest(0),
                DeliverAnswer(1),
                DeliverAnswer(0),
                ServerTake,
                ClientTake,
                NextDeadline,
            ]),
        ),
        (
            "overlapping-polls",
            scenario(vec![
                DuplicateRequest(0),
                DeliverRequest(0),
                DeliverRequest(0),
                DeliverAnswer(0),
                ServerSend(text("s0")),
                DeliverRequest(0),
                DeliverAnswer(0),
                DeliverAnswer(0),
                ClientTake,
            ]),
        ),
        (
            "broken-held-poll",
            scenario(vec![
                DeliverRequest(0),
                BreakHeld(0),
                Advance { ms: 150 },
                DeliverRequest(0),
                ServerSend(text("after")),
                DeliverAnswer(0),
                ClientTake,
            ]),
        ),
        (
            "slow-apps-backpressure",
            scenario(with(
                vec![
                    ServerSend(text("s0")),
                    ServerSend(text("s1")),
                    ServerSend(text("s2")),
                    ClientSend(text("c0")),
                    ClientSend(text("c1")),
                    ClientSend(text("c2")),
                ],
                (0..6)
                    .flat_map(|_| [DeliverRequest(0), DeliverAnswer(0), NextDeadline])
                    .collect(),
            )),
        ),
        (
            "silent-loss-then-time-jump",
            scenario(vec![
                ClientSend(text("lost?")),
                DropRequest {
                    which: 0,
                    reset: false,
                },
                DropRequest {
                    which: 0,
                    reset: false,
                },
                Advance { ms: 60_000 },
                ClientClose(None),
            ]),
        ),
    ]
}

/// The `wire_decode` inputs: mode byte, then the mode's data (see `wire`).
fn wire_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with_mode = |mode: u8, data: &[u8]| [&[mode][..], data].concat();
    let decode = |max_message: u8, max_frames: u8, body: &[u8]| {
        with_mode(0, &[&[max_message, max_frames][..], body].concat())
    };
    let mut frames = Vec::new();
    vec![
        ClientFrame::Message(text("héllo")),
        ClientFrame::Message(Payload::Binary(vec![0, 1, 255])),
        ClientFrame::Close(close(1000, "bye")),
    ]
    .encode(&mut frames);
    let mut bad_frames = Vec::new();
    vec![
        ClientFrame::Close(None),
        ClientFrame::Message(text("after close")),
    ]
    .encode(&mut bad_frames);
    let id = "0123456789abcdef0123456789abcdef";
    let route = |flags: u8, fields: &str| with_mode(2, &[&[flags][..], fields.as_bytes()].concat());
    vec![
        (
            "decode-text-binary-close",
            decode(
                16,
                8,
                b"\x01\x00\x00\x00\x02hi\x02\x00\x00\x00\x01\xff\x03\x00\x00\x00\x05\x03\xe8bye",
            ),
        ),
        ("decode-empty-close", decode(16, 8, b"\x03\x00\x00\x00\x00")),
        ("decode-too-large", decode(4, 8, b"\x02\xff\xff\xff\xff")),
        ("decode-truncated", decode(16, 8, b"\x01\x00\x00\x00\x05ab")),
        ("decode-bad-utf8", decode(16, 8, b"\x01\x00\x00\x00\x01\xc3")),
        ("decode-bad-close", decode(16, 8, b"\x03\x00\x00\x00\x01\x03")),
        (
            "decode-too-many",
            decode(16, 1, b"\x01\x00\x00\x00\x01a\x01\x00\x00\x00\x01b"),
        ),
        ("query", with_mode(1, b"t=9&ack=00042&seq=18446744073709551615")),
        ("query-repeated", with_mode(1, b"ack=1&ack=1&seq=+1")),
        ("route-poll", route(0, &format!("GET\n/{id}\nack=3\n"))),
        (
            "route-send",
            route(
                0,
                &format!("POST\n/{id}\nseq=0\nApplication/Octet-Stream; x=y"),
            ),
        ),
        ("route-open", route(3, "POST\n/")),
        ("route-delete-bad-id", route(3, "DELETE\n/0123456789ABCDEF0123456789ABCDEF")),
        (
            "params",
            with_mode(
                3,
                br#"{"protocol":1,"id":"0123456789abcdef0123456789abcdef","pollTimeoutMs":25000,"idleTimeoutMs":35000,"maxMessageBytes":524288,"maxBodyBytes":1048576,"maxFramesPerRequest":1024,"future":{"a":[1,"}]"]}}"#,
            ),
        ),
        ("params-bare-id", with_mode(3, br#" "0196a1b2-7c3d" "#)),
        ("encode-frames", with_mode(4, &frames)),
        ("encode-frame-after-close", with_mode(4, &bad_frames)),
    ]
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = wire_seeds()
        .into_iter()
        .map(|(name, bytes)| Seed {
            target: "wire_decode",
            name,
            bytes,
        })
        .collect();
    seeds.extend(server_scenarios().into_iter().map(|(name, s)| Seed {
        target: "server_session",
        name,
        bytes: s.bytes(),
    }));
    seeds.extend(pair_scenarios().into_iter().map(|(name, s)| Seed {
        target: "session_pair",
        name,
        bytes: s.bytes(),
    }));
    seeds
}
