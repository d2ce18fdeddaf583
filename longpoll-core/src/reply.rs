//! What the server answers to a request: status, headers and body, framework-neutral.

use crate::query::QueryError;
use crate::wire::FrameError;
use bytes::Bytes;
use std::fmt;
use std::time::Duration;

/// Header carrying the sequence number of the first frame of a `200` poll response
/// (`Longpoll-Seq`; header names are case-insensitive, and [`Reply::headers`] gives them in
/// lowercase, HTTP/2's form).
pub const SEQ_HEADER: &str = "longpoll-seq";
/// Header carrying the next sequence number the server expects, on a `409` for a seq gap
/// (`Longpoll-Expected-Seq`).
pub const EXPECTED_SEQ_HEADER: &str = "longpoll-expected-seq";
/// The content type of frame bodies, required on `POST {base}/{id}`.
pub const FRAMES_CONTENT_TYPE: &str = "application/octet-stream";

/// The server's answer to one request. Adapters turn it into their framework's response
/// with [`status`](Reply::status), [`headers`](Reply::headers) and [`body`](Reply::body).
///
/// ```
/// use longpoll_core::Reply;
///
/// let reply = Reply::Gone;
/// assert_eq!(reply.status(), 410);
/// assert!(reply.headers().any(|(name, value)| name == "cache-control" && value == "no-store"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `201`: a session was opened; the body is its [`SessionParams`](crate::SessionParams) JSON.
    Opened(Bytes),
    /// `200`: frames, the first one numbered `first_seq`.
    Frames {
        /// Sequence number of the first frame in `body`.
        first_seq: u64,
        /// Encoded frames.
        body: Bytes,
    },
    /// `204`: a poll timed out with nothing to send, a `POST` was accepted, or a `DELETE` done.
    NoContent,
    /// `400`: the request is malformed; the session is unaffected.
    BadRequest(BadRequest),
    /// `403`: the request's `Origin` is not allowed ([`OriginPolicy`](crate::origin::OriginPolicy)).
    Forbidden,
    /// `404`: no session has this id (or the id is malformed, or the path is not the protocol's).
    NotFound,
    /// `405`: the method is not allowed on this path.
    MethodNotAllowed {
        /// Value of the `Allow` header.
        allow: &'static str,
    },
    /// `408`: the request body did not arrive within
    /// [`Config::body_read_timeout`](crate::Config::body_read_timeout). Adapters answer it
    /// while reading; clients treat it like any failure and retry.
    RequestTimeout,
    /// `409`: the request conflicts with the session's state; the session is unaffected.
    Conflict(Conflict),
    /// `410`: the session is closed.
    Gone,
    /// `413`: the body or one of its frames is over a limit.
    PayloadTooLarge(TooLarge),
    /// `415`: a `POST` without `Content-Type: application/octet-stream`.
    UnsupportedMediaType,
    /// `503`: the server cannot take this now; retry after the given delay.
    Unavailable {
        /// Sent as `Retry-After` in whole seconds (rounded up, at least 1).
        retry_after: Duration,
    },
}

/// Why a request was malformed (`400`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRequest {
    /// `ack` or `seq` is missing, repeated or not a number.
    Query(QueryError),
    /// The body is not a valid frame sequence.
    Frames(FrameError),
    /// The body could not be read (the connection failed while it was being received).
    UnreadableBody,
    /// The poll acknowledges messages that were never sent.
    AckBeyondSent {
        /// The `ack` received.
        ack: u64,
        /// How many messages the server has numbered so far.
        sent: u64,
    },
}

/// Why a request conflicted with the session (`409`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A newer poll (or `POST`) on the same session replaced this one.
    Superseded,
    /// The `POST` starts after the next sequence number the server expects.
    SeqGap {
        /// The sequence number the server expects next.
        expected: u64,
        /// The `seq` received.
        got: u64,
    },
}

/// Which limit a request broke (`413`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooLarge {
    /// The body is longer than `max` bytes (detected by the adapter while reading).
    Body {
        /// The body limit.
        max: usize,
    },
    /// A frame is over the message size limit, or there are too many frames.
    Frames(FrameError),
}

