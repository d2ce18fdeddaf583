//! One test per status-code path of `ServerSession`, on a virtual clock.
//!
//! Every test drives the session through [`Harness`], which drains `poll_response` after every
//! input and checks that each request id gets exactly one answer (never two, never one for an
//! unknown or aborted request). Where the protocol says a refused request never harms a healthy
//! session, the test goes on to show that normal polls and sends still work and nothing was lost.

use bytes::{Bytes, BytesMut};
use longpoll_core::reply::{
    BadRequest, Conflict, EXPECTED_SEQ_HEADER, FRAMES_CONTENT_TYPE, SEQ_HEADER, TooLarge,
};
use longpoll_core::wire::{Frame, FrameError, MAX_CLOSE_PAYLOAD, decode_body, encode_frame};
use longpoll_core::{
    CloseFrame, CloseReason, Config, Event, MAX_CLOSE_REASON_BYTES, Message, Reply, RequestId,
    Response, SendError, ServerSession, Utf8Bytes,
};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ----- configuration ------------------------------------------------------------------------

const POLL_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const GONE_TIMEOUT: Duration = Duration::from_secs(30);
const HOLD_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_AFTER: Duration = Duration::from_secs(2);
const MAX_MESSAGE: usize = 16;
/// The smallest body limit `Config::validate` allows: a 125-byte close payload plus its header.
const MAX_BODY: usize = 130;
const MAX_FRAMES_PER_REQUEST: usize = 4;
const OUTBOUND_MAX_MESSAGES: usize = 3;
const OUTBOUND_MAX_BYTES: usize = 32;
const INBOUND_MAX_MESSAGES: usize = 4;

/// Small limits so every limit is easy to reach; still passes `Config::validate`.
fn config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = POLL_TIMEOUT;
    config.idle_timeout = IDLE_TIMEOUT;
    config.gone_timeout = GONE_TIMEOUT;
    config.inbound_hold_timeout = HOLD_TIMEOUT;
    config.retry_after = RETRY_AFTER;
    config.max_message_bytes = MAX_MESSAGE;
    config.max_body_bytes = MAX_BODY;
    config.max_frames_per_request = MAX_FRAMES_PER_REQUEST;
    config.max_response_bytes = MAX_BODY;
    config.max_frames_per_response = 8;
    config.outbound_max_bytes = OUTBOUND_MAX_BYTES;
    config.outbound_max_messages = OUTBOUND_MAX_MESSAGES;
    config.inbound_max_bytes = MAX_BODY;
    config.inbound_max_messages = INBOUND_MAX_MESSAGES;
    config.validate().expect("test config must be valid");
    config
}

// ----- helpers ------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn text(s: &str) -> Frame {
    Frame::Message(Message::from(s))
}

fn msg(s: &str) -> Message {
    Message::from(s)
}

fn body(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut out).unwrap();
    }
    out.freeze()
}

fn texts(items: &[&str]) -> Bytes {
    body(&items.iter().map(|s| text(s)).collect::<Vec<_>>())
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.to_string())
}

/// Checks a `200` reply (status, `Longpoll-Seq` header, content type) and decodes its frames.
fn frames_of(reply: &Reply) -> (u64, Vec<Frame>) {
    let Reply::Frames { first_seq, body } = reply else {
        panic!("expected 200 Frames, got {reply:?}");
    };
    assert_eq!(reply.status(), 200);
    assert_eq!(
        header(reply, SEQ_HEADER),
        Some(first_seq.to_string()),
        "Longpoll-Seq must be the first frame's seq"
    );
    assert_eq!(
        header(reply, "Content-Type").as_deref(),
        Some(FRAMES_CONTENT_TYPE)
    );
    assert_eq!(reply.body(), *body);
    let frames = decode_body(body.clone(), usize::MAX, usize::MAX).expect("decodable frames");
    assert!(!frames.is_empty(), "a 200 carries at least one frame");
    (*first_seq, frames)
}

/// Drives a `ServerSession` and keeps the books on request ids.
struct Harness {
    t0: Instant,
    session: ServerSession,
    /// Requests handed to the session and not yet answered or aborted.
    pending: BTreeSet<RequestId>,
    /// Requests aborted by the HTTP client: they must never be answered.
    aborted: BTreeSet<RequestId>,
    /// Requests answered so far.
    answered: BTreeSet<RequestId>,
    /// Answers drained from the session and not yet looked at by the test.
    unclaimed: VecDeque<Response>,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(config())
    }

    fn with_config(config: Config) -> Self {
        let t0 = Instant::now();
        Harness {
            t0,
            session: ServerSession::new(t0, Arc::new(config)),
            pending: BTreeSet::new(),
            aborted: BTreeSet::new(),
            answered: BTreeSet::new(),
            unclaimed: VecDeque::new(),
        }
    }

    /// The virtual instant `offset` after the start.
    fn at(&self, offset: Duration) -> Instant {
        self.t0 + offset
    }

    fn issued(&mut self, id: RequestId) -> RequestId {
        assert!(
            !self.pending.contains(&id)
                && !self.answered.contains(&id)
                && !self.aborted.contains(&id),
            "request id {id:?} handed out twice"
        );
        self.pending.insert(id);
        self.drain();
        id
    }

    /// Moves every answer out of the session, checking each request is answered exactly once.
    fn drain(&mut self) {
        while let Some(response) = self.session.poll_response() {
            let id = response.request;
            assert!(
                !self.aborted.contains(&id),
                "aborted request {id:?} was answered: {:?}",
                response.reply
            );
            assert!(
                !self.answered.contains(&id),
                "request {id:?} answered twice, again with {:?}",
                response.reply
            );
            assert!(
                self.pending.remove(&id),
                "answer for unknown request {id:?}"
            );
            self.answered.insert(id);
            self.unclaimed.push_back(response);
        }
    }

    fn poll(&mut self, offset: Duration, ack: u64) -> RequestId {
        let now = self.at(offset);
        let id = self.session.handle_poll(now, ack);
        self.issued(id)
    }

    fn post(&mut self, offset: Duration, seq: u64, body: Bytes) -> RequestId {
        let now = self.at(offset);
        let id = self.session.handle_send(now, seq, None, body);
        self.issued(id)
    }

    /// A `POST` carrying `ack` (`PROTOCOL.md` section 5.3). Not drained: the test lets the
    /// application take and send first, as a driver may.
    fn post_acking(&mut self, offset: Duration, seq: u64, ack: u64, body: Bytes) -> RequestId {
        let now = self.at(offset);
        let id = self.session.handle_send(now, seq, Some(ack), body);
        assert!(
            self.pending.insert(id),
            "request id {id:?} handed out twice"
        );
        id
    }

    fn delete(&mut self, offset: Duration) -> RequestId {
        let now = self.at(offset);
        let id = self.session.handle_close(now);
        self.issued(id)
    }

    fn abort(&mut self, offset: Duration, id: RequestId) {
        let now = self.at(offset);
        self.session.handle_abort(now, id);
        assert!(
            self.pending.remove(&id),
            "aborting {id:?}, which is not pending"
        );
        self.aborted.insert(id);
        self.drain();
    }

    fn timeout(&mut self, offset: Duration) {
        let now = self.at(offset);
        self.session.handle_timeout(now);
        self.drain();
    }

    fn send(&mut self, offset: Duration, message: Message) -> Result<(), SendError> {
        let now = self.at(offset);
        let result = self.session.send(now, message);
        self.drain();
        result
    }

    fn close(&mut self, offset: Duration, close: Option<CloseFrame>) {
        let now = self.at(offset);
        self.session.close(now, close);
        self.drain();
    }

    /// One event for the application (then drains answers a freed buffer may have produced).
    fn event(&mut self, offset: Duration) -> Option<Event> {
        let now = self.at(offset);
        let event = self.session.poll_event(now);
        self.drain();
        event
    }

    /// Every event available now.
    fn events(&mut self, offset: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.event(offset) {
            events.push(event);
        }
        events
    }

    /// The answer to `id`, which must have been produced.
    fn reply(&mut self, id: RequestId) -> Reply {
        let index = self
            .unclaimed
            .iter()
            .position(|r| r.request == id)
            .unwrap_or_else(|| {
                panic!(
                    "no answer for {id:?}; unclaimed answers: {:?}; pending: {:?}",
                    self.unclaimed, self.pending
                )
            });
        self.unclaimed.remove(index).unwrap().reply
    }

    /// `id` has not been answered (it is held).
    fn assert_held(&self, id: RequestId) {
        assert!(
            self.pending.contains(&id),
            "{id:?} should be held but was answered: {:?}",
            self.unclaimed.iter().find(|r| r.request == id)
        );
    }

    /// No answer the test has not looked at.
    fn assert_quiet(&self) {
        assert!(
            self.unclaimed.is_empty(),
            "unexpected answers: {:?}",
            self.unclaimed
        );
    }

    /// The poll is answered `200` now; returns its first seq and frames.
    fn poll_frames(&mut self, offset: Duration, ack: u64) -> (u64, Vec<Frame>) {
        let id = self.poll(offset, ack);
        let reply = self.reply(id);
        frames_of(&reply)
    }

    /// A `POST` answered `204` at once.
    fn post_ok(&mut self, offset: Duration, seq: u64, body: Bytes) {
        let id = self.post(offset, seq, body);
        assert_eq!(self.reply(id), Reply::NoContent);
    }
}

fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .map(|event| match event {
            Event::Message(m) => m.clone(),
            other => panic!("expected only messages, got {other:?}"),
        })
        .collect()
}

// ----- GET: polls ---------------------------------------------------------------------------

#[test]
fn poll_with_retained_messages_is_answered_200_with_first_seq_and_frames() {
    let mut h = Harness::new();
    h.send(ms(0), msg("a")).unwrap();
    h.send(ms(0), Message::Binary(Bytes::from_static(b"\x00\xff")))
        .unwrap();
    let (first, frames) = h.poll_frames(ms(100), 0);
    assert_eq!(first, 0);
    assert_eq!(
        frames,
        vec![
            text("a"),
            Frame::Message(Message::Binary(Bytes::from_static(b"\x00\xff")))
        ]
    );
    assert_eq!(h.session.sent_seq(), 2);
    // Still retained until acknowledged.
    assert_eq!(h.session.outbound_messages(), 2);

    // The next poll acknowledges both and is held; the session carries on numbering.
    let next = h.poll(ms(200), 2);
    h.assert_held(next);
    assert_eq!(h.session.outbound_messages(), 0);
    h.send(ms(300), msg("c")).unwrap();
    let (first, frames) = frames_of(&h.reply(next));
    assert_eq!((first, frames), (2, vec![text("c")]));
    h.assert_quiet();
}

#[test]
fn held_poll_is_answered_as_soon_as_the_app_sends() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    h.assert_held(poll);
    assert_eq!(h.session.poll_timeout(), Some(h.at(POLL_TIMEOUT)));

    h.send(secs(3), msg("x")).unwrap();
    let (first, frames) = frames_of(&h.reply(poll));
    assert_eq!((first, frames), (0, vec![text("x")]));

    // The old poll deadline passing does nothing more.
    h.timeout(POLL_TIMEOUT);
    h.assert_quiet();
    assert!(!h.session.is_closed());
}

#[test]
fn a_burst_of_sends_answers_a_held_poll_with_one_batch() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    h.assert_held(poll);
    // Sends in a row, without draining in between (as a driver queues what the application
    // sent in one wake-up): the held poll carries all of them.
    let now = h.at(secs(1));
    for item in ["a", "b", "c"] {
        h.session.send(now, msg(item)).unwrap();
    }
    h.drain();
    let (first, frames) = frames_of(&h.reply(poll));
    assert_eq!((first, frames), (0, vec![text("a"), text("b"), text("c")]));

    // An input that comes before the drain answers the held poll first, as of the send.
    let poll = h.poll(secs(2), 3);
    h.assert_held(poll);
    h.session.send(h.at(secs(3)), msg("d")).unwrap();
    h.timeout(secs(2) + POLL_TIMEOUT);
    let (first, frames) = frames_of(&h.reply(poll));
    assert_eq!((first, frames), (3, vec![text("d")]));
}

#[test]
fn poll_timeout_answers_204_exactly_at_the_deadline_and_early_timeouts_do_nothing() {
    let mut h = Harness::new();
    let start = secs(1);
    let poll = h.poll(start, 0);
    let deadline = h
        .session
        .poll_timeout()
        .expect("a held poll has a deadline");
    assert_eq!(deadline, h.at(start + POLL_TIMEOUT));

    // Spurious and early wake-ups are no-ops.
    h.timeout(start);
    h.timeout(start + POLL_TIMEOUT - ms(1));
    h.assert_held(poll);
    assert_eq!(h.session.poll_timeout(), Some(deadline));

    h.timeout(start + POLL_TIMEOUT);
    let reply = h.reply(poll);
    assert_eq!(reply, Reply::NoContent);
    assert_eq!(reply.status(), 204);
    assert!(reply.body().is_empty());
    // A second timeout at the same instant is harmless.
    h.timeout(start + POLL_TIMEOUT);
    h.assert_quiet();

    // Healthy: the client re-polls and gets the next message.
    let again = h.poll(start + POLL_TIMEOUT + ms(5), 0);
    h.assert_held(again);
    h.send(start + POLL_TIMEOUT + ms(6), msg("later")).unwrap();
    assert_eq!(frames_of(&h.reply(again)), (0, vec![text("later")]));
}

#[test]
fn overlapping_polls_supersede_the_older_with_409_and_lose_nothing() {
    let mut h = Harness::new();
    let older = h.poll(ms(0), 0);
    h.assert_held(older);
    let newer = h.poll(ms(10), 0);
    let reply = h.reply(older);
    assert_eq!(reply, Reply::Conflict(Conflict::Superseded));
    assert_eq!(reply.status(), 409);
    h.assert_held(newer);
    assert!(!h.session.is_closed());

    h.send(ms(20), msg("m")).unwrap();
    assert_eq!(frames_of(&h.reply(newer)), (0, vec![text("m")]));

    // A third overlapping poll with the same ack (the newer's answer was lost) gets it again.
    assert_eq!(h.poll_frames(ms(30), 0), (0, vec![text("m")]));
    // Again with messages acknowledged: the older held poll is refused, the newer one served.
    let older = h.poll(ms(40), 1);
    h.assert_held(older);
    let newer = h.poll(ms(50), 1);
    assert_eq!(h.reply(older), Reply::Conflict(Conflict::Superseded));
    h.assert_held(newer);
    h.send(ms(60), msg("n")).unwrap();
    assert_eq!(frames_of(&h.reply(newer)), (1, vec![text("n")]));
    h.assert_quiet();
    assert_eq!(h.session.sent_seq(), 2);
}

#[test]
fn repoll_with_the_same_ack_after_a_lost_response_resends_the_same_frames() {
    let mut h = Harness::new();
    for s in ["a", "b", "c"] {
        h.send(ms(0), msg(s)).unwrap();
    }
    let first = h.poll(ms(10), 0);
    let first_reply = h.reply(first);
    // That response is lost on the way; the client polls again with the same ack.
    let second = h.poll(ms(20), 0);
    let second_reply = h.reply(second);
    assert_eq!(second_reply, first_reply);
    assert_eq!(
        frames_of(&second_reply),
        (0, vec![text("a"), text("b"), text("c")])
    );
    assert_eq!(h.session.outbound_messages(), 3);

    // Partial progress: the client got one response acknowledging a and b.
    assert_eq!(h.poll_frames(ms(30), 2), (2, vec![text("c")]));
    assert_eq!(h.session.outbound_messages(), 1);
    let held = h.poll(ms(40), 3);
    h.assert_held(held);
    assert_eq!(h.session.outbound_messages(), 0);
}

