//! A tower service (an axum `Router`, or one wrapped in layers) as a hyper service, called
//! as soon as hyper hands over a request.

use futures_util::future::Either;
use hyper::Request;
use std::task::{Context, Poll, Waker};
use tower::util::Oneshot;
use tower_service::Service;

/// Serves a tower service through hyper, calling it in hyper's `call` when it is ready (an
/// axum `Router` always is), instead of on the first poll of the response future.
///
/// hyper-util's `TowerToHyperService` (which `axum::serve` uses too) keeps the request until
/// that first poll. Meanwhile hyper reads ahead on the connection to notice a close, finds its
/// read buffer still shared with the request's head, and allocates a new one: 8 KiB per
/// request. Called at once, a handler that drops the head before it waits (as longpoll's do)
/// leaves the buffer to be reused. Measured with `longpoll-bench`'s axum echo server under
/// callgrind: two allocations fewer per echoed message (one per exchange).
///
/// ```
/// use longpoll_examples::tower_to_hyper::CallAtOnce;
///
/// let app: axum::Router = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
/// // Hand `service` to hyper's `serve_connection`, or to `hyper_server::serve_service`.
/// let service = CallAtOnce(app);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct CallAtOnce<S>(pub S);

impl<S, B> hyper::service::Service<Request<B>> for CallAtOnce<S>
where
    S: Service<Request<B>> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, Oneshot<S, Request<B>>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let mut service = self.0.clone();
        // A service that is not ready now is asked again with the connection's waker.
        match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(service.call(request)),
            _ => Either::Right(Oneshot::new(service, request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its calls; ready only after `not_ready_polls` polls of `poll_ready`.
    #[derive(Clone)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        not_ready_polls: Arc<AtomicUsize>,
    }

    impl Service<Request<()>> for Counting {
        type Response = &'static str;
        type Error = Infallible;
        type Future = std::future::Ready<Result<&'static str, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            let left = self.not_ready_polls.load(Ordering::SeqCst);
            if left == 0 {
                return Poll::Ready(Ok(()));
            }
            self.not_ready_polls.store(left - 1, Ordering::SeqCst);
            cx.waker().wake_by_ref();
            Poll::Pending
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok("answered"))
        }
    }

    fn counting(not_ready_polls: usize) -> (CallAtOnce<Counting>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = Counting {
            calls: calls.clone(),
            not_ready_polls: Arc::new(AtomicUsize::new(not_ready_polls)),
        };
        (CallAtOnce(service), calls)
    }

    #[tokio::test]
    async fn a_ready_service_is_called_before_its_future_is_polled() {
        let (service, calls) = counting(0);
        let answer = hyper::service::Service::call(&service, Request::new(()));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "called in `call`");
        assert_eq!(answer.await, Ok("answered"));
    }

    #[tokio::test]
    async fn a_service_not_ready_yet_is_called_once_it_is() {
        let (service, calls) = counting(2);
        let answer = hyper::service::Service::call(&service, Request::new(()));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "not ready: not called yet");
        assert_eq!(answer.await, Ok("answered"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