impl Reply {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Opened(_) => 201,
            Reply::Frames { .. } => 200,
            Reply::NoContent => 204,
            Reply::BadRequest(_) => 400,
            Reply::Forbidden => 403,
            Reply::NotFound => 404,
            Reply::MethodNotAllowed { .. } => 405,
            Reply::RequestTimeout => 408,
            Reply::Conflict(_) => 409,
            Reply::Gone => 410,
            Reply::PayloadTooLarge(_) => 413,
            Reply::UnsupportedMediaType => 415,
            Reply::Unavailable { .. } => 503,
        }
    }

    /// The response headers: always `Cache-Control: no-store`, plus `Content-Type` when there
    /// is a body, `Longpoll-Seq` on `200`, `Longpoll-Expected-Seq` on a seq-gap `409`, `Allow`
    /// on `405`, `Retry-After` on `503`. Names are lowercase; values are fixed text or numbers
    /// ([`HeaderText`]), so an adapter builds them without allocating for the fixed ones.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, HeaderText)> + use<> {
        let content_type = match self {
            Reply::NoContent => None,
            Reply::Frames { .. } => Some(FRAMES_CONTENT_TYPE),
            Reply::Opened(_) => Some("application/json"),
            _ => Some("text/plain; charset=utf-8"),
        };
        let specific = match self {
            Reply::Frames { first_seq, .. } => Some((SEQ_HEADER, HeaderText::Number(*first_seq))),
            Reply::MethodNotAllowed { allow } => Some(("allow", HeaderText::Static(allow))),
            Reply::Conflict(Conflict::SeqGap { expected, .. }) => {
                Some((EXPECTED_SEQ_HEADER, HeaderText::Number(*expected)))
            }
            Reply::Unavailable { retry_after } => Some((
                "retry-after",
                HeaderText::Number(retry_after_secs(*retry_after)),
            )),
            _ => None,
        };
        [
            Some(("cache-control", HeaderText::Static("no-store"))),
            content_type.map(|value| ("content-type", HeaderText::Static(value))),
            specific,
        ]
        .into_iter()
        .flatten()
    }

    /// The response body: frames, the open JSON, empty for `204`, or a one-line explanation
    /// for errors.
    pub fn body(&self) -> Bytes {
        match self {
            Reply::Opened(json) => json.clone(),
            Reply::Frames { body, .. } => body.clone(),
            Reply::NoContent => Bytes::new(),
            other => Bytes::from(format!("{other}\n")),
        }
    }

    /// [`body`](Reply::body), taking it out of the reply: a frames body built for this answer
    /// is handed over as it is (cloning it would have to make its buffer shareable first).
    pub fn into_body(self) -> Bytes {
        match self {
            Reply::Opened(body) | Reply::Frames { body, .. } => body,
            other => other.body(),
        }
    }
}

/// A response header's value as the core gives it: text fixed at compile time (visible
/// ASCII), or a decimal number.
///
/// ```
/// use longpoll_core::reply::HeaderText;
///
/// assert_eq!(HeaderText::Number(42).to_string(), "42");
/// assert_eq!(HeaderText::Static("no-store"), "no-store");
/// assert_eq!(HeaderText::Number(7), "7");
/// assert_ne!(HeaderText::Number(7), "07");
/// assert_eq!(HeaderText::Number(7).as_static(), Some("7"));
/// assert_eq!(HeaderText::Number(12_345).as_static(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderText {
    /// Fixed text.
    Static(&'static str),
    /// A number, written in decimal.
    Number(u64),
}

impl HeaderText {
    /// The text when it is already there: fixed text, or a number below
    /// [`SMALL_DECIMALS`](crate::decimal::SMALL_DECIMALS) (from a table). `None` for a larger
    /// number, which has to be written out.
    pub fn as_static(self) -> Option<&'static str> {
        match self {
            HeaderText::Static(text) => Some(text),
            HeaderText::Number(number) => crate::decimal::small_decimal(number),
        }
    }
}

impl fmt::Display for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderText::Static(text) => f.write_str(text),
            HeaderText::Number(number) => write!(f, "{number}"),
        }
    }
}

impl PartialEq<&str> for HeaderText {
    fn eq(&self, other: &&str) -> bool {
        match self {
            HeaderText::Static(text) => text == other,
            // As written: no sign, no leading zero.
            HeaderText::Number(number) => {
                other.parse() == Ok(*number) && (*other == "0" || !other.starts_with(['+', '0']))
            }
        }
    }
}

fn retry_after_secs(delay: Duration) -> u64 {
    (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1)
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Opened(_) => f.write_str("session opened"),
            Reply::Frames { first_seq, .. } => write!(f, "frames from seq {first_seq}"),
            Reply::NoContent => f.write_str("no content"),
            Reply::BadRequest(BadRequest::Query(e)) => write!(f, "bad request: {e}"),
            Reply::BadRequest(BadRequest::Frames(e)) => write!(f, "bad request: {e}"),
            Reply::BadRequest(BadRequest::UnreadableBody) => {
                f.write_str("bad request: the body could not be read")
            }
            Reply::BadRequest(BadRequest::AckBeyondSent { ack, sent }) => write!(
                f,
                "bad request: ack={ack} but only {sent} messages were sent"
            ),
            Reply::Forbidden => f.write_str("origin not allowed"),
            Reply::RequestTimeout => f.write_str("the request body did not arrive in time"),
            Reply::NotFound => f.write_str("no such session"),
            Reply::MethodNotAllowed { allow } => write!(f, "method not allowed; allowed: {allow}"),
            Reply::Conflict(Conflict::Superseded) => {
                f.write_str("superseded by a newer request on this session")
            }
            Reply::Conflict(Conflict::SeqGap { expected, got }) => {
                write!(
                    f,
                    "seq={got} leaves a gap; the server expects seq={expected}"
                )
            }
            Reply::Gone => f.write_str("session closed"),
            Reply::PayloadTooLarge(TooLarge::Body { max }) => {
                write!(f, "body is over the limit of {max} bytes")
            }
            Reply::PayloadTooLarge(TooLarge::Frames(e)) => write!(f, "payload too large: {e}"),
            Reply::UnsupportedMediaType => {
                write!(f, "POST bodies must be Content-Type: {FRAMES_CONTENT_TYPE}")
            }
            Reply::Unavailable { retry_after } => {
                write!(f, "busy; retry after {} s", retry_after_secs(*retry_after))
            }
        }
    }
}