#[test]
fn ack_below_the_retained_base_is_served_from_the_base() {
    let mut h = Harness::new();
    for s in ["a", "b", "c"] {
        h.send(ms(0), msg(s)).unwrap();
    }
    assert_eq!(h.poll_frames(ms(10), 2), (2, vec![text("c")]));
    // A delayed, stale poll from before (ack 0): a and b are gone, so serve from the base.
    assert_eq!(h.poll_frames(ms(20), 0), (2, vec![text("c")]));
    assert_eq!(
        h.session.outbound_messages(),
        1,
        "a stale ack releases nothing more"
    );
    assert_eq!(h.session.sent_seq(), 3);
    h.assert_quiet();
}

#[test]
fn ack_beyond_sent_is_400_and_the_held_poll_is_not_disturbed() {
    let mut h = Harness::new();
    let held = h.poll(ms(0), 0);
    h.assert_held(held);

    let bad = h.poll(ms(10), 1);
    let reply = h.reply(bad);
    assert_eq!(
        reply,
        Reply::BadRequest(BadRequest::AckBeyondSent { ack: 1, sent: 0 })
    );
    assert_eq!(reply.status(), 400);
    // Not superseded, not answered: the held poll is still the live one.
    h.assert_held(held);
    h.assert_quiet();
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.at(POLL_TIMEOUT)),
        "the held poll keeps its deadline"
    );

    h.send(ms(20), msg("m")).unwrap();
    assert_eq!(frames_of(&h.reply(held)), (0, vec![text("m")]));
    assert!(!h.session.is_closed());
}

#[test]
fn huge_ack_is_400_and_releases_nothing() {
    let mut h = Harness::new();
    h.send(ms(0), msg("a")).unwrap();
    h.send(ms(0), msg("b")).unwrap();
    let bad = h.poll(ms(10), u64::MAX);
    assert_eq!(
        h.reply(bad),
        Reply::BadRequest(BadRequest::AckBeyondSent {
            ack: u64::MAX,
            sent: 2
        })
    );
    assert_eq!(h.session.outbound_messages(), 2);
    assert!(!h.session.is_closed());
    assert_eq!(h.poll_frames(ms(20), 0), (0, vec![text("a"), text("b")]));
}

// ----- POST: client messages ----------------------------------------------------------------

#[test]
fn post_is_accepted_204_and_delivered_in_order() {
    let mut h = Harness::new();
    let id = h.post(ms(0), 0, texts(&["a", "b"]));
    let reply = h.reply(id);
    assert_eq!((reply.status(), &reply), (204, &Reply::NoContent));
    h.post_ok(ms(10), 2, texts(&["c"]));
    assert_eq!(h.session.received_seq(), 3);
    assert_eq!(h.session.inbound_messages(), 3);
    assert_eq!(
        messages(&h.events(ms(20))),
        vec![msg("a"), msg("b"), msg("c")]
    );
    assert_eq!(h.session.inbound_messages(), 0);
    assert_eq!(h.session.inbound_bytes(), 0);
    h.assert_quiet();
}

#[test]
fn duplicate_post_is_204_and_not_delivered_twice() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, texts(&["a", "b"]));
    // The 204 was lost; the client retries the same request.
    h.post_ok(ms(10), 0, texts(&["a", "b"]));
    // And a retry of only part of it.
    h.post_ok(ms(15), 1, texts(&["b"]));
    assert_eq!(h.session.received_seq(), 2);
    assert_eq!(messages(&h.events(ms(20))), vec![msg("a"), msg("b")]);

    h.post_ok(ms(30), 2, texts(&["c"]));
    assert_eq!(messages(&h.events(ms(30))), vec![msg("c")]);
}

#[test]
fn partially_overlapping_post_delivers_only_the_new_frames() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, texts(&["a", "b"]));
    h.post_ok(ms(10), 1, texts(&["b", "c", "d"]));
    assert_eq!(h.session.received_seq(), 4);
    assert_eq!(
        messages(&h.events(ms(20))),
        vec![msg("a"), msg("b"), msg("c"), msg("d")]
    );
}

#[test]
fn post_leaving_a_seq_gap_is_409_and_changes_nothing() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, texts(&["a"]));
    let gap = h.post(ms(10), 3, texts(&["x"]));
    let reply = h.reply(gap);
    assert_eq!(
        reply,
        Reply::Conflict(Conflict::SeqGap {
            expected: 1,
            got: 3
        })
    );
    assert_eq!(reply.status(), 409);
    assert_eq!(h.session.received_seq(), 1);
    assert!(!h.session.is_closed());
    h.post_ok(ms(20), 1, texts(&["b"]));
    assert_eq!(messages(&h.events(ms(30))), vec![msg("a"), msg("b")]);
}

#[test]
fn malformed_bodies_are_400_and_change_nothing() {
    let mut h = Harness::new();
    let held_poll = h.poll(ms(0), 0);

    let mut truncated = BytesMut::from(&texts(&["ok"])[..]);
    truncated.extend_from_slice(b"\x02\x00\x00\x00\x05ab");
    let close_then_text = body(&[Frame::Close(None), text("a")]);
    let cases: Vec<(&str, Bytes, FrameError)> = vec![
        (
            "truncated frame after a good one",
            truncated.freeze(),
            FrameError::Truncated { offset: 7 },
        ),
        (
            "truncated header",
            Bytes::from_static(b"\x01\x00\x00"),
            FrameError::Truncated { offset: 0 },
        ),
        (
            "unknown kind",
            Bytes::from_static(b"\x07\x00\x00\x00\x00"),
            FrameError::UnknownKind { kind: 7, offset: 0 },
        ),
        (
            "invalid UTF-8 in text",
            Bytes::from_static(b"\x01\x00\x00\x00\x02\xc3\x28"),
            FrameError::InvalidUtf8 { offset: 0 },
        ),
        (
            "1-byte close payload",
            Bytes::from_static(b"\x03\x00\x00\x00\x01\x03"),
            FrameError::BadClosePayload { offset: 0 },
        ),
        (
            "frame after close",
            close_then_text,
            FrameError::FrameAfterClose { offset: 5 },
        ),
    ];
    for (i, (what, bad_body, error)) in cases.into_iter().enumerate() {
        let id = h.post(ms(10 + i as u64), 0, bad_body);
        let reply = h.reply(id);
        assert_eq!(
            reply,
            Reply::BadRequest(BadRequest::Frames(error)),
            "{what}"
        );
        assert_eq!(reply.status(), 400, "{what}");
        assert_eq!(h.session.received_seq(), 0, "{what}: nothing accepted");
        assert!(!h.session.is_closed(), "{what}: session must stay open");
        h.assert_held(held_poll);
    }
    assert_eq!(h.events(ms(50)), vec![], "nothing delivered, no close");

    // Healthy: the same seq with a good body is accepted, and the poll still works.
    h.post_ok(ms(60), 0, texts(&["good"]));
    assert_eq!(messages(&h.events(ms(60))), vec![msg("good")]);
    h.send(ms(70), msg("reply")).unwrap();
    assert_eq!(frames_of(&h.reply(held_poll)), (0, vec![text("reply")]));
}

#[test]
fn frame_over_max_message_bytes_is_413() {
    let mut h = Harness::new();
    let big = "x".repeat(MAX_MESSAGE + 1);
    let id = h.post(ms(0), 0, texts(&["fine", &big]));
    let reply = h.reply(id);
    assert_eq!(
        reply,
        Reply::PayloadTooLarge(TooLarge::Frames(FrameError::TooLarge {
            len: (MAX_MESSAGE + 1) as u64,
            max: MAX_MESSAGE
        }))
    );
    assert_eq!(reply.status(), 413);
    assert_eq!(h.session.received_seq(), 0, "the body is refused whole");
    // Exactly at the limit is fine.
    let limit = "y".repeat(MAX_MESSAGE);
    h.post_ok(ms(10), 0, texts(&[&limit]));
    assert_eq!(messages(&h.events(ms(10))), vec![msg(&limit)]);
}

