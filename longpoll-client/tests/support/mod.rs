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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
        response = response.header(name, value);
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

// ----- the faulty proxy -------------------------------------------------------------------

/// splitmix64: a tiny seeded generator, so a failing schedule can be replayed.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Which faults a [`Proxy`] injects, at most how often.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Faults {
    /// Poll responses with frames (`200` + `Longpoll-Seq`) to cut mid-body, at most. The
    /// first one seen is always cut; later ones with probability `percent`.
    pub(crate) cut_polls: usize,
    /// Answers to sends (`POST ...?seq=`) to swallow (the server got the request, the client
    /// never sees its answer; the connection closes), at most, with probability `percent`.
    pub(crate) drop_send_answers: usize,
    /// Probability of each fault, in percent.
    pub(crate) percent: u64,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub(crate) struct FaultCounts {
    pub(crate) poll_responses_seen: AtomicUsize,
    pub(crate) polls_cut: AtomicUsize,
    /// Of those, cut after the whole head and part of the body (the rest were cut in the head).
    pub(crate) polls_cut_mid_body: AtomicUsize,
    pub(crate) sends_seen: AtomicUsize,
    pub(crate) send_answers_dropped: AtomicUsize,
}

struct ProxyState {
    faults: Faults,
    rng: Mutex<Rng>,
    counts: Arc<FaultCounts>,
}

impl ProxyState {
    /// Whether to inject the `n`th (0-based) fault of a kind that has had `done` injected.
    fn roll(&self, first: bool, done: usize, max: usize) -> bool {
        if done >= max {
            return false;
        }
        first || self.rng.lock().unwrap().below(100) < self.faults.percent
    }

    /// For a chunk from the server: where to cut it (bytes to forward before closing), if
    /// it starts a poll response with frames that should be cut.
    fn cut_point(&self, chunk: &[u8]) -> Option<usize> {
        if !chunk.starts_with(b"HTTP/1.1 200") {
            return None;
        }
        let head_end = find(chunk, b"\r\n\r\n").map(|i| i + 4);
        let head = &chunk[..head_end.unwrap_or(chunk.len())];
        let head_text = String::from_utf8_lossy(head).to_ascii_lowercase();
        if !head_text.contains("longpoll-seq:") {
            return None;
        }
        let seen = self
            .counts
            .poll_responses_seen
            .fetch_add(1, Ordering::SeqCst);
        let cut = self.counts.polls_cut.load(Ordering::SeqCst);
        if !self.roll(seen == 0, cut, self.faults.cut_polls) {
            return None;
        }
        self.counts.polls_cut.fetch_add(1, Ordering::SeqCst);
        let Some(head_end) = head_end else {
            // Only part of the head arrived in this chunk: forward half of it.
            return Some(chunk.len() / 2);
        };
        let content_length = head_text
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_here = chunk.len() - head_end;
        // Forward the head and fewer body bytes than the response has.
        let most = body_here.min(content_length.saturating_sub(1));
        let extra = self.rng.lock().unwrap().below(most as u64 + 1) as usize;
        self.counts
            .polls_cut_mid_body
            .fetch_add(1, Ordering::SeqCst);
        Some(head_end + extra)
    }

    /// For a chunk from the client: whether it starts a send whose answer is to be dropped.
    fn drop_answer_to(&self, chunk: &[u8]) -> bool {
        let is_send =
            chunk.starts_with(b"POST ") && find(&chunk[..chunk.len().min(512)], b"?seq=").is_some();
        if !is_send {
            return false;
        }
        let seen = self.counts.sends_seen.fetch_add(1, Ordering::SeqCst);
        let done = self.counts.send_answers_dropped.load(Ordering::SeqCst);
        if !self.roll(seen == 0, done, self.faults.drop_send_answers) {
            return false;
        }
        self.counts
            .send_answers_dropped
            .fetch_add(1, Ordering::SeqCst);
        true
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` that injects [`Faults`].
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    pub(crate) counts: Arc<FaultCounts>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// `http://127.0.0.1:PORT/longpoll`, through the proxy.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}{BASE}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy to `upstream` with a seeded fault schedule.
pub(crate) async fn proxy(upstream: SocketAddr, seed: u64, faults: Faults) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(FaultCounts::default());
    let state = Arc::new(ProxyState {
        faults,
        rng: Mutex::new(Rng(seed)),
        counts: counts.clone(),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(relay(client, upstream, state.clone()));
        }
    });
    Proxy { addr, counts, task }
}

/// Copies bytes both ways until either side closes or a fault cuts the connection; then
/// both connections are dropped (closed).
async fn relay(mut client: TcpStream, upstream: SocketAddr, state: Arc<ProxyState>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let drop_next_answer = AtomicBool::new(false);
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if state.drop_answer_to(&buf[..n]) {
                drop_next_answer.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if drop_next_answer.swap(false, Ordering::SeqCst) {
                return; // the answer to a send vanishes with its connection
            }
            if let Some(cut) = state.cut_point(&buf[..n]) {
                let _ = client_write.write_all(&buf[..cut]).await;
                let _ = client_write.flush().await;
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