impl From<FrameError> for Reply {
    fn from(error: FrameError) -> Self {
        if error.is_limit() {
            Reply::PayloadTooLarge(TooLarge::Frames(error))
        } else {
            Reply::BadRequest(BadRequest::Frames(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(reply: &Reply, name: &str) -> Option<String> {
        reply
            .headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.to_string())
    }

    /// Adapters build header names from these without checking them (`from_static`).
    #[test]
    fn header_names_are_lowercase_tokens_and_fixed_values_visible_ascii() {
        let replies = [
            Reply::Opened(Bytes::from_static(b"{}")),
            Reply::Frames {
                first_seq: u64::MAX,
                body: Bytes::new(),
            },
            Reply::NoContent,
            Reply::BadRequest(BadRequest::UnreadableBody),
            Reply::Forbidden,
            Reply::NotFound,
            Reply::MethodNotAllowed {
                allow: "GET, POST, DELETE",
            },
            Reply::RequestTimeout,
            Reply::Conflict(Conflict::SeqGap {
                expected: 1,
                got: 3,
            }),
            Reply::Gone,
            Reply::PayloadTooLarge(TooLarge::Body { max: 1 }),
            Reply::UnsupportedMediaType,
            Reply::Unavailable {
                retry_after: Duration::from_secs(3),
            },
        ];
        for reply in &replies {
            for (name, value) in reply.headers() {
                assert!(
                    !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{name:?}"
                );
                let text = value.to_string();
                assert!(
                    !text.is_empty() && text.bytes().all(|b| (0x20..0x7f).contains(&b)),
                    "{name}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn every_reply_has_its_status_and_headers() {
        let frames = Reply::Frames {
            first_seq: 7,
            body: Bytes::from_static(b"\x02\x00\x00\x00\x00"),
        };
        assert_eq!(frames.status(), 200);
        assert_eq!(header(&frames, SEQ_HEADER).as_deref(), Some("7"));
        assert_eq!(
            header(&frames, "Content-Type").as_deref(),
            Some(FRAMES_CONTENT_TYPE)
        );
        assert_eq!(Reply::NoContent.status(), 204);
        assert_eq!(header(&Reply::NoContent, "Content-Type"), None);
        assert!(Reply::NoContent.body().is_empty());
        let busy = Reply::Unavailable {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(busy.status(), 503);
        assert_eq!(header(&busy, "Retry-After").as_deref(), Some("2"));
        let tiny = Reply::Unavailable {
            retry_after: Duration::ZERO,
        };
        assert_eq!(header(&tiny, "Retry-After").as_deref(), Some("1"));
        let method = Reply::MethodNotAllowed { allow: "POST" };
        assert_eq!(
            (method.status(), header(&method, "Allow").as_deref()),
            (405, Some("POST"))
        );
        assert_eq!(Reply::Gone.status(), 410);
        assert_eq!(Reply::NotFound.status(), 404);
        assert_eq!(Reply::Forbidden.status(), 403);
        assert_eq!(Reply::RequestTimeout.status(), 408);
        assert_eq!(Reply::UnsupportedMediaType.status(), 415);
        assert_eq!(Reply::Conflict(Conflict::Superseded).status(), 409);
        assert_eq!(
            header(&Reply::Conflict(Conflict::Superseded), EXPECTED_SEQ_HEADER),
            None
        );
        let gap = Reply::Conflict(Conflict::SeqGap {
            expected: 4,
            got: 6,
        });
        assert_eq!(header(&gap, EXPECTED_SEQ_HEADER).as_deref(), Some("4"));
    }

    #[test]
    fn frame_errors_map_to_400_or_413() {
        assert_eq!(
            Reply::from(FrameError::Truncated { offset: 0 }).status(),
            400
        );
        assert_eq!(
            Reply::from(FrameError::TooLarge { len: 9, max: 8 }).status(),
            413
        );
        assert_eq!(
            Reply::from(FrameError::TooManyFrames { max: 8 }).status(),
            413
        );
    }

    #[test]
    fn error_bodies_explain_themselves() {
        let reply = Reply::BadRequest(BadRequest::AckBeyondSent { ack: 9, sent: 3 });
        assert_eq!(
            &reply.body()[..],
            b"bad request: ack=9 but only 3 messages were sent\n"
        );
    }
}
