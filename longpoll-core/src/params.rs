//! The JSON a server answers to `POST {base}`: the session id and the limits a client needs.

use crate::config::Config;
use crate::session_id::SessionId;
use std::fmt;
use std::time::Duration;

/// Protocol version carried in [`SessionParams`].
pub const PROTOCOL_VERSION: u64 = 1;

/// What a client learns when it opens a session.
///
/// Serialised as a flat JSON object with camelCase keys; unknown keys are ignored when parsing
/// so servers can add fields.
///
/// ```
/// use longpoll_core::{Config, SessionId, SessionParams};
///
/// let params = SessionParams::new(SessionId::from_bytes([1; 16]), &Config::default());
/// let json = params.to_json();
/// assert!(json.starts_with(r#"{"protocol":1,"id":"01010101010101010101010101010101","#));
/// assert_eq!(SessionParams::from_json(&json), Ok(params));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// The session id, used in every later URL. Opaque to clients: 1 to 128 characters from
    /// `A-Z a-z 0-9 - _ . ~` (our servers send 32 lowercase hex digits).
    pub id: String,
    /// How long the server holds a poll (`pollTimeoutMs`).
    pub poll_timeout: Duration,
    /// How long the server keeps a session without requests (`idleTimeoutMs`).
    pub idle_timeout: Duration,
    /// Largest message payload in either direction (`maxMessageBytes`).
    pub max_message_bytes: usize,
    /// Largest `POST` body (`maxBodyBytes`).
    pub max_body_bytes: usize,
    /// Most frames in one `POST` (`maxFramesPerRequest`).
    pub max_frames_per_request: usize,
}

impl SessionParams {
    /// The parameters of session `id` under `config`.
    pub fn new(id: SessionId, config: &Config) -> Self {
        SessionParams {
            id: id.to_string(),
            poll_timeout: config.poll_timeout,
            idle_timeout: config.idle_timeout,
            max_message_bytes: config.max_message_bytes,
            max_body_bytes: config.max_body_bytes,
            max_frames_per_request: config.max_frames_per_request,
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                r#"{{"protocol":{},"id":"{}","pollTimeoutMs":{},"idleTimeoutMs":{},"#,
                r#""maxMessageBytes":{},"maxBodyBytes":{},"maxFramesPerRequest":{}}}"#
            ),
            PROTOCOL_VERSION,
            self.id,
            self.poll_timeout.as_millis(),
            self.idle_timeout.as_millis(),
            self.max_message_bytes,
            self.max_body_bytes,
            self.max_frames_per_request,
        )
    }

    /// Parses the JSON a server sent: the keys above, in any order, with any whitespace;
    /// unknown keys of any JSON type are ignored.
    ///
    /// A bare JSON string is taken as the id of a server that announces nothing else (the
    /// project's original example answered that way); the other values are then the
    /// defaults of [`Config`].
    pub fn from_json(json: &str) -> Result<Self, ParamsError> {
        if json.trim_start().starts_with('"') {
            let (id, rest) = read_string(json.trim_start())?;
            if !rest.trim().is_empty() || id.contains('\\') {
                return Err(ParamsError::Syntax);
            }
            let mut params = SessionParams::new(SessionId::from_bytes([0; 16]), &Config::default());
            params.id = id.to_string();
            params.validate()?;
            return Ok(params);
        }
        let mut id = None;
        let mut numbers = [None; 6];
        const KEYS: [&str; 6] = [
            "protocol",
            "pollTimeoutMs",
            "idleTimeoutMs",
            "maxMessageBytes",
            "maxBodyBytes",
            "maxFramesPerRequest",
        ];
        for (key, value) in FlatObject::parse(json)? {
            match (key, value) {
                ("id", JsonValue::String(text)) => id = Some(text.to_string()),
                (key, JsonValue::Number(n)) => {
                    if let Some(slot) = KEYS.iter().position(|k| *k == key) {
                        numbers[slot] = Some(n);
                    }
                }
                _ => {}
            }
        }
        let get = |slot: usize| numbers[slot].ok_or(ParamsError::Missing(KEYS[slot]));
        if get(0)? != PROTOCOL_VERSION {
            return Err(ParamsError::Invalid("protocol"));
        }
        let size = |slot: usize| {
            get(slot).and_then(|n| usize::try_from(n).map_err(|_| ParamsError::Invalid(KEYS[slot])))
        };
        let params = SessionParams {
            id: id.ok_or(ParamsError::Missing("id"))?,
            poll_timeout: Duration::from_millis(get(1)?),
            idle_timeout: Duration::from_millis(get(2)?),
            max_message_bytes: size(3)?,
            max_body_bytes: size(4)?,
            max_frames_per_request: size(5)?,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks the values a client relies on, as [`Config::validate`] does on the server:
    /// a non-zero poll hold, an idle timeout longer than it, at least one frame per request,
    /// and a body that fits any frame (`max(maxMessageBytes, 125) + 5 <= maxBodyBytes`).
    pub fn validate(&self) -> Result<(), ParamsError> {
        let id_ok = (1..=128).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        if !id_ok {
            return Err(ParamsError::Invalid("id"));
        }
        if self.poll_timeout.is_zero() {
            return Err(ParamsError::Invalid("pollTimeoutMs"));
        }
        if self.idle_timeout <= self.poll_timeout {
            return Err(ParamsError::Invalid("idleTimeoutMs"));
        }
        if self.max_frames_per_request == 0 {
            return Err(ParamsError::Invalid("maxFramesPerRequest"));
        }
        let frame = self
            .max_message_bytes
            .max(crate::wire::MAX_CLOSE_PAYLOAD)
            .saturating_add(crate::wire::FRAME_HEADER_LEN);
        if u32::try_from(self.max_message_bytes).is_err() {
            return Err(ParamsError::Invalid("maxMessageBytes"));
        }
        if self.max_body_bytes < frame {
            return Err(ParamsError::Invalid("maxBodyBytes"));
        }
        Ok(())
    }
}

/// The open response could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// Not a flat JSON object of strings and non-negative integers.
    Syntax,
    /// A required key is absent.
    Missing(&'static str),
    /// A key has a value this client cannot use (including an unsupported protocol version).
    Invalid(&'static str),
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamsError::Syntax => f.write_str("open response is not the expected JSON object"),
            ParamsError::Missing(key) => write!(f, "open response lacks `{key}`"),
            ParamsError::Invalid(key) => write!(f, "open response has an unusable `{key}`"),
        }
    }
}

