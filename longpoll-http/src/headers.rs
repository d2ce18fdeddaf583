//! Headers: a reply's, the origin policy's extra ones, and the request's that the protocol reads.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Request};
use longpoll_core::reply::{FRAMES_CONTENT_TYPE, HeaderText, SEQ_HEADER};
use longpoll_core::{Config, OriginDecision, Reply};

/// A reply's headers. The core's names are lowercase tokens (its tests check them), taken
/// without a copy or a parse; fixed values and small numbers are not copied either.
///
/// ```
/// use longpoll_core::Reply;
///
/// let headers = longpoll_http::reply_headers(&Reply::RequestTimeout);
/// assert_eq!(headers["cache-control"], "no-store");
/// ```
pub fn reply_headers(reply: &Reply) -> HeaderMap {
    // Room for the reply's headers and a few more (content-length, an origin policy's
    // CORS headers) without growing: a map made for 3 moves its entries on the fourth.
    let mut headers = HeaderMap::with_capacity(6);
    match reply {
        // The answers every message costs (a send's `204`, frames to a poll or to a send that
        // carried `ack`), from names and values made at compile time; the same as
        // `Reply::headers` gives (tested).
        Reply::NoContent => {
            headers.insert(CACHE_CONTROL, NO_STORE);
        }
        Reply::Frames { first_seq, .. } => {
            headers.insert(CACHE_CONTROL, NO_STORE);
            headers.insert(CONTENT_TYPE, FRAMES_TYPE);
            if let Some(value) = header_value(HeaderText::Number(*first_seq)) {
                headers.insert(SEQ, value);
            }
        }
        other => add_core_headers(&mut headers, other),
    }
    headers
}

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const FRAMES_TYPE: HeaderValue = HeaderValue::from_static(FRAMES_CONTENT_TYPE);
const SEQ: HeaderName = HeaderName::from_static(SEQ_HEADER);

/// Every header [`Reply::headers`] lists, converted one by one.
fn add_core_headers(headers: &mut HeaderMap, reply: &Reply) {
    for (name, value) in reply.headers() {
        if let Some(value) = header_value(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// A core header value: fixed text and numbers below
/// [`SMALL_DECIMALS`](longpoll_core::decimal::SMALL_DECIMALS) without an allocation, larger
/// numbers with one (`HeaderValue::from(u64)` makes two).
///
/// ```
/// use longpoll_core::reply::HeaderText;
///
/// assert_eq!(longpoll_http::header_value(HeaderText::Number(12_345)).unwrap(), "12345");
/// ```
pub fn header_value(value: HeaderText) -> Option<HeaderValue> {
    match (value.as_static(), value) {
        (Some(text), _) => HeaderValue::from_maybe_shared(Bytes::from_static(text.as_bytes())).ok(),
        (None, HeaderText::Number(number)) => {
            HeaderValue::from_str(itoa::Buffer::new().format(number)).ok()
        }
        (None, HeaderText::Static(_)) => None,
    }
}

/// Adds an origin policy's headers (CORS) to a response's.
pub fn add_headers(headers: &mut HeaderMap, extra: &[(&'static str, String)]) {
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
}

/// What the configuration's [`OriginPolicy`](longpoll_core::OriginPolicy) decides about a
/// request (a non-text `Origin` header counts as a malformed origin).
pub fn check_origin<B>(config: &Config, request: &Request<B>) -> OriginDecision {
    config
        .origins
        .check_headers(request.method().as_str(), |name| {
            request.headers().get(name).map(HeaderValue::as_bytes)
        })
}

/// The request's `Content-Type`, when it is text.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_any_size_are_written_in_decimal() {
        for number in [0, 7, 9_999, 10_000, 123_456_789, u64::MAX] {
            let value = header_value(HeaderText::Number(number)).unwrap();
            assert_eq!(value, number.to_string().as_str());
        }
        assert_eq!(
            header_value(HeaderText::Static("no-store")).unwrap(),
            "no-store"
        );
    }

    #[test]
    fn the_hot_replies_have_exactly_the_cores_headers() {
        let mut replies = vec![Reply::NoContent];
        for first_seq in [0, 1, 9_999, 10_000, u64::MAX] {
            replies.push(Reply::Frames {
                first_seq,
                body: Bytes::from_static(b"x"),
            });
        }
        for reply in replies {
            let mut from_core = HeaderMap::new();
            add_core_headers(&mut from_core, &reply);
            assert_eq!(reply_headers(&reply), from_core, "{reply:?}");
        }
    }

    #[test]
    fn extra_headers_are_added_and_unusable_ones_skipped() {
        let mut headers = HeaderMap::new();
        add_headers(
            &mut headers,
            &[
                ("access-control-allow-origin", "https://a.example".into()),
                ("vary", "bad\nvalue".into()),
            ],
        );
        assert_eq!(headers["access-control-allow-origin"], "https://a.example");
        assert!(!headers.contains_key("vary"));
    }
}