#[test]
fn more_than_max_frames_per_request_is_413() {
    let mut h = Harness::new();
    let five = texts(&["1", "2", "3", "4", "5"]);
    let id = h.post(ms(0), 0, five);
    let reply = h.reply(id);
    assert_eq!(
        reply,
        Reply::PayloadTooLarge(TooLarge::Frames(FrameError::TooManyFrames {
            max: MAX_FRAMES_PER_REQUEST
        }))
    );
    assert_eq!(reply.status(), 413);
    assert_eq!(h.session.received_seq(), 0);
    h.post_ok(ms(10), 0, texts(&["1", "2", "3", "4"]));
    assert_eq!(h.events(ms(10)).len(), 4);
}

#[test]
fn empty_post_body_is_a_204_no_op() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, Bytes::new());
    assert_eq!(h.session.received_seq(), 0);
    assert_eq!(h.events(ms(0)), vec![]);
    h.post_ok(ms(10), 0, texts(&["a"]));
    h.post_ok(ms(20), 1, Bytes::new());
    assert_eq!(h.session.received_seq(), 1);
    assert_eq!(messages(&h.events(ms(20))), vec![msg("a")]);
    assert!(!h.session.is_closed());
}

/// Fills the inbound buffer (4 untaken messages) and posts one more, which is held.
fn fill_inbound_and_hold_a_post(h: &mut Harness, at: Duration) -> RequestId {
    fill_inbound_and_hold_a_post_from(h, at, 0)
}

/// Like [`fill_inbound_and_hold_a_post`], from client seq `seq` on an empty inbound buffer.
fn fill_inbound_and_hold_a_post_from(h: &mut Harness, at: Duration, seq: u64) -> RequestId {
    h.post_ok(at, seq, texts(&["a", "b", "c", "d"]));
    assert_eq!(h.session.inbound_messages(), INBOUND_MAX_MESSAGES);
    let held = h.post(at + ms(10), seq + 4, texts(&["e"]));
    h.assert_held(held);
    held
}

#[test]
fn the_next_deadline_is_the_earliest_held_request_else_idle_and_the_gone_period_once_closed() {
    let mut h = Harness::new();
    // Nothing held: the idle timeout, counted from the last activity.
    assert_eq!(h.session.poll_timeout(), Some(h.at(IDLE_TIMEOUT)));
    // A held send alone (poll timeout 10 s, hold timeout 5 s): its deadline, not idle's.
    let held_send = fill_inbound_and_hold_a_post(&mut h, ms(0));
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(10) + HOLD_TIMEOUT)));
    // A poll held as well: the earlier of the two, whichever it is.
    let poll = h.poll(ms(20), 0);
    h.assert_held(poll);
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(10) + HOLD_TIMEOUT)));
    assert_eq!(h.event(secs(1)), Some(Event::Message(msg("a"))));
    assert_eq!(h.reply(held_send), Reply::NoContent);
    // The poll alone.
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(20) + POLL_TIMEOUT)));
    // A client close ends the session: the gone period, then nothing.
    let delete = h.delete(secs(2));
    let _ = h.reply(delete);
    let _ = h.events(secs(2));
    assert!(h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), Some(h.at(secs(2) + GONE_TIMEOUT)));
    h.timeout(secs(2) + GONE_TIMEOUT);
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn full_inbound_buffer_holds_the_post_until_the_app_takes_a_message() {
    let mut h = Harness::new();
    let held = fill_inbound_and_hold_a_post(&mut h, ms(0));
    assert_eq!(
        h.session.received_seq(),
        4,
        "held frames are not accepted yet"
    );
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(10) + HOLD_TIMEOUT)));

    assert_eq!(h.event(secs(1)), Some(Event::Message(msg("a"))));
    assert_eq!(h.reply(held), Reply::NoContent);
    assert_eq!(h.session.received_seq(), 5);
    assert_eq!(
        messages(&h.events(secs(1))),
        vec![msg("b"), msg("c"), msg("d"), msg("e")]
    );
    // The hold deadline passing afterwards does nothing.
    h.timeout(ms(10) + HOLD_TIMEOUT);
    h.assert_quiet();
}

#[test]
fn held_post_is_answered_503_with_retry_after_after_the_hold_timeout() {
    let mut h = Harness::new();
    let held = fill_inbound_and_hold_a_post(&mut h, ms(0));
    let deadline = ms(10) + HOLD_TIMEOUT;
    h.timeout(deadline - ms(1));
    h.assert_held(held);

    h.timeout(deadline);
    let reply = h.reply(held);
    assert_eq!(
        reply,
        Reply::Unavailable {
            retry_after: RETRY_AFTER
        }
    );
    assert_eq!(reply.status(), 503);
    assert_eq!(header(&reply, "Retry-After").as_deref(), Some("2"));
    assert_eq!(
        h.session.received_seq(),
        4,
        "the refused frames were not taken"
    );
    assert!(!h.session.is_closed());

    // The client retries after the app made room: nothing lost, nothing twice.
    assert_eq!(h.event(deadline + secs(1)), Some(Event::Message(msg("a"))));
    h.post_ok(deadline + secs(2), 4, texts(&["e"]));
    assert_eq!(
        messages(&h.events(deadline + secs(2))),
        vec![msg("b"), msg("c"), msg("d"), msg("e")]
    );
}

#[test]
fn newer_post_supersedes_a_held_one_with_409() {
    let mut h = Harness::new();
    let older = fill_inbound_and_hold_a_post(&mut h, ms(0));
    // The client gave up on the held POST and retried with one more frame.
    let newer = h.post(ms(100), 4, texts(&["e", "f"]));
    assert_eq!(h.reply(older), Reply::Conflict(Conflict::Superseded));
    h.assert_held(newer);

    assert_eq!(h.event(ms(200)), Some(Event::Message(msg("a"))));
    h.assert_held(newer); // 3 + 2 > 4
    assert_eq!(h.event(ms(200)), Some(Event::Message(msg("b"))));
    assert_eq!(h.reply(newer), Reply::NoContent);
    assert_eq!(
        messages(&h.events(ms(200))),
        vec![msg("c"), msg("d"), msg("e"), msg("f")]
    );
    assert_eq!(h.session.received_seq(), 6);
}

#[test]
fn stale_duplicate_or_empty_post_does_not_disturb_a_held_post() {
    let mut h = Harness::new();
    let held = fill_inbound_and_hold_a_post(&mut h, ms(0));
    // A late copy of the first POST (already received whole), and an empty one.
    h.post_ok(ms(100), 0, texts(&["a", "b", "c", "d"]));
    h.post_ok(ms(110), 4, Bytes::new());
    h.assert_held(held);
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(10) + HOLD_TIMEOUT)));

    assert_eq!(h.event(ms(200)), Some(Event::Message(msg("a"))));
    assert_eq!(h.reply(held), Reply::NoContent);
    assert_eq!(
        messages(&h.events(ms(200))),
        vec![msg("b"), msg("c"), msg("d"), msg("e")]
    );
}

// ----- the application's sends --------------------------------------------------------------

#[test]
fn full_outbound_buffer_refuses_send_until_the_client_acks() {
    let mut h = Harness::new();
    for s in ["a", "b", "c"] {
        assert!(h.session.can_send(1));
        h.send(ms(0), msg(s)).unwrap();
    }
    assert!(!h.session.can_send(1));
    assert_eq!(h.send(ms(0), msg("d")), Err(SendError::Full(msg("d"))));
    assert_eq!(h.session.sent_seq(), 3, "a refused message is not numbered");

    // Sent but not acknowledged still counts.
    assert_eq!(
        h.poll_frames(ms(10), 0),
        (0, vec![text("a"), text("b"), text("c")])
    );
    assert!(!h.session.can_send(1));

    let held = h.poll(ms(20), 3);
    assert!(h.session.can_send(1));
    h.send(ms(30), msg("d")).unwrap();
    assert_eq!(frames_of(&h.reply(held)), (3, vec![text("d")]));
}

