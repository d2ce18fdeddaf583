//! One connection, one request: read it, route it, hand it to its session, wait for the
//! answer while watching for the client to leave, write the answer, close.

use crate::MOUNT_PATH;
use crate::http::{self, Failure, Reader, Response};
use crate::server::{Lookup, Server};
use crate::session::{Input, Request};
use async_io::{Async, Timer};
use bytes::Bytes;
use futures_lite::future;
use futures_lite::io::{AsyncReadExt, BufReader};
use longpoll_core::{Reply, Route};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Duration;

/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to read what a client still sends after the answer, before closing.
const LINGER: Duration = Duration::from_secs(2);

/// Serves the one request of this connection.
pub(crate) async fn serve(stream: Async<TcpStream>, server: Rc<Server>) {
    let mut reader = BufReader::new(&stream);
    let mut in_flight = None;
    // The slowloris defence: a head that takes longer is not answered, the connection closes.
    let response = match with_timeout(server.header_timeout, http::read_head(&mut reader)).await {
        Some(Ok(head)) => {
            // From here on, a graceful shutdown waits until this request is answered.
            in_flight = Some(server.in_flight());
            match answer(&server, &mut reader, &head).await {
                Some(response) => response,
                None => return, // the client left, or took too long to send its request
            }
        }
        Some(Err(Failure::Refuse(response))) => response,
        Some(Err(Failure::Gone)) | None => return,
    };
    if with_timeout(WRITE_TIMEOUT, response.write_to(&stream))
        .await
        .is_none()
    {
        return;
    }
    drop(in_flight);
    linger(&stream).await;
}

/// The answer to a request whose head has been read; `None` when there is nobody to answer.
/// The origin policy decides first; its headers go on whatever the answer is.
async fn answer(
    server: &Rc<Server>,
    reader: &mut Reader<'_>,
    head: &http::Head,
) -> Option<Response> {
    let decision = server.config.origins.check(
        &head.method,
        head.origin.as_deref(),
        head.access_control_request_method.as_deref(),
    );
    let response = match decision.early_reply() {
        Some(reply) => reply.into(),
        None => {
            let timeout = server.config.body_read_timeout;
            match with_timeout(timeout, request(server, reader, head)).await {
                Some(Ok(Some(route))) => exchange(server, reader, route).await?,
                Some(Ok(None)) => Reply::NotFound.into(),
                Some(Err(Failure::Refuse(response))) => response,
                Some(Err(Failure::Gone)) => return None,
                // The body did not arrive in time.
                None => Reply::RequestTimeout.into(),
            }
        }
    };
    let response = response.with_headers(decision.headers());
    Some(match head.method.as_str() {
        "HEAD" => response.for_head(),
        _ => response,
    })
}

/// A session request, routed as `PROTOCOL.md` orders the checks (path `404`, method `405`,
/// content type `415`, query `400`, body `413`); `None` for paths outside the mount.
async fn request(
    server: &Server,
    reader: &mut Reader<'_>,
    head: &http::Head,
) -> Result<Option<(Route, Bytes)>, Failure> {
    let Some(rest) = head.path.strip_prefix(MOUNT_PATH) else {
        return Ok(None);
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Ok(None); // `/longpollx`
    }
    let route = longpoll_core::route(
        &head.method,
        rest,
        head.query.as_deref(),
        head.content_type.as_deref(),
    )
    .map_err(|reply| Failure::Refuse(reply.into()))?;
    let body = match route {
        Route::Send { .. } => http::read_body(reader, head, server.config.max_body_bytes).await?,
        _ => Bytes::new(), // any other body is left unread (and drained when closing)
    };
    Ok(Some((route, body)))
}

/// Gets the answer to a routed request; `None` when the client went away first.
async fn exchange(
    server: &Rc<Server>,
    reader: &mut Reader<'_>,
    (route, body): (Route, Bytes),
) -> Option<Response> {
    let (id, request) = match route {
        Route::Open => return Some(server.open().into()),
        Route::Poll { id, ack } => (id, Request::Poll { ack }),
        Route::Send { id, seq, ack } => (id, Request::Send { seq, ack, body }),
        Route::Close { id } => (id, Request::Close),
    };
    let inputs = match server.lookup(&id) {
        Lookup::Live(inputs) => inputs,
        Lookup::Gone if matches!(request, Request::Close) => return Some(Reply::NoContent.into()),
        Lookup::Gone => return Some(Reply::Gone.into()),
        Lookup::Unknown => return Some(Reply::NotFound.into()),
    };
    let ticket = server.ticket();
    let (reply, answer) = async_channel::bounded(1);
    // No `.await` between the lookup and this send, so the session cannot have retired.
    if inputs
        .try_send(Input::Request {
            ticket,
            request,
            reply,
        })
        .is_err()
    {
        return Some(Reply::Gone.into());
    }
    // Wait for the answer; meanwhile, the end of the connection means the client left.
    let answered = future::or(async { Some(answer.recv().await) }, async {
        client_gone(reader).await;
        None
    })
    .await;
    match answered {
        Some(Ok(reply)) => Some(reply.into()),
        // The session ended without answering; it does not, but `410` would be the truth.
        Some(Err(_)) => Some(Reply::Gone.into()),
        None => {
            // Tell the core. If the request was held, it is forgotten (`handle_abort`) and
            // the answer channel closes; if it had just been answered, here is the answer
            // (a client that only half-closed can still read it).
            let _ = inputs.try_send(Input::Abort { ticket });
            answer.recv().await.ok().map(Response::from)
        }
    }
}

/// Resolves when the client closes the connection (end of stream) or it fails (reset).
/// Bytes that arrive meanwhile are not requests this server will serve: they are dropped.
async fn client_gone(reader: &mut Reader<'_>) {
    let mut scratch = [0u8; 1024];
    while let Ok(1..) = reader.read(&mut scratch).await {}
}

/// After the answer: closes the sending side, and reads (briefly) what the client still
/// sends, so that closing does not reset the connection under the answer.
async fn linger(stream: &Async<TcpStream>) {
    let _ = stream.get_ref().shutdown(Shutdown::Write);
    let mut scratch = [0u8; 4096];
    let mut reader = stream;
    let drain = async { while let Ok(1..) = reader.read(&mut scratch).await {} };
    with_timeout(LINGER, drain).await;
}

/// `Some(output)`, or `None` if `future` takes longer than `limit`.
async fn with_timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(future.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}
