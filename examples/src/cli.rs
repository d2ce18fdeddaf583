//! Flags shared by the echo servers: `--listen`, `--poll-timeout-ms`, `--idle-timeout-ms`,
//! `--max-body-bytes`, with the core's defaults.

use clap::Parser;
use longpoll_core::Config;
use longpoll_core::config::ConfigError;
use std::net::SocketAddr;
use std::time::Duration;

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
}

impl EchoArgs {
    /// The session configuration these flags ask for. Limits that depend on the body limit
    /// follow it: a smaller body limit lowers the message limit to fit, a larger one raises
    /// the inbound buffer to hold one body.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(ms) = self.poll_timeout_ms {
            config.poll_timeout = Duration::from_millis(ms);
            // Keep the POST hold below the poll hold, as validation requires.
            config.inbound_hold_timeout = config.inbound_hold_timeout.min(config.poll_timeout / 2);
        }
        if let Some(ms) = self.idle_timeout_ms {
            config.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_body_bytes {
            config.max_body_bytes = bytes;
            config.max_message_bytes = config.max_message_bytes.min(bytes.saturating_sub(5));
            config.inbound_max_bytes = config.inbound_max_bytes.max(bytes);
        }
        config.validate()?;
        Ok(config)
    }
}
