//! Server session configuration and its documented defaults.

use crate::origin::OriginPolicy;
use std::fmt;
use std::time::Duration;

/// How long a poll is held open waiting for messages before it is answered `204` (25 s).
///
/// Below the idle timeouts of common proxies and platforms (nginx and AWS ALB: 60 s, Heroku: 30 s).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);

/// How long a session may go without any request before it is closed (35 s).
///
/// The clock runs only while no request is held, from the last time a request arrived, was
/// answered or was aborted while held. A held poll ends within `poll_timeout`, so an abandoned session is
/// freed within `poll_timeout + idle_timeout` = 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(35);

/// How long a closed session answers `410 Gone` before it is forgotten and answers `404` (30 s).
pub const DEFAULT_GONE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest message payload, in bytes, in either direction (512 KiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// Largest request body, in bytes, a `POST` may carry (1 MiB). Adapters enforce it while reading.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Most frames one `POST` body may carry (1,024).
pub const DEFAULT_MAX_FRAMES_PER_REQUEST: usize = 1024;

/// Largest poll response body the server assembles, in bytes (1 MiB). A response always
/// carries at least one frame, so a single message up to the message limit always fits.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Most frames one poll response carries (1,024).
pub const DEFAULT_MAX_FRAMES_PER_RESPONSE: usize = 1024;

/// Outbound buffer (unacknowledged + queued server messages) limit in payload bytes (2 MiB).
pub const DEFAULT_OUTBOUND_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Outbound buffer limit in messages (4,096).
pub const DEFAULT_OUTBOUND_MAX_MESSAGES: usize = 4096;

/// Inbound buffer (received, not yet taken by the application) limit in payload bytes (2 MiB).
pub const DEFAULT_INBOUND_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Inbound buffer limit in messages (4,096).
pub const DEFAULT_INBOUND_MAX_MESSAGES: usize = 4096;

/// How long a `POST` is held while the inbound buffer is full before it is answered `503` (5 s).
pub const DEFAULT_INBOUND_HOLD_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Retry-After` a `503` carries (1 s).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long an accepted send that carried `ack` may wait for the application's reply before
/// it is answered without it (10 ms; `PROTOCOL.md` section 5.3). With `inbound_hold_timeout`
/// it must stay under `poll_timeout`.
///
/// The reply normally comes well within it: the send is answered as soon as the application
/// has taken its messages and asks for the next one. The wait only bounds how long a slow or
/// busy application delays the client's next send. Zero answers every send at the next
/// drain, with whatever the application queued by then.
pub const DEFAULT_REPLY_WAIT: Duration = Duration::from_millis(10);

/// How long a `POST` body may take to arrive, from the end of the request head, before the
/// request is answered `408` (30 s). Adapters enforce it while reading; it bounds how long a
/// client that trickles its body ties up a connection.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Configuration of a server session.
///
/// Start from [`Config::default`] and change fields; [`Config::validate`] checks that the
/// limits fit together (drivers call it when they are built).
///
/// ```
/// use std::time::Duration;
/// use longpoll_core::Config;
///
/// let mut config = Config::default();
/// config.poll_timeout = Duration::from_secs(10);
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long a poll waits for messages before `204`. Default [`DEFAULT_POLL_TIMEOUT`].
    pub poll_timeout: Duration,
    /// Inactivity after which the session closes. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// How long a closed session answers `410`. Default [`DEFAULT_GONE_TIMEOUT`].
    pub gone_timeout: Duration,
    /// Largest message payload. Default [`DEFAULT_MAX_MESSAGE_BYTES`].
    pub max_message_bytes: usize,
    /// Largest `POST` body. Default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// Most frames in one `POST`. Default [`DEFAULT_MAX_FRAMES_PER_REQUEST`].
    pub max_frames_per_request: usize,
    /// Largest poll response body. Default [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
    /// Most frames in one poll response. Default [`DEFAULT_MAX_FRAMES_PER_RESPONSE`].
    pub max_frames_per_response: usize,
    /// Outbound buffer limit in payload bytes. Default [`DEFAULT_OUTBOUND_MAX_BYTES`].
    pub outbound_max_bytes: usize,
    /// Outbound buffer limit in messages. Default [`DEFAULT_OUTBOUND_MAX_MESSAGES`].
    pub outbound_max_messages: usize,
    /// Inbound buffer limit in payload bytes. Default [`DEFAULT_INBOUND_MAX_BYTES`].
    pub inbound_max_bytes: usize,
    /// Inbound buffer limit in messages. Default [`DEFAULT_INBOUND_MAX_MESSAGES`].
    pub inbound_max_messages: usize,
    /// How long a `POST` waits for inbound room before `503`. Default [`DEFAULT_INBOUND_HOLD_TIMEOUT`].
    pub inbound_hold_timeout: Duration,
    /// `Retry-After` sent with `503`. Default [`DEFAULT_RETRY_AFTER`].
    pub retry_after: Duration,
    /// How long an accepted send that carried `ack` waits for the application's reply.
    /// Default [`DEFAULT_REPLY_WAIT`].
    pub reply_wait: Duration,
    /// How long a `POST` body may take to arrive before `408`. Default
    /// [`DEFAULT_BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// Which web origins may make requests, and the CORS headers they get. Default
    /// [`OriginPolicy::unchecked`]: no checks, no CORS headers. Adapters apply it to every
    /// request before routing.
    pub origins: OriginPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            gone_timeout: DEFAULT_GONE_TIMEOUT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_frames_per_request: DEFAULT_MAX_FRAMES_PER_REQUEST,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_frames_per_response: DEFAULT_MAX_FRAMES_PER_RESPONSE,
            outbound_max_bytes: DEFAULT_OUTBOUND_MAX_BYTES,
            outbound_max_messages: DEFAULT_OUTBOUND_MAX_MESSAGES,
            inbound_max_bytes: DEFAULT_INBOUND_MAX_BYTES,
            inbound_max_messages: DEFAULT_INBOUND_MAX_MESSAGES,
            inbound_hold_timeout: DEFAULT_INBOUND_HOLD_TIMEOUT,
            retry_after: DEFAULT_RETRY_AFTER,
            reply_wait: DEFAULT_REPLY_WAIT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            origins: OriginPolicy::unchecked(),
        }
    }
}

