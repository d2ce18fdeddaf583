//! The rules `ClientSession` follows, one test each, on a virtual clock.
//!
//! The tests play the server by hand: they take the requests the client issues and answer them
//! with `ServerAnswer`s, or fail them, or let them time out.

use bytes::{Bytes, BytesMut};
use longpoll_core::client::{
    ClientOutput, ClientRequest, DEFAULT_REQUEST_GRACE, RequestKind, ServerAnswer,
};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use longpoll_core::{
    ClientConfig, ClientSession, CloseFrame, CloseReason, Config, Event, MAX_CLOSE_REASON_BYTES,
    Message, RequestId, SendError, SessionId, SessionParams, Utf8Bytes,
};
use std::time::{Duration, Instant};

const POLL_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_MESSAGE: usize = 40;
/// The smallest body limit `Config::validate` allows: a 125-byte close payload plus its header.
const MAX_BODY: usize = 130;
const MAX_FRAMES_PER_REQUEST: usize = 4;

fn server_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = POLL_TIMEOUT;
    config.idle_timeout = IDLE_TIMEOUT;
    config.max_message_bytes = MAX_MESSAGE;
    config.max_body_bytes = MAX_BODY;
    config.max_frames_per_request = MAX_FRAMES_PER_REQUEST;
    config.max_response_bytes = MAX_BODY;
    config.outbound_max_bytes = 64;
    config.inbound_max_bytes = MAX_BODY;
    config.inbound_max_messages = 8;
    config.validate().expect("test config must be valid");
    config
}

fn params() -> SessionParams {
    SessionParams::new(SessionId::from_bytes([7; 16]), &server_config())
}

/// How long a request may take under the default client config: the poll hold plus the
/// request grace, the grace capped at half the gap between poll hold and idle timeout.
fn request_deadline() -> Duration {
    POLL_TIMEOUT + DEFAULT_REQUEST_GRACE.min((IDLE_TIMEOUT - POLL_TIMEOUT) / 2)
}

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

fn encode(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut out).unwrap();
    }
    out.freeze()
}

/// A `200` answer carrying `frames`, the first numbered `seq`.
fn frames_answer(seq: u64, frames: &[Frame]) -> ServerAnswer {
    let mut answer = ServerAnswer::status(200);
    answer.seq = Some(seq);
    answer.body = encode(frames);
    answer
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

struct Harness {
    t0: Instant,
    client: ClientSession,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(ClientConfig::default())
    }

    fn with_config(config: ClientConfig) -> Self {
        let t0 = Instant::now();
        Harness {
            t0,
            client: ClientSession::new(t0, params(), config, 0x5eed),
        }
    }

    fn at(&self, offset: Duration) -> Instant {
        self.t0 + offset
    }

    /// Everything the client wants done now.
    fn outputs(&mut self, offset: Duration) -> Vec<ClientOutput> {
        let now = self.at(offset);
        let mut outputs = Vec::new();
        while let Some(output) = self.client.poll_output(now) {
            outputs.push(output);
            assert!(outputs.len() < 100, "poll_output never ends: {outputs:?}");
        }
        outputs
    }

    /// The only output now is a poll; returns its id and ack.
    fn expect_poll(&mut self, offset: Duration) -> (RequestId, u64) {
        match self.outputs(offset).as_slice() {
            [
                ClientOutput::Issue(ClientRequest {
                    id,
                    kind: RequestKind::Poll { ack },
                }),
            ] => (*id, *ack),
            other => panic!("expected exactly one poll, got {other:?}"),
        }
    }

    /// The only output now is a `POST`; returns its id, seq and decoded frames.
    fn expect_post(&mut self, offset: Duration) -> (RequestId, u64, Vec<Frame>) {
        let outputs = self.outputs(offset);
        match outputs.as_slice() {
            [ClientOutput::Issue(request)] => post_of(request),
            other => panic!("expected exactly one POST, got {other:?}"),
        }
    }

    fn expect_nothing(&mut self, offset: Duration) {
        let outputs = self.outputs(offset);
        assert!(outputs.is_empty(), "expected no output, got {outputs:?}");
    }

    fn answer(&mut self, offset: Duration, id: RequestId, answer: ServerAnswer) {
        let now = self.at(offset);
        self.client.handle_answer(now, id, answer);
    }

    fn fail(&mut self, offset: Duration, id: RequestId) {
        let now = self.at(offset);
        self.client.handle_failure(now, id);
    }

    fn timeout(&mut self, offset: Duration) {
        let now = self.at(offset);
        self.client.handle_timeout(now);
    }

    /// `poll_timeout()` as an offset from the start.
    fn next_timeout(&self) -> Duration {
        self.client
            .poll_timeout()
            .expect("an open client always has a timeout")
            .duration_since(self.t0)
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }
}

fn post_of(request: &ClientRequest) -> (RequestId, u64, Vec<Frame>) {
    match &request.kind {
        RequestKind::Send { seq, body, .. } => {
            let frames = decode_body(body.clone(), MAX_MESSAGE, MAX_FRAMES_PER_REQUEST)
                .expect("the client sends a valid body");
            assert!(body.len() <= MAX_BODY, "body over the server's limit");
            (request.id, *seq, frames)
        }
        other => panic!("expected a POST, got {other:?}"),
    }
}

fn is_poll(output: &ClientOutput) -> bool {
    matches!(
        output,
        ClientOutput::Issue(ClientRequest {
            kind: RequestKind::Poll { .. },
            ..
        })
    )
}

fn is_post(output: &ClientOutput) -> bool {
    matches!(
        output,
        ClientOutput::Issue(ClientRequest {
            kind: RequestKind::Send { .. },
            ..
        })
    )
}

fn is_delete(output: &ClientOutput) -> bool {
    matches!(
        output,
        ClientOutput::Issue(ClientRequest {
            kind: RequestKind::Delete,
            ..
        })
    )
}

// ----- request discipline -------------------------------------------------------------------

#[test]
fn first_output_is_a_poll_with_ack_zero() {
    let mut h = Harness::new();
    let (id, ack) = h.expect_poll(ms(0));
    assert_eq!(ack, 0);
    h.expect_nothing(ms(0));
    // The poll may take the server's hold plus the grace before it is abandoned.
    assert_eq!(h.client.poll_timeout(), Some(h.at(request_deadline())));
    // Its answer leads to the next poll at once.
    h.answer(ms(5), id, ServerAnswer::status(204));
    let (next, ack) = h.expect_poll(ms(5));
    assert_ne!(next, id);
    assert_eq!(ack, 0);
}

#[test]
fn at_most_one_poll_and_one_post_in_flight() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, seq, frames) = h.expect_post(ms(1));
    assert_eq!((seq, frames), (0, vec![text("a")]));

    h.client.send(msg("b")).unwrap();
    h.expect_nothing(ms(2));
    h.timeout(ms(3)); // spurious
    h.expect_nothing(ms(3));

    // The poll's answer brings a new poll, not a second POST.
    h.answer(ms(4), poll, ServerAnswer::status(204));
    let (_, ack) = h.expect_poll(ms(4));
    assert_eq!(ack, 0);
    h.expect_nothing(ms(4));

    // The POST's answer brings the next POST, not a second poll.
    h.answer(ms(5), post, ServerAnswer::status(204));
    let (_, seq, frames) = h.expect_post(ms(5));
    assert_eq!((seq, frames), (1, vec![text("b")]));
    h.expect_nothing(ms(5));
}

