//! The bounded window: how much of an input redaction may see, as a byte budget, and
//! where it is cut.

/// Bytes past the shown `max_bytes` that redaction also sees (see [`CapturePolicy::prepare`]):
/// a secret that straddles the cut is then seen whole when shorter than this, and by enough of
/// it for its rule to match when longer.
///
/// [`CapturePolicy::prepare`]: super::CapturePolicy::prepare
pub(super) const WINDOW_MARGIN: usize = 1024;

/// How much of a JSON value's string content may still be redacted (see
/// [`CapturePolicy::prepare`]).
///
/// [`CapturePolicy::prepare`]: super::CapturePolicy::prepare
pub(super) struct Budget {
    /// Bytes that may still be handed to [`Redactor::redact`].
    ///
    /// [`Redactor::redact`]: super::Redactor::redact
    pub(super) left: usize,
    /// Bytes of string content dropped because the budget ran out.
    pub(super) dropped: usize,
    /// The cut [`CUT`] marks has been placed.
    pub(super) cut: bool,
}

impl Budget {
    pub(super) fn unbounded() -> Self {
        Self {
            left: usize::MAX,
            dropped: 0,
            cut: false,
        }
    }
}

/// Stands for the first string content that the budget cut, in a value being prepared; the
/// serialised text is cut where it appears. Private-use characters, which JSON serialisation
/// keeps as they are at any nesting depth (JSON held in a string included).
pub(super) const CUT: &str = "\u{E000}bkr-cut\u{E000}";

/// The prefix of `text` that redaction sees when at most `shown` bytes of it can be shown and
/// at most `limit` bytes may be redacted: all of it when short enough, else cut at the last
/// ASCII whitespace in `shown..limit` (so that no token is cut), or at `limit`.
pub(super) fn window(text: &str, shown: usize, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let from = shown.min(end);
    if let Some(i) = text.as_bytes()[from..end]
        .iter()
        .rposition(u8::is_ascii_whitespace)
    {
        end = from + i;
    }
    &text[..end]
}
