//! The rules `ClientSession` follows, one test each, on a virtual clock.
//!
//! The tests play the server by hand: they take the requests the client issues and answer them
//! with `ServerAnswer`s, or fail them, or let them time out.

use bytes::{Bytes, BytesMut};
use longpoll_core::client::{ClientOutput, ClientRequest, RequestKind, ServerAnswer};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use longpoll_core::{
    ClientConfig, ClientSession, CloseFrame, CloseReason, Config, Event, Message, RequestId,
    SendError, SessionId, SessionParams,
};
use std::time::{Duration, Instant};

const POLL_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_MESSAGE: usize = 16;
const MAX_BODY: usize = 64;
const MAX_FRAMES_PER_REQUEST: usize = 4;

fn server_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = POLL_TIMEOUT;
    config.idle_timeout = IDLE_TIMEOUT;
    config.max_message_bytes = MAX_MESSAGE;
    config.max_body_bytes = MAX_BODY;
    config.max_frames_per_request = MAX_FRAMES_PER_REQUEST;
    config.max_response_bytes = 64;
    config.outbound_max_bytes = 64;
    config.inbound_max_bytes = 64;
    config.inbound_max_messages = 8;
    config.validate().expect("test config must be valid");
    config
}

fn params() -> SessionParams {
    SessionParams::new(SessionId::from_bytes([7; 16]), &server_config())
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
        RequestKind::Send { seq, body } => {
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
    assert_eq!(
        h.client.poll_timeout(),
        Some(h.at(POLL_TIMEOUT + longpoll_core::client::DEFAULT_POLL_GRACE))
    );
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

    // Four 16-byte messages are 84 encoded bytes: only three fit a 64-byte body.
    let sixteen = "x".repeat(MAX_MESSAGE);
    for _ in 0..4 {
        h.client.send(msg(&sixteen)).unwrap();
    }
    let (_, seq, frames) = h.expect_post(ms(3));
    assert_eq!(seq, 5);
    assert_eq!(frames.len(), 3);
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

fn assert_protocol_error_then_delete(h: &mut Harness, offset: Duration) {
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
}

#[test]
fn answer_with_seq_above_received_is_a_protocol_error() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    h.answer(ms(1), poll, frames_answer(1, &[text("skipped-one")]));
    assert_eq!(h.client.received_seq(), 0);
    assert_protocol_error_then_delete(&mut h, ms(1));
}

#[test]
fn answer_200_without_longpoll_seq_is_a_protocol_error() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let mut answer = frames_answer(0, &[text("a")]);
    answer.seq = None;
    h.answer(ms(1), poll, answer);
    assert_eq!(h.client.received_seq(), 0);
    assert_protocol_error_then_delete(&mut h, ms(1));
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
        retry_at + POLL_TIMEOUT + longpoll_core::client::DEFAULT_POLL_GRACE,
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
fn poll_past_its_deadline_is_cancelled_then_retried() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let deadline = POLL_TIMEOUT + longpoll_core::client::DEFAULT_POLL_GRACE;
    assert_eq!(h.next_timeout(), deadline);
    h.timeout(deadline - ms(1));
    h.expect_nothing(deadline - ms(1));

    h.timeout(deadline);
    assert_eq!(h.outputs(deadline), vec![ClientOutput::Cancel(poll)]);
    let retry_at = h.next_timeout();
    assert!(retry_at > deadline);
    h.timeout(retry_at);
    let (retry, ack) = h.expect_poll(retry_at);
    assert_ne!(retry, poll);
    assert_eq!(ack, 0);
}

#[test]
fn post_past_its_deadline_is_cancelled_then_retried() {
    let mut config = ClientConfig::default();
    config.send_timeout = secs(8);
    let mut h = Harness::with_config(config);
    let _poll = h.expect_poll(ms(0));
    h.client.send(msg("a")).unwrap();
    let (post, _, _) = h.expect_post(secs(1));
    assert_eq!(h.next_timeout(), secs(9));
    h.timeout(secs(9));
    assert_eq!(h.outputs(secs(9)), vec![ClientOutput::Cancel(post)]);
    let retry_at = h.next_timeout();
    assert!(retry_at > secs(9));
    h.timeout(retry_at);
    let (retry, seq, frames) = h.expect_post(retry_at);
    assert_ne!(retry, post);
    assert_eq!((seq, frames), (0, vec![text("a")]));
}

#[test]
fn answer_to_a_cancelled_request_is_ignored() {
    let mut h = Harness::new();
    let (poll, _) = h.expect_poll(ms(0));
    let deadline = POLL_TIMEOUT + longpoll_core::client::DEFAULT_POLL_GRACE;
    h.timeout(deadline);
    assert_eq!(h.outputs(deadline), vec![ClientOutput::Cancel(poll)]);

    // The cancelled poll's answer still arrives: ignored, nothing delivered, nothing closed.
    h.answer(deadline + ms(1), poll, frames_answer(0, &[text("late")]));
    h.answer(deadline + ms(1), poll, ServerAnswer::status(410));
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.client.received_seq(), 0);
    assert!(!h.client.is_closed());

    let retry_at = h.next_timeout();
    h.timeout(retry_at);
    let (retry, ack) = h.expect_poll(retry_at);
    assert_eq!(ack, 0);
    h.answer(retry_at + ms(1), retry, frames_answer(0, &[text("late")]));
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
    // One response may go past the limit.
    h.answer(
        ms(1),
        poll,
        frames_answer(0, &[text("a"), text("b"), text("c")]),
    );
    assert_eq!(h.client.inbound_messages(), 3);
    h.expect_nothing(ms(1));
    h.timeout(secs(1));
    h.expect_nothing(secs(1));

    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("a"))));
    h.expect_nothing(secs(2)); // still 2 untaken
    assert_eq!(h.client.poll_event(), Some(Event::Message(msg("b"))));
    let (_, ack) = h.expect_poll(secs(2));
    assert_eq!(ack, 3);
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