#[test]
fn outbound_byte_limit_refuses_send_with_full() {
    let mut h = Harness::new();
    let sixteen = "s".repeat(16);
    h.send(ms(0), msg(&sixteen)).unwrap();
    h.send(ms(0), msg(&sixteen)).unwrap();
    assert_eq!(h.session.outbound_bytes(), OUTBOUND_MAX_BYTES);
    assert!(!h.session.can_send(1));
    assert!(
        h.session.can_send(0),
        "an empty message still fits the byte limit"
    );
    assert_eq!(h.send(ms(0), msg("z")), Err(SendError::Full(msg("z"))));
    assert_eq!(h.session.sent_seq(), 2);

    // Acknowledging the first message frees its bytes.
    assert_eq!(h.poll_frames(ms(10), 1), (1, vec![text(&sixteen)]));
    assert_eq!(h.session.outbound_bytes(), 16);
    assert!(h.session.can_send(16));
    h.send(ms(20), msg("z")).unwrap();
    assert_eq!(h.poll_frames(ms(30), 2), (2, vec![text("z")]));
}

#[test]
fn message_over_the_limit_is_send_error_too_large() {
    let mut h = Harness::new();
    let big = msg(&"x".repeat(MAX_MESSAGE + 1));
    assert!(!h.session.can_send(MAX_MESSAGE + 1));
    assert_eq!(h.send(ms(0), big.clone()), Err(SendError::TooLarge(big)));
    assert_eq!(h.session.sent_seq(), 0);
    let limit = msg(&"x".repeat(MAX_MESSAGE));
    assert!(h.session.can_send(MAX_MESSAGE));
    h.send(ms(0), limit.clone()).unwrap();
    assert_eq!(h.poll_frames(ms(10), 0), (0, vec![Frame::Message(limit)]));
}

// ----- closing ------------------------------------------------------------------------------

#[test]
fn server_close_delivers_queued_messages_then_the_close_frame() {
    let mut h = Harness::new();
    h.send(ms(0), msg("a")).unwrap();
    h.send(ms(0), msg("b")).unwrap();
    let frame = CloseFrame::new(4000, "bye");
    h.close(ms(10), Some(frame.clone()));
    assert_eq!(h.send(ms(10), msg("c")), Err(SendError::Closed(msg("c"))));
    assert!(!h.session.can_send(1));
    assert!(
        !h.session.is_closed(),
        "closing, not closed, until the client has the frame"
    );

    assert_eq!(
        h.poll_frames(ms(20), 0),
        (
            0,
            vec![text("a"), text("b"), Frame::Close(Some(frame.clone()))]
        )
    );
    // POST while closing: 410, nothing accepted.
    let post = h.post(ms(30), 0, texts(&["late"]));
    assert_eq!(h.reply(post), Reply::Gone);
    assert_eq!(h.session.received_seq(), 0);
    assert_eq!(
        h.events(ms(30)),
        vec![],
        "no Closed event before the handshake"
    );

    // Acknowledging a and b only re-serves the close frame.
    assert_eq!(
        h.poll_frames(ms(40), 2),
        (2, vec![Frame::Close(Some(frame.clone()))])
    );
    // The poll acknowledging the close frame completes the close.
    let done = h.poll(ms(50), 3);
    assert_eq!(h.reply(done), Reply::Gone);
    assert!(h.session.is_closed());
    assert_eq!(
        h.events(ms(50)),
        vec![Event::Closed(CloseReason::ServerClosed(Some(frame)))]
    );
    h.assert_quiet();
}

#[test]
fn server_close_answers_a_held_poll_with_the_close_frame_and_refuses_a_held_post() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let held_post = fill_inbound_and_hold_a_post(&mut h, ms(1));
    h.close(ms(100), None);
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![Frame::Close(None)]));
    assert_eq!(h.reply(held_post), Reply::Gone);
    // Messages received before the close are still handed over, then the close.
    let done = h.poll(ms(200), 1);
    assert_eq!(h.reply(done), Reply::Gone);
    assert_eq!(
        h.events(ms(200)),
        vec![
            Event::Message(msg("a")),
            Event::Message(msg("b")),
            Event::Message(msg("c")),
            Event::Message(msg("d")),
            Event::Closed(CloseReason::ServerClosed(None)),
        ]
    );
}

#[test]
fn delete_is_204_and_closes_after_the_remaining_inbound_and_answers_the_held_poll_410() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, texts(&["a", "b"]));
    let poll = h.poll(ms(10), 0);
    h.assert_held(poll);
    let delete = h.delete(ms(20));
    assert_eq!(h.reply(delete), Reply::NoContent);
    assert_eq!(h.reply(poll), Reply::Gone);
    assert!(h.session.is_closed());
    assert_eq!(
        h.events(ms(30)),
        vec![
            Event::Message(msg("a")),
            Event::Message(msg("b")),
            Event::Closed(CloseReason::ClientClosed(None)),
        ]
    );
    assert_eq!(h.event(ms(30)), None, "Closed comes exactly once");
    h.assert_quiet();
}

#[test]
fn close_frame_at_the_end_of_a_post_delivers_the_messages_before_it_then_closes() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let frame = CloseFrame::new(1000, "done");
    let id = h.post(
        ms(10),
        0,
        body(&[text("a"), text("b"), Frame::Close(Some(frame.clone()))]),
    );
    assert_eq!(h.reply(id), Reply::NoContent);
    assert_eq!(h.reply(poll), Reply::Gone);
    assert!(h.session.is_closed());
    assert_eq!(h.session.received_seq(), 3);
    assert_eq!(
        h.events(ms(20)),
        vec![
            Event::Message(msg("a")),
            Event::Message(msg("b")),
            Event::Closed(CloseReason::ClientClosed(Some(frame))),
        ]
    );
    assert_eq!(h.send(ms(20), msg("x")), Err(SendError::Closed(msg("x"))));
}

#[test]
fn requests_after_close_are_410_during_gone_timeout_then_404_once_finished() {
    let mut h = Harness::new();
    let closed_at = secs(1);
    let delete = h.delete(closed_at);
    assert_eq!(h.reply(delete), Reply::NoContent);
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.at(closed_at + GONE_TIMEOUT))
    );

    let poll = h.poll(secs(5), 0);
    assert_eq!(h.reply(poll), Reply::Gone);
    let post = h.post(secs(6), 0, texts(&["a"]));
    assert_eq!(h.reply(post), Reply::Gone);
    let again = h.delete(secs(7));
    assert_eq!(
        h.reply(again),
        Reply::NoContent,
        "a retried DELETE succeeds"
    );
    assert_eq!(h.session.received_seq(), 0);

    h.timeout(closed_at + GONE_TIMEOUT - ms(1));
    assert!(!h.session.is_finished());
    let still_gone = h.poll(closed_at + GONE_TIMEOUT - ms(1), 0);
    assert_eq!(h.reply(still_gone), Reply::Gone);

    h.timeout(closed_at + GONE_TIMEOUT);
    assert!(h.session.is_finished());
    assert!(h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), None);
    let t = closed_at + GONE_TIMEOUT + ms(1);
    let poll = h.poll(t, 0);
    assert_eq!(h.reply(poll), Reply::NotFound);
    let post = h.post(t, 0, texts(&["a"]));
    assert_eq!(h.reply(post), Reply::NotFound);
    let delete = h.delete(t);
    assert_eq!(h.reply(delete), Reply::NotFound);
    assert_eq!(
        h.events(t),
        vec![Event::Closed(CloseReason::ClientClosed(None))]
    );
    assert!(h.session.is_finished());
}

