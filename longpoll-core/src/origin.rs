//! Which web origins may use the protocol, and the CORS headers that let them.
//!
//! A browser sends `Origin` with every cross-origin request (and with same-origin `POST`s). An
//! [`OriginPolicy`] decides, before any routing, from the method, the `Origin` header and the
//! `Access-Control-Request-Method` header alone, with [`OriginPolicy::check`]:
//!
//! | request | unchecked (default) | allow-list / any |
//! |---|---|---|
//! | no `Origin` header (curl, servers, the Rust client) | served | served, no CORS headers |
//! | `Origin` allowed | served | served, with CORS headers |
//! | `Origin` allowed, `OPTIONS` with `Access-Control-Request-Method` (a preflight) | `405` | `204` with the preflight headers |
//! | `Origin` not allowed, `null`, or malformed | served | `403`, whatever the method or path |
//!
//! Requests without `Origin` are allowed because only browsers send it, and a browser always
//! does on the requests a hostile page could make it send across origins; other clients are not
//! subject to the same-origin policy at all, so refusing them would protect nothing. The
//! protocol's own defence against cross-site form posts does not depend on the policy: a `POST`
//! must carry `Content-Type: application/octet-stream`, which a form cannot send and which a
//! script can send across origins only after a preflight.
//!
//! Origins compare as RFC 6454 serializations: scheme and host ignore ASCII case, and an explicit
//! default port (`:443` for `https`, `:80` for `http`) is the same origin as none. `null` (sent
//! by sandboxed frames, `file:` pages and some redirects) is never allowed, since any page can
//! make itself `null`. The policy never sends `Access-Control-Allow-Credentials`: the protocol
//! needs no cookies (the session id in the URL is the credential), so `*` is never combined
//! with credentials.
//!
//! ```
//! use longpoll_core::origin::{OriginDecision, OriginPolicy};
//!
//! let policy = OriginPolicy::allow(["https://app.example"]).unwrap();
//! assert!(matches!(policy.check("GET", Some("https://APP.example:443"), None), OriginDecision::Allow(_)));
//! assert!(matches!(policy.check("GET", Some("https://evil.example"), None), OriginDecision::Forbidden));
//! assert!(matches!(policy.check("GET", None, None), OriginDecision::Allow(_)));
//! let preflight = policy.check("OPTIONS", Some("https://app.example"), Some("POST"));
//! assert_eq!(preflight.early_reply().unwrap().status(), 204);
//! ```

use crate::reply::Reply;
use std::fmt;

/// `Access-Control-Expose-Headers`: the response headers a client script must read.
pub const EXPOSED_HEADERS: &str = "Longpoll-Seq, Longpoll-Expected-Seq, Retry-After";
/// `Access-Control-Allow-Methods` of a preflight answer.
pub const ALLOWED_METHODS: &str = "GET, POST, DELETE";
/// `Access-Control-Allow-Headers` of a preflight answer: the one non-safelisted request header
/// the protocol uses.
pub const ALLOWED_HEADERS: &str = "Content-Type";
/// `Access-Control-Max-Age` of a preflight answer, in seconds (browsers cap it lower anyway).
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// Response headers an [`OriginDecision`] adds, as (name, value) pairs.
pub type Headers = Vec<(&'static str, String)>;

/// Which origins may make requests; see the [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    rule: Rule,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Rule {
    /// No checks and no CORS headers: the behaviour without a policy.
    #[default]
    Unchecked,
    /// Every origin, answered with `Access-Control-Allow-Origin: *`.
    Any,
    /// These origins only, each echoed back.
    List(Vec<Origin>),
}