#[test]
fn poll_answered_409_or_204_is_repolled_at_once_with_the_same_ack() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(0, &[text("a")]));
    let (poll, ack) = h.expect_poll(ms(1));
    assert_eq!(ack, 1);
    h.answer(ms(2), poll, ServerAnswer::status(409));
    let (poll, ack) = h.expect_poll(ms(2));
    assert_eq!(ack, 1);
    h.answer(ms(3), poll, ServerAnswer::status(204));
    assert_eq!(h.expect_poll(ms(3)).1, 1);
    assert_eq!(messages(&h.events()), vec![msg("a")]);
}

// ----- POST contents ------------------------------------------------------------------------

#[test]
fn post_carries_every_unacked_frame_and_a_retry_resends_from_the_same_seq() {
    let mut h = Harness::new();
    let _poll = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    h.client.send(msg("b")).unwrap();
    let (post, seq, frames) = h.expect_post(ms(0));
    assert_eq!((seq, frames), (0, vec![text("a"), text("b")]));

    h.client.send(msg("c")).unwrap();
    h.fail(ms(10), post);
    h.expect_nothing(ms(10));
    assert_eq!(
        h.client.outbound_messages(),
        3,
        "nothing released by a failure"
    );

    let retry_at = h.next_timeout();
    assert!(retry_at > ms(10));
    h.timeout(retry_at);
    let (retry, seq, frames) = h.expect_post(retry_at);
    assert_ne!(retry, post);
    assert_eq!(
        (seq, frames),
        (0, vec![text("a"), text("b"), text("c")]),
        "a retry starts at the same seq, possibly longer"
    );

    h.answer(retry_at + ms(1), retry, ServerAnswer::status(204));
    assert_eq!(h.client.outbound_messages(), 0);
    h.client.send(msg("d")).unwrap();
    let (_, seq, frames) = h.expect_post(retry_at + ms(2));
    assert_eq!((seq, frames), (3, vec![text("d")]));
}

#[test]
fn post_body_stays_within_the_server_limits() {
    let mut h = Harness::new();
    let _poll = h.expect_poll(ms(0));
    // Five one-byte messages: at most four frames per request.
    for s in ["1", "2", "3", "4", "5"] {
        h.client.send(msg(s)).unwrap();
    }
    let (post, seq, frames) = h.expect_post(ms(0));
    assert_eq!(
        (seq, frames),
        (0, vec![text("1"), text("2"), text("3"), text("4")])
    );
    h.answer(ms(1), post, ServerAnswer::status(204));
    let (post, seq, frames) = h.expect_post(ms(1));
    assert_eq!((seq, frames), (4, vec![text("5")]));
    h.answer(ms(2), post, ServerAnswer::status(204));

    // Four 40-byte messages are 180 encoded bytes; three would be 135: only two fit a
    // 130-byte body.
    let forty = "x".repeat(MAX_MESSAGE);
    for _ in 0..4 {
        h.client.send(msg(&forty)).unwrap();
    }
    let (post, seq, frames) = h.expect_post(ms(3));
    assert_eq!(seq, 5);
    assert_eq!(frames.len(), 2);
    h.answer(ms(4), post, ServerAnswer::status(204));
    let (_, seq, frames) = h.expect_post(ms(4));
    assert_eq!((seq, frames.len()), (7, 2));
}

#[test]
fn post_204_releases_exactly_the_frames_it_carried() {
    let mut h = Harness::new();
    let _poll = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    h.client.send(msg("b")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    h.client.send(msg("c")).unwrap();
    assert_eq!(h.client.outbound_messages(), 3);
    assert_eq!(h.client.outbound_bytes(), 3);

    h.answer(ms(10), post, ServerAnswer::status(204));
    assert_eq!(h.client.outbound_messages(), 1);
    assert_eq!(h.client.outbound_bytes(), 1);
    let (_, seq, frames) = h.expect_post(ms(10));
    assert_eq!((seq, frames), (2, vec![text("c")]));
}

#[test]
fn send_over_the_message_limit_or_the_outbound_limit_is_refused() {
    let mut config = ClientConfig::default();
    config.outbound_max_messages = 2;
    let mut h = Harness::with_config(config);
    let big = msg(&"x".repeat(MAX_MESSAGE + 1));
    assert!(!h.client.can_send(MAX_MESSAGE + 1));
    assert_eq!(h.client.send(big.clone()), Err(SendError::TooLarge(big)));
    h.client.send(msg("a")).unwrap();
    h.client.send(msg("b")).unwrap();
    assert!(!h.client.can_send(1));
    assert_eq!(h.client.send(msg("c")), Err(SendError::Full(msg("c"))));
    let outputs = h.outputs(ms(0));
    let post = outputs
        .iter()
        .find_map(|o| match o {
            ClientOutput::Issue(r) if matches!(r.kind, RequestKind::Send { .. }) => {
                Some(post_of(r))
            }
            _ => None,
        })
        .expect("a POST");
    assert_eq!((post.1, post.2), (0, vec![text("a"), text("b")]));
    h.answer(ms(1), post.0, ServerAnswer::status(204));
    assert!(h.client.can_send(1));
    h.client.send(msg("c")).unwrap();
}

// ----- poll answers -------------------------------------------------------------------------

#[test]
fn resent_server_frames_are_dropped() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(0, &[text("a"), text("b")]));
    assert_eq!(messages(&h.events()), vec![msg("a"), msg("b")]);
    let (poll, ack) = h.expect_poll(ms(1));
    assert_eq!(ack, 2);
    // The server re-sends b (and c, d are new).
    h.answer(
        ms(2),
        poll,
        frames_answer(1, &[text("b"), text("c"), text("d")]),
    );
    assert_eq!(messages(&h.events()), vec![msg("c"), msg("d")]);
    assert_eq!(h.client.received_seq(), 4);
    let (poll, ack) = h.expect_poll(ms(2));
    assert_eq!(ack, 4);
    // Entirely old frames: nothing delivered, ack unchanged.
    h.answer(ms(3), poll, frames_answer(0, &[text("a"), text("b")]));
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.expect_poll(ms(3)).1, 4);
    assert!(!h.client.is_closed());
}

/// The client closed with a protocol error and sends a `DELETE`; returns the outputs.
fn assert_protocol_error_then_delete(h: &mut Harness, offset: Duration) -> Vec<ClientOutput> {
    let events = h.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed(CloseReason::ProtocolError(_))]
        ),
        "expected only Closed(ProtocolError), got {events:?}"
    );
    assert!(h.client.is_closed());
    let outputs = h.outputs(offset);
    assert!(outputs.iter().any(is_delete), "no DELETE in {outputs:?}");
    assert!(
        !outputs.iter().any(is_poll),
        "polled after closing: {outputs:?}"
    );
    assert_eq!(h.client.send(msg("x")), Err(SendError::Closed(msg("x"))));
    outputs
}

