//! Lower-case hex for trace and span ids, formatted on the stack (shared by the JSON log lines,
//! `X-Trace-Id`, `traceresponse` and the W3C codec).

use opentelemetry::trace::{SpanContext, TraceFlags};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two hex digits of every byte value: one load and one store per byte instead of two
/// nibble lookups (the core bench's docs give the counts).
static PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0x0f]];
        i += 1;
    }
    t
};

/// Writes `bytes` as lower-case hex into `out` (`out.len()` must be `2 * bytes.len()`; extra
/// input or output is ignored, never a panic).
///
/// ```
/// let mut out = [0u8; 4];
/// baker_otel::propagation::hex::encode_lower(&[0xab, 0x01], &mut out);
/// assert_eq!(&out, b"ab01");
/// ```
#[inline]
pub fn encode_lower(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair.copy_from_slice(&PAIRS[usize::from(*b)]);
    }
}

/// The 32 hex digits of a trace id (what `X-Trace-Id` and the JSON `trace_id` field carry).
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// let sc = SpanContext::new(TraceId::from(0xab), SpanId::from(1), TraceFlags::SAMPLED, false, TraceState::default());
/// assert_eq!(&baker_otel::propagation::hex::trace_id(&sc), b"000000000000000000000000000000ab");
/// ```
#[inline]
pub fn trace_id(sc: &SpanContext) -> [u8; 32] {
    let mut buf = [0u8; 32];
    encode_lower(&sc.trace_id().to_bytes(), &mut buf);
    buf
}

/// The 16 hex digits of a span id.
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// let sc = SpanContext::new(TraceId::from(1), SpanId::from(0xff), TraceFlags::SAMPLED, false, TraceState::default());
/// assert_eq!(&baker_otel::propagation::hex::span_id(&sc), b"00000000000000ff");
/// ```
#[inline]
pub fn span_id(sc: &SpanContext) -> [u8; 16] {
    let mut buf = [0u8; 16];
    encode_lower(&sc.span_id().to_bytes(), &mut buf);
    buf
}

/// `00-{trace id}-{span id}-{flags}` (W3C `traceparent` and `traceresponse`); only the sampled
/// bit of the flags is written, as the SDK does.
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// let sc = SpanContext::new(TraceId::from(1), SpanId::from(2), TraceFlags::new(0xff), false, TraceState::default());
/// assert_eq!(
///     &baker_otel::propagation::hex::traceparent(&sc)[..],
///     &b"00-00000000000000000000000000000001-0000000000000002-01"[..]
/// );
/// ```
#[inline]
pub fn traceparent(sc: &SpanContext) -> [u8; 55] {
    let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
    encode_lower(&sc.trace_id().to_bytes(), &mut buf[3..35]);
    encode_lower(&sc.span_id().to_bytes(), &mut buf[36..52]);
    let flags = (sc.trace_flags() & TraceFlags::SAMPLED).to_u8();
    encode_lower(&[flags], &mut buf[53..55]);
    buf
}

/// The value of each lower-case hex digit; `0xff` for every other byte.
const LOWER_HEX_VALUE: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        t[HEX[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Parses lower-case hex digits into a number; `None` on any other byte or more than 32 digits.
/// One table lookup per digit and one validity check at the end (no branch per digit).
pub(crate) fn parse_lower(s: &[u8]) -> Option<u128> {
    if s.len() > 32 {
        return None;
    }
    let mut v: u128 = 0;
    let mut seen = 0u8;
    for &c in s {
        let d = LOWER_HEX_VALUE[usize::from(c)];
        seen |= d;
        v = (v << 4) | u128::from(d & 0x0f);
    }
    (seen <= 0x0f).then_some(v)
}

/// Bytes known to be ASCII hex and `-` as a `&str`.
pub(crate) fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_lower_matches_format_for_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut out = vec![0u8; 512];
        encode_lower(&all, &mut out);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out, expected.as_bytes());
        // Short output: the bytes that fit, no panic.
        let mut short = [0u8; 3];
        encode_lower(&[0xab, 0xcd], &mut short);
        assert_eq!(&short, b"ab\0");
    }

    #[test]
    fn parse_lower_accepts_only_lower_case_hex() {
        assert_eq!(parse_lower(b""), Some(0));
        assert_eq!(
            parse_lower(b"00f067aa0ba902b7"),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_lower(&[b'f'; 32]), Some(u128::MAX));
        assert_eq!(parse_lower(&[b'0'; 33]), None);
        for bad in [&b"0A"[..], b"0g", b"-1", b" 1", b"1\xff", b"\x00"] {
            assert_eq!(parse_lower(bad), None, "{bad:?}");
        }
        for b in 0..=255u8 {
            let ok = b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            assert_eq!(parse_lower(&[b]).is_some(), ok, "{b}");
        }
    }
}
