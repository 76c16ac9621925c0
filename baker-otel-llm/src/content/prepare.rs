//! Preparing a captured value: redaction of the bounded window that can be shown, then
//! truncation with a `…[truncated N bytes]` marker.

use super::policy::{CapturePolicy, ContentKind};
use super::redactor::parse_container;
use super::window::{window, Budget, CUT, WINDOW_MARGIN};
use std::borrow::Cow;

/// Cuts `text` to at most `max` bytes on a char boundary and appends a marker with the number of
/// bytes removed.
///
/// ```
/// assert_eq!(baker_otel_llm::content::truncate("héllo", 2), "h…[truncated 5 bytes]");
/// assert_eq!(baker_otel_llm::content::truncate("hi", 2), "hi");
/// ```
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut = max;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!(
        "{}…[truncated {} bytes]",
        &text[..cut],
        text.len() - cut
    ))
}

/// `text` cut to `max` bytes like [`truncate`], when `dropped` bytes of the input it came from
/// were already left out before it (the marker is then always added and counts them too).
fn truncate_after(text: &str, max: usize, dropped: usize) -> String {
    if dropped == 0 {
        return truncate(text, max).into_owned();
    }
    let mut cut = max.min(text.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}…[truncated {} bytes]",
        &text[..cut],
        text.len() - cut + dropped
    )
}

