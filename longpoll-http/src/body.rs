//! Request bodies, read under the session's size limit and within its read timeout.

use crate::BoxError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use longpoll_core::Reply;
use longpoll_core::reply::{BadRequest, TooLarge};
use std::future::Future;
use std::time::Duration;

/// Reads a request body, refusing it with `413` as soon as it passes `max` bytes (by its
/// `Content-Length` or size hint, or while streaming when there is none). A body that fails
/// while arriving is `400`. The headers are read at once: the future does not borrow them.
///
/// ```
/// use http_body_util::Full;
///
/// # futures_util::FutureExt::now_or_never(async {
/// let body = Full::new(bytes::Bytes::from_static(b"12345"));
/// let read = longpoll_http::read_body(body, &http::HeaderMap::new(), 4).await;
/// assert_eq!(read.unwrap_err().status(), 413);
/// # }).unwrap();
/// ```
pub fn read_body<B>(
    body: B,
    headers: &HeaderMap,
    max: usize,
) -> impl Future<Output = Result<Bytes, Reply>> + use<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    read_declared_body(body, declared_length(headers), max)
}

/// A `POST` body still to read, with what its head said of it and the session's limits.
#[derive(Debug)]
pub struct BodyRead<B> {
    body: B,
    declared: Option<u64>,
    max: usize,
    timeout: Option<Duration>,
}

impl<B> BodyRead<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    /// A body of at most `max` bytes, to arrive within `timeout` (`None`: no limit).
    pub fn new(body: B, headers: &HeaderMap, max: usize, timeout: Option<Duration>) -> Self {
        BodyRead {
            body,
            declared: declared_length(headers),
            max,
            timeout,
        }
    }

    /// The body, or the protocol's refusal: `413` past the limit, `400` for a body that
    /// fails, `408` past the timeout.
    pub async fn within_timeout(self) -> Result<Bytes, Reply> {
        let mut read = std::pin::pin!(read_declared_body(self.body, self.declared, self.max));
        // A small body has usually arrived with the head: no timer for it.
        if let Some(result) = read.as_mut().now_or_never() {
            return result;
        }
        match self.timeout {
            Some(timeout) => tokio::time::timeout(timeout, read)
                .await
                .unwrap_or(Err(Reply::RequestTimeout)),
            None => read.await,
        }
    }
}

impl<B> BodyRead<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    /// A send's reply: `exchange` runs with the body once it has arrived; the body's own
    /// refusal (as [`within_timeout`](Self::within_timeout)) when it does not.
    pub async fn then_reply<F>(self, exchange: impl FnOnce(Bytes) -> F) -> Reply
    where
        F: Future<Output = Reply>,
    {
        match self.within_timeout().await {
            Ok(body) => exchange(body).await,
            Err(reply) => reply,
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

async fn read_declared_body<B>(body: B, declared: Option<u64>, max: usize) -> Result<Bytes, Reply>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let too_large = || Reply::PayloadTooLarge(TooLarge::Body { max });
    if declared.is_some_and(|len| len > max as u64) || body.size_hint().lower() > max as u64 {
        return Err(too_large());
    }
    match collect(Limited::new(body, max)).await {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(Reply::BadRequest(BadRequest::UnreadableBody)),
    }
}

/// A body's bytes. The first chunk is kept as it is, and a body that is one `Bytes` chunk
/// (hyper's and axum's bodies carry `Bytes`; a small body usually is one chunk) costs no copy
/// and no allocation (http-body-util's `collect` queues every chunk in a new `VecDeque`);
/// later chunks are copied after it. Trailers are ignored.
async fn collect<B: Body>(body: B) -> Result<Bytes, B::Error> {
    let mut body = std::pin::pin!(body);
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
            continue;
        };
        match &mut joined {
            Some(joined) => joined.put(data),
            None if first.is_empty() => first = data.copy_to_bytes(data.remaining()),
            None => {
                let mut both = BytesMut::with_capacity(first.len() + data.remaining());
                both.put(std::mem::take(&mut first));
                both.put(data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;
    use http_body_util::combinators::BoxBody;
    use std::convert::Infallible;

    type Frame = http_body::Frame<Bytes>;

    fn pieces(pieces: &[&'static [u8]]) -> BoxBody<Bytes, Infallible> {
        let frames: Vec<Result<Frame, Infallible>> = pieces
            .iter()
            .map(|piece| Ok(Frame::data(Bytes::from_static(piece))))
            .chain([Ok(Frame::trailers(HeaderMap::new()))])
            .collect();
        BoxBody::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    #[tokio::test]
    async fn pieces_are_joined_in_order_and_trailers_ignored() {
        let read = |body| read_body(body, &HeaderMap::new(), 100);
        assert_eq!(read(pieces(&[])).await.unwrap(), "");
        assert_eq!(read(pieces(&[b"", b"one"])).await.unwrap(), "one");
        assert_eq!(
            read(pieces(&[b"ab", b"", b"cd", b"e"])).await.unwrap(),
            "abcde"
        );
    }

    #[tokio::test]
    async fn one_piece_is_handed_over_without_a_copy() {
        let piece: &'static [u8] = b"whole";
        let read = read_body(pieces(&[piece]), &HeaderMap::new(), 100)
            .await
            .unwrap();
        assert_eq!(read.as_ptr(), piece.as_ptr());
    }

    #[tokio::test]
    async fn limits_refuse_with_the_protocol_status() {
        let read = |body, max| read_body(body, &HeaderMap::new(), max);
        assert_eq!(
            read(pieces(&[b"1234", b"5"]), 4)
                .await
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(read(pieces(&[b"1234"]), 4).await.unwrap(), "1234");
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "5".parse().unwrap());
        let refused = read_body(pieces(&[]), &declared, 4).await.unwrap_err();
        assert_eq!(refused.status(), 413);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_408() {
        let never = StreamBody::new(futures_util::stream::pending::<Result<Frame, Infallible>>());
        let read = BodyRead::new(never, &HeaderMap::new(), 10, Some(Duration::from_secs(1)));
        assert_eq!(read.within_timeout().await.unwrap_err().status(), 408);
    }
}
