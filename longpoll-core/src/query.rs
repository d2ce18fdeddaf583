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
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            continue;
        }
        if found.is_some() {
            return Err(QueryError::Repeated(name));
        }
        found = Some(parse_decimal(value).ok_or(QueryError::Invalid(name))?);
    }
    found.ok_or(QueryError::Missing(name))
}

fn parse_decimal(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
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
