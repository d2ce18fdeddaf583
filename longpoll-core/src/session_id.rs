//! Session identifiers: 128 random bits, written as 32 lowercase hex digits.

use std::fmt;

/// A session identifier: 128 bits that the driver draws from a CSPRNG.
///
/// The core never generates randomness itself; the driver passes the bytes in (for example
/// from `getrandom`). On the wire and in URLs an id is 32 lowercase hexadecimal digits.
/// Anything else is not an id, and requests naming it are answered `404`.
///
/// ```
/// use longpoll_core::SessionId;
///
/// let id = SessionId::from_bytes([0xab; 16]);
/// let text = id.to_string();
/// assert_eq!(text, "abababababababababababababababab");
/// assert_eq!(SessionId::parse(&text), Some(id));
/// assert_eq!(SessionId::parse("ABABABABABABABABABABABABABABABAB"), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

/// Length of a session id's text form.
pub const SESSION_ID_LEN: usize = 32;

impl SessionId {
    /// The id made of these random bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionId(bytes)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the 32-lowercase-hex-digit text form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != SESSION_ID_LEN {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(SessionId(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let id = SessionId::from_bytes(
            *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff",
        );
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0d0eff");
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "00",
            "000102030405060708090a0b0c0d0eff0",
            "000102030405060708090a0b0c0d0eg0",
            "000102030405060708090a0b0c0d0eFF",
            "../../../../../../../etc/passwd00",
            "ééééééééééééééé0",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }
}