/// A parsed origin: lowercase scheme and host, and the port unless it is the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]` (no path, query, fragment or user info).
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok || rest.is_empty() {
            return None;
        }
        let (host, port) = match rest.strip_prefix('[') {
            // An IPv6 literal: `[::1]` or `[::1]:8080`.
            Some(inside) => {
                let (address, after) = inside.split_once(']')?;
                let address_ok = !address.is_empty()
                    && address
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
                if !address_ok {
                    return None;
                }
                let port = match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':')?),
                };
                (format!("[{address}]"), port)
            }
            None => {
                let (host, port) = match rest.rsplit_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (rest, None),
                };
                let host_ok = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
                if !host_ok {
                    return None;
                }
                (host.to_string(), port)
            }
        };
        let port = match port {
            None => None,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse::<u16>().ok()?)
            }
            Some(_) => return None,
        };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        Some(Origin {
            port: port.filter(|port| Some(*port) != default_port),
            scheme,
            host: host.to_ascii_lowercase(),
        })
    }
}

/// An allow-list entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginError {
    entry: String,
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry.as_str() {
            "null" => {
                return f.write_str("the origin `null` cannot be allowed: any page can send it");
            }
            "" => return f.write_str("an allow-list needs at least one origin"),
            _ => {}
        }
        write!(
            f,
            "{:?} is not an origin (scheme://host[:port], no path), nor `*`",
            self.entry
        )
    }
}

impl std::error::Error for OriginError {}

/// What to do with a request, from its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginDecision {
    /// Serve the request, and add these headers to its response whatever its status (empty
    /// when no CORS applies).
    Allow(Headers),
    /// A preflight from an allowed origin: answer `204` with these headers, nothing else.
    Preflight(Headers),
    /// The origin is not allowed: answer `403` ([`Reply::Forbidden`]) and do nothing else.
    Forbidden,
}

impl OriginDecision {
    /// The answer to send without serving the request: `204` for a preflight, `403` for a
    /// forbidden origin; `None` to serve it.
    pub fn early_reply(&self) -> Option<Reply> {
        match self {
            OriginDecision::Allow(_) => None,
            OriginDecision::Preflight(_) => Some(Reply::NoContent),
            OriginDecision::Forbidden => Some(Reply::Forbidden),
        }
    }

    /// The headers to add to the response (the early reply's or the served request's).
    pub fn headers(&self) -> &[(&'static str, String)] {
        match self {
            OriginDecision::Allow(headers) | OriginDecision::Preflight(headers) => headers,
            OriginDecision::Forbidden => &[],
        }
    }

    /// The headers to add to the response, taken out of the decision (for a response built
    /// later, after the request is gone).
    pub fn into_headers(self) -> Headers {
        match self {
            OriginDecision::Allow(headers) | OriginDecision::Preflight(headers) => headers,
            OriginDecision::Forbidden => Vec::new(),
        }
    }
}

impl OriginPolicy {
    /// No checks and no CORS headers (the default): every request is served, and browsers
    /// keep cross-origin pages from reading the answers (and from sending frames at all).
    pub fn unchecked() -> Self {
        OriginPolicy::default()
    }

    /// Every origin may use the protocol: answers carry `Access-Control-Allow-Origin: *`.
    pub fn any() -> Self {
        OriginPolicy { rule: Rule::Any }
    }

    /// Only these origins (`https://app.example`, `http://localhost:8080`); an entry `*`
    /// allows any origin, as [`OriginPolicy::any`]. Fails on an entry that is not an origin,
    /// on `null`, and on an empty list (which would forbid every browser).
    pub fn allow<I, S>(origins: I) -> Result<Self, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        let mut any = false;
        for entry in origins {
            let entry = entry.as_ref().trim();
            if entry == "*" {
                any = true;
                continue;
            }
            let error = || OriginError {
                entry: entry.to_string(),
            };
            let origin = Origin::parse(entry).ok_or_else(error)?;
            if !list.contains(&origin) {
                list.push(origin);
            }
        }
        match (any, list.is_empty()) {
            (true, _) => Ok(OriginPolicy::any()),
            (false, true) => Err(OriginError {
                entry: String::new(),
            }),
            (false, false) => Ok(OriginPolicy {
                rule: Rule::List(list),
            }),
        }
    }

