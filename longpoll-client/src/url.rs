//! Base and session URLs.

use crate::error::ConnectError;
use http::Uri;

/// A validated base URL: `http://authority` plus the mount path without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// `http://host:port`.
    origin: String,
    /// The mount path, `""` for the root, otherwise starting with `/` and not ending with one.
    path: String,
}

impl BaseUrl {
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, ConnectError> {
        let invalid = |reason| ConnectError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        if url.contains('#') {
            return Err(invalid("a fragment is not allowed"));
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| invalid("not a valid absolute URL"))?;
        match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {}
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {
                return Err(invalid("https is not supported yet; use an http:// URL"));
            }
            Some(_) => return Err(invalid("the scheme must be http")),
            None => return Err(invalid("an absolute http:// URL is required")),
        }
        let Some(authority) = uri.authority() else {
            return Err(invalid("the URL has no host"));
        };
        if authority.as_str().contains('@') {
            return Err(invalid("user information in the URL is not supported"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query is not allowed in the base URL"));
        }
        let path = uri.path().trim_end_matches('/').to_string();
        Ok(BaseUrl {
            origin: format!("http://{authority}"),
            path,
        })
    }

    /// `POST` here to open a session.
    pub(crate) fn open_url(&self) -> String {
        if self.path.is_empty() {
            format!("{}/", self.origin)
        } else {
            format!("{}{}", self.origin, self.path)
        }
    }

    /// `{base}/{id}`; `id` has been validated (`A-Z a-z 0-9 - _ . ~`), so it needs no escaping.
    pub(crate) fn session_url(&self, id: &str) -> String {
        format!("{}{}/{}", self.origin, self.path, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised() {
        let base = BaseUrl::parse("http://127.0.0.1:8080/longpoll/").unwrap();
        assert_eq!(base.open_url(), "http://127.0.0.1:8080/longpoll");
        assert_eq!(
            base.session_url("abc"),
            "http://127.0.0.1:8080/longpoll/abc"
        );
        let root = BaseUrl::parse("http://localhost:3000").unwrap();
        assert_eq!(root.open_url(), "http://localhost:3000/");
        assert_eq!(root.session_url("abc"), "http://localhost:3000/abc");
        let nested = BaseUrl::parse("HTTP://example.com/a/b").unwrap();
        assert_eq!(nested.session_url("x"), "http://example.com/a/b/x");
    }

    #[test]
    fn unusable_urls_are_refused() {
        for url in [
            "https://example.com/lp",
            "ftp://example.com/lp",
            "/longpoll",
            "example.com/lp",
            "http://example.com/lp?x=1",
            "http://example.com/lp#top",
            "http://user:pw@example.com/lp",
            "http:// bad",
            "",
        ] {
            assert!(
                matches!(BaseUrl::parse(url), Err(ConnectError::InvalidUrl { .. })),
                "{url} was accepted"
            );
        }
    }
}
