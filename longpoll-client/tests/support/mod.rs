//! Test scaffolding: a minimal hyper 1.x server in front of `longpoll_tokio::Mount`, a server
//! of canned answers, and a TCP proxy that cuts responses. Everything listens on 127.0.0.1
//! ephemeral ports only. (The real framework adapters live in other crates.)

#![allow(dead_code)]

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use longpoll_core::reply::TooLarge;
use longpoll_core::wire::FrameError;
use longpoll_core::{Reply, Route, route};
use longpoll_tokio::{LongPoll, Message, Mount, Registry, Session};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Every test's time bound.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The mount path the test servers use.
pub(crate) const BASE: &str = "/longpoll";

/// Runs `test`, failing if it takes longer than [`TEST_TIMEOUT`].
pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    // `RUST_LOG=longpoll_client=debug` shows what the client does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test took too long")
}

/// The requests a server saw, as `METHOD path?query`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn push<B>(&self, request: &Request<B>) {
        let uri = request.uri();
        let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
        let line = format!("{} {}", request.method(), target);
        self.0.lock().unwrap().push(line);
    }

    /// Everything logged so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// How many logged requests start with `prefix` (for example `"DELETE "`).
    pub(crate) fn count(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

/// A longpoll server on 127.0.0.1, mounted at [`BASE`].
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) mount: Mount,
    pub(crate) log: RequestLog,
    task: JoinHandle<()>,
}

impl TestServer {
    /// `http://127.0.0.1:PORT/longpoll`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}{BASE}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server with the default configuration that runs `handler` for every session.
pub(crate) async fn start<H, F>(handler: H) -> TestServer
where
    H: Fn(Session) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    start_with(Registry::new(LongPoll::default(), None), handler).await
}

/// Starts a server on `registry`.
pub(crate) async fn start_with<H, F>(registry: Registry, handler: H) -> TestServer
where
    H: Fn(Session) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let mount = Mount::new(registry, handler);
    let log = RequestLog::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (task_mount, task_log) = (mount.clone(), log.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (mount, log) = (task_mount.clone(), task_log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (mount, log) = (mount.clone(), log.clone());
                    async move {
                        log.push(&request);
                        let reply = answer(&mount, request).await;
                        Ok::<_, Infallible>(to_response(&reply))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer {
        addr,
        mount,
        log,
        task,
    }
}

/// What an adapter does: route, read a `POST` body under the limit, dispatch. A body that
/// cannot be read (the client went away mid-body) is answered as a truncated body; nobody
/// reads that answer.
async fn answer(mount: &Mount, request: Request<Incoming>) -> Reply {
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix(BASE) else {
        return Reply::NotFound;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Reply::NotFound;
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let route = match route(
        request.method().as_str(),
        rest,
        request.uri().query(),
        content_type,
    ) {
        Ok(route) => route,
        Err(reply) => return reply,
    };
    let body = if matches!(route, Route::Send { .. }) {
        let max = mount.config().max_body_bytes;
        match Limited::new(request.into_body(), max).collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                return Reply::PayloadTooLarge(TooLarge::Body { max });
            }
            Err(_) => return Reply::from(FrameError::Truncated { offset: 0 }),
        }
    } else {
        Bytes::new()
    };
    mount.dispatch(route, body).await
}

fn to_response(reply: &Reply) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(reply.status());
    for (name, value) in reply.headers() {
        response = response.header(name, value.to_string());
    }
    response
        .body(Full::new(reply.body()))
        .expect("a reply is a valid response")
}

/// A server of canned answers: `answer` makes the response to every request.
pub(crate) struct CannedServer {
    pub(crate) addr: SocketAddr,
    pub(crate) log: RequestLog,
    task: JoinHandle<()>,
}

impl CannedServer {
    /// `http://127.0.0.1:PORT/longpoll`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}{BASE}", self.addr)
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a canned server.
pub(crate) async fn canned<A, F>(answer: A) -> CannedServer
where
    A: Fn(http::Method, String) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let answer = Arc::new(answer);
    let log = RequestLog::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task_log = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (answer, log) = (answer.clone(), task_log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (answer, log) = (answer.clone(), log.clone());
                    async move {
                        log.push(&request);
                        let target = request
                            .uri()
                            .path_and_query()
                            .map_or(String::new(), |pq| pq.to_string());
                        Ok::<_, Infallible>(answer(request.method().clone(), target).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    CannedServer { addr, log, task }
}

/// A response with this status, headers and body.
pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap()
}

/// The echo handler: sends back every message until the client closes.
pub(crate) async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(Ok(message)) = rx.next().await {
        if matches!(message, Message::Close(_)) {
            break;
        }
        if tx.send(message).await.is_err() {
            break;
        }
    }
}

#[allow(unused_imports)] // each test file uses part of the support module
pub(crate) use longpoll_testkit::{Faults, proxy};