impl std::error::Error for ParamsError {}

enum JsonValue<'a> {
    /// A string without escapes.
    String(&'a str),
    /// A non-negative integer that fits a `u64`.
    Number(u64),
    /// Anything else (skipped; only unknown keys may hold it).
    Other,
}

/// A minimal reader for one JSON object: the values this protocol defines (plain strings and
/// non-negative integers) are read; any other value is skipped whole, so servers can add keys
/// of any JSON type. Escapes in strings are skipped correctly but never decoded: no string
/// the protocol defines contains one.
struct FlatObject;

impl FlatObject {
    fn parse(json: &str) -> Result<Vec<(&str, JsonValue<'_>)>, ParamsError> {
        let mut rest = json.trim().strip_prefix('{').ok_or(ParamsError::Syntax)?;
        let mut pairs = Vec::new();
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return end_of_object(after, pairs);
        }
        loop {
            let (key, after) = read_string(rest)?;
            let after = after
                .trim_start()
                .strip_prefix(':')
                .ok_or(ParamsError::Syntax)?;
            let (value, after) = read_value(after.trim_start())?;
            pairs.push((key, value));
            let after = after.trim_start();
            if let Some(after) = after.strip_prefix(',') {
                rest = after.trim_start();
            } else if let Some(after) = after.strip_prefix('}') {
                return end_of_object(after, pairs);
            } else {
                return Err(ParamsError::Syntax);
            }
        }
    }
}

fn end_of_object<'a>(
    after: &str,
    pairs: Vec<(&'a str, JsonValue<'a>)>,
) -> Result<Vec<(&'a str, JsonValue<'a>)>, ParamsError> {
    if after.trim().is_empty() {
        Ok(pairs)
    } else {
        Err(ParamsError::Syntax)
    }
}

/// Reads a string; returns its raw contents (escapes left as they are) and the rest.
fn read_string(text: &str) -> Result<(&str, &str), ParamsError> {
    let body = text.strip_prefix('"').ok_or(ParamsError::Syntax)?;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Ok((&body[..i], &body[i + 1..])),
            _ => {}
        }
    }
    Err(ParamsError::Syntax)
}