#[test]
fn answer_with_seq_above_received_is_a_protocol_error() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(1, &[text("skipped-one")]));
    assert_eq!(h.client.received_seq(), 0);
    let _ = assert_protocol_error_then_delete(&mut h, ms(1));
}

#[test]
fn answer_200_without_longpoll_seq_is_a_protocol_error() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let mut answer = frames_answer(0, &[text("a")]);
    answer.seq = None;
    h.answer(ms(1), poll, answer);
    assert_eq!(h.client.received_seq(), 0);
    let _ = assert_protocol_error_then_delete(&mut h, ms(1));
}

#[test]
fn poll_answered_404_or_410_means_the_session_is_gone() {
    for status in [404, 410] {
        let mut h = Harness::new();
        let (poll, _) = h.expect_poll(ms(0));
        h.client.send(msg("a")).unwrap();
        let (post, _, _) = h.expect_post(ms(0));
        h.answer(ms(1), poll, ServerAnswer::status(status));
        assert_eq!(
            h.events(),
            vec![Event::Closed(CloseReason::SessionGone)],
            "status {status}"
        );
        assert!(h.client.is_closed());
        let outputs = h.outputs(ms(1));
        assert!(
            outputs.contains(&ClientOutput::Cancel(post)),
            "status {status}: the POST in flight is cancelled: {outputs:?}"
        );
        assert!(
            !outputs.iter().any(|o| is_poll(o) || is_post(o)),
            "status {status}: {outputs:?}"
        );
        assert_eq!(h.client.poll_timeout(), None);
    }
}

// ----- failures, retries, deadlines ---------------------------------------------------------

#[test]
fn failed_poll_is_retried_after_exponential_backoff_and_not_before() {
    let mut config = ClientConfig::default();
    config.backoff_initial = secs(1);
    config.backoff_max = secs(4);
    let mut h = Harness::with_config(config);
    let (mut poll, _) = h.expect_poll(ms(0));
    let mut now = ms(100);
    // Jitter is 50..100% of 1 s, 2 s, 4 s, 4 s (capped).
    let bounds = [(500, 1000), (1000, 2000), (2000, 4000), (2000, 4000)];
    for (low, high) in bounds {
        h.fail(now, poll);
        h.expect_nothing(now);
        let retry_at = h.next_timeout();
        let delay = retry_at - now;
        assert!(
            delay >= ms(low) && delay <= ms(high),
            "delay {delay:?} outside {low}..={high} ms"
        );
        // Not before...
        h.timeout(retry_at - ms(1));
        h.expect_nothing(retry_at - ms(1));
        // ...but at the time.
        h.timeout(retry_at);
        let (next, ack) = h.expect_poll(retry_at);
        assert_ne!(next, poll);
        assert_eq!(ack, 0);
        poll = next;
        now = retry_at + ms(10);
    }
    // Success resets the backoff.
    h.answer(now, poll, ServerAnswer::status(204));
    let (poll, _) = h.expect_poll(now);
    h.fail(now, poll);
    let delay = h.next_timeout() - now;
    assert!(delay >= ms(500) && delay <= ms(1000), "delay {delay:?}");
}

#[test]
fn poll_timeout_is_not_in_the_past_once_a_retry_is_issued() {
    // After a retry is issued, nothing is due until the retried request's deadline: a driver
    // that sleeps until `poll_timeout()` must not be woken again at once (a busy loop).
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.fail(ms(10), poll);
    let retry_at = h.next_timeout();
    h.timeout(retry_at);
    let (retry, ack) = h.expect_poll(retry_at);
    assert_ne!(retry, poll);
    assert_eq!(ack, 0);
    h.timeout(retry_at);
    h.expect_nothing(retry_at);
    let next = h.next_timeout();
    assert!(
        next > retry_at,
        "poll_timeout() is {next:?} after the start, not after the retry issued at {retry_at:?}"
    );
    assert_eq!(
        next,
        retry_at + request_deadline(),
        "the next thing due is the retried poll's deadline"
    );
}

#[test]
fn post_answered_503_waits_at_least_retry_after() {
    let mut h = Harness::new();
    let _poll = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    let mut busy = ServerAnswer::status(503);
    busy.retry_after = Some(secs(3));
    h.answer(secs(1), post, busy);
    h.expect_nothing(secs(1));
    assert_eq!(h.client.outbound_messages(), 1);
    assert_eq!(
        h.next_timeout(),
        secs(4),
        "retry_after beats the 100 ms backoff"
    );
    h.timeout(secs(4) - ms(1));
    h.expect_nothing(secs(4) - ms(1));
    h.timeout(secs(4));
    let (retry, seq, frames) = h.expect_post(secs(4));
    assert_ne!(retry, post);
    assert_eq!((seq, frames), (0, vec![text("a")]));
}

#[test]
fn deadline_expiry_retries_at_once() {
    // A poll and a POST issued together run into the same deadline: both are cancelled and
    // reissued at that very instant (the wait was the backoff).
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    let deadline = request_deadline();
    assert_eq!(h.next_timeout(), deadline);
    h.timeout(deadline - ms(1));
    h.expect_nothing(deadline - ms(1));

    h.timeout(deadline);
    let outputs = h.outputs(deadline);
    assert_eq!(outputs.len(), 4, "{outputs:?}");
    assert!(outputs.contains(&ClientOutput::Cancel(poll)), "{outputs:?}");
    assert!(outputs.contains(&ClientOutput::Cancel(post)), "{outputs:?}");
    let retried_poll = outputs.iter().find_map(|o| match o {
        ClientOutput::Issue(ClientRequest {
            id,
            kind: RequestKind::Poll { ack },
        }) => Some((*id, *ack)),
        _ => None,
    });
    let (retry, ack) = retried_poll.expect("the poll is reissued at once");
    assert_ne!(retry, poll);
    assert_eq!(ack, 0);
    let retried_post = outputs
        .iter()
        .find_map(|o| match o {
            ClientOutput::Issue(request) if is_post(o) => Some(post_of(request)),
            _ => None,
        })
        .expect("the POST is reissued at once");
    assert_ne!(retried_post.0, post);
    assert_eq!((retried_post.1, retried_post.2), (0, vec![text("a")]));
    // The retries get fresh deadlines.
    assert_eq!(h.next_timeout(), deadline + request_deadline());
}