impl Config {
    /// Checks that the limits fit together, so that no session can wedge:
    ///
    /// - every duration but `reply_wait` is non-zero; `idle_timeout` is longer than
    ///   `poll_timeout` (a client re-polls within its own request deadline, which exceeds the
    ///   poll hold), and `inbound_hold_timeout + reply_wait` is shorter than `poll_timeout`
    ///   (clients give every request the poll hold plus a grace period, so a held `POST`,
    ///   which may wait for the application's reply once accepted, is answered before they
    ///   give up);
    /// - a message fits a frame (`max_message_bytes <= u32::MAX`) and any frame, a close
    ///   frame included, fits a body: `max(max_message_bytes, 125) + 5 <= max_body_bytes`
    ///   and `<= max_response_bytes`;
    /// - an empty inbound buffer can take any valid `POST` (`inbound_max_bytes >=
    ///   max_body_bytes`, `inbound_max_messages >= max_frames_per_request`);
    /// - an empty outbound buffer can take any valid message (`outbound_max_bytes >=
    ///   max_message_bytes`); every count limit is at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let durations = [
            ("poll_timeout", self.poll_timeout),
            ("idle_timeout", self.idle_timeout),
            ("gone_timeout", self.gone_timeout),
            ("inbound_hold_timeout", self.inbound_hold_timeout),
            ("body_read_timeout", self.body_read_timeout),
        ];
        for (name, value) in durations {
            if value.is_zero() {
                return Err(ConfigError::new(format!("{name} must be non-zero")));
            }
        }
        if self.idle_timeout <= self.poll_timeout {
            return Err(ConfigError::new(format!(
                "idle_timeout ({:?}) must be longer than poll_timeout ({:?})",
                self.idle_timeout, self.poll_timeout
            )));
        }
        if self.inbound_hold_timeout.saturating_add(self.reply_wait) >= self.poll_timeout {
            return Err(ConfigError::new(format!(
                "inbound_hold_timeout ({:?}) plus reply_wait ({:?}) must be shorter than \
                 poll_timeout ({:?})",
                self.inbound_hold_timeout, self.reply_wait, self.poll_timeout
            )));
        }
        let counts = [
            ("max_frames_per_request", self.max_frames_per_request),
            ("max_frames_per_response", self.max_frames_per_response),
            ("outbound_max_messages", self.outbound_max_messages),
            ("inbound_max_messages", self.inbound_max_messages),
        ];
        for (name, value) in counts {
            if value == 0 {
                return Err(ConfigError::new(format!("{name} must be at least 1")));
            }
        }
        if u32::try_from(self.max_message_bytes).is_err() {
            return Err(ConfigError::new(
                "max_message_bytes must fit a frame length (u32)".to_string(),
            ));
        }
        let frame = self
            .max_message_bytes
            .max(crate::wire::MAX_CLOSE_PAYLOAD)
            .saturating_add(crate::wire::FRAME_HEADER_LEN);
        let at_least = [
            (
                "max_body_bytes",
                self.max_body_bytes,
                "max(max_message_bytes, 125) + 5",
                frame,
            ),
            (
                "max_response_bytes",
                self.max_response_bytes,
                "max(max_message_bytes, 125) + 5",
                frame,
            ),
            (
                "inbound_max_bytes",
                self.inbound_max_bytes,
                "max_body_bytes",
                self.max_body_bytes,
            ),
            (
                "inbound_max_messages",
                self.inbound_max_messages,
                "max_frames_per_request",
                self.max_frames_per_request,
            ),
            (
                "outbound_max_bytes",
                self.outbound_max_bytes,
                "max_message_bytes",
                self.max_message_bytes,
            ),
        ];
        for (name, value, bound_name, bound) in at_least {
            if value < bound {
                return Err(ConfigError::new(format!(
                    "{name} ({value}) must be at least {bound_name} ({bound})"
                )));
            }
        }
        Ok(())
    }
}

