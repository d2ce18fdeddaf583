//! The task that drives one `ServerSession`: requests in, answers out, the application's
//! messages both ways, one timer.

use crate::handle::{Exchange, SessionRequest};
use crate::session::{Outgoing, SessionEndpoint};
use futures_channel::mpsc;
use futures_util::StreamExt;
use longpoll_core::{
    CloseFrame, Event, Reply, RequestId, SendError, ServerSession, SessionId, close_code,
};
use std::future::poll_fn;
use std::task::Poll;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace};

/// Everything the session task owns.
pub(crate) struct Driver {
    pub(crate) id: SessionId,
    pub(crate) core: ServerSession,
    pub(crate) requests: mpsc::UnboundedReceiver<Exchange>,
    pub(crate) endpoint: SessionEndpoint,
    pub(crate) handler: JoinHandle<()>,
    pub(crate) shutdown: CancellationToken,
    /// Runs when the task ends (the registry forgets the session).
    pub(crate) on_exit: Option<Box<dyn FnOnce() + Send>>,
}

/// Answers waiting on the core, by request id. At most a handful: requests are answered at
/// once or held (one poll, one `POST`).
type Pending = Vec<(RequestId, oneshot::Sender<Reply>)>;

/// The driver's clock (the core never reads one). Called again after every wake-up: the
/// loop's `now` was read before it slept.
fn read_clock() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let mut pending: Pending = Vec::new();
        // A message taken from the application that the protocol had no room for yet.
        let mut unsent: Option<longpoll_core::Message> = None;
        // An event taken from the core, waiting for room in the application's channel.
        let mut undelivered: Option<Event> = None;
        let mut handler_done = false;
        let mut app_sink_gone = false;
        let mut requests_open = true;
        let mut closed_delivered = false;
        let mut shutting_down = false;
        // One timer for the session's life, moved when the core's next deadline moves
        // (cheaper than a new timer per wake-up).
        let timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        let shutdown = self.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        loop {
            let now = read_clock();
            // Take everything the application has sent while the protocol has room, before
            // answering: a held poll then carries the whole burst as one batch.
            self.take_outgoing(now, &mut unsent, &mut app_sink_gone);
            self.answer(&mut pending);
            // Hand events over while the application has room.
            loop {
                if undelivered.is_none() {
                    undelivered = self.core.poll_event(now);
                }
                let Some(event) = undelivered.take() else {
                    break;
                };
                let is_close = matches!(event, Event::Closed(_));
                if let Event::Closed(reason) = &event {
                    info!(session = %self.id, %reason, "longpoll session closed");
                }
                match self.endpoint.events.try_deliver(event) {
                    Ok(()) => closed_delivered |= is_close,
                    Err(event) => {
                        undelivered = Some(event);
                        break;
                    }
                }
            }
            self.answer(&mut pending);
            // Closed and the application told: nothing is left to do here (a registry answers
            // `410` for the id from now on). If the application does not take the close
            // event, wait at most the `410` period for it; a task must not outlive that.
            if self.core.is_closed() && (closed_delivered || self.core.is_finished()) {
                if !closed_delivered {
                    debug!(session = %self.id, "application never took the close event");
                }
                break;
            }
            let deadline = self.core.poll_timeout().map(Instant::from_std);
            if deadline != armed {
                if let Some(deadline) = deadline {
                    timer.as_mut().reset(deadline);
                }
                armed = deadline;
            }
            let take_outgoing = unsent.is_none() && !app_sink_gone;
            let wait_for_room = undelivered.is_some();
            let wake = tokio::select! {
                exchange = self.requests.next(), if requests_open => Wake::Request(exchange),
                outgoing = self.endpoint.outgoing.next(), if take_outgoing => Wake::Outgoing(outgoing),
                // Room for the waiting event (or nobody listens any more): the loop's top
                // hands it over.
                _ = self.endpoint.events.room(), if wait_for_room => continue,
                () = &mut timer, if armed.is_some() => Wake::Timer,
                request = aborted(&mut pending) => Wake::Aborted(request),
                result = &mut self.handler, if !handler_done => Wake::HandlerDone(result),
                () = &mut shutdown, if !shutting_down => Wake::Shutdown,
            };
            match wake {
                Wake::Request(Some(exchange)) => self.take_request(exchange, &mut pending),
                Wake::Request(None) => requests_open = false,
                Wake::Outgoing(Some(Outgoing::Message(message))) => unsent = Some(message),
                Wake::Outgoing(Some(Outgoing::Close(frame))) => self.close(frame),
                Wake::Outgoing(None) => app_sink_gone = true,
                Wake::Timer => {
                    // A fired timer stays ready: re-arm it from the core's next deadline.
                    armed = None;
                    self.core.handle_timeout(read_clock());
                }
                Wake::Aborted(request) => {
                    trace!(session = %self.id, ?request, "request aborted by the client");
                    self.core.handle_abort(read_clock(), request);
                }
                Wake::HandlerDone(result) => {
                    handler_done = true;
                    let frame = match result {
                        Err(error) if error.is_panic() => {
                            info!(session = %self.id, "longpoll handler panicked; closing the session");
                            CloseFrame::new(close_code::INTERNAL_ERROR, "handler panicked")
                        }
                        _ => CloseFrame::new(close_code::NORMAL, ""),
                    };
                    self.close(Some(frame));
                }
                Wake::Shutdown => {
                    shutting_down = true;
                    let frame = CloseFrame::new(close_code::GOING_AWAY, "server shutting down");
                    self.close(Some(frame));
                }
            }
        }
        // Requests still waiting (none should be: the core answers held requests when it
        // closes) learn the session is gone.
        for (_, reply) in pending.drain(..) {
            let _ = reply.send(Reply::Gone);
        }
        // The handler keeps running: it still has to read the end of its stream, and what it
        // does after that is the application's business (dropping a `JoinHandle` detaches).
        if let Some(on_exit) = self.on_exit.take() {
            on_exit();
        }
        debug!(session = %self.id, "longpoll session task finished");
    }

    /// Queues the application's messages in the core: `unsent` first, then what waits in
    /// the channel, until the core is full (the message waits in `unsent` for an
    /// acknowledgement) or the channel is empty. A close queues after the messages before it.
    fn take_outgoing(
        &mut self,
        now: std::time::Instant,
        unsent: &mut Option<longpoll_core::Message>,
        app_sink_gone: &mut bool,
    ) {
        loop {
            let message = match unsent.take() {
                Some(message) => message,
                None if *app_sink_gone => return,
                None => match self.endpoint.outgoing.try_next() {
                    Poll::Ready(Some(Outgoing::Message(message))) => message,
                    Poll::Ready(Some(Outgoing::Close(frame))) => {
                        self.close(frame);
                        continue;
                    }
                    Poll::Ready(None) => {
                        *app_sink_gone = true;
                        return;
                    }
                    Poll::Pending => return,
                },
            };
            // Closed or too large: the session is closing and the message cannot go; full:
            // keep it until an acknowledgement makes room.
            if let Err(SendError::Full(message)) = self.core.send(now, message) {
                *unsent = Some(message);
                return;
            }
        }
    }

    fn take_request(&mut self, exchange: Exchange, pending: &mut Pending) {
        let now = read_clock();
        let request = match exchange.request {
            SessionRequest::Poll { ack } => self.core.handle_poll(now, ack),
            SessionRequest::Send { seq, body } => self.core.handle_send(now, seq, body),
            SessionRequest::Close => self.core.handle_close(now),
        };
        pending.push((request, exchange.reply));
    }

    fn close(&mut self, frame: Option<CloseFrame>) {
        if !self.core.is_closed() {
            debug!(session = %self.id, ?frame, "application closes the session");
        }
        self.core.close(read_clock(), frame);
    }

    /// Sends every answer the core has to the request waiting for it.
    fn answer(&mut self, pending: &mut Pending) {
        while let Some(response) = self.core.poll_response() {
            let status = response.reply.status();
            if (400..500).contains(&status) && status != 404 && status != 409 && status != 410 {
                debug!(session = %self.id, status, reply = %response.reply, "refused a request");
            }
            if let Some(i) = pending.iter().position(|(id, _)| *id == response.request) {
                let (_, reply) = pending.swap_remove(i);
                // The HTTP side may have given up already; then there is nobody to tell.
                let _ = reply.send(response.reply);
            }
        }
    }
}

/// Why the task woke up.
enum Wake {
    Request(Option<Exchange>),
    Outgoing(Option<Outgoing>),
    Timer,
    Aborted(RequestId),
    HandlerDone(Result<(), tokio::task::JoinError>),
    Shutdown,
}

/// Resolves with the first pending request whose HTTP side went away (the client
/// disconnected while its poll or `POST` was held), removing it from `pending`.
async fn aborted(pending: &mut Pending) -> RequestId {
    poll_fn(|cx| {
        let closed = pending
            .iter_mut()
            .position(|(_, reply)| reply.poll_closed(cx).is_ready());
        match closed {
            Some(i) => Poll::Ready(pending.swap_remove(i).0),
            None => Poll::Pending,
        }
    })
    .await
}