#[test]
fn every_request_may_take_poll_timeout_plus_the_request_grace() {
    let mut config = ClientConfig::default();
    config.request_grace = secs(2);
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(secs(3));
    // Poll and POST alike: issued + poll_timeout + request_grace.
    assert_eq!(h.next_timeout(), POLL_TIMEOUT + secs(2));
    h.timeout(POLL_TIMEOUT + secs(2));
    let outputs = h.outputs(POLL_TIMEOUT + secs(2));
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0], ClientOutput::Cancel(poll));
    assert!(is_poll(&outputs[1]), "{outputs:?}");

    let post_deadline = secs(3) + POLL_TIMEOUT + secs(2);
    assert_eq!(h.next_timeout(), post_deadline);
    h.timeout(post_deadline - ms(1));
    h.expect_nothing(post_deadline - ms(1));
    h.timeout(post_deadline);
    let outputs = h.outputs(post_deadline);
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0], ClientOutput::Cancel(post));
    let ClientOutput::Issue(request) = &outputs[1] else {
        panic!("expected a POST, got {outputs:?}");
    };
    let (retry, seq, frames) = post_of(request);
    assert_ne!(retry, post);
    assert_eq!((seq, frames), (0, vec![text("a")]));
}

#[test]
fn request_grace_is_capped_at_half_the_gap_to_the_idle_timeout() {
    // A grace of 8 s would let a lost poll outlive the server's patience: it is cut to
    // (idle_timeout - poll_timeout) / 2 = 5 s.
    let mut config = ClientConfig::default();
    config.request_grace = secs(8);
    let mut h = Harness::with_config(config);
    let (_, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let _ = h.expect_post(secs(1));
    let cap = (IDLE_TIMEOUT - POLL_TIMEOUT) / 2;
    assert_eq!(h.next_timeout(), POLL_TIMEOUT + cap);
    h.timeout(POLL_TIMEOUT + cap);
    assert!(h.outputs(POLL_TIMEOUT + cap).iter().any(is_poll));
    assert_eq!(h.next_timeout(), secs(1) + POLL_TIMEOUT + cap);
}

#[test]
fn deadline_expiry_counts_toward_the_next_backoff() {
    let mut config = ClientConfig::default();
    config.backoff_initial = secs(1);
    config.backoff_max = secs(4);
    let mut h = Harness::with_config(config);
    let (_, _) = h.expect_poll(ms(0));
    let deadline = request_deadline();
    h.timeout(deadline);
    let outputs = h.outputs(deadline);
    let retry = outputs
        .iter()
        .find_map(|o| match o {
            ClientOutput::Issue(ClientRequest {
                id,
                kind: RequestKind::Poll { .. },
            }) => Some(*id),
            _ => None,
        })
        .expect("retried at once");
    // The retry fails quickly: this is the second failure in a row, so the backoff is
    // 2 s with jitter (1..2 s), not 1 s with jitter (0.5..1 s).
    let now = deadline + ms(100);
    h.fail(now, retry);
    h.expect_nothing(now);
    let delay = h.next_timeout() - now;
    assert!(
        delay >= secs(1) && delay <= secs(2),
        "delay {delay:?}: the expired request did not count as a failure"
    );
}

#[test]
fn answer_to_a_cancelled_request_is_ignored() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let deadline = request_deadline();
    h.timeout(deadline);
    let outputs = h.outputs(deadline);
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0], ClientOutput::Cancel(poll));
    let ClientOutput::Issue(ClientRequest {
        id: retry,
        kind: RequestKind::Poll { ack: 0 },
    }) = outputs[1]
    else {
        panic!("expected a poll retried at once, got {outputs:?}");
    };

    // The cancelled poll's answer still arrives: ignored, nothing delivered, nothing closed.
    h.answer(deadline + ms(1), poll, frames_answer(0, &[text("late")]));
    h.answer(deadline + ms(1), poll, ServerAnswer::status(410));
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.client.received_seq(), 0);
    assert!(!h.client.is_closed());
    h.expect_nothing(deadline + ms(1));

    h.answer(deadline + ms(2), retry, frames_answer(0, &[text("late")]));
    assert_eq!(messages(&h.events()), vec![msg("late")]);
}

// ----- closing ------------------------------------------------------------------------------

#[test]
fn server_close_frame_delivers_messages_before_it_then_closes_and_deletes() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("x")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    let frame = CloseFrame::new(4000, "bye");
    h.answer(
        ms(1),
        poll,
        frames_answer(
            0,
            &[text("a"), text("b"), Frame::Close(Some(frame.clone()))],
        ),
    );
    assert_eq!(
        h.events(),
        vec![
            Event::Message(msg("a")),
            Event::Message(msg("b")),
            Event::Closed(CloseReason::ServerClosed(Some(frame))),
        ]
    );
    assert_eq!(h.client.poll_event(), None, "Closed comes once");
    assert!(h.client.is_closed());
    let outputs = h.outputs(ms(1));
    assert!(outputs.contains(&ClientOutput::Cancel(post)), "{outputs:?}");
    assert_eq!(
        outputs.iter().filter(|o| is_delete(o)).count(),
        1,
        "{outputs:?}"
    );
    assert!(
        !outputs.iter().any(|o| is_poll(o) || is_post(o)),
        "{outputs:?}"
    );
    assert_eq!(h.client.send(msg("y")), Err(SendError::Closed(msg("y"))));
    h.expect_nothing(ms(2));
}

#[test]
fn client_close_cancels_the_poll_and_posts_the_close_frame_last() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let frame = CloseFrame::new(1000, "done");
    h.client.close(Some(frame.clone()));
    assert_eq!(h.client.send(msg("b")), Err(SendError::Closed(msg("b"))));

    let outputs = h.outputs(ms(1));
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0], ClientOutput::Cancel(poll));
    let ClientOutput::Issue(request) = &outputs[1] else {
        panic!("expected a POST, got {outputs:?}");
    };
    let (post, seq, frames) = post_of(request);
    assert_eq!(
        (seq, frames),
        (0, vec![text("a"), Frame::Close(Some(frame.clone()))])
    );
    assert!(
        !h.client.is_closed(),
        "closed only once the server has the close frame"
    );
    assert_eq!(h.events(), vec![]);

    h.answer(ms(2), post, ServerAnswer::status(204));
    assert_eq!(
        h.events(),
        vec![Event::Closed(CloseReason::ClientClosed(Some(frame)))]
    );
    assert!(h.client.is_closed());
    let outputs = h.outputs(ms(2));
    assert!(
        !outputs.iter().any(|o| is_poll(o) || is_post(o)),
        "{outputs:?}"
    );
}

#[test]
fn client_close_while_a_post_is_in_flight_sends_the_close_frame_next() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    h.client.close(None);
    assert_eq!(h.outputs(ms(1)), vec![ClientOutput::Cancel(poll)]);
    // The failed POST is retried with the close frame appended.
    h.fail(ms(2), post);
    let retry_at = h.next_timeout();
    h.timeout(retry_at);
    let (retry, seq, frames) = h.expect_post(retry_at);
    assert_eq!((seq, frames), (0, vec![text("a"), Frame::Close(None)]));
    h.answer(retry_at + ms(1), retry, ServerAnswer::status(204));
    assert_eq!(
        h.events(),
        vec![Event::Closed(CloseReason::ClientClosed(None))]
    );
}

