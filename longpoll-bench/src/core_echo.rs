//! The core state machine in steady state, as a driver would run it for an echo session:
//! one client message in, the same message out, the poll that carried it acknowledged.
//! Shared by `core-probe`, the criterion bench and the allocation test.

use bytes::{Bytes, BytesMut};
use longpoll_core::wire::{Frame, encode_frame};
use longpoll_core::{Config, Event, Message, Reply, ServerSession};
use std::sync::Arc;
use std::time::Instant;

/// Inputs one [`EchoLoop::round`] feeds the state machine: the send, the application taking
/// the message, the application's reply, the next poll.
pub const EVENTS_PER_ROUND: u64 = 4;

/// A server session with a poll parked, echoing 64-byte text messages.
#[derive(Debug)]
pub struct EchoLoop {
    session: ServerSession,
    now: Instant,
    body: Bytes,
    seq: u64,
    ack: u64,
}

/// Where one round's allocations happen (see [`EchoLoop::round_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `handle_send` with the client's body, and draining its `204`.
    Send,
    /// `poll_event`: the application takes the message.
    Take,
    /// `send`: the application replies; the parked poll is answered with a batch.
    Reply,
    /// `handle_poll`: the client acknowledges and parks the next poll.
    Poll,
}

impl EchoLoop {
    /// A session with its first poll parked. `now` is the driver's clock reading (the probe
    /// keeps it fixed: nothing here times out).
    pub fn new(now: Instant) -> Self {
        let mut session = ServerSession::new(now, Arc::new(Config::default()));
        let _ = session.handle_poll(now, 0);
        let mut body = BytesMut::new();
        let frame = Frame::Message(Message::from(crate::payload()));
        encode_frame(&frame, &mut body).expect("64 bytes fit a frame");
        EchoLoop {
            session,
            now,
            body: body.freeze(),
            seq: 0,
            ack: 0,
        }
    }

    /// One echo round trip through the state machine. Returns the response body's length.
    pub fn round(&mut self) -> usize {
        self.round_with(|_| {}, |_| {})
    }

    /// [`round`](Self::round), calling `before` and `after` around each step.
    pub fn round_with(
        &mut self,
        mut before: impl FnMut(Step),
        mut after: impl FnMut(Step),
    ) -> usize {
        let now = self.now;
        before(Step::Send);
        let _ = self
            .session
            .handle_send(now, self.seq, None, self.body.clone());
        let accepted = self.session.poll_response().expect("the send is answered");
        after(Step::Send);
        debug_assert_eq!(accepted.reply, Reply::NoContent);
        self.seq += 1;

        before(Step::Take);
        let Some(Event::Message(message)) = self.session.poll_event(now) else {
            panic!("the message is handed to the application");
        };
        after(Step::Take);

        before(Step::Reply);
        self.session.send(now, message).expect("room for the reply");
        let answered = self
            .session
            .poll_response()
            .expect("the parked poll is answered");
        after(Step::Reply);
        let Reply::Frames { first_seq, body } = answered.reply else {
            panic!("the poll carries the reply");
        };
        self.ack = first_seq + 1;

        before(Step::Poll);
        let _ = self.session.handle_poll(now, self.ack);
        after(Step::Poll);
        debug_assert!(self.session.poll_response().is_none());
        body.len()
    }
}