#[test]
fn idle_timeout_closes_exactly_at_last_activity_plus_idle_timeout() {
    let mut h = Harness::new();
    assert_eq!(h.session.poll_timeout(), Some(h.at(IDLE_TIMEOUT)));
    // A request moves the clock.
    h.post_ok(secs(3), 0, texts(&["a"]));
    assert_eq!(h.session.poll_timeout(), Some(h.at(secs(3) + IDLE_TIMEOUT)));
    // A poll answered at its timeout moves it to the answer.
    let poll = h.poll(secs(4), 0);
    h.timeout(secs(4) + POLL_TIMEOUT);
    assert_eq!(h.reply(poll), Reply::NoContent);
    let last = secs(4) + POLL_TIMEOUT;
    assert_eq!(h.session.poll_timeout(), Some(h.at(last + IDLE_TIMEOUT)));

    h.timeout(last + IDLE_TIMEOUT - ms(1));
    assert!(!h.session.is_closed());
    h.timeout(last + IDLE_TIMEOUT);
    assert!(h.session.is_closed());
    assert_eq!(
        h.events(last + IDLE_TIMEOUT),
        vec![
            Event::Message(msg("a")),
            Event::Closed(CloseReason::IdleTimeout)
        ]
    );
    let late = h.poll(last + IDLE_TIMEOUT + ms(1), 0);
    assert_eq!(h.reply(late), Reply::Gone);
}

#[test]
fn idle_timeout_does_not_fire_while_a_poll_or_post_is_held() {
    let mut h = Harness::new();
    let poll = h.poll(secs(0), 0);
    // Only the poll's own deadline is due, not the idle one.
    assert_eq!(h.session.poll_timeout(), Some(h.at(POLL_TIMEOUT)));
    // A late wake-up past the idle time: the held poll kept the session alive.
    let late = IDLE_TIMEOUT + secs(5);
    h.timeout(late);
    assert_eq!(h.reply(poll), Reply::NoContent);
    assert!(!h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), Some(h.at(late + IDLE_TIMEOUT)));

    // Same with a held POST.
    let t = late + secs(1);
    let held = fill_inbound_and_hold_a_post(&mut h, t);
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.at(t + ms(10) + HOLD_TIMEOUT))
    );
    h.timeout(t + ms(10) + HOLD_TIMEOUT);
    assert!(matches!(h.reply(held), Reply::Unavailable { .. }));
    assert!(!h.session.is_closed());
}

#[test]
fn aborted_held_poll_never_gets_a_reply_and_starts_the_idle_clock() {
    let mut h = Harness::new();
    let poll = h.poll(secs(1), 0);
    h.abort(secs(4), poll);
    h.assert_quiet();
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.at(secs(4) + IDLE_TIMEOUT)),
        "the idle clock starts at the abort"
    );
    // A send no longer answers the aborted poll; the message waits for the next one.
    h.send(secs(5), msg("m")).unwrap();
    // Nor does the old poll deadline.
    h.timeout(secs(1) + POLL_TIMEOUT);
    h.assert_quiet();
    assert_eq!(h.session.outbound_messages(), 1);
    // Aborting again, or an unknown id, is ignored.
    h.session.handle_abort(h.at(secs(12)), poll);
    h.session.handle_abort(h.at(secs(12)), RequestId(999));
    h.drain();
    h.assert_quiet();

    assert_eq!(h.poll_frames(secs(13), 0), (0, vec![text("m")]));
}

#[test]
fn aborted_held_post_is_forgotten_and_a_retry_is_accepted() {
    let mut h = Harness::new();
    let held = fill_inbound_and_hold_a_post(&mut h, ms(0));
    h.abort(secs(1), held);
    assert_eq!(h.session.poll_timeout(), Some(h.at(secs(1) + IDLE_TIMEOUT)));
    // Room appears: the aborted POST is not accepted behind the client's back.
    assert_eq!(h.event(secs(2)), Some(Event::Message(msg("a"))));
    h.assert_quiet();
    assert_eq!(h.session.received_seq(), 4);
    h.post_ok(secs(3), 4, texts(&["e"]));
    assert_eq!(
        messages(&h.events(secs(3))),
        vec![msg("b"), msg("c"), msg("d"), msg("e")]
    );
}

#[test]
fn every_request_gets_exactly_one_answer_through_a_busy_session() {
    let mut h = Harness::new();
    let mut ids = vec![
        h.poll(ms(0), 0),
        h.poll(ms(1), 0),                               // supersedes
        h.post(ms(2), 0, texts(&["a", "b", "c", "d"])), // accepted
        h.post(ms(3), 4, texts(&["e"])),                // held
        h.post(ms(4), 4, texts(&["e", "f"])),           // supersedes the held one
        h.poll(ms(5), 7),                               // 400
        h.post(ms(6), 9, texts(&["z"])),                // 409 gap
    ];
    h.send(ms(7), msg("s")).unwrap(); // answers the held poll
    ids.push(h.poll(ms(8), 1)); // held
    ids.push(h.delete(ms(9))); // 204, held poll and held POST 410
    ids.push(h.poll(ms(10), 1)); // 410
    let distinct: BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "ids are distinct");
    assert!(h.pending.is_empty(), "unanswered: {:?}", h.pending);
    let statuses: Vec<u16> = ids.iter().map(|id| h.reply(*id).status()).collect();
    assert_eq!(
        statuses,
        vec![409, 200, 204, 409, 410, 400, 409, 410, 204, 410]
    );
    h.assert_quiet();
}

// ----- configuration limits -----------------------------------------------------------------

fn validation_error(config: &Config) -> String {
    config
        .validate()
        .expect_err("the config must be refused")
        .to_string()
}

#[test]
fn config_validation_requires_the_inbound_hold_to_end_before_the_poll_hold() {
    let mut equal = config();
    equal.inbound_hold_timeout = POLL_TIMEOUT;
    let error = validation_error(&equal);
    assert!(error.starts_with("invalid longpoll config: "), "{error}");
    assert!(
        error.contains("inbound_hold_timeout (10s) plus reply_wait (10ms) must be shorter than poll_timeout (10s)"),
        "{error}"
    );

    let mut longer = config();
    longer.inbound_hold_timeout = POLL_TIMEOUT + secs(1);
    let error = validation_error(&longer);
    assert!(
        error.contains("inbound_hold_timeout (11s) plus reply_wait (10ms) must be shorter than poll_timeout (10s)"),
        "{error}"
    );

    // A send accepted at the end of its hold may still wait for the application's reply.
    let mut shorter = config();
    shorter.inbound_hold_timeout = POLL_TIMEOUT - shorter.reply_wait;
    let error = validation_error(&shorter);
    assert!(error.contains("plus reply_wait (10ms)"), "{error}");
    shorter.inbound_hold_timeout -= ms(1);
    shorter.validate().unwrap();
}

#[test]
fn config_validation_requires_every_body_to_fit_a_close_frame() {
    // Messages are 16 bytes, but a close frame may be 125 + 5: bodies must take 130.
    let mut small_body = config();
    small_body.max_body_bytes = MAX_BODY - 1;
    let error = validation_error(&small_body);
    assert!(
        error.contains(
            "max_body_bytes (129) must be at least max(max_message_bytes, 125) + 5 (130)"
        ),
        "{error}"
    );

    let mut small_response = config();
    small_response.max_response_bytes = MAX_BODY - 1;
    let error = validation_error(&small_response);
    assert!(
        error.contains(
            "max_response_bytes (129) must be at least max(max_message_bytes, 125) + 5 (130)"
        ),
        "{error}"
    );

    // Messages larger than a close frame: the message limit decides.
    let mut big = config();
    big.max_message_bytes = 200;
    big.outbound_max_bytes = 200;
    big.inbound_max_bytes = 1000;
    big.max_body_bytes = 204;
    big.max_response_bytes = 205;
    let error = validation_error(&big);
    assert!(
        error.contains(
            "max_body_bytes (204) must be at least max(max_message_bytes, 125) + 5 (205)"
        ),
        "{error}"
    );
    big.max_body_bytes = 205;
    big.max_response_bytes = 204;
    let error = validation_error(&big);
    assert!(error.contains("max_response_bytes (204)"), "{error}");
    assert!(error.contains("(205)"), "{error}");
    big.max_response_bytes = 205;
    big.validate().unwrap();

    // Exactly 130 is enough (the suite's own config).
    assert_eq!(config().max_body_bytes, 130);
    config().validate().unwrap();
}