fn read_value(text: &str) -> Result<(JsonValue<'_>, &str), ParamsError> {
    match text.chars().next() {
        Some('"') => {
            let (raw, rest) = read_string(text)?;
            let value = if raw.contains('\\') {
                JsonValue::Other
            } else {
                JsonValue::String(raw)
            };
            Ok((value, rest))
        }
        Some('{' | '[') => Ok((JsonValue::Other, skip_nested(text)?)),
        Some(_) => {
            let end = text
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')))
                .unwrap_or(text.len());
            let token = &text[..end];
            let value = if token.bytes().all(|b| b.is_ascii_digit()) {
                token
                    .parse()
                    .map(JsonValue::Number)
                    .unwrap_or(JsonValue::Other)
            } else if matches!(token, "true" | "false" | "null")
                || (token.starts_with(|c: char| c == '-' || c.is_ascii_digit())
                    && token.bytes().all(|b| b"0123456789-+.eE".contains(&b))
                    && token.parse::<f64>().is_ok())
            {
                JsonValue::Other
            } else {
                return Err(ParamsError::Syntax);
            };
            Ok((value, &text[end..]))
        }
        None => Err(ParamsError::Syntax),
    }
}

/// Skips a nested object or array (strings inside may hold brackets); returns the rest.
fn skip_nested(text: &str) -> Result<&str, ParamsError> {
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '"' => {
                rest = read_string(rest)?.1;
                continue;
            }
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1).ok_or(ParamsError::Syntax)?;
                if depth == 0 {
                    return Ok(&rest[1..]);
                }
            }
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    Err(ParamsError::Syntax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_whitespace_reordering_and_unknown_keys() {
        let json = r#" { "maxFramesPerRequest": 8, "id" : "000102030405060708090a0b0c0d0e0f",
            "pollTimeoutMs":25000,"idleTimeoutMs":35000,"extra":"x","maxMessageBytes":10,
            "maxBodyBytes":200, "protocol":1, "future": {"a": [1, "}]\""], "b": null},
            "flag": true, "ratio": -1.5e3, "note": "say \"hi\"" } "#;
        let params = SessionParams::from_json(json).unwrap();
        assert_eq!(params.max_frames_per_request, 8);
        assert_eq!(params.poll_timeout, Duration::from_secs(25));
        assert_eq!(params.id, "000102030405060708090a0b0c0d0e0f");
    }

    #[test]
    fn a_bare_string_is_an_id_with_default_limits() {
        let params =
            SessionParams::from_json(r#" "0196a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b" "#).unwrap();
        assert_eq!(params.id, "0196a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
        assert_eq!(params.poll_timeout, Config::default().poll_timeout);
        for bad in [r#""a/b""#, r#""""#, r#""a" x"#, r#""a\"b""#] {
            assert!(SessionParams::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_malformed_and_incomplete_objects() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"id":}"#,
            r#"{"protocol":1}x"#,
            r#"{"protocol":-1}"#,
        ] {
            assert!(SessionParams::from_json(bad).is_err(), "{bad}");
        }
        assert_eq!(
            SessionParams::from_json(r#"{"protocol":1}"#),
            Err(ParamsError::Missing("id"))
        );
        let v2 = SessionParams::new(SessionId::from_bytes([0; 16]), &Config::default())
            .to_json()
            .replace("\"protocol\":1", "\"protocol\":2");
        for (key, bad) in [
            ("pollTimeoutMs", "\"pollTimeoutMs\":0"),
            ("idleTimeoutMs", "\"idleTimeoutMs\":25000"),
            ("maxFramesPerRequest", "\"maxFramesPerRequest\":0"),
            ("maxBodyBytes", "\"maxBodyBytes\":100"),
        ] {
            let json = SessionParams::new(SessionId::from_bytes([0; 16]), &Config::default())
                .to_json()
                .replacen(&format!("\"{key}\":"), &format!("\"old{key}\":"), 1)
                .replacen('{', &format!("{{{bad},"), 1);
            assert_eq!(
                SessionParams::from_json(&json),
                Err(ParamsError::Invalid(key)),
                "{json}"
            );
        }
        for lax in ["nan", "inf", "+1", "1x"] {
            let json = format!(r#"{{"protocol":1,"x":{lax}}}"#);
            assert_eq!(
                SessionParams::from_json(&json),
                Err(ParamsError::Syntax),
                "{lax}"
            );
        }
        assert_eq!(
            SessionParams::from_json(&v2),
            Err(ParamsError::Invalid("protocol"))
        );
    }
}