#[test]
fn post_answered_410_while_open_stops_sending_but_polling_continues() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    h.answer(ms(1), post, ServerAnswer::status(410));
    assert_eq!(h.events(), vec![], "not closed yet: the poll will tell why");
    assert!(!h.client.is_closed());
    assert!(!h.client.can_send(1));
    assert_eq!(h.client.send(msg("b")), Err(SendError::Closed(msg("b"))));
    h.expect_nothing(ms(1));

    // Polling continues and learns the server closed.
    h.answer(ms(2), poll, frames_answer(0, &[text("m")]));
    let (poll, ack) = h.expect_poll(ms(2));
    assert_eq!(ack, 1);
    h.expect_nothing(ms(2));
    h.answer(ms(3), poll, frames_answer(1, &[Frame::Close(None)]));
    assert_eq!(
        h.events(),
        vec![
            Event::Message(msg("m")),
            Event::Closed(CloseReason::ServerClosed(None))
        ]
    );
}

// ----- backpressure and giving up -----------------------------------------------------------

#[test]
fn no_poll_while_inbound_is_full_and_polling_resumes_once_the_app_takes_messages() {
    let mut config = ClientConfig::default();
    config.inbound_max_messages = 2;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    // Only two of the three fit; the third is left for the server to send again.
    h.answer(
        ms(1),
        poll,
        frames_answer(0, &[text("a"), text("b"), text("c")]),
    );
    assert_eq!(h.client.inbound_messages(), 2);
    assert_eq!(h.client.received_seq(), 2);
    h.expect_nothing(ms(1));
    h.timeout(secs(1));
    h.expect_nothing(secs(1));

    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("a"))));
    let (_, ack) = h.expect_poll(secs(2));
    assert_eq!(ack, 2);
}

#[test]
fn gives_up_after_poll_timeout_plus_idle_timeout_without_an_answer() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    // The last answer the client ever gets.
    let last_answer = secs(2);
    h.answer(last_answer, poll, ServerAnswer::status(204));
    let give_up = last_answer + POLL_TIMEOUT + IDLE_TIMEOUT;

    // From then on every request fails at once (the server is unreachable).
    let mut now = last_answer;
    let mut attempts = 0;
    loop {
        for output in h.outputs(now) {
            match output {
                ClientOutput::Issue(ClientRequest {
                    id,
                    kind: RequestKind::Poll { ack: 0 },
                }) => {
                    attempts += 1;
                    h.fail(now, id);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!h.client.is_closed(), "gave up early, at {now:?}");
        let next = h.next_timeout();
        assert!(next > now, "timeout {next:?} not after {now:?}");
        if next >= give_up {
            break;
        }
        now = next;
        h.timeout(now);
    }
    assert!(attempts >= 5, "only {attempts} retries");
    assert_eq!(h.next_timeout(), give_up);
    h.timeout(give_up - ms(1));
    assert!(!h.client.is_closed());
    h.timeout(give_up);
    assert!(h.client.is_closed());
    assert_eq!(h.events(), vec![Event::Closed(CloseReason::IdleTimeout)]);
    let outputs = h.outputs(give_up);
    assert!(outputs.iter().any(is_delete), "{outputs:?}");
    assert!(!outputs.iter().any(is_poll), "{outputs:?}");
}

// ----- quick failures and backoff -----------------------------------------------------------

/// Fails `id` quickly, the `n`-th way: no HTTP answer, or a 5xx that is not a protocol answer.
fn fail_quickly(h: &mut Harness, offset: Duration, id: RequestId, n: usize) {
    match n % 5 {
        0 => h.fail(offset, id),
        1 => h.answer(offset, id, ServerAnswer::status(502)),
        2 => h.answer(offset, id, ServerAnswer::status(500)),
        3 => h.answer(offset, id, ServerAnswer::status(503)), // no Retry-After
        _ => h.answer(offset, id, ServerAnswer::status(504)),
    }
}

#[test]
fn backoff_is_capped_by_a_quarter_of_the_idle_timeout() {
    // backoff_max is a minute, but the server forgets the session after 20 s: no retry may
    // wait more than 20 / 4 = 5 s.
    let mut config = ClientConfig::default();
    config.backoff_initial = secs(4);
    config.backoff_max = secs(60);
    let mut h = Harness::with_config(config);
    let cap = IDLE_TIMEOUT / 4;
    let (mut poll, _) = h.expect_poll(ms(0));
    let mut now = ms(0);
    let mut delays = Vec::new();
    for n in 0..5 {
        fail_quickly(&mut h, now, poll, n);
        h.expect_nothing(now);
        assert!(!h.client.is_closed(), "a quick failure does not close");
        let retry_at = h.next_timeout();
        delays.push(retry_at - now);
        h.timeout(retry_at - ms(1));
        h.expect_nothing(retry_at - ms(1));
        h.timeout(retry_at);
        poll = h.expect_poll(retry_at).0;
        now = retry_at;
    }
    // 4 s with jitter first, then capped: 5 s with jitter, never more.
    assert!(
        delays[0] >= secs(2) && delays[0] < secs(4),
        "first delay {:?}",
        delays[0]
    );
    for delay in &delays[1..] {
        assert!(
            *delay >= cap / 2 && *delay <= cap,
            "delay {delay:?} not within the cap {cap:?} (all: {delays:?})"
        );
    }
}

#[test]
fn post_answered_502_or_500_is_retried_after_backoff() {
    for status in [500, 502] {
        let mut h = Harness::new();
        let _poll = h.expect_poll(ms(0));
        h.client.send(msg("a")).unwrap();
        let (post, _, _) = h.expect_post(ms(0));
        h.answer(ms(10), post, ServerAnswer::status(status));
        h.expect_nothing(ms(10));
        assert!(!h.client.is_closed(), "status {status}");
        assert_eq!(h.client.outbound_messages(), 1, "status {status}");
        // 100 ms with jitter.
        let retry_at = h.next_timeout();
        assert!(
            retry_at >= ms(60) && retry_at < ms(110),
            "status {status}: retry at {retry_at:?}"
        );
        h.timeout(retry_at);
        let (retry, seq, frames) = h.expect_post(retry_at);
        assert_ne!(retry, post);
        assert_eq!((seq, frames), (0, vec![text("a")]), "status {status}");
    }
}

// ----- conflicts ----------------------------------------------------------------------------

#[test]
fn repeated_poll_conflicts_back_off() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    // The first 409 is a stale duplicate: poll again at once.
    h.answer(ms(1), poll, ServerAnswer::status(409));
    let (poll, ack) = h.expect_poll(ms(1));
    assert_eq!(ack, 0);
    // Another 409 in a row: someone else polls this session; back off 100 ms with jitter.
    h.answer(ms(2), poll, ServerAnswer::status(409));
    h.expect_nothing(ms(2));
    let retry_at = h.next_timeout();
    let delay = retry_at - ms(2);
    assert!(delay >= ms(50) && delay < ms(100), "delay {delay:?}");
    h.timeout(retry_at - ms(1));
    h.expect_nothing(retry_at - ms(1));
    h.timeout(retry_at);
    let (poll, _) = h.expect_poll(retry_at);
    // And a third: 200 ms with jitter.
    let now = retry_at + ms(1);
    h.answer(now, poll, ServerAnswer::status(409));
    h.expect_nothing(now);
    let retry_at = h.next_timeout();
    let delay = retry_at - now;
    assert!(delay >= ms(100) && delay < ms(200), "delay {delay:?}");
    h.timeout(retry_at);
    let (poll, _) = h.expect_poll(retry_at);

    // A 204 ends the streak: the next 409 is retried at once again.
    let now = retry_at + ms(1);
    h.answer(now, poll, ServerAnswer::status(204));
    let (poll, _) = h.expect_poll(now);
    h.answer(now, poll, ServerAnswer::status(409));
    let (poll, _) = h.expect_poll(now);
    h.answer(now, poll, ServerAnswer::status(409));
    h.expect_nothing(now);

    // So does a 200.
    let retry_at = h.next_timeout();
    h.timeout(retry_at);
    let (poll, _) = h.expect_poll(retry_at);
    h.answer(retry_at, poll, frames_answer(0, &[text("a")]));
    let (poll, ack) = h.expect_poll(retry_at);
    assert_eq!(ack, 1);
    h.answer(retry_at, poll, ServerAnswer::status(409));
    let (_, ack) = h.expect_poll(retry_at);
    assert_eq!(ack, 1);
    assert!(!h.client.is_closed());
}