    /// Whether this policy checks anything (it is not [`OriginPolicy::unchecked`]).
    pub fn is_checked(&self) -> bool {
        self.rule != Rule::Unchecked
    }

    /// [`check`](Self::check), reading the two headers through `header` (called with the
    /// lowercase names `origin` and `access-control-request-method`, returning the raw value).
    /// A value that is not visible ASCII counts as malformed, not as absent. Adapters call
    /// this with their framework's header map.
    pub fn check_headers<'a>(
        &self,
        method: &str,
        header: impl Fn(&'static str) -> Option<&'a [u8]>,
    ) -> OriginDecision {
        if matches!(self.rule, Rule::Unchecked) {
            // The default: no header to read (this runs for every request).
            return OriginDecision::Allow(Vec::new());
        }
        let text = |name| {
            header(name).map(|bytes| {
                let visible = bytes
                    .iter()
                    .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
                if visible {
                    std::str::from_utf8(bytes).unwrap_or("")
                } else {
                    ""
                }
            })
        };
        self.check(
            method,
            text("origin"),
            text("access-control-request-method"),
        )
    }

    /// Decides about one request from its method, its `Origin` header and its
    /// `Access-Control-Request-Method` header (each `None` when absent or not text).
    pub fn check(
        &self,
        method: &str,
        origin: Option<&str>,
        access_control_request_method: Option<&str>,
    ) -> OriginDecision {
        let allowed = match (&self.rule, origin) {
            (Rule::Unchecked, _) => return OriginDecision::Allow(Vec::new()),
            (Rule::Any, None) => return OriginDecision::Allow(Vec::new()),
            // Non-browser clients; the answer varies by origin all the same.
            (Rule::List(_), None) => return OriginDecision::Allow(vary()),
            (Rule::Any, Some(origin)) => Origin::parse(origin).map(|_| "*".to_string()),
            (Rule::List(list), Some(origin)) => Origin::parse(origin)
                .filter(|parsed| list.contains(parsed))
                .map(|_| origin.to_string()),
        };
        let Some(allow_origin) = allowed else {
            return OriginDecision::Forbidden;
        };
        let mut headers = vec![("Access-Control-Allow-Origin", allow_origin)];
        if matches!(self.rule, Rule::List(_)) {
            headers.extend(vary());
        }
        if method == "OPTIONS" && access_control_request_method.is_some() {
            headers.extend([
                ("Access-Control-Allow-Methods", ALLOWED_METHODS.to_string()),
                ("Access-Control-Allow-Headers", ALLOWED_HEADERS.to_string()),
                ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SECS.to_string()),
            ]);
            return OriginDecision::Preflight(headers);
        }
        headers.push(("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_string()));
        OriginDecision::Allow(headers)
    }
}

fn vary() -> Headers {
    vec![("Vary", "Origin".to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_that_are_not_visible_ascii_count_as_malformed_not_absent() {
        let policy = OriginPolicy::allow(["https://app.example"]).unwrap();
        let with = |origin: &'static [u8]| {
            policy.check_headers("GET", move |name| (name == "origin").then_some(origin))
        };
        assert!(matches!(
            with(b"https://app.example"),
            OriginDecision::Allow(_)
        ));
        assert!(matches!(
            with(b"https://app.example\xff"),
            OriginDecision::Forbidden
        ));
        assert!(matches!(
            with("https://app.éxample".as_bytes()),
            OriginDecision::Forbidden
        ));
        let absent = policy.check_headers("GET", |_| None);
        assert!(matches!(absent, OriginDecision::Allow(_)));
    }

    fn header<'a>(decision: &'a OriginDecision, name: &str) -> Option<&'a str> {
        decision
            .headers()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn origins_parse_and_normalise() {
        let parse = |s: &str| Origin::parse(s);
        assert_eq!(
            parse("HTTPS://App.Example:443"),
            parse("https://app.example")
        );
        assert_eq!(parse("http://a.example:80"), parse("http://a.example"));
        assert_ne!(parse("http://a.example:8080"), parse("http://a.example"));
        assert_ne!(parse("https://a.example"), parse("http://a.example"));
        assert!(parse("http://[::1]:3000").is_some());
        assert!(parse("http://[::1]").is_some());
        for bad in [
            "",
            "null",
            "a.example",
            "https://",
            "https://a.example/",
            "https://a.example/x",
            "https://u@a.example",
            "https://a.example:",
            "https://a.example:99999",
            "https://a.example:x",
            "https://a b",
            "1http://a",
            "http://[::1",
            "http://[zz]",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_allow_list_refuses_what_cannot_be_an_origin() {
        assert!(
            OriginPolicy::allow(["null"])
                .unwrap_err()
                .to_string()
                .contains("null")
        );
        assert!(OriginPolicy::allow(["https://a.example/path"]).is_err());
        let empty = OriginPolicy::allow(Vec::<String>::new()).unwrap_err();
        assert!(empty.to_string().contains("at least one"));
        assert_eq!(OriginPolicy::allow(["*"]).unwrap(), OriginPolicy::any());
    }

    #[test]
    fn decisions_per_policy() {
        let list = OriginPolicy::allow(["https://app.example", "http://localhost:8080"]).unwrap();
        let allowed = list.check("POST", Some("https://app.example"), None);
        assert_eq!(allowed.early_reply(), None);
        assert_eq!(
            header(&allowed, "Access-Control-Allow-Origin"),
            Some("https://app.example")
        );
        assert_eq!(header(&allowed, "Vary"), Some("Origin"));
        assert_eq!(
            header(&allowed, "Access-Control-Expose-Headers"),
            Some(EXPOSED_HEADERS)
        );
        assert_eq!(header(&allowed, "Access-Control-Allow-Credentials"), None);
        for refused in [
            "https://evil.example",
            "null",
            "garbage",
            "http://localhost:8081",
        ] {
            let decision = list.check("GET", Some(refused), None);
            assert_eq!(decision, OriginDecision::Forbidden, "{refused}");
            assert_eq!(decision.early_reply().unwrap().status(), 403);
        }
        let preflight = list.check("OPTIONS", Some("http://LOCALHOST:8080"), Some("POST"));
        assert_eq!(preflight.early_reply(), Some(Reply::NoContent));
        assert_eq!(
            header(&preflight, "Access-Control-Allow-Origin"),
            Some("http://LOCALHOST:8080")
        );
        assert_eq!(
            header(&preflight, "Access-Control-Allow-Headers"),
            Some("Content-Type")
        );
        assert_eq!(
            header(&preflight, "Access-Control-Allow-Methods"),
            Some(ALLOWED_METHODS)
        );
        // OPTIONS that is not a preflight is served (and refused `405` by routing).
        assert!(matches!(
            list.check("OPTIONS", Some("https://app.example"), None),
            OriginDecision::Allow(_)
        ));
        assert_eq!(
            list.check("OPTIONS", Some("https://evil.example"), Some("POST")),
            OriginDecision::Forbidden
        );
        assert_eq!(list.check("GET", None, None), OriginDecision::Allow(vary()));

        let any = OriginPolicy::any();
        let decision = any.check("GET", Some("https://whoever.example"), None);
        assert_eq!(header(&decision, "Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(
            any.check("GET", Some("null"), None),
            OriginDecision::Forbidden
        );

        let unchecked = OriginPolicy::unchecked();
        assert_eq!(
            unchecked.check("OPTIONS", Some("null"), Some("POST")),
            OriginDecision::Allow(Vec::new())
        );
        assert!(!unchecked.is_checked() && list.is_checked());
    }
}
