//! One session: a task that owns a [`ServerSession`] and drives it, with the echo application
//! living inside the same loop.
//!
//! The loop is the whole contract of `longpoll-core`, carried out by hand:
//!
//! ```text
//! loop {
//!     outputs:  the application takes events (poll_event) and sends (send / close);
//!               every answer (poll_response) goes to the connection waiting for it
//!     stop      once the application has taken Event::Closed
//!     sleep     until an Input arrives or the instant poll_timeout() names
//!     input:    handle_poll / handle_send / handle_close / handle_abort / close,
//!               or handle_timeout(now) when the timer fired
//! }
//! ```
//!
//! The task reads the clock (`Instant::now()`) and passes it in; the core never does. The
//! only timer is the one `poll_timeout()` asks for: the poll hold (`204`), the send hold
//! (`503`), and the idle timeout that reaps an abandoned session.

use crate::server::Server;
use async_channel::{Receiver, Sender};
use async_io::Timer;
use bytes::Bytes;
use futures_lite::future;
use longpoll_core::{
    CloseFrame, Event, Message, Reply, RequestId, SendError, ServerSession, SessionId, close_code,
};
use std::rc::Rc;
use std::time::Instant;

/// The text message that makes the echo application close the session.
pub const CLOSE_ME: &str = "close-me";
/// Close code for [`CLOSE_ME`] (reason `requested`).
pub const CLOSE_ME_CODE: u16 = 4000;
/// Close reason sent to every session when the server shuts down (code 1001, going away),
/// as echo-axum does.
pub const SHUTDOWN_REASON: &str = "server shutting down";

/// What a session task is told.
#[derive(Debug)]
pub(crate) enum Input {
    /// A request for this session; its one answer goes to `reply`. `ticket` names the
    /// request to the connection that carries it (the core's `RequestId` exists only once
    /// the core has taken the request).
    Request {
        ticket: u64,
        request: Request,
        reply: Sender<Reply>,
    },
    /// The HTTP client of request `ticket` went away. If the request is still held, the core
    /// forgets it and `reply` is dropped unanswered; if it was answered, nothing happens.
    Abort { ticket: u64 },
    /// The server is shutting down: close with 1001.
    Shutdown,
}

/// A protocol request on a session, already routed and with its body read.
#[derive(Debug)]
pub(crate) enum Request {
    Poll {
        ack: u64,
    },
    Send {
        seq: u64,
        ack: Option<u64>,
        body: Bytes,
    },
    Close,
}

/// A request the core has taken and not answered yet.
struct Pending {
    ticket: u64,
    request: RequestId,
    reply: Sender<Reply>,
}

/// Drives one session until it ends, then leaves a tombstone in the registry.
pub(crate) async fn run(id: SessionId, server: Rc<Server>, inputs: Receiver<Input>) {
    let mut core = ServerSession::new(Instant::now(), server.config.clone());
    let mut pending: Vec<Pending> = Vec::new();
    let mut echo = Echo::default();
    loop {
        // Outputs, after every input: the application first (taking a message may accept a
        // held send, sending may answer a held poll), then every answer the core has.
        let ended = echo.take_events(&mut core, Instant::now());
        answer(&mut core, &mut pending);
        if ended {
            break;
        }
        // Sleep until something happens: an input, or the core's next deadline.
        let deadline = core.poll_timeout();
        let input = future::or(async { Some(inputs.recv().await) }, async {
            match deadline {
                Some(deadline) => Timer::at(deadline).await,
                None => future::pending().await,
            };
            None
        })
        .await;
        let now = Instant::now();
        match input {
            // Early or late, a timeout is harmless: the core does what is due at `now`.
            None => core.handle_timeout(now),
            Some(Ok(input)) => feed(&mut core, &mut pending, now, input),
            // The registry holds a sender while this task runs, so this does not happen.
            Some(Err(_)) => break,
        }
    }
    server.retire(id, Instant::now());
    // Inputs queued before the registry forgot the id still get their answers, from the
    // closed core: `410`, or `204` for a `DELETE`. Nothing can be queued after `retire`.
    inputs.close();
    while let Ok(input) = inputs.try_recv() {
        feed(&mut core, &mut pending, Instant::now(), input);
        answer(&mut core, &mut pending);
    }
}

/// Hands one input to the core.
fn feed(core: &mut ServerSession, pending: &mut Vec<Pending>, now: Instant, input: Input) {
    match input {
        Input::Request {
            ticket,
            request,
            reply,
        } => {
            let request = match request {
                Request::Poll { ack } => core.handle_poll(now, ack),
                Request::Send { seq, ack, body } => core.handle_send(now, seq, ack, body),
                Request::Close => core.handle_close(now),
            };
            pending.push(Pending {
                ticket,
                request,
                reply,
            });
        }
        Input::Abort { ticket } => {
            if let Some(i) = pending.iter().position(|p| p.ticket == ticket) {
                let aborted = pending.swap_remove(i);
                core.handle_abort(now, aborted.request);
                // Dropping `aborted.reply` tells the connection its request was forgotten.
            }
        }
        Input::Shutdown => {
            let frame = CloseFrame::new(close_code::GOING_AWAY, SHUTDOWN_REASON);
            core.close(now, Some(frame));
        }
    }
}

/// Sends every answer the core has to the connection waiting for it.
fn answer(core: &mut ServerSession, pending: &mut Vec<Pending>) {
    while let Some(response) = core.poll_response() {
        if let Some(i) = pending.iter().position(|p| p.request == response.request) {
            // Capacity one and one answer per request: never full. An error means the
            // connection is gone already; then there is nobody to tell.
            let _ = pending.swap_remove(i).reply.try_send(response.reply);
        }
    }
}

/// The application: every message comes back with the same kind; `close-me` closes with
/// 4000 "requested".
#[derive(Debug, Default)]
struct Echo {
    /// A message to echo that the outbound buffer had no room for yet.
    unsent: Option<Message>,
}

impl Echo {
    /// Takes events while it can echo them. Returns true once the session's end was taken.
    fn take_events(&mut self, core: &mut ServerSession, now: Instant) -> bool {
        loop {
            if let Some(message) = self.unsent.take()
                && let Err(SendError::Full(message)) = core.send(now, message)
            {
                // Back-pressure: take nothing more until an acknowledgement makes room
                // (client messages then wait in the inbound buffer, and sends are held).
                // `Closed` and `TooLarge` cannot be echoed at all and are dropped.
                self.unsent = Some(message);
                return false;
            }
            match core.poll_event(now) {
                Some(Event::Message(Message::Text(text))) if text.as_str() == CLOSE_ME => {
                    core.close(now, Some(CloseFrame::new(CLOSE_ME_CODE, "requested")));
                }
                Some(Event::Message(message)) => self.unsent = Some(message),
                Some(Event::Closed(_reason)) => return true,
                None => return false,
            }
        }
    }
}
