//! Flags shared by the echo servers: `--listen`, `--poll-timeout-ms`, `--idle-timeout-ms`,
//! `--max-body-bytes`, `--max-sessions`, `--header-timeout-ms`, `--body-timeout-ms` and
//! `--allow-origin`, with the core's defaults.

use clap::Parser;
use longpoll_core::config::ConfigError;
use longpoll_core::{Config, OriginPolicy};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a client may take to send a request head (10 s unless `--header-timeout-ms`
/// says otherwise). Past it the connection is closed; it is the slowloris defence.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Command-line flags of an echo server.
#[derive(Debug, Clone, Parser)]
#[command(about = "A longpoll echo server: protocol v1 at /longpoll")]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// How long a poll is held before 204 (default: the core's, 25000).
    #[arg(long)]
    pub poll_timeout_ms: Option<u64>,
    /// How long a session lives without requests (default: the core's, 35000).
    #[arg(long)]
    pub idle_timeout_ms: Option<u64>,
    /// Largest POST body (default: the core's, 1048576).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Most sessions open at once; opening more is answered 503 with Retry-After (default:
    /// no cap).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// How long a client may take to send a request head before its connection is closed
    /// (default 10000).
    #[arg(long)]
    pub header_timeout_ms: Option<u64>,
    /// How long a POST body may take to arrive before 408 (default: the core's, 30000).
    #[arg(long)]
    pub body_timeout_ms: Option<u64>,
    /// A web origin allowed to use the server from a browser (`https://app.example`;
    /// repeatable; `*` for any). Without it, origins are not checked and no CORS headers are
    /// sent; with it, other origins get 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
}

impl Default for EchoArgs {
    fn default() -> Self {
        EchoArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            poll_timeout_ms: None,
            idle_timeout_ms: None,
            max_body_bytes: None,
            max_sessions: None,
            header_timeout_ms: None,
            body_timeout_ms: None,
            allow_origins: Vec::new(),
        }
    }
}

impl EchoArgs {
    /// The session configuration these flags ask for. Limits that depend on the body limit
    /// follow it: a smaller body limit lowers the message limit to fit, a larger one raises
    /// the inbound buffer to hold one body.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(ms) = self.poll_timeout_ms {
            config.poll_timeout = Duration::from_millis(ms);
            // Keep the POST hold, and the wait for a reply after it, below the poll hold, as
            // validation requires.
            config.inbound_hold_timeout = config.inbound_hold_timeout.min(config.poll_timeout / 2);
            config.reply_wait = config.reply_wait.min(config.poll_timeout / 4);
        }
        if let Some(ms) = self.idle_timeout_ms {
            config.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_body_bytes {
            config.max_body_bytes = bytes;
            config.max_message_bytes = config.max_message_bytes.min(bytes.saturating_sub(5));
            config.inbound_max_bytes = config.inbound_max_bytes.max(bytes);
        }
        if let Some(ms) = self.body_timeout_ms {
            config.body_read_timeout = Duration::from_millis(ms);
        }
        config.origins = self.origin_policy()?;
        config.validate()?;
        Ok(config)
    }

    /// The origin policy `--allow-origin` asks for (unchecked without the flag).
    pub fn origin_policy(&self) -> Result<OriginPolicy, ConfigError> {
        if self.allow_origins.is_empty() {
            return Ok(OriginPolicy::unchecked());
        }
        Ok(OriginPolicy::allow(&self.allow_origins)?)
    }

    /// The header read timeout: `--header-timeout-ms`, or [`DEFAULT_HEADER_TIMEOUT`].
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout_ms
            .map_or(DEFAULT_HEADER_TIMEOUT, Duration::from_millis)
    }
}
