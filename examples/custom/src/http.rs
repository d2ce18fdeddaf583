//! Just enough HTTP/1.1 for protocol v1, one request per connection.
//!
//! - The request head (request line and headers) is read line by line within
//!   [`MAX_HEAD_BYTES`]; past it the answer is `431`. A malformed head is `400`.
//! - Bodies come with `Content-Length` or `Transfer-Encoding: chunked`. A body is read only for
//!   a send, under `max_body_bytes`: a larger `Content-Length` is refused before reading, a
//!   chunked body as soon as its chunk sizes pass the limit (`413` either way).
//!   `Expect: 100-continue` is honoured, so curl does not wait a second before sending.
//! - Every response has `Content-Length` (except `204`, which must not) and
//!   `Connection: close`: no keep-alive, no pipelining. After answering, the server closes its
//!   side and reads what the client still sends (briefly), so an unread body cannot turn the
//!   close into a reset that would destroy the answer.

use bytes::Bytes;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use longpoll_core::Reply;
use longpoll_core::reply::{BadRequest, TooLarge};
use std::net::TcpStream;

/// Largest request head (request line, headers, line ends) the server reads: `431` past it.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Longest chunk-size line of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// The connection's reading side: a buffer over the socket.
pub(crate) type Reader<'a> = BufReader<&'a async_io::Async<TcpStream>>;