// ----- conflicts: the Longpoll-Expected-Seq header ------------------------------------------

#[test]
fn seq_gap_409_carries_the_expected_seq_header_and_superseded_409_does_not() {
    let mut h = Harness::new();
    h.post_ok(ms(0), 0, texts(&["a", "b"]));
    let gap = h.post(ms(10), 5, texts(&["x"]));
    let reply = h.reply(gap);
    assert_eq!(reply.status(), 409);
    assert!(EXPECTED_SEQ_HEADER.eq_ignore_ascii_case("Longpoll-Expected-Seq"));
    assert_eq!(header(&reply, EXPECTED_SEQ_HEADER).as_deref(), Some("2"));
    assert_eq!(header(&reply, SEQ_HEADER), None);

    // A superseded POST: 409 without the header (the client retries, it lost nothing).
    assert_eq!(messages(&h.events(ms(20))), vec![msg("a"), msg("b")]);
    let older = fill_inbound_and_hold_a_post_from(&mut h, ms(30), 2);
    let _newer = h.post(ms(50), 6, texts(&["e", "f"]));
    let reply = h.reply(older);
    assert_eq!(reply, Reply::Conflict(Conflict::Superseded));
    assert_eq!(header(&reply, EXPECTED_SEQ_HEADER), None);

    // A superseded poll: no header either.
    let first = h.poll(ms(60), 0);
    let _second = h.poll(ms(70), 0);
    let reply = h.reply(first);
    assert_eq!(reply, Reply::Conflict(Conflict::Superseded));
    assert_eq!(reply.status(), 409);
    assert_eq!(header(&reply, EXPECTED_SEQ_HEADER), None);
}

// ----- close frame limits -------------------------------------------------------------------

/// 100 two-byte characters: 200 bytes, and byte 123 falls inside a character.
fn long_reason() -> String {
    "é".repeat(100)
}

#[test]
fn server_close_truncates_a_long_reason() {
    let mut h = Harness::new();
    let long = CloseFrame {
        code: 4000,
        reason: Utf8Bytes::from(long_reason()),
    };
    h.close(ms(0), Some(long));
    let cut = CloseFrame {
        code: 4000,
        reason: Utf8Bytes::from("é".repeat(61)),
    };
    assert_eq!(cut.reason.len(), MAX_CLOSE_REASON_BYTES - 1);
    let (seq, frames) = h.poll_frames(ms(10), 0);
    assert_eq!((seq, frames), (0, vec![Frame::Close(Some(cut.clone()))]));
    let done = h.poll(ms(20), 1);
    assert_eq!(h.reply(done), Reply::Gone);
    assert_eq!(
        h.events(ms(20)),
        vec![Event::Closed(CloseReason::ServerClosed(Some(cut)))]
    );
}

/// A close frame whose payload is `payload_len` bytes: code 4000 and a reason of `x`s.
fn close_body(payload_len: usize) -> Bytes {
    let frame = Frame::Close(Some(CloseFrame {
        code: 4000,
        reason: Utf8Bytes::from("x".repeat(payload_len - 2)),
    }));
    let encoded = body(&[frame]);
    assert_eq!(encoded.len(), 5 + payload_len);
    encoded
}

#[test]
fn close_payload_is_limited_to_125_bytes_whatever_the_message_limit() {
    assert_eq!(MAX_CLOSE_PAYLOAD, 125);
    // The decoder: 125 bytes pass with a 16-byte message limit, 126 never do.
    let frames = decode_body(close_body(125), MAX_MESSAGE, 8).unwrap();
    let [Frame::Close(Some(close))] = frames.as_slice() else {
        panic!("expected one close frame, got {frames:?}");
    };
    assert_eq!((close.code, close.reason.len()), (4000, 123));
    for max_message_bytes in [MAX_MESSAGE, 1000] {
        assert_eq!(
            decode_body(close_body(126), max_message_bytes, 8),
            Err(FrameError::TooLarge { len: 126, max: 125 }),
            "max_message_bytes {max_message_bytes}"
        );
    }

    // The session: a 126-byte close payload is 413 and changes nothing...
    let mut h = Harness::new();
    let refused = h.post(ms(0), 0, close_body(126));
    let reply = h.reply(refused);
    assert_eq!(
        reply,
        Reply::PayloadTooLarge(TooLarge::Frames(FrameError::TooLarge {
            len: 126,
            max: 125
        }))
    );
    assert_eq!(reply.status(), 413);
    assert!(!h.session.is_closed());
    assert_eq!(h.session.received_seq(), 0);
    // ...and a 125-byte one, in a 130-byte body, closes the session.
    h.post_ok(ms(10), 0, close_body(125));
    assert!(h.session.is_closed());
    let reason = "x".repeat(123);
    assert_eq!(
        h.events(ms(10)),
        vec![Event::Closed(CloseReason::ClientClosed(Some(
            CloseFrame::new(4000, reason.as_str())
        )))]
    );
}

// ----- sends that carry `ack` (section 5.3) ----------------------------------------------------

#[test]
fn a_send_with_ack_waits_for_the_reply_and_the_held_poll_stays_held() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    h.drain();
    h.assert_held(post);
    // The application takes the message and answers it; the send still waits, for the
    // application may have more to say...
    assert_eq!(h.event(ms(1)), Some(Event::Message(msg("ping"))));
    h.send(ms(1), msg("pong")).unwrap();
    h.assert_held(post);
    h.assert_held(poll);
    // ...until it asks for its next event: then the send is answered with the reply.
    assert_eq!(h.event(ms(2)), None);
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("pong")]));
    h.assert_held(poll);
    h.assert_quiet();
    // The next send acknowledges it, which releases it.
    assert_eq!(h.session.outbound_messages(), 1);
    let next = h.post_acking(ms(3), 1, 1, texts(&["again"]));
    assert_eq!(h.events(ms(3)), vec![Event::Message(msg("again"))]);
    assert_eq!(h.reply(next), Reply::NoContent);
    assert_eq!(h.session.outbound_messages(), 0);
    h.assert_held(poll);
    // A later message, sent outside any send's answer, goes to the held poll.
    h.send(ms(4), msg("later")).unwrap();
    assert_eq!(frames_of(&h.reply(poll)), (1, vec![text("later")]));
}

#[test]
fn a_send_waits_for_the_reply_no_longer_than_the_reply_wait() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(10), 0, 0, texts(&["ping"]));
    h.drain();
    let wait = h.session.config().reply_wait;
    assert_eq!(h.session.poll_timeout(), Some(h.at(ms(10) + wait)));
    // The application is slow: nothing yet just before the wait ends...
    h.timeout(ms(10) + wait - ms(1));
    h.assert_held(post);
    // ...and at its end the send is answered without a reply; what comes later goes to the
    // held poll.
    h.timeout(ms(10) + wait);
    assert_eq!(h.reply(post), Reply::NoContent);
    assert_eq!(h.session.poll_timeout(), Some(h.at(POLL_TIMEOUT)));
    assert_eq!(h.event(ms(50)), Some(Event::Message(msg("ping"))));
    h.send(ms(50), msg("pong")).unwrap();
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![text("pong")]));
}

