//! Low-cardinality destination names: reply inboxes collapse to a template.

/// Template used for every reply-inbox subject (`_INBOX.<random>...`).
pub const INBOX_TEMPLATE: &str = "_INBOX";

/// The destination name for spans and metric labels: `_INBOX.*` subjects (request/reply inboxes)
/// become [`INBOX_TEMPLATE`], anything else is returned as is.
///
/// ```
/// use baker_otel_nats::destination_name;
/// assert_eq!(destination_name("_INBOX.kJ3xS9.42"), "_INBOX");
/// assert_eq!(destination_name("jobs.summarise"), "jobs.summarise");
/// ```
pub fn destination_name(subject: &str) -> &str {
    if is_inbox(subject) {
        INBOX_TEMPLATE
    } else {
        subject
    }
}

/// Whether `subject` is a reply inbox.
///
/// ```
/// assert!(baker_otel_nats::subject::is_inbox("_INBOX.abc"));
/// ```
pub fn is_inbox(subject: &str) -> bool {
    subject == INBOX_TEMPLATE || subject.starts_with("_INBOX.")
}
