//! The task that drives one `ClientSession`: HTTP requests out (one task each), their answers
//! in, the application's messages both ways, one timer.
//!
//! Like the server's driver: one task, a `select!` that returns why it woke, and after every
//! input the core's outputs are drained. The core never reads the clock; the driver passes
//! tokio's `Instant::now()`.

use crate::client::DELETE_TIMEOUT;
use crate::fetch::{self, FetchError, HttpClient};
use http::Method;
use longpoll_core::{
    ClientOutput, ClientRequest, ClientSession, Event, RequestId, RequestKind, SendError,
    ServerAnswer,
};
use longpoll_tokio::session::{EventSender, Outgoing, OutgoingReceiver, SessionEndpoint};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, debug, trace};

/// How a request task ended.
#[derive(Debug)]
enum Outcome {
    /// An HTTP answer with its whole body (any status).
    Answer(ServerAnswer),
    /// No (complete) HTTP answer.
    Failure(FetchError),
}

/// Everything the session task owns.
pub(crate) struct Driver {
    core: ClientSession,
    /// Events for the application.
    events: EventSender,
    /// What the application sends; dropped (so its `send` fails) once the session is closed.
    outgoing: Option<OutgoingReceiver>,
    http: HttpClient,
    /// `{base}/{id}`.
    session_url: String,
    max_response_bytes: usize,
    /// The poll and send in flight, by request id. `Cancel` aborts the task, which drops its
    /// connection. At most two (one poll, one send): the core cancels a request before it
    /// issues the next of the same kind.
    tasks: HashMap<RequestId, JoinHandle<()>>,
    /// Each request task reports once. Unbounded, but holds at most one item per task.
    outcomes_tx: mpsc::UnboundedSender<(RequestId, Outcome)>,
    outcomes_rx: mpsc::UnboundedReceiver<(RequestId, Outcome)>,
}

/// Why the task woke up.
enum Wake {
    Outgoing(Option<Outgoing>),
    Outcome(RequestId, Outcome),
    Timer,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    pub(crate) fn new(
        core: ClientSession,
        endpoint: SessionEndpoint,
        http: HttpClient,
        session_url: String,
        max_response_bytes: usize,
    ) -> Self {
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        Driver {
            core,
            events: endpoint.events,
            outgoing: Some(endpoint.outgoing),
            http,
            session_url,
            max_response_bytes,
            tasks: HashMap::new(),
            outcomes_tx,
            outcomes_rx,
        }
    }

    pub(crate) async fn run(mut self) {
        // A message taken from the application that the protocol had no room for yet.
        let mut unsent: Option<longpoll_core::Message> = None;
        // An event taken from the core, waiting for room in the application's channel.
        let mut undelivered: Option<Event> = None;
        let mut closed_delivered = false;
        loop {
            if let Some(message) = unsent.take() {
                unsent = self.offer(message);
            }
            if self.core.is_closed() && self.outgoing.is_some() {
                // Nothing more can be sent: a message still waiting is dropped, and the
                // application's `send` fails from now on. Done before the close event is
                // handed over, so an application that saw the end cannot send into a void.
                unsent = None;
                self.outgoing = None;
            }
            self.deliver_events(&mut undelivered, &mut closed_delivered);
            self.drain_outputs();
            if self.core.is_closed() && closed_delivered && self.tasks.is_empty() {
                break;
            }
            let deadline = self.core.poll_timeout().map(Instant::from_std);
            let wait_for_room = undelivered.is_some();
            let outgoing = self.outgoing.as_mut().filter(|_| unsent.is_none());
            let wake = tokio::select! {
                outgoing = next_outgoing(outgoing) => Wake::Outgoing(outgoing),
                Some((id, outcome)) = self.outcomes_rx.recv() => Wake::Outcome(id, outcome),
                // Room for the waiting event (or nobody listens any more): the loop's top
                // hands it over.
                _ = self.events.room(), if wait_for_room => continue,
                () = sleep_until(deadline) => Wake::Timer,
            };
            match wake {
                Wake::Outgoing(Some(Outgoing::Message(message))) => unsent = Some(message),
                Wake::Outgoing(Some(Outgoing::Close(frame))) => {
                    debug!(?frame, "application closes the session");
                    self.core.close(frame);
                }
                Wake::Outgoing(None) => {
                    // The application dropped its sending half (or the whole session).
                    self.outgoing = None;
                    if !self.core.is_closed() {
                        debug!("application stopped sending; closing the session");
                    }
                    self.core.close(None);
                }
                Wake::Outcome(id, outcome) => self.take_outcome(id, outcome),
                Wake::Timer => self.core.handle_timeout(now()),
            }
        }
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
        debug!("longpoll client session task finished");
    }

