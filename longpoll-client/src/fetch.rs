//! One HTTP exchange: send a request, read the whole response body under a cap.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use longpoll_core::ServerAnswer;
use longpoll_core::reply::{EXPECTED_SEQ_HEADER, FRAMES_CONTENT_TYPE, SEQ_HEADER};
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// The pooled hyper client every session of a [`Client`](crate::Client) shares.
pub(crate) type HttpClient = HyperClient<HttpConnector, Full<Bytes>>;

/// A request that got no complete HTTP answer.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The request could not be built (cannot happen with validated URLs; reported, not
    /// panicked on).
    Build(http::Error),
    /// Connecting or exchanging the head failed: refused, reset, closed early.
    Request(hyper_util::client::legacy::Error),
    /// The response body was cut short or its connection failed while reading it.
    Body(Box<dyn StdError + Send + Sync>),
    /// The response body is longer than the cap.
    TooLarge {
        /// The cap in bytes.
        max: usize,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Build(error) => write!(f, "could not build the request: {error}"),
            FetchError::Request(error) => {
                write!(f, "request failed: {error}")?;
                if let Some(source) = error.source() {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            FetchError::Body(error) => write!(f, "reading the response body failed: {error}"),
            FetchError::TooLarge { max } => {
                write!(f, "response body is over the limit of {max} bytes")
            }
        }
    }
}

impl StdError for FetchError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            FetchError::Build(error) => Some(error),
            FetchError::Request(error) => Some(error),
            FetchError::Body(error) => Some(&**error),
            FetchError::TooLarge { .. } => None,
        }
    }
}

/// A complete HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The answer as the client state machine reads it. Headers that are missing or not
    /// plain decimal numbers are `None`; the core decides what that means.
    pub(crate) fn into_server_answer(self) -> ServerAnswer {
        let mut answer = ServerAnswer::status(self.status.as_u16());
        answer.seq = header_u64(&self.headers, SEQ_HEADER);
        answer.expected_seq = header_u64(&self.headers, EXPECTED_SEQ_HEADER);
        answer.retry_after = retry_after(&self.headers);
        answer.body = self.body;
        answer
    }
}

/// Builds a request with an optional frames body (`Content-Type: application/octet-stream`).
/// A `POST` without a body (the open request) says `Content-Length: 0`, as some proxies
/// insist on a length for every `POST`.
pub(crate) fn build(
    method: Method,
    uri: &str,
    frames: Option<Bytes>,
) -> Result<Request<Full<Bytes>>, FetchError> {
    let empty_post = method == Method::POST && frames.is_none();
    let mut builder = Request::builder().method(method).uri(uri);
    if empty_post {
        builder = builder.header(header::CONTENT_LENGTH, "0");
    }
    let request = match frames {
        Some(body) => builder
            .header(header::CONTENT_TYPE, FRAMES_CONTENT_TYPE)
            .body(Full::new(body)),
        None => builder.body(Full::new(Bytes::new())),
    };
    request.map_err(FetchError::Build)
}

/// Sends `request` and reads the whole response body, refusing bodies over `max_body` bytes.
pub(crate) async fn fetch(
    http: &HttpClient,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<Answer, FetchError> {
    let response = http.request(request).await.map_err(FetchError::Request)?;
    let (parts, body) = response.into_parts();
    let body = match Limited::new(body, max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return Err(FetchError::TooLarge { max: max_body });
        }
        Err(error) => return Err(FetchError::Body(error)),
    };
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// A header holding an unsigned decimal number (1 to 20 ASCII digits, surrounding
/// whitespace allowed), as the protocol's headers are written.
fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// `Retry-After` in its delta-seconds form. The HTTP-date form is not used by longpoll
/// servers and is ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_u64(headers, header::RETRY_AFTER.as_str()).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn protocol_headers_are_parsed() {
        let answer = Answer {
            status: StatusCode::OK,
            headers: headers(&[
                ("longpoll-seq", "17"),
                ("longpoll-expected-seq", " 4 "),
                ("retry-after", "2"),
            ]),
            body: Bytes::from_static(b"x"),
        }
        .into_server_answer();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.seq, Some(17));
        assert_eq!(answer.expected_seq, Some(4));
        assert_eq!(answer.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(&answer.body[..], b"x");
    }

    #[test]
    fn malformed_headers_are_absent() {
        for bad in [
            "",
            "+1",
            "-1",
            "1.0",
            "0x10",
            "18446744073709551616",
            "123456789012345678901",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            let map = headers(&[("longpoll-seq", bad), ("retry-after", bad)]);
            assert_eq!(header_u64(&map, SEQ_HEADER), None, "{bad:?}");
            assert_eq!(retry_after(&map), None, "{bad:?}");
        }
        assert_eq!(
            header_u64(
                &headers(&[("longpoll-seq", "18446744073709551615")]),
                SEQ_HEADER
            ),
            Some(u64::MAX)
        );
    }
}
