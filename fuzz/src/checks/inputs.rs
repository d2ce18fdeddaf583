//! The fuzz inputs: `#[derive(Arbitrary)]` types decoded from the fuzzer's bytes, and their
//! mapping onto the core's types (`Message`, `CloseFrame`, a valid `Config`, ...).
//!
//! Every field is a fixed-size integer, a `bool`, an `Option`, an enum or a `Vec` of those, so
//! [`Encode`](super::seeds::Encode) can write the exact bytes a value decodes from: that is how
//! the seed corpus is made.

use arbitrary::Arbitrary;
use bytes::Bytes;
use longpoll_core::client::ClientConfig;
use longpoll_core::{CloseFrame, Config, Message};
use std::time::Duration;

/// A message payload.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Text (the bytes are made UTF-8 lossily, so they may grow).
    Text(Vec<u8>),
    /// Binary.
    Binary(Vec<u8>),
    /// `len` copies of one byte: cheap large messages, over the limits too.
    Filled {
        /// Text (the byte is masked to ASCII) or binary.
        text: bool,
        /// Length in bytes.
        len: u8,
        /// The byte.
        byte: u8,
    },
}

impl Payload {
    /// The message.
    pub fn to_message(&self) -> Message {
        match self {
            Payload::Text(bytes) => Message::from(String::from_utf8_lossy(bytes).into_owned()),
            Payload::Binary(bytes) => Message::Binary(Bytes::copy_from_slice(bytes)),
            Payload::Filled { text, len, byte } => {
                let len = usize::from(*len);
                if *text {
                    Message::from(char::from(byte & 0x7f).to_string().repeat(len))
                } else {
                    Message::Binary(Bytes::from(vec![*byte; len]))
                }
            }
        }
    }
}

/// A close frame: code and reason (made UTF-8 lossily; may be over the 123-byte limit).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct CloseSeed {
    /// The close code.
    pub code: u16,
    /// The reason.
    pub reason: Vec<u8>,
    /// Appends `'é'` this many times, so long reasons (cut at a character boundary) are cheap.
    pub pad: u8,
}

impl CloseSeed {
    /// The frame as given, not truncated (the sessions truncate it themselves).
    pub fn to_frame(&self) -> CloseFrame {
        let mut reason = String::from_utf8_lossy(&self.reason).into_owned();
        reason.extend(std::iter::repeat_n('é', usize::from(self.pad)));
        CloseFrame {
            code: self.code,
            reason: reason.into(),
        }
    }
}

/// An optional close frame.
pub fn close_frame(seed: &Option<CloseSeed>) -> Option<CloseFrame> {
    seed.as_ref().map(CloseSeed::to_frame)
}

/// A frame a client puts in a `POST` body.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// A message.
    Message(Payload),
    /// A close frame (the body should end with it, but need not).
    Close(Option<CloseSeed>),
}

/// A sequence number, relative to what the session has (most useful) or absolute.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    /// `base + delta`, saturating: `Rel(0)` is the expected value.
    Rel(i8),
    /// Any value, `u64::MAX` included.
    Abs(u64),
}

impl Pos {
    /// The number, given the session's current position.
    pub fn resolve(self, base: u64) -> u64 {
        match self {
            Pos::Rel(delta) => base.saturating_add_signed(i64::from(delta)),
            Pos::Abs(value) => value,
        }
    }
}

/// A server [`Config`] with small limits, so backpressure and batching limits are hit often.
/// Every value maps into a range that passes [`Config::validate`].
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct ConfigSeed {
    /// Poll hold: 2 ms to 5 s.
    pub poll_ms: u16,
    /// Idle timeout past the poll hold: 1 ms to 10 s.
    pub idle_extra_ms: u16,
    /// Gone period: 1 ms to 10 s.
    pub gone_ms: u16,
    /// Inbound hold: 1 ms to just under the poll hold.
    pub hold_ms: u16,
    /// `Retry-After`: 0 to 3 s (sent in whole seconds, at least 1).
    pub retry_ms: u16,
    /// Message limit: 0 to 255 bytes (payloads go up to 255, so every limit is reachable).
    pub max_message: u8,
    /// Body limit past the largest frame: 0 to 63.
    pub body_extra: u8,
    /// Frames per `POST`: 1 to 8.
    pub frames_per_request: u8,
    /// Response body limit past the largest frame: 0 to 127.
    pub response_extra: u8,
    /// Frames per poll response: 1 to 8.
    pub frames_per_response: u8,
    /// Outbound byte limit past the message limit: 0 to 127.
    pub outbound_extra: u8,
    /// Outbound messages: 1 to 16.
    pub outbound_messages: u8,
    /// Inbound byte limit past the body limit: 0 to 127.
    pub inbound_extra: u8,
    /// Inbound messages past the frames per `POST`: 0 to 7.
    pub inbound_messages_extra: u8,
    /// How long a send that carried `ack` waits for the reply: none for a multiple of 4
    /// (answered at the next drain), else 1 ms to what the inbound hold leaves under the poll
    /// hold.
    pub reply_wait_ms: u16,
}