#[test]
fn post_seq_gap_is_a_protocol_error() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    h.client.send(msg("b")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    h.answer(ms(1), post, ServerAnswer::status(204));
    h.client.send(msg("c")).unwrap();
    let (post, seq, _) = h.expect_post(ms(1));
    assert_eq!(seq, 2);
    // The server expects seq 0: it lost the frames it acknowledged.
    let mut gap = ServerAnswer::status(409);
    gap.expected_seq = Some(0);
    h.answer(ms(2), post, gap);
    let outputs = assert_protocol_error_then_delete(&mut h, ms(2));
    assert!(
        outputs.contains(&ClientOutput::Cancel(poll)),
        "the poll is cancelled: {outputs:?}"
    );
    assert!(!outputs.iter().any(is_post), "{outputs:?}");
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn post_superseded_409_is_retried_after_backoff() {
    let mut h = Harness::new();
    let _poll = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    // A 409 without Longpoll-Expected-Seq: a newer copy of this POST replaced it.
    h.answer(ms(10), post, ServerAnswer::status(409));
    assert!(!h.client.is_closed());
    assert_eq!(h.events(), vec![]);
    h.expect_nothing(ms(10));
    assert_eq!(h.client.outbound_messages(), 1);
    let retry_at = h.next_timeout();
    assert!(
        retry_at >= ms(60) && retry_at < ms(110),
        "retry at {retry_at:?}"
    );
    h.timeout(retry_at);
    let (retry, seq, frames) = h.expect_post(retry_at);
    assert_ne!(retry, post);
    assert_eq!((seq, frames), (0, vec![text("a")]));
}

// ----- closing (continued) ------------------------------------------------------------------

#[test]
fn simultaneous_close_sends_delete() {
    for status in [404, 410] {
        let mut h = Harness::new();
        let (poll, _) = h.expect_poll(ms(0));
        let frame = CloseFrame::new(4000, "mine");
        h.client.close(Some(frame.clone()));
        let outputs = h.outputs(ms(1));
        assert_eq!(outputs[0], ClientOutput::Cancel(poll), "status {status}");
        let ClientOutput::Issue(request) = &outputs[1] else {
            panic!("status {status}: expected the close POST, got {outputs:?}");
        };
        let (post, _, frames) = post_of(request);
        assert_eq!(frames, vec![Frame::Close(Some(frame.clone()))]);
        // The server closed at the same time and refuses the POST.
        h.answer(ms(2), post, ServerAnswer::status(status));
        assert_eq!(
            h.events(),
            vec![Event::Closed(CloseReason::ClientClosed(Some(frame)))],
            "status {status}"
        );
        assert!(h.client.is_closed());
        let outputs = h.outputs(ms(2));
        assert_eq!(
            outputs.iter().filter(|o| is_delete(o)).count(),
            1,
            "status {status}: exactly one DELETE: {outputs:?}"
        );
        assert!(
            !outputs.iter().any(|o| is_poll(o) || is_post(o)),
            "status {status}: {outputs:?}"
        );
        h.expect_nothing(ms(3));
    }
}

/// 100 two-byte characters: 200 bytes, and byte 123 falls inside a character.
fn long_reason() -> String {
    "é".repeat(100)
}

#[test]
fn long_close_reasons_are_truncated() {
    assert_eq!(MAX_CLOSE_REASON_BYTES, 123);
    // CloseFrame::new cuts at the last character boundary within 123 bytes.
    let cut = CloseFrame::new(4000, long_reason());
    assert_eq!(cut.reason, "é".repeat(61).as_str());
    assert_eq!(cut.reason.len(), 122);
    let exact = CloseFrame::new(4000, "x".repeat(123));
    assert_eq!(
        exact.reason.len(),
        123,
        "a reason at the limit is kept whole"
    );
    assert_eq!(CloseFrame::new(4000, "x".repeat(124)).reason.len(), 123);

    // A frame built by hand is cut by the client's close.
    let mut h = Harness::new();
    let (_, _) = h.expect_poll(ms(0));
    let long = CloseFrame {
        code: 4000,
        reason: Utf8Bytes::from(long_reason()),
    };
    h.client.close(Some(long));
    let outputs = h.outputs(ms(1));
    let (post, _, frames) = outputs
        .iter()
        .find_map(|o| match o {
            ClientOutput::Issue(request) if is_post(o) => Some(post_of(request)),
            _ => None,
        })
        .expect("the close POST");
    assert_eq!(frames, vec![Frame::Close(Some(cut.clone()))]);
    h.answer(ms(2), post, ServerAnswer::status(204));
    assert_eq!(
        h.events(),
        vec![Event::Closed(CloseReason::ClientClosed(Some(cut)))]
    );
}

#[test]
fn long_close_reason_is_truncated_when_sends_were_refused() {
    // The server refused sends (410 on a POST while open); the close frame cannot be sent,
    // but the reason the application sees is cut like any other.
    let mut h = Harness::new();
    let (_, _) = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(ms(0));
    h.answer(ms(1), post, ServerAnswer::status(410));
    let long = CloseFrame {
        code: 4000,
        reason: Utf8Bytes::from(long_reason()),
    };
    h.client.close(Some(long));
    assert_eq!(
        h.events(),
        vec![Event::Closed(CloseReason::ClientClosed(Some(
            CloseFrame::new(4000, long_reason())
        )))]
    );
    assert!(h.outputs(ms(2)).iter().any(is_delete));
}

// ----- inbound bound ------------------------------------------------------------------------

#[test]
fn frames_that_do_not_fit_are_left_for_the_server_to_resend() {
    // By count: two messages at most.
    let mut config = ClientConfig::default();
    config.inbound_max_messages = 2;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(
        ms(1),
        poll,
        frames_answer(0, &[text("a"), text("b"), text("c")]),
    );
    assert_eq!(h.client.received_seq(), 2, "c is left unacknowledged");
    assert_eq!(h.client.inbound_messages(), 2);
    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("a"))));
    let (poll, ack) = h.expect_poll(ms(2));
    assert_eq!(ack, 2, "the poll asks the server for c again");
    // The server re-sends c, and d: c fits, d does not.
    h.answer(ms(3), poll, frames_answer(2, &[text("c"), text("d")]));
    assert_eq!(h.client.received_seq(), 3);
    assert_eq!(messages(&h.events()), vec![msg("b"), msg("c")]);
    let (poll, ack) = h.expect_poll(ms(4));
    assert_eq!(ack, 3);
    h.answer(ms(5), poll, frames_answer(3, &[text("d")]));
    assert_eq!(messages(&h.events()), vec![msg("d")]);
    assert_eq!(h.client.received_seq(), 4);

    // By bytes: five payload bytes at most; "f" would make six.
    let mut config = ClientConfig::default();
    config.inbound_max_bytes = 5;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(
        ms(1),
        poll,
        frames_answer(0, &[text("abc"), text("de"), text("f")]),
    );
    assert_eq!(h.client.received_seq(), 2);
    assert_eq!(h.client.inbound_bytes(), 5);
    h.expect_nothing(ms(1));
    assert_eq!(messages(&h.events()), vec![msg("abc"), msg("de")]);
    let (poll, ack) = h.expect_poll(ms(2));
    assert_eq!(ack, 2);
    h.answer(ms(3), poll, frames_answer(2, &[text("f")]));
    assert_eq!(messages(&h.events()), vec![msg("f")]);

    // An empty buffer takes any one message, however large.
    let mut config = ClientConfig::default();
    config.inbound_max_bytes = 3;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    let big = "x".repeat(MAX_MESSAGE);
    h.answer(ms(1), poll, frames_answer(0, &[text(&big), text("y")]));
    assert_eq!(h.client.received_seq(), 1);
    assert_eq!(messages(&h.events()), vec![msg(&big)]);
    assert_eq!(h.expect_poll(ms(2)).1, 1);
}