/// A [`Config`] whose limits do not fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    fn new(message: String) -> Self {
        ConfigError { message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid longpoll config: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<crate::origin::OriginError> for ConfigError {
    fn from(error: crate::origin::OriginError) -> Self {
        ConfigError::new(format!("origins: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_proxy_safe() {
        let config = Config::default();
        config.validate().unwrap();
        assert!(config.poll_timeout <= Duration::from_secs(25));
        assert!(config.poll_timeout + config.idle_timeout <= Duration::from_secs(60));
        assert_eq!(config.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn limits_that_could_wedge_a_session_are_refused() {
        let mut config = Config::default();
        config.inbound_max_bytes = config.max_body_bytes - 1;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("inbound_max_bytes")
        );

        let mut config = Config::default();
        config.max_body_bytes = config.max_message_bytes;
        assert!(config.validate().is_err());

        let mut config = Config::default();
        config.idle_timeout = config.poll_timeout;
        assert!(config.validate().is_err());

        let config = Config {
            outbound_max_messages: 0,
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_held_send_and_its_reply_wait_end_within_the_poll_hold() {
        let mut config = Config {
            reply_wait: Duration::ZERO,
            ..Config::default()
        };
        config.validate().unwrap();
        config.reply_wait = config.poll_timeout - config.inbound_hold_timeout;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("reply_wait"), "{error}");
        config.reply_wait -= Duration::from_millis(1);
        config.validate().unwrap();
    }
}