impl ConfigSeed {
    /// The configuration; it always validates.
    pub fn to_config(&self) -> Config {
        let ms = |n: u64| Duration::from_millis(n);
        let mut config = Config::default();
        let poll = 2 + u64::from(self.poll_ms) % 5_000;
        config.poll_timeout = ms(poll);
        config.idle_timeout = ms(poll + 1 + u64::from(self.idle_extra_ms) % 10_000);
        config.gone_timeout = ms(1 + u64::from(self.gone_ms) % 10_000);
        config.inbound_hold_timeout = ms(1 + u64::from(self.hold_ms) % (poll - 1));
        // Often over a quarter of the idle timeout, which clients must cap.
        config.retry_after = ms(u64::from(self.retry_ms) % 3_000);
        config.max_message_bytes = usize::from(self.max_message);
        let frame = config.max_message_bytes.max(125) + 5;
        config.max_body_bytes = frame + usize::from(self.body_extra % 64);
        config.max_frames_per_request = 1 + usize::from(self.frames_per_request % 8);
        config.max_response_bytes = frame + usize::from(self.response_extra % 128);
        config.max_frames_per_response = 1 + usize::from(self.frames_per_response % 8);
        config.outbound_max_bytes =
            config.max_message_bytes + usize::from(self.outbound_extra % 128);
        config.outbound_max_messages = 1 + usize::from(self.outbound_messages % 16);
        config.inbound_max_bytes = config.max_body_bytes + usize::from(self.inbound_extra % 128);
        config.inbound_max_messages =
            config.max_frames_per_request + usize::from(self.inbound_messages_extra % 8);
        // What the inbound hold leaves under the poll hold (section 10.1).
        let room = (config.poll_timeout - config.inbound_hold_timeout).as_millis() as u64 - 1;
        config.reply_wait = match self.reply_wait_ms {
            wait if wait % 4 == 0 || room == 0 => Duration::ZERO,
            wait => ms(1 + u64::from(wait / 4) % room),
        };
        if let Err(error) = config.validate() {
            panic!("harness bug: {error}");
        }
        config
    }
}

/// A [`ClientConfig`] with small buffers.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct ClientSeed {
    /// Outbound messages: 1 to 12.
    pub outbound_messages: u8,
    /// Outbound byte limit past the server's message limit.
    pub outbound_extra: u8,
    /// Inbound messages: 1 to 12.
    pub inbound_messages: u8,
    /// Inbound bytes: 1 to 400.
    pub inbound_bytes: u16,
    /// Grace past the poll hold: 0 to 6 s (capped by the client itself).
    pub grace_ms: u16,
    /// First retry delay: 1 ms to 500 ms.
    pub backoff_ms: u16,
    /// Longest retry delay past the first: 0 to 5 s.
    pub backoff_extra_ms: u16,
    /// The retry jitter seed.
    pub jitter_seed: u64,
}

impl ClientSeed {
    /// The client configuration, for a server whose message limit is `max_message_bytes`.
    pub fn to_config(&self, max_message_bytes: usize) -> ClientConfig {
        let ms = |n: u16, modulo: u16| Duration::from_millis(u64::from(n % modulo));
        let mut config = ClientConfig::default();
        config.outbound_max_messages = 1 + usize::from(self.outbound_messages % 12);
        config.outbound_max_bytes = max_message_bytes + usize::from(self.outbound_extra);
        config.inbound_max_messages = 1 + usize::from(self.inbound_messages % 12);
        config.inbound_max_bytes = 1 + usize::from(self.inbound_bytes % 400);
        config.request_grace = ms(self.grace_ms, 6_000);
        config.backoff_initial = Duration::from_millis(1) + ms(self.backoff_ms, 500);
        config.backoff_max = config.backoff_initial + ms(self.backoff_extra_ms, 5_000);
        config
    }
}