#[test]
fn a_frame_left_for_lack_of_bytes_pauses_polling() {
    // Four of five bytes are taken and a 2-byte message is left. Polling again at once would
    // only fetch the same message again, and again: polling pauses until the application
    // takes a message (or the keep-alive is due).
    let mut config = ClientConfig::default();
    config.inbound_max_bytes = 5;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(0, &[text("abcd"), text("ef")]));
    assert_eq!(h.client.received_seq(), 1);
    h.expect_nothing(ms(1));
    assert_eq!(h.next_timeout(), IDLE_TIMEOUT / 2, "the keep-alive is next");
    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("abcd"))));
    assert_eq!(h.expect_poll(ms(2)).1, 1);
}

#[test]
fn keep_alive_poll_while_the_application_is_slow() {
    let mut config = ClientConfig::default();
    config.inbound_max_messages = 1;
    let mut h = Harness::with_config(config);
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(secs(1), poll, frames_answer(0, &[text("a"), text("b")]));
    assert_eq!(h.client.received_seq(), 1);
    h.expect_nothing(secs(1));

    // The application does not take "a" for a long time. Every half idle timeout after the
    // last poll was issued, one keep-alive poll goes out, so the server keeps the session.
    let mut issued = ms(0);
    let mut keep_alives = 0;
    while issued < secs(100) {
        let due = issued + IDLE_TIMEOUT / 2;
        assert_eq!(h.next_timeout(), due, "poll_timeout reports the keep-alive");
        h.timeout(due - ms(1));
        h.expect_nothing(due - ms(1));
        h.timeout(due);
        let (poll, ack) = h.expect_poll(due);
        assert_eq!(ack, 1);
        keep_alives += 1;
        // The server re-sends "b", which still does not fit.
        h.answer(due + ms(500), poll, frames_answer(1, &[text("b")]));
        assert_eq!(h.client.received_seq(), 1);
        assert_eq!(h.client.inbound_messages(), 1);
        h.expect_nothing(due + ms(500));
        assert!(!h.client.is_closed());
        issued = due;
    }
    assert_eq!(keep_alives, 10);

    // The application takes "a": polling resumes at once and "b" arrives.
    let now = issued + secs(1);
    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("a"))));
    let (poll, ack) = h.expect_poll(now);
    assert_eq!(ack, 1);
    h.answer(now, poll, frames_answer(1, &[text("b")]));
    assert_eq!(messages(&h.events()), vec![msg("b")]);
    assert_eq!(h.client.received_seq(), 2);
}

// ----- giving up (continued) ----------------------------------------------------------------