/// A request head, parsed.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) content_type: Option<String>,
    /// `Origin`, for the origin policy (the first one, if repeated).
    pub(crate) origin: Option<String>,
    /// `Access-Control-Request-Method`: with `OPTIONS` and `Origin`, a CORS preflight.
    pub(crate) access_control_request_method: Option<String>,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n` (no header: `0`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection ended before a request head arrived: nobody to answer.
    Gone,
    /// Answer with this and close.
    Refuse(Response),
}

/// A response, ready to write.
#[derive(Debug)]
pub(crate) struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    /// The answer to a `HEAD` request: headers only.
    head_only: bool,
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Self {
        Response {
            status: reply.status(),
            headers: reply
                .headers()
                .map(|(name, value)| (name, value.to_string()))
                .collect(),
            body: reply.body(),
            head_only: false,
        }
    }
}

impl Response {
    /// An HTTP-level refusal that the protocol does not define (`400` for a malformed head,
    /// `431`, `501`), in the protocol's style.
    pub(crate) fn error(status: u16, text: &str) -> Self {
        Response {
            status,
            headers: vec![
                ("Cache-Control", "no-store".to_string()),
                ("Content-Type", "text/plain; charset=utf-8".to_string()),
            ],
            body: Bytes::from(format!("{text}\n")),
            head_only: false,
        }
    }

    /// This response with more headers (the origin policy's).
    pub(crate) fn with_headers(mut self, extra: &[(&'static str, String)]) -> Self {
        self.headers.extend(extra.iter().cloned());
        self
    }

    /// This response, as the answer to a `HEAD` request (without the body).
    pub(crate) fn for_head(self) -> Self {
        Response {
            head_only: true,
            ..self
        }
    }

    /// Writes the response (one write: head and body together).
    pub(crate) async fn write_to(
        &self,
        mut stream: &async_io::Async<TcpStream>,
    ) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.status != 204 {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        stream.write_all(&bytes).await?;
        stream.flush().await
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn bad_request(why: &str) -> Failure {
    Failure::Refuse(Response::error(400, &format!("malformed request: {why}")))
}

/// One line read within a byte budget.
enum Line {
    /// The line, without its `\n` or `\r\n`.
    Text(Vec<u8>),
    /// The budget ran out before the line ended.
    TooLong,
    /// The connection ended (or failed) first.
    Eof,
}

/// Reads one line of at most `limit` bytes (line end included). Returns the line and the
/// bytes it used.
async fn read_line(reader: &mut Reader<'_>, limit: usize) -> (Line, usize) {
    let mut line = Vec::new();
    match (&mut *reader)
        .take(limit as u64)
        .read_until(b'\n', &mut line)
        .await
    {
        Ok(used) if line.last() == Some(&b'\n') => {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            (Line::Text(line), used)
        }
        Ok(used) if used == limit => (Line::TooLong, used),
        _ => (Line::Eof, line.len()),
    }
}

/// Reads and parses a request head.
pub(crate) async fn read_head(reader: &mut Reader<'_>) -> Result<Head, Failure> {
    let too_large = || Failure::Refuse(Response::error(431, "request head over 16 KiB"));
    let mut budget = MAX_HEAD_BYTES;
    let mut lines: Vec<String> = Vec::new();
    loop {
        let (line, used) = read_line(reader, budget).await;
        budget -= used;
        let line = match line {
            Line::Text(line) => line,
            Line::TooLong => return Err(too_large()),
            Line::Eof => return Err(Failure::Gone),
        };
        if line.is_empty() {
            if lines.is_empty() {
                continue; // empty lines before a request line are allowed (RFC 9112 §2.2)
            }
            break;
        }
        let line = String::from_utf8(line).map_err(|_| bad_request("not UTF-8"))?;
        lines.push(line);
    }
    parse_head(&lines)
}

fn parse_head(lines: &[String]) -> Result<Head, Failure> {
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_request("request line"));
    };
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !is_token(method) || !target.starts_with('/') || !matches!(version, "HTTP/1.1" | "HTTP/1.0")
    {
        return Err(bad_request("request line"));
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (target, None),
    };
    let mut head = Head {
        method: method.to_string(),
        path: path.to_string(),
        query,
        content_type: None,
        origin: None,
        access_control_request_method: None,
        framing: Framing::Length(0),
        expect_continue: false,
    };
    let (mut length, mut chunked) = (None, false);
    for line in &lines[1..] {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad_request("header line"));
        };
        if !is_token(name) {
            return Err(bad_request("header name")); // also folded lines and "Name :"
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = (value.bytes().all(|b| b.is_ascii_digit()))
                .then(|| value.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| bad_request("Content-Length"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(bad_request("conflicting Content-Length"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") || chunked {
                let text = "only Transfer-Encoding: chunked is supported";
                return Err(Failure::Refuse(Response::error(501, text)));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type.get_or_insert_with(|| value.to_string());
        } else if name.eq_ignore_ascii_case("origin") {
            head.origin.get_or_insert_with(|| value.to_string());
        } else if name.eq_ignore_ascii_case("access-control-request-method") {
            head.access_control_request_method
                .get_or_insert_with(|| value.to_string());
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue = value.eq_ignore_ascii_case("100-continue");
        }
    }
    head.framing = match (chunked, length) {
        // Both framings at once is how requests are smuggled past proxies: refuse it.
        (true, Some(_)) => return Err(bad_request("both Content-Length and chunked")),
        (true, None) => Framing::Chunked,
        (false, length) => Framing::Length(length.unwrap_or(0)),
    };
    Ok(head)
}

/// Reads the body of a send under the body limit: `413` from `Content-Length` before reading
/// anything, or as soon as the chunk sizes pass `max`.
pub(crate) async fn read_body(
    reader: &mut Reader<'_>,
    head: &Head,
    max: usize,
) -> Result<Bytes, Failure> {
    let too_large = || Failure::Refuse(Reply::PayloadTooLarge(TooLarge::Body { max }).into());
    if head.framing.is_some_length_over(max) {
        return Err(too_large());
    }
    if head.expect_continue {
        let mut stream = *reader.get_ref();
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let unreadable = || Failure::Refuse(Reply::BadRequest(BadRequest::UnreadableBody).into());
    let mut body = Vec::new();
    match head.framing {
        Framing::Length(len) => match (&mut *reader).take(len).read_to_end(&mut body).await {
            Ok(_) if body.len() as u64 == len => {}
            _ => return Err(unreadable()),
        },
        Framing::Chunked => loop {
            let size = match read_line(reader, MAX_CHUNK_LINE).await.0 {
                Line::Text(line) => chunk_size(&line).ok_or_else(|| bad_request("chunk size"))?,
                Line::TooLong => return Err(bad_request("chunk size")),
                Line::Eof => return Err(unreadable()),
            };
            if size == 0 {
                break;
            }
            if size > (max - body.len()) as u64 {
                return Err(too_large());
            }
            let before = body.len();
            match (&mut *reader).take(size).read_to_end(&mut body).await {
                Ok(_) if (body.len() - before) as u64 == size => {}
                _ => return Err(unreadable()),
            }
            match read_line(reader, MAX_CHUNK_LINE).await.0 {
                Line::Text(line) if line.is_empty() => {}
                _ => return Err(bad_request("chunk end")),
            }
        },
    }
    if head.framing == Framing::Chunked {
        // Trailer fields, ignored, then the blank line.
        let mut budget = MAX_HEAD_BYTES;
        loop {
            let (line, used) = read_line(reader, budget).await;
            budget -= used;
            match line {
                Line::Text(line) if line.is_empty() => break,
                Line::Text(_) => {}
                Line::TooLong | Line::Eof => return Err(unreadable()),
            }
        }
    }
    Ok(Bytes::from(body))
}

impl Framing {
    fn is_some_length_over(self, max: usize) -> bool {
        matches!(self, Framing::Length(len) if len > max as u64)
    }
}

/// The size from a chunk-size line (`1a` or `1a;name=value`); hex digits only.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let digits = line.split(';').next()?.trim();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn heads_parse_or_are_refused_with_a_status() {
        let head = parse_head(&lines(
            "POST /longpoll/x?seq=1 HTTP/1.1\nContent-Type: a/b\nContent-Length: 7",
        ))
        .unwrap();
        assert_eq!(
            (head.path.as_str(), head.query.as_deref()),
            ("/longpoll/x", Some("seq=1"))
        );
        assert_eq!(head.content_type.as_deref(), Some("a/b"));
        assert_eq!(head.framing, Framing::Length(7));
        let status = |text: &str| match parse_head(&lines(text)) {
            Err(Failure::Refuse(response)) => response.status,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(status("GET /"), 400);
        assert_eq!(status("GET x HTTP/1.1"), 400);
        assert_eq!(status("GET / HTTP/2.0"), 400);
        assert_eq!(status("G(T / HTTP/1.1"), 400);
        assert_eq!(status("GET / HTTP/1.1\nno colon"), 400);
        assert_eq!(status("GET / HTTP/1.1\n folded: x"), 400);
        assert_eq!(status("GET / HTTP/1.1\nContent-Length: -1"), 400);
        assert_eq!(
            status("GET / HTTP/1.1\nContent-Length: 1\nContent-Length: 2"),
            400
        );
        assert_eq!(status("GET / HTTP/1.1\nTransfer-Encoding: gzip"), 501);
        assert_eq!(
            status("GET / HTTP/1.1\nTransfer-Encoding: chunked\nContent-Length: 1"),
            400
        );
    }

    #[test]
    fn chunk_sizes_are_hex_only() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"10;ext=1"), Some(16));
        for bad in [&b""[..], b"+1", b"-1", b"g", b"ffffffffffffffff"] {
            assert_eq!(chunk_size(bad), None);
        }
    }
}
