//! `Client`: configuration, the connection pool, and `connect`.

use crate::driver::Driver;
use crate::error::ConnectError;
use crate::fetch::{self, FetchError, HttpClient};
use crate::url::BaseUrl;
use http::Method;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use longpoll_core::{ClientConfig, ClientSession, SessionParams};
use longpoll_tokio::Session;
use longpoll_tokio::session::{self, Side};
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use tracing::{Instrument, debug, debug_span};

/// How long [`Client::connect`] waits for the open response (10 s) unless changed with
/// [`Client::with_open_timeout`].
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest poll response body the client reads (64 MiB) unless changed with
/// [`Client::with_max_response_bytes`]. A longer body counts as a failed request (it is
/// retried like a reset connection). The effective limit is never below one frame of the
/// server's announced `maxMessageBytes`, so every message the server may send fits.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Largest open response body (the JSON of `POST {base}`) the client reads: 64 KiB.
pub const DEFAULT_MAX_OPEN_RESPONSE_BYTES: usize = 64 * 1024;

/// How long the `DELETE` that ends a session may take before the client gives up on it
/// (5 s). Its answer does not matter to the client: the session is over either way.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens longpoll sessions over plain HTTP/1.1 (no TLS yet).
///
/// A `Client` holds a connection pool and the client-side settings
/// ([`ClientConfig`]: retry backoff, request grace, buffer limits). It is cheap to clone and
/// clones share the pool; keep one and open every session with it.
///
/// ```no_run
/// use std::time::Duration;
/// use longpoll_client::{Client, ClientConfig, Message};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = ClientConfig::default();
/// config.backoff_max = Duration::from_secs(2);
/// let client = Client::with_config(config).with_open_timeout(Duration::from_secs(5));
///
/// let mut session = client.connect("http://127.0.0.1:3000/longpoll").await?;
/// session.send(Message::from("hello")).await?;
/// if let Some(Ok(reply)) = session.recv().await {
///     println!("{reply:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: HttpClient,
    config: ClientConfig,
    open_timeout: Duration,
    max_response_bytes: usize,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default [`ClientConfig`].
    ///
    /// ```
    /// let client = longpoll_client::Client::new();
    /// assert_eq!(client.config(), &longpoll_client::ClientConfig::default());
    /// ```
    pub fn new() -> Self {
        Client::with_config(ClientConfig::default())
    }

    /// A client with these settings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use longpoll_client::{Client, ClientConfig};
    ///
    /// let mut config = ClientConfig::default();
    /// config.request_grace = Duration::from_secs(3);
    /// let client = Client::with_config(config);
    /// assert_eq!(client.config().request_grace, Duration::from_secs(3));
    /// ```
    pub fn with_config(config: ClientConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        Client {
            http,
            config,
            open_timeout: DEFAULT_OPEN_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// This client, waiting at most `timeout` for the open response
    /// (default [`DEFAULT_OPEN_TIMEOUT`]).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = longpoll_client::Client::new().with_open_timeout(Duration::from_secs(3));
    /// assert_eq!(client.open_timeout(), Duration::from_secs(3));
    /// ```
    pub fn with_open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// This client, reading poll response bodies of at most `max` bytes
    /// (default [`DEFAULT_MAX_RESPONSE_BYTES`]; never less than one frame of the server's
    /// `maxMessageBytes`).
    ///
    /// ```
    /// let client = longpoll_client::Client::new().with_max_response_bytes(8 << 20);
    /// assert_eq!(client.max_response_bytes(), 8 << 20);
    /// ```
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The client-side protocol settings.
    ///
    /// ```
    /// let client = longpoll_client::Client::new();
    /// assert_eq!(client.config().backoff_initial, longpoll_core::client::DEFAULT_BACKOFF_INITIAL);
    /// ```
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// How long [`connect`](Client::connect) waits for the open response.
    ///
    /// ```
    /// assert_eq!(
    ///     longpoll_client::Client::new().open_timeout(),
    ///     longpoll_client::DEFAULT_OPEN_TIMEOUT,
    /// );
    /// ```
    pub fn open_timeout(&self) -> Duration {
        self.open_timeout
    }

    /// The largest poll response body this client reads.
    ///
    /// ```
    /// assert_eq!(
    ///     longpoll_client::Client::new().max_response_bytes(),
    ///     longpoll_client::DEFAULT_MAX_RESPONSE_BYTES,
    /// );
    /// ```
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// Opens a session on the server mounted at `base_url` (`http://host[:port][/path]`,
    /// no query; `{base}` and `{base}/` are the same) and starts driving it.
    ///
    /// Sends `POST {base}` with an empty body, accepts any `2xx` answer whose body is a
    /// protocol v1 open response (or, for the project's original servers, a bare JSON
    /// string holding the id), and returns the application's [`Session`]. From then on a
    /// driver task polls `GET {base}/{id}?ack=N`, sends `POST {base}/{id}?seq=N`, retries
    /// failures with backoff and ends with `DELETE {base}/{id}` when the server closed or
    /// the session failed. The open request itself is not retried.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// ```no_run
    /// use longpoll_client::{Client, ConnectError};
    ///
    /// # async fn demo() {
    /// match Client::new().connect("http://127.0.0.1:3000/longpoll").await {
    ///     Ok(session) => println!("opened session {}", session.id()),
    ///     Err(ConnectError::Status { status: 503, retry_after, .. }) => {
    ///         println!("server busy; retry after {retry_after:?}")
    ///     }
    ///     Err(error) => println!("could not open: {error}"),
    /// }
    /// # }
    /// ```
    pub async fn connect(&self, base_url: &str) -> Result<Session, ConnectError> {
        let base = BaseUrl::parse(base_url)?;
        let open_url = base.open_url();
        let request = fetch::build(Method::POST, &open_url, None).map_err(fetch_error)?;
        let answer = tokio::time::timeout(
            self.open_timeout,
            fetch::fetch(&self.http, request, DEFAULT_MAX_OPEN_RESPONSE_BYTES),
        )
        .await
        .map_err(|_| ConnectError::TimedOut(self.open_timeout))?
        .map_err(fetch_error)?;
        if !answer.status.is_success() {
            debug!(url = %open_url, status = answer.status.as_u16(), "longpoll open refused");
            return Err(ConnectError::Status {
                status: answer.status.as_u16(),
                retry_after: fetch::retry_after(&answer.headers),
            });
        }
        let json = std::str::from_utf8(&answer.body).map_err(|_| {
            ConnectError::InvalidResponse(longpoll_core::params::ParamsError::Syntax)
        })?;
        let params = SessionParams::from_json(json).map_err(ConnectError::InvalidResponse)?;
        Ok(self.start(&base, params))
    }

    /// Spawns the driver for an opened session and returns the application's end.
    fn start(&self, base: &BaseUrl, params: SessionParams) -> Session {
        let now = tokio::time::Instant::now().into_std();
        let id = params.id.clone();
        let (session, endpoint) =
            session::channel(id.as_str(), Side::Client, params.max_message_bytes);
        let max_response_bytes = self.max_response_bytes.max(
            params
                .max_message_bytes
                .saturating_add(longpoll_core::wire::FRAME_HEADER_LEN),
        );
        debug!(
            session = %id,
            url = %base.session_url(&id),
            poll_timeout = ?params.poll_timeout,
            idle_timeout = ?params.idle_timeout,
            "longpoll session opened"
        );
        let core = ClientSession::new(now, params, self.config.clone(), jitter_seed(&id));
        let driver = Driver::new(
            core,
            endpoint,
            self.http.clone(),
            base.session_url(&id),
            max_response_bytes,
        );
        let span = debug_span!("longpoll_client", session = %id);
        tokio::spawn(driver.run().instrument(span));
        session
    }
}

fn fetch_error(error: FetchError) -> ConnectError {
    match error {
        FetchError::TooLarge { max } => ConnectError::ResponseTooLarge { max },
        other => ConnectError::Http(Box::new(other)),
    }
}

/// An independent seed per session for the retry jitter, so clients cut off together do not
/// retry in lockstep. From the OS random source; failing that, from std's per-process random
/// hashing keys.
fn jitter_seed(id: &str) -> u64 {
    getrandom::u64().unwrap_or_else(|_| RandomState::new().hash_one(id))
}