#[test]
fn proxy_502_does_not_postpone_giving_up() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let last_answer = secs(2);
    h.answer(last_answer, poll, ServerAnswer::status(204));
    h.client.send(msg("a")).unwrap();
    let give_up = last_answer + POLL_TIMEOUT + IDLE_TIMEOUT;

    // The server is down; a proxy answers every request 502, 504, 500 or 503 without
    // Retry-After. None of them shows the server alive.
    let mut now = last_answer;
    let mut answered = 0;
    loop {
        for output in h.outputs(now) {
            match output {
                ClientOutput::Issue(ClientRequest { id, kind }) => {
                    assert!(!matches!(kind, RequestKind::Delete), "closed early");
                    // Skip the plain failure: every one of these is an HTTP answer.
                    fail_quickly(&mut h, now, id, 1 + answered % 4);
                    answered += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!h.client.is_closed(), "gave up early, at {now:?}");
        let next = h.next_timeout();
        assert!(next > now, "timeout {next:?} not after {now:?}");
        if next >= give_up {
            break;
        }
        now = next;
        h.timeout(now);
    }
    assert!(answered >= 8, "only {answered} answers");
    assert_eq!(h.next_timeout(), give_up);
    h.timeout(give_up - ms(1));
    assert!(!h.client.is_closed());
    h.timeout(give_up);
    assert!(h.client.is_closed());
    assert_eq!(h.events(), vec![Event::Closed(CloseReason::IdleTimeout)]);
    let outputs = h.outputs(give_up);
    assert!(outputs.iter().any(is_delete), "{outputs:?}");
}

#[test]
fn busy_503_with_retry_after_postpones_giving_up() {
    // A 503 with Retry-After comes from the server itself (a held POST it could not take):
    // the server is alive, so the client does not give up however long it lasts.
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(0), poll, ServerAnswer::status(204));
    h.client.send(msg("a")).unwrap();
    let limit = POLL_TIMEOUT + IDLE_TIMEOUT;
    let mut now = ms(0);
    let mut busy_answers = 0;
    while now < limit * 3 {
        for output in h.outputs(now) {
            match output {
                ClientOutput::Issue(ClientRequest {
                    id,
                    kind: RequestKind::Send { .. },
                }) => {
                    let mut busy = ServerAnswer::status(503);
                    busy.retry_after = Some(secs(1));
                    h.answer(now, id, busy);
                    busy_answers += 1;
                }
                // Polls fail at once (connection refused): no sign of life from them, and
                // nothing stays in flight.
                ClientOutput::Issue(ClientRequest {
                    id,
                    kind: RequestKind::Poll { .. },
                }) => h.fail(now, id),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!h.client.is_closed(), "gave up at {now:?}");
        now = h.next_timeout();
        h.timeout(now);
    }
    // Each 503 backs off (at least Retry-After, at most the 5 s cap): over 90 s, a dozen or more.
    assert!(busy_answers >= 12, "only {busy_answers} answers");
    assert_eq!(h.client.outbound_messages(), 1);
}

/// From `from` on, every request the client issues fails at once; returns when it gave up.
fn fail_everything_until_closed(h: &mut Harness, from: Duration) -> Duration {
    let mut now = from;
    for _ in 0..1000 {
        for output in h.outputs(now) {
            match output {
                ClientOutput::Issue(ClientRequest { id, kind }) if kind != RequestKind::Delete => {
                    h.fail(now, id)
                }
                _ => {}
            }
        }
        if h.client.is_closed() {
            assert_eq!(h.events(), vec![Event::Closed(CloseReason::IdleTimeout)]);
            return now;
        }
        now = h.next_timeout();
        h.timeout(now);
    }
    panic!("never gave up");
}

#[test]
fn a_request_failing_after_half_the_poll_hold_counts_as_life() {
    // Something held the request that long (a proxy cutting long polls short, say): a dead
    // server fails fast. The give-up clock restarts at that answer or failure.
    let half = POLL_TIMEOUT / 2;
    let give_up = POLL_TIMEOUT + IDLE_TIMEOUT;

    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(half + secs(1), poll, ServerAnswer::status(504));
    let closed = fail_everything_until_closed(&mut h, half + secs(1));
    assert_eq!(closed, half + secs(1) + give_up, "504 after a long hold");

    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.fail(half, poll);
    let closed = fail_everything_until_closed(&mut h, half);
    assert_eq!(closed, half + give_up, "reset after exactly half the hold");

    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(half - ms(1), poll, ServerAnswer::status(504));
    let closed = fail_everything_until_closed(&mut h, half - ms(1));
    assert_eq!(closed, give_up, "a quick 504 proves nothing");
}

#[test]
fn no_giving_up_while_a_request_is_in_flight() {
    let mut h = Harness::new();
    let give_up = POLL_TIMEOUT + IDLE_TIMEOUT;
    // Polls fail at once until 16 s; the next one hangs until its deadline, past the give-up
    // time.
    let mut now = ms(0);
    let hanging = loop {
        let (poll, _) = h.expect_poll(now);
        if now >= secs(16) {
            break poll;
        }
        h.fail(now, poll);
        now = h.next_timeout();
        h.timeout(now);
    };
    let deadline = now + request_deadline();
    assert!(deadline > give_up);
    assert_eq!(
        h.next_timeout(),
        deadline,
        "no give-up while the poll is out"
    );
    h.timeout(give_up);
    assert!(!h.client.is_closed());
    h.expect_nothing(give_up);

    // The hanging poll runs into its deadline without an answer: now the client gives up,
    // instead of retrying.
    h.timeout(deadline);
    assert!(h.client.is_closed());
    assert_eq!(h.events(), vec![Event::Closed(CloseReason::IdleTimeout)]);
    let outputs = h.outputs(deadline);
    assert!(
        outputs.contains(&ClientOutput::Cancel(hanging)),
        "{outputs:?}"
    );
    assert!(outputs.iter().any(is_delete), "{outputs:?}");
    assert!(!outputs.iter().any(is_poll), "{outputs:?}");
}

// ----- sends that carry `ack` (PROTOCOL.md section 5.3) -----------------------------------------

/// The `ack` the only output now, a `POST`, carries.
fn post_ack(outputs: &[ClientOutput]) -> Option<u64> {
    match outputs {
        [
            ClientOutput::Issue(ClientRequest {
                kind: RequestKind::Send { ack, .. },
                ..
            }),
        ] => *ack,
        other => panic!("expected exactly one POST, got {other:?}"),
    }
}

#[test]
fn sends_carry_the_received_count_as_ack_unless_configured_not_to() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(0, &[text("a"), text("b")]));
    let _ = h.expect_poll(ms(1));
    h.client.send(msg("x")).unwrap();
    assert_eq!(post_ack(&h.outputs(ms(2))), Some(2));

    let mut config = ClientConfig::default();
    config.ack_on_send = false;
    let mut h = Harness::with_config(config);
    let _ = h.expect_poll(ms(0));
    h.client.send(msg("x")).unwrap();
    assert_eq!(post_ack(&h.outputs(ms(1))), None);
}

#[test]
fn a_send_answered_200_delivers_its_frames_once_and_releases_what_it_carried() {
    let mut h = Harness::new();
    let (_poll, _) = h.expect_poll(ms(0));
    h.client.send(msg("ping")).unwrap();
    let (post, seq, frames) = h.expect_post(ms(1));
    assert_eq!((seq, frames), (0, vec![text("ping")]));
    h.answer(ms(2), post, frames_answer(0, &[text("pong")]));
    assert_eq!(h.client.outbound_messages(), 0, "the 200 accepted the POST");
    assert_eq!(messages(&h.events()), vec![msg("pong")]);
    assert_eq!(h.client.received_seq(), 1);
    // The poll is still in flight: nothing new to issue.
    h.expect_nothing(ms(2));
    // The same frame again on the poll (the server re-sends until acknowledged) is dropped.
    h.client.send(msg("next")).unwrap();
    let (post, _, _) = h.expect_post(ms(3));
    h.answer(ms(4), post, frames_answer(0, &[text("pong"), text("more")]));
    assert_eq!(messages(&h.events()), vec![msg("more")]);
}

#[test]
fn a_send_answer_that_skips_frames_is_a_protocol_error() {
    let mut h = Harness::new();
    let _ = h.expect_poll(ms(0));
    h.client.send(msg("ping")).unwrap();
    let (post, _, _) = h.expect_post(ms(1));
    h.answer(ms(2), post, frames_answer(3, &[text("pong")]));
    assert!(matches!(
        h.events().as_slice(),
        [Event::Closed(CloseReason::ProtocolError(_))]
    ));
}

#[test]
fn a_200_to_a_send_without_ack_is_retried_not_taken_as_accepted() {
    let mut config = ClientConfig::default();
    config.ack_on_send = false;
    let mut h = Harness::with_config(config);
    let _ = h.expect_poll(ms(0));
    h.client.send(msg("ping")).unwrap();
    let (post, _, _) = h.expect_post(ms(1));
    // A proxy's page, say: not an answer protocol v1 gives to this send.
    h.answer(ms(2), post, ServerAnswer::status(200));
    assert_eq!(h.client.outbound_messages(), 1, "the message is kept");
    let retry = h.next_timeout();
    let (_, seq, frames) = h.expect_post(retry);
    assert_eq!((seq, frames), (0, vec![text("ping")]));
}