impl CapturePolicy {
    /// The value to record for `kind`: `None` when not captured, else redacted (on the parsed
    /// JSON when `text` is a JSON object or array) and truncated.
    ///
    /// Redaction only sees what can be shown: `max_bytes` plus a margin of 1 KiB (cut at a
    /// whitespace where there is one, so that a secret across the cut is seen whole, or by
    /// enough of it for its rule to match). For JSON, string values are redacted in document
    /// order within the same byte budget; strings past it are emptied and the text is cut
    /// there. The cost is bounded whatever the size of `text`: linear in it for parsing JSON,
    /// and about `max_bytes` for redaction. The `…[truncated N bytes]` marker counts the bytes
    /// left out, of the input and of the redacted text.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let p = CapturePolicy::all();
    /// let v = p.prepare(ContentKind::ToolArguments, r#"{"query": "tea", "api_key": "k-123"}"#).unwrap();
    /// assert_eq!(v, r#"{"query":"tea","api_key":"[REDACTED]"}"#);
    /// ```
    pub fn prepare(&self, kind: ContentKind, text: &str) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        if let Some(value) = parse_container(text, 0) {
            // The JSON as parsed: without the leading whitespace the detection skipped, some
            // of which (a form feed, U+3000) JSON does not allow.
            return Some(self.finish_json(value, Some(text.trim_start())));
        }
        let w = window(
            text,
            self.max_bytes,
            self.max_bytes.saturating_add(WINDOW_MARGIN),
        );
        let redacted = self.redactor.redact(w);
        Some(truncate_after(
            &redacted,
            self.max_bytes,
            text.len() - w.len(),
        ))
    }

    /// `value` redacted within the byte budget, serialised, cut and truncated; `original` is
    /// its text, kept as it is when nothing was redacted.
    fn finish_json(&self, mut value: serde_json::Value, original: Option<&str>) -> String {
        let mut budget = Budget {
            left: self.max_bytes.saturating_add(WINDOW_MARGIN),
            dropped: 0,
            cut: false,
        };
        let changed = self.redactor.redact_value(&mut value, 0, &mut budget);
        let text = match original {
            Some(t) if !changed => Cow::Borrowed(t),
            _ => Cow::Owned(serde_json::to_string(&value).unwrap_or_default()),
        };
        if !budget.cut {
            return truncate(&text, self.max_bytes).into_owned();
        }
        // Cut where the first string the budget did not cover begins (a marker there), or
        // where the first byte of it would have been.
        let end = text.find(CUT).unwrap_or(text.len());
        let shown = &text[..end];
        let after = text.len() - end - CUT.len().min(text.len() - end);
        truncate_after(shown, self.max_bytes, budget.dropped + after)
    }

    /// Like [`prepare`](Self::prepare) for a value that is already JSON (e.g. from
    /// [`LlmRequest::input_messages`](crate::LlmRequest::input_messages)): redacted on its
    /// string values within the same byte budget, serialised, truncated.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let v = serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "my pwd=hunter2"}]}]);
    /// let out = CapturePolicy::all().prepare_json(ContentKind::Input, v).unwrap();
    /// assert!(out.contains("pwd=[REDACTED]") && !out.contains("hunter2"));
    /// assert!(CapturePolicy::none().prepare_json(ContentKind::Input, serde_json::json!([])).is_none());
    /// ```
    pub fn prepare_json(&self, kind: ContentKind, value: serde_json::Value) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        Some(self.finish_json(value, None))
    }

    /// The span status description of a failed call whose content is of `kind`: `None`
    /// (record the error type only) unless the policy captures `kind`; then redacted and
    /// truncated like content. Provider errors often echo the request body or a `?key=` URL.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let e = "400: bad request for https://api.example.com/v1?key=AIzaSyA-secret";
    /// assert_eq!(CapturePolicy::none().error_description(ContentKind::Output, e), None);
    /// let d = CapturePolicy::all().error_description(ContentKind::Output, e).unwrap();
    /// assert!(d.ends_with("?key=[REDACTED]"), "{d}");
    /// ```
    pub fn error_description(&self, kind: ContentKind, text: &str) -> Option<String> {
        self.prepare(kind, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::redactor::tests::REDACTED_BYTES;
    use std::cell::Cell;

    /// Bytes redacted while running `f`.
    fn redacted_bytes<R>(f: impl FnOnce() -> R) -> (usize, R) {
        REDACTED_BYTES.with(|n| n.set(0));
        let r = f();
        (REDACTED_BYTES.with(Cell::get), r)
    }

    fn big_inputs() -> Vec<String> {
        let pem = "-----BEGIN PRIVATE KEY-----".repeat(40_000);
        let non_ascii = "é password=x ".repeat(100_000);
        let one_word = "x".repeat(1 << 20);
        let many_strings: Vec<String> = (0..20_000).map(|i| format!("pwd=v{i} note")).collect();
        vec![
            serde_json::json!([{"content": pem}]).to_string(),
            serde_json::json!({"content": non_ascii, "more": [non_ascii]}).to_string(),
            serde_json::json!(many_strings).to_string(),
            serde_json::json!({"args": serde_json::json!({"q": non_ascii}).to_string()})
                .to_string(),
            pem,
            non_ascii,
            one_word,
        ]
    }

    /// Finding 2: redaction only ever sees a window of `max_bytes` plus a margin, whatever the
    /// size of the input (text or JSON), so its cost is bounded by design.
    #[test]
    fn prepare_redacts_only_a_bounded_window() {
        for max in [0, 100, 1000, CapturePolicy::DEFAULT_MAX_BYTES] {
            let p = CapturePolicy::all().max_bytes(max);
            for input in big_inputs() {
                let (work, out) = redacted_bytes(|| p.prepare(ContentKind::Input, &input).unwrap());
                assert!(
                    work <= max + WINDOW_MARGIN,
                    "max {max}: redacted {work} bytes"
                );
                assert!(out.contains("…[truncated"), "{out:.100}");
                assert!(out.len() <= max + 40, "max {max}: {}", out.len());
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&input) {
                    let (work, out) =
                        redacted_bytes(|| p.prepare_json(ContentKind::Input, v).unwrap());
                    assert!(
                        work <= max + WINDOW_MARGIN,
                        "max {max}: redacted {work} bytes"
                    );
                    assert!(out.contains("…[truncated"), "{out:.100}");
                }
            }
        }
    }

    /// A secret that straddles the cut is redacted, never emitted in part.
    #[test]
    fn a_secret_across_the_cut_is_never_emitted_in_part() {
        let secret = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678";
        let p = CapturePolicy::all().max_bytes(100);
        for at in 60..110 {
            let text = format!("{} {secret} {}", "a".repeat(at), "b".repeat(5000));
            let out = p.prepare(ContentKind::Input, &text).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
            let json = serde_json::json!([{"content": text}]);
            let out = p.prepare(ContentKind::Input, &json.to_string()).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
            let out = p.prepare_json(ContentKind::Input, json).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
        }
        // A PEM key larger than the window: its start is enough.
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n".repeat(100);
        let pem = format!("key: -----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n");
        let out = p.prepare(ContentKind::Input, &pem).unwrap();
        assert!(!out.contains("MIIEvQ"), "{out}");
        // A redacted prefix that shrinks does not pull the cut part of the window into view.
        let text = format!(
            "{pem} {}",
            "password: \"correct horse battery staple\" ".repeat(200)
        );
        for max in [50, 100, 500, 3000, 6000, 7000] {
            let out = CapturePolicy::all()
                .max_bytes(max)
                .prepare(ContentKind::Input, &text)
                .unwrap();
            assert!(
                !out.contains("horse") && !out.contains("MIIEvQ"),
                "{max}: {out}"
            );
        }
    }

    /// JSON past the budget: the text stops where the content the budget did not cover
    /// starts, with the marker; the cut sentinel never shows.
    #[test]
    fn json_past_the_budget_is_cut_where_its_content_stops() {
        let p = CapturePolicy::all().max_bytes(200);
        let args = serde_json::json!({"q": "word ".repeat(2000), "pwd": "x"}).to_string();
        let v = serde_json::json!([
            {"role": "assistant", "arguments": args},
            {"role": "user", "content": "later"},
        ]);
        let small = serde_json::json!([{"content": "a ".repeat(300)}, {"content": "later"}]);
        for out in [
            p.prepare(ContentKind::Input, &v.to_string()).unwrap(),
            p.prepare_json(ContentKind::Input, v.clone()).unwrap(),
            CapturePolicy::all()
                .max_bytes(10)
                .prepare_json(ContentKind::Input, small)
                .unwrap(),
        ] {
            assert!(
                !out.contains("bkr-cut") && !out.contains('\u{E000}'),
                "{out}"
            );
            assert!(
                out.contains("…[truncated") && !out.contains("later"),
                "{out}"
            );
            assert!(out.len() <= 240, "{}", out.len());
        }
        // Within the budget nothing changes: the text as it was, or cut like before.
        let v = serde_json::json!({"q": "tea", "n": 3}).to_string();
        assert_eq!(p.prepare(ContentKind::Input, &v).unwrap(), v);
    }

    /// Found by the `redaction` fuzz target: text that is JSON after leading whitespace which
    /// JSON itself does not allow (a form feed, U+3000, ...) is handled as JSON, so what is
    /// recorded must be JSON too, also when nothing was redacted (it was the text as it came).
    #[test]
    fn json_after_non_json_whitespace_comes_out_as_json() {
        for text in [
            "\x0c{\"\":\"\"}",
            "\u{3000}[1, 2]",
            "\u{a0}\n {\"pwd\": \"hunter2\"}",
            "  {\"q\": \"tea\"}",
        ] {
            for p in [CapturePolicy::all(), CapturePolicy::all().max_bytes(5)] {
                let out = p.prepare(ContentKind::Input, text).unwrap();
                let cut = out.find('…').unwrap_or(out.len());
                assert!(!out.contains("hunter2"), "{out:?}");
                assert!(out.starts_with(['{', '[']), "{text:?} -> {out:?}");
                if cut == out.len() {
                    assert!(
                        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                        "{out:?}"
                    );
                }
            }
        }
    }
}