#[test]
fn the_clients_next_request_answers_a_send_waiting_for_the_reply() {
    let mut h = Harness::new();
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    h.drain();
    h.assert_held(post);
    h.send(ms(2), msg("early")).unwrap();
    // A poll arrives (the client has moved on): the waiting send is answered first, with what
    // is queued, and the poll from its own ack.
    let poll = h.poll(ms(3), 0);
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("early")]));
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![text("early")]));
    // A send does the same to the one before it.
    let first = h.post_acking(ms(4), 1, 1, texts(&["one"]));
    h.drain();
    let second = h.post_acking(ms(5), 2, 1, texts(&["two"]));
    h.drain();
    assert_eq!(h.reply(first), Reply::NoContent);
    h.assert_held(second);
    assert_eq!(
        h.events(ms(6)),
        vec![
            Event::Message(msg("ping")),
            Event::Message(msg("one")),
            Event::Message(msg("two"))
        ]
    );
    assert_eq!(h.reply(second), Reply::NoContent);
}

#[test]
fn an_aborted_send_waiting_for_the_reply_is_forgotten_and_its_retry_gets_the_reply() {
    let mut h = Harness::new();
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    h.drain();
    h.abort(ms(2), post);
    assert_eq!(h.session.received_seq(), 1, "its frames stay accepted");
    assert_eq!(h.event(ms(3)), Some(Event::Message(msg("ping"))));
    h.send(ms(3), msg("pong")).unwrap();
    assert_eq!(h.event(ms(3)), None);
    h.assert_quiet();
    // The client retries the send: a duplicate, answered at once with the reply.
    let retry = h.post_acking(ms(4), 0, 0, texts(&["ping"]));
    h.drain();
    assert_eq!(frames_of(&h.reply(retry)), (0, vec![text("pong")]));
    assert_eq!(h.session.received_seq(), 1);
}

#[test]
fn what_was_queued_for_an_aborted_waiting_send_goes_to_the_held_poll() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    h.drain();
    h.send(ms(2), msg("pong")).unwrap();
    h.assert_held(poll);
    h.abort(ms(3), post);
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![text("pong")]));
}

#[test]
fn with_no_reply_wait_a_send_is_answered_at_the_next_drain() {
    let mut config = config();
    config.reply_wait = Duration::ZERO;
    let mut h = Harness::with_config(config);
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    // What the application queues before the driver drains still goes with it.
    assert!(h.session.poll_event(h.at(ms(1))).is_some());
    h.session.send(h.at(ms(1)), msg("pong")).unwrap();
    h.drain();
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("pong")]));
    h.assert_held(poll);
    // Without a reply before the drain, 204 and the reply goes to the poll.
    let next = h.post_acking(ms(2), 1, 1, texts(&["again"]));
    h.drain();
    assert_eq!(h.reply(next), Reply::NoContent);
    assert_eq!(h.event(ms(2)), Some(Event::Message(msg("again"))));
    h.send(ms(2), msg("pong")).unwrap();
    assert_eq!(frames_of(&h.reply(poll)), (1, vec![text("pong")]));
}

#[test]
fn a_send_without_ack_is_204_and_the_reply_goes_to_the_held_poll() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let now = h.at(ms(1));
    let post = h.session.handle_send(now, 0, None, texts(&["ping"]));
    h.issued(post);
    assert_eq!(h.reply(post), Reply::NoContent);
    assert_eq!(h.event(ms(1)), Some(Event::Message(msg("ping"))));
    h.send(ms(1), msg("pong")).unwrap();
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![text("pong")]));
}

#[test]
fn a_send_with_ack_carries_retained_frames_from_its_ack_and_releases_those_below() {
    let mut h = Harness::new();
    for m in ["a", "b", "c"] {
        h.send(ms(0), msg(m)).unwrap();
    }
    // Nothing new to deliver, but b and c are retained from ack 1: a retry of a lost answer
    // gets them again.
    let post = h.post_acking(ms(1), 0, 1, texts(&["x"]));
    assert_eq!(h.events(ms(1)), vec![Event::Message(msg("x"))]);
    assert_eq!(frames_of(&h.reply(post)), (1, vec![text("b"), text("c")]));
    assert_eq!(h.session.outbound_messages(), 2, "a was released by ack 1");
    // A duplicate (all frames received before) is answered at once, with what is retained.
    let duplicate = h.post_acking(ms(2), 0, 2, texts(&["x"]));
    h.drain();
    assert_eq!(frames_of(&h.reply(duplicate)), (2, vec![text("c")]));
    assert_eq!(h.session.received_seq(), 1, "the duplicate was dropped");
    // Everything acknowledged: 204.
    let last = h.post_acking(ms(3), 1, 3, texts(&["y"]));
    assert_eq!(h.events(ms(3)), vec![Event::Message(msg("y"))]);
    assert_eq!(h.reply(last), Reply::NoContent);
    assert_eq!(h.session.outbound_messages(), 0);
}

#[test]
fn a_send_whose_ack_is_beyond_what_was_sent_is_400_and_accepts_nothing() {
    let mut h = Harness::new();
    h.send(ms(0), msg("a")).unwrap();
    let post = h.post_acking(ms(1), 0, 2, texts(&["x"]));
    h.drain();
    let reply = h.reply(post);
    assert_eq!(
        reply,
        Reply::BadRequest(BadRequest::AckBeyondSent { ack: 2, sent: 1 })
    );
    assert_eq!(h.session.received_seq(), 0);
    assert_eq!(h.session.outbound_messages(), 1, "nothing was released");
    // The session is unharmed.
    h.post_ok(ms(2), 0, texts(&["x"]));
    assert_eq!(h.poll_frames(ms(3), 0), (0, vec![text("a")]));
}

#[test]
fn a_held_poll_that_times_out_gets_the_frames_a_send_answer_took() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    assert!(h.session.poll_event(h.at(ms(1))).is_some());
    h.session.send(h.at(ms(1)), msg("pong")).unwrap();
    assert_eq!(h.event(ms(1)), None);
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("pong")]));
    h.assert_held(poll);
    // That answer may have been lost: at its deadline the poll carries the frame, not 204.
    h.timeout(POLL_TIMEOUT);
    assert_eq!(frames_of(&h.reply(poll)), (0, vec![text("pong")]));
}

#[test]
fn what_a_send_answer_has_no_room_for_goes_to_the_held_poll() {
    let mut config = config();
    config.max_frames_per_response = 2;
    let mut h = Harness::with_config(config);
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    assert!(h.session.poll_event(h.at(ms(1))).is_some());
    for m in ["a", "b", "c"] {
        h.session.send(h.at(ms(1)), msg(m)).unwrap();
    }
    assert_eq!(h.event(ms(1)), None);
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("a"), text("b")]));
    // The poll answers from its own ack, so a and b come twice; the client drops duplicates.
    assert_eq!(frames_of(&h.reply(poll)).0, 0);
    h.assert_quiet();
}

#[test]
fn a_send_with_ack_that_closes_the_session_is_204() {
    let mut h = Harness::new();
    h.send(ms(0), msg("a")).unwrap();
    let post = h.post_acking(ms(1), 0, 0, body(&[text("x"), Frame::Close(None)]));
    h.drain();
    assert_eq!(h.reply(post), Reply::NoContent);
    assert!(h.session.is_closed());
}

#[test]
fn a_server_close_during_a_send_answer_leaves_the_close_frame_to_the_poll() {
    let mut h = Harness::new();
    let poll = h.poll(ms(0), 0);
    let post = h.post_acking(ms(1), 0, 0, texts(&["ping"]));
    assert!(h.session.poll_event(h.at(ms(1))).is_some());
    h.session.send(h.at(ms(1)), msg("bye")).unwrap();
    h.close(ms(1), None);
    assert_eq!(frames_of(&h.reply(post)), (0, vec![text("bye")]));
    assert_eq!(
        frames_of(&h.reply(poll)),
        (0, vec![text("bye"), Frame::Close(None)])
    );
}
