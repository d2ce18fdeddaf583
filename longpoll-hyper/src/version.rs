//! Telling HTTP/2 from HTTP/1.1 on a new connection, by peeking at its first bytes.

use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// The HTTP version a connection speaks, told by its first bytes ([`peek_http_version`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.x: serve it with `hyper::server::conn::http1`.
    Http1,
    /// HTTP/2 with prior knowledge (`h2c`): it opened with HTTP/2's preface; serve it with
    /// `hyper::server::conn::http2`.
    Http2,
}

/// What an HTTP/2 client sends first (RFC 9113, 3.4). No HTTP/1 request starts with it.
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long to wait before peeking again at a preface that came in pieces: doubling from the
/// first to the last, so a peer that sends a piece and stalls costs few wake-ups.
const SPLIT_PREFACE_PAUSES: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_millis(64));

/// Waits for a new connection's first bytes and tells its HTTP version from them, without
/// taking them off the socket; `None` when the peer closed before sending anything.
///
/// hyper-util's `auto` builder tells the versions apart too, but it reads the first 24 bytes
/// itself and hands them to hyper as the start of a request head. hyper then sees a partial
/// head and grows the connection's read buffer from 8 to 16 KiB, which it keeps for the
/// connection's life: about 5 KB more memory per idle long-poll connection (measured with
/// `longpoll-bench`). Peeked bytes stay in the socket, so hyper reads the whole head at once.
///
/// It waits as long as the peer says nothing: bound it with a timeout (hyper's header read
/// timeout starts only once hyper has the connection). A preface split across TCP segments
/// (rare) is peeked again, after pauses doubling from 1 to 64 ms, until it is whole or turns
/// out not to be one.
///
/// # Example
///
/// HTTP/1.1 and HTTP/2 on one port:
///
/// ```no_run
/// use hyper::server::conn::{http1, http2};
/// use hyper_util::rt::{TokioExecutor, TokioIo};
/// use longpoll_hyper::{HttpVersion, LongPoll, LongPollService, peek_http_version};
/// use std::time::Duration;
///
/// # async fn run() -> std::io::Result<()> {
/// let service = LongPollService::new("/longpoll", LongPoll::default().mount(|_| async {}));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let service = service.clone();
///     tokio::spawn(async move {
///         let first = tokio::time::timeout(Duration::from_secs(10), peek_http_version(&stream));
///         let Ok(Ok(Some(version))) = first.await else { return };
///         let io = TokioIo::new(stream);
///         let _ = match version {
///             HttpVersion::Http1 => http1::Builder::new().serve_connection(io, service).await,
///             HttpVersion::Http2 => {
///                 http2::Builder::new(TokioExecutor::new()).serve_connection(io, service).await
///             }
///         };
///     });
/// }
/// # }
/// ```
pub async fn peek_http_version(stream: &TcpStream) -> io::Result<Option<HttpVersion>> {
    let mut first = [0u8; HTTP2_PREFACE.len()];
    let (mut pause, longest_pause) = SPLIT_PREFACE_PAUSES;
    loop {
        let seen = stream.peek(&mut first).await?;
        if seen == 0 {
            return Ok(None);
        }
        if !HTTP2_PREFACE.starts_with(&first[..seen]) {
            return Ok(Some(HttpVersion::Http1));
        }
        if seen == HTTP2_PREFACE.len() {
            return Ok(Some(HttpVersion::Http2));
        }
        // Peeking leaves the socket readable: waiting for readiness would return at once.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(longest_pause);
    }
}
