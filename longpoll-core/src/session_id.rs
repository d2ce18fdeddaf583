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
        let mut invalid = 0u8;
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let (high, low) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            invalid |= high | low;
            *byte = (high << 4) | (low & 0x0f);
        }
        // Every request names its session: one table look-up per digit, one check per id.
        (invalid & NOT_HEX == 0).then_some(SessionId(bytes))
    }
}

/// Marks a byte that is not a lowercase hex digit in [`HEX_VALUE`].
const NOT_HEX: u8 = 0x80;

/// The value of each lowercase hex digit, [`NOT_HEX`] for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

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
    fn each_position_takes_exactly_the_lowercase_hex_digits() {
        for position in [0, 1, 17, 31] {
            for byte in 0..=u8::MAX {
                let mut text = *b"00000000000000000000000000000000";
                text[position] = byte;
                let Ok(text) = std::str::from_utf8(&text) else {
                    continue;
                };
                let expected = char::from(byte)
                    .to_digit(16)
                    .filter(|_| !byte.is_ascii_uppercase());
                let parsed = SessionId::parse(text).map(|id| {
                    let pair = id.as_bytes()[position / 2];
                    u32::from(if position % 2 == 0 {
                        pair >> 4
                    } else {
                        pair & 0x0f
                    })
                });
                assert_eq!(parsed, expected, "byte {byte:#04x} at {position}");
            }
        }
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
