//! Parsing of the `ack` and `seq` query parameters.

use std::fmt;

/// Why a query parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The parameter is absent.
    Missing(&'static str),
    /// The parameter appears more than once.
    Repeated(&'static str),
    /// The value is not a decimal number in `0..=u64::MAX` (digits only, no sign).
    Invalid(&'static str),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Missing(name) => write!(f, "query parameter `{name}` is required"),
            QueryError::Repeated(name) => write!(f, "query parameter `{name}` appears twice"),
            QueryError::Invalid(name) => {
                write!(
                    f,
                    "query parameter `{name}` must be a decimal number up to 2^64-1"
                )
            }
        }
    }
}

impl std::error::Error for QueryError {}

/// Reads the unsigned decimal parameter `name` from a raw query string (without the `?`).
///
/// Other parameters are ignored (clients may add cache busters). The value must be 1 to 20
/// ASCII digits and fit a `u64`.
///
/// ```
/// use longpoll_core::query::{parse_u64_param, QueryError};
///
/// assert_eq!(parse_u64_param(Some("ack=42&t=1"), "ack"), Ok(42));
/// assert_eq!(parse_u64_param(Some("ack=-1"), "ack"), Err(QueryError::Invalid("ack")));
/// assert_eq!(parse_u64_param(None, "ack"), Err(QueryError::Missing("ack")));
/// ```
pub fn parse_u64_param(query: Option<&str>, name: &'static str) -> Result<u64, QueryError> {
    let mut found = None;
    // Bytes, not `str::split`: this runs for every poll and send.
    for pair in query.unwrap_or("").as_bytes().split(|&byte| byte == b'&') {
        let (key, value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        if key != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(QueryError::Repeated(name));
        }
        found = Some(parse_decimal(value).ok_or(QueryError::Invalid(name))?);
    }
    found.ok_or(QueryError::Missing(name))
}

/// Reads the optional unsigned decimal parameter `name`: `None` when it is absent, and the
/// same errors as [`parse_u64_param`] when it is repeated or malformed.
///
/// ```
/// use longpoll_core::query::{parse_optional_u64_param, QueryError};
///
/// assert_eq!(parse_optional_u64_param(Some("seq=1&ack=3"), "ack"), Ok(Some(3)));
/// assert_eq!(parse_optional_u64_param(Some("seq=1"), "ack"), Ok(None));
/// assert_eq!(parse_optional_u64_param(Some("ack=x"), "ack"), Err(QueryError::Invalid("ack")));
/// ```
pub fn parse_optional_u64_param(
    query: Option<&str>,
    name: &'static str,
) -> Result<Option<u64>, QueryError> {
    match parse_u64_param(query, name) {
        Ok(value) => Ok(Some(value)),
        Err(QueryError::Missing(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// 1 to 20 ASCII digits whose value fits a `u64`.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        if !digit.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_parameter_among_others() {
        assert_eq!(parse_u64_param(Some("t=9&seq=7"), "seq"), Ok(7));
        assert_eq!(parse_u64_param(Some("ack=0"), "ack"), Ok(0));
        assert_eq!(parse_u64_param(Some("ack=007"), "ack"), Ok(7));
    }

    #[test]
    fn numbers_round_trip_up_to_the_largest() {
        for value in [
            0,
            1,
            9,
            10,
            99,
            4_294_967_296,
            u64::MAX / 10,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let query = format!("t=x&seq={value}");
            assert_eq!(parse_u64_param(Some(&query), "seq"), Ok(value), "{query}");
        }
        let padded = format!("seq={:020}", 42);
        assert_eq!(parse_u64_param(Some(&padded), "seq"), Ok(42));
    }

    #[test]
    fn huge_and_garbage_values_are_invalid() {
        assert_eq!(
            parse_u64_param(Some("ack=18446744073709551615"), "ack"),
            Ok(u64::MAX)
        );
        for bad in [
            "ack=18446744073709551616",
            "ack=999999999999999999999999",
            "ack=",
            "ack",
            "ack=+1",
            "ack=1.0",
            "ack=0x10",
            "ack=%31",
            "ack= 1",
        ] {
            assert_eq!(
                parse_u64_param(Some(bad), "ack"),
                Err(QueryError::Invalid("ack")),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_and_repeated_are_distinct_errors() {
        assert_eq!(
            parse_u64_param(Some("acks=1"), "ack"),
            Err(QueryError::Missing("ack"))
        );
        assert_eq!(
            parse_u64_param(Some(""), "ack"),
            Err(QueryError::Missing("ack"))
        );
        assert_eq!(
            parse_u64_param(Some("ack=1&ack=1"), "ack"),
            Err(QueryError::Repeated("ack"))
        );
    }
}
