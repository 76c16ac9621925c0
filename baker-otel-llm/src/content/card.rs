//! Card-number detection: the Luhn checksum and the epoch-timestamp exclusion.

/// The Luhn checksum (card numbers); spaces and dashes are ignored.
///
/// ```
/// assert!(baker_otel_llm::content::luhn_valid("4111 1111 1111 1111"));
/// assert!(!baker_otel_llm::content::luhn_valid("4111 1111 1111 1112"));
/// ```
pub fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 13 || digits.len() > 19 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether a digit run (spaces and dashes ignored) is treated as a card number: it passes the
/// [Luhn check](luhn_valid) and is not shaped like an epoch timestamp — 13, 16 or 19 digits
/// (milliseconds, microseconds, nanoseconds) starting with `1`, written without separators.
/// About one timestamp in ten passes the Luhn check; no card network issues numbers of those
/// lengths starting with `1` (UATP's 15-digit numbers still count).
///
/// ```
/// use baker_otel_llm::content::looks_like_card_number;
/// assert!(looks_like_card_number("4111 1111 1111 1111"));
/// assert!(!looks_like_card_number("1700000015838")); // a Luhn-valid millisecond timestamp
/// ```
pub fn looks_like_card_number(number: &str) -> bool {
    let timestamp = number.starts_with('1')
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(number.len(), 13 | 16 | 19);
    !timestamp && luhn_valid(number)
}