    /// Hands a message to the core, or gives it back while the outbound buffer is full
    /// (`can_send` is false until acknowledgements make room; it is offered again after the
    /// next input). Dropped if the session can no longer send.
    fn offer(&mut self, message: longpoll_core::Message) -> Option<longpoll_core::Message> {
        match self.core.send(message) {
            Ok(()) => None,
            Err(SendError::Full(message)) => Some(message),
            Err(error) => {
                // Closing or closed (or over the limit, which the `Session` checks first).
                debug!(%error, "message dropped: the session no longer sends");
                None
            }
        }
    }

    /// Hands events to the application while its channel has room; one that does not fit
    /// waits in `undelivered`. Taking messages out of the core frees inbound room, so
    /// polling resumes. If the application dropped its stream, events are discarded.
    fn deliver_events(&mut self, undelivered: &mut Option<Event>, closed_delivered: &mut bool) {
        loop {
            if undelivered.is_none() {
                *undelivered = self.core.poll_event();
            }
            let Some(event) = undelivered.take() else {
                return;
            };
            let reason = match &event {
                Event::Closed(reason) => Some(reason.clone()),
                Event::Message(_) => None,
            };
            match self.events.try_deliver(event) {
                Ok(()) => {
                    if let Some(reason) = reason {
                        debug!(%reason, "longpoll session closed");
                        *closed_delivered = true;
                    }
                }
                Err(event) => {
                    *undelivered = Some(event);
                    return;
                }
            }
        }
    }

    /// Carries out everything the core wants done now.
    fn drain_outputs(&mut self) {
        let now = now();
        while let Some(output) = self.core.poll_output(now) {
            match output {
                ClientOutput::Issue(request) => self.issue(request),
                ClientOutput::Cancel(id) => {
                    if let Some(task) = self.tasks.remove(&id) {
                        debug!(request = id.0, "request abandoned");
                        task.abort();
                    }
                }
            }
        }
    }

    fn take_outcome(&mut self, id: RequestId, outcome: Outcome) {
        // An outcome of a request already cancelled (it finished just before its abort)
        // still goes to the core, which ignores it but for signs of life.
        let current = self.tasks.remove(&id).is_some();
        let now = now();
        match outcome {
            Outcome::Answer(answer) => {
                if current && !matches!(answer.status, 200 | 204) {
                    debug!(
                        request = id.0,
                        status = answer.status,
                        retry_after = ?answer.retry_after,
                        "server answered"
                    );
                }
                self.core.handle_answer(now, id, answer);
            }
            Outcome::Failure(error) => {
                if current {
                    debug!(request = id.0, %error, "request failed; retrying after a backoff");
                }
                self.core.handle_failure(now, id);
            }
        }
    }

    /// Starts one HTTP request on its own task.
    fn issue(&mut self, request: ClientRequest) {
        let ClientRequest { id, kind } = request;
        let (method, uri, frames) = match kind {
            RequestKind::Poll { ack } => {
                (Method::GET, format!("{}?ack={ack}", self.session_url), None)
            }
            RequestKind::Send { seq, ack, body } => {
                let uri = match ack {
                    Some(ack) => format!("{}?seq={seq}&ack={ack}", self.session_url),
                    None => format!("{}?seq={seq}", self.session_url),
                };
                (Method::POST, uri, Some(body))
            }
            RequestKind::Delete => (Method::DELETE, self.session_url.clone(), None),
        };
        trace!(request = id.0, %method, %uri, "issuing request");
        let http = self.http.clone();
        let max_body = self.max_response_bytes;
        if method == Method::DELETE {
            // Fire and forget: its answer does not matter, but do not let it hang.
            debug!("sending DELETE to end the session on the server");
            let span = tracing::Span::current();
            tokio::spawn(
                async move {
                    let result = match fetch::build(method, &uri, None) {
                        Ok(request) => tokio::time::timeout(
                            DELETE_TIMEOUT,
                            fetch::fetch(&http, request, max_body),
                        )
                        .await
                        .map_err(|_| "timed out".to_string())
                        .and_then(|r| r.map_err(|e| e.to_string())),
                        Err(error) => Err(error.to_string()),
                    };
                    match result {
                        Ok(answer) => debug!(status = answer.status.as_u16(), "DELETE answered"),
                        Err(error) => debug!(%error, "DELETE failed"),
                    }
                }
                .instrument(span),
            );
            return;
        }
        let outcomes = self.outcomes_tx.clone();
        let task = tokio::spawn(async move {
            let outcome = match fetch::build(method, &uri, frames) {
                Ok(request) => match fetch::fetch(&http, request, max_body).await {
                    Ok(answer) => Outcome::Answer(answer.into_server_answer()),
                    Err(error) => Outcome::Failure(error),
                },
                Err(error) => Outcome::Failure(error),
            };
            // The driver may be gone (runtime shutting down); then nobody needs the outcome.
            let _ = outcomes.send((id, outcome));
        });
        self.tasks.insert(id, task);
    }
}

/// The application's next outgoing item; pending forever while not taking any.
async fn next_outgoing(outgoing: Option<&mut OutgoingReceiver>) -> Option<Outgoing> {
    match outgoing {
        Some(outgoing) => outgoing.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
