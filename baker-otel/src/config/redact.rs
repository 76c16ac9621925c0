//! Secrets kept out of `Debug` output and error messages: URL userinfo.

/// `url` with its userinfo (`user:password@`) replaced by `[REDACTED]@`, the rest kept, for
/// `Debug` output and error messages. Works on any text, valid URL or not: the authority is what
/// follows the scheme's `://` (or the start) up to the first `/`, `?` or `#`, and its userinfo
/// ends at its last `@`.
pub(crate) fn redact_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let start = match url.find("://") {
        Some(i)
            if i > 0
                && url[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i + 3
        }
        _ => 0,
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => std::borrow::Cow::Owned(format!(
            "{}{}@{}",
            &url[..start],
            super::REDACTED,
            &rest[at + 1..]
        )),
        None => std::borrow::Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_and_nothing_else() {
        for (url, shown) in [
            (
                "http://u:p@h:4318/v1/traces",
                "http://[REDACTED]@h:4318/v1/traces",
            ),
            ("https://:pw@h", "https://[REDACTED]@h"),
            ("http://a@b@h/x@y", "http://[REDACTED]@h/x@y"),
            ("u:p@h:4317", "[REDACTED]@h:4317"),
            ("u:p@h/p?next=http://x", "[REDACTED]@h/p?next=http://x"),
            ("http://h:4318/a@b", "http://h:4318/a@b"),
            ("http://h:4318", "http://h:4318"),
            ("", ""),
            ("é://@", "é://@"),
        ] {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }
}
