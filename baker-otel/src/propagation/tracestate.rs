//! `tracestate` as received from a carrier, capped to what the W3C asks vendors to propagate.
//!
//! W3C Trace Context, "tracestate Limits": vendors SHOULD propagate at least 512 characters of
//! the combined header; a vendor that truncates MUST truncate whole entries, SHOULD remove the
//! entries longer than 128 characters first, then entries from the end. Without a cap, a client
//! sends 32 list-members of 256-byte keys and values (~16 KiB, all the SDK parses), which every
//! child span inherits and every export request repeats. Every extraction of baker-otel —
//! [`Propagation`](super::Propagation) (HTTP, NATS) and the SDK-shaped propagator
//! [`install`](super::install) sets globally — keeps at most [`MAX_TRACESTATE_LEN`] bytes.

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::str::FromStr;

/// Largest `tracestate` kept from an incoming carrier: 512 bytes of the combined header
/// (list-members `key=value` joined by `,`), the length the W3C asks every vendor to propagate.
/// A longer one is truncated by whole list-members: those longer than 128 bytes first, then from
/// the end.
///
/// ```
/// use baker_otel::propagation::{Propagation, PropagatorKind, MAX_TRACESTATE_LEN};
/// use opentelemetry::trace::TraceContextExt;
/// let members: Vec<String> = (0..32).map(|i| format!("k{i}={}", "v".repeat(200))).collect();
/// let mut h = std::collections::HashMap::new();
/// h.insert("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
/// h.insert("tracestate".to_string(), members.join(","));
/// let cx = Propagation::new(&[PropagatorKind::TraceContext]).extract(&h);
/// let kept = cx.span().span_context().trace_state().header();
/// assert!(kept.len() <= MAX_TRACESTATE_LEN);
/// assert!(kept.starts_with("k0=vvv"), "whole members, from the front");
/// ```
pub const MAX_TRACESTATE_LEN: usize = 512;

/// List-members longer than this are the first to go (W3C).
const LONG_MEMBER: usize = 128;

/// The combined header length of `members`.
fn header_len<'a>(members: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    members
        .into_iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>()
        .saturating_sub(1)
}

/// `ts` truncated to [`MAX_TRACESTATE_LEN`] by whole list-members, as the W3C specifies.
fn cap(ts: TraceState) -> TraceState {
    let mut m: Vec<(&str, &str)> = (&ts).into_iter().collect();
    if header_len(m.iter().copied()) <= MAX_TRACESTATE_LEN {
        return ts;
    }
    let mut i = m.len();
    while i > 0 && header_len(m.iter().copied()) > MAX_TRACESTATE_LEN {
        i -= 1;
        if m[i].0.len() + 1 + m[i].1.len() > LONG_MEMBER {
            m.remove(i);
        }
    }
    while header_len(m.iter().copied()) > MAX_TRACESTATE_LEN {
        m.pop();
    }
    // The members passed the SDK's checks when `ts` was parsed.
    TraceState::from_key_value(m).unwrap_or_default()
}

/// A received `tracestate` header, parsed as the SDK does (invalid: empty) and capped. A header
/// within the cap needs no check: parsing never lengthens it.
pub(crate) fn parse(header: &str) -> TraceState {
    let ts = TraceState::from_str(header).unwrap_or_default();
    if header.len() > MAX_TRACESTATE_LEN {
        cap(ts)
    } else {
        ts
    }
}

/// The SDK's W3C `TraceContextPropagator` with the cap on what it extracts: what baker-otel runs
/// for the non-canonical forms, and what [`install`](super::install) sets globally.
#[derive(Debug, Default)]
pub(crate) struct CappedTraceContext(TraceContextPropagator);

impl TextMapPropagator for CappedTraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let out = self.0.extract_with_context(cx, extractor);
        let capped = {
            let span = out.span();
            let sc = span.span_context();
            if !sc.is_valid() || header_len(sc.trace_state()) <= MAX_TRACESTATE_LEN {
                return out;
            }
            SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags(),
                sc.is_remote(),
                cap(sc.trace_state().clone()),
            )
        };
        out.with_remote_span_context(capped)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Propagation, PropagatorKind};
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const CAP: usize = 512;

    /// `n` list-members `m<i>=<v x len>` (key `m00`…).
    fn members(n: usize, len: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("m{i:02}={}", "v".repeat(len)))
            .collect()
    }

    fn carrier(tp: &str, ts: &str) -> HashMap<String, String> {
        HashMap::from([
            ("traceparent".to_owned(), tp.to_owned()),
            ("tracestate".to_owned(), ts.to_owned()),
        ])
    }

    fn ours() -> Propagation {
        Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
    }

    /// The `tracestate` header of the span context extracted from `(tp, ts)`, by our codec and
    /// by the SDK-shaped propagator `install` sets globally.
    fn extracted(tp: &str, ts: &str) -> [String; 2] {
        let c = carrier(tp, ts);
        let a = ours().extract(&c);
        let b = ours().to_sdk().extract(&c);
        assert!(a.span().span_context().is_valid() && b.span().span_context().is_valid());
        [a, b].map(|cx| cx.span().span_context().trace_state().header())
    }

    #[test]
    fn the_largest_tracestate_a_client_can_send_is_capped_on_every_extract_path() {
        // 32 list-members of 256-byte keys and values: ~16 KiB, the most the SDK parses. Each
        // member (513 bytes) is longer than the cap on its own: nothing is kept.
        let ts: Vec<String> = (0..32)
            .map(|i| format!("k{i:02}{}={}", "x".repeat(253), "v".repeat(256)))
            .collect();
        let ts = ts.join(",");
        assert!(ts.len() > 16_000);
        // Canonical traceparent (our codec), a later version (the SDK's parser underneath).
        let later = TP.replacen("00-", "01-", 1);
        for tp in [TP, later.as_str()] {
            for h in extracted(tp, &ts) {
                assert!(h.len() <= CAP, "{tp}: {} bytes kept", h.len());
                assert_eq!(h, "", "{tp}");
            }
        }
    }

    #[test]
    fn truncation_removes_long_members_first_then_from_the_end() {
        // 12 members of 40 bytes (494 bytes joined) plus one of 150 in the middle: the long one
        // goes first, and that is enough.
        let mut m = members(12, 36);
        m.insert(5, format!("long={}", "l".repeat(145)));
        let ts = m.join(",");
        assert!(ts.len() > CAP);
        let want = members(12, 36).join(",");
        assert!(want.len() <= CAP);
        assert_eq!(extracted(TP, &ts), [want.clone(), want]);

        // 30 members of 40 bytes: whole members are removed from the end until it fits.
        let m = members(30, 36);
        let ts = m.join(",");
        let fits = (0..=m.len())
            .rev()
            .map(|n| m[..n].join(","))
            .find(|h| h.len() <= CAP)
            .unwrap();
        assert_eq!(fits.len(), 12 * 40 + 11);
        assert_eq!(extracted(TP, &ts), [fits.clone(), fits]);

        // A header of exactly 512 bytes is kept whole; optional whitespace does not count.
        let mut m = members(12, 36);
        m.push(format!("z={}", "v".repeat(CAP - 12 * 41 - 2)));
        let ts = m.join(",");
        assert_eq!(ts.len(), CAP);
        assert_eq!(extracted(TP, &ts), [ts.clone(), ts.clone()]);
        let spaced = m.join(" ,\t");
        assert_eq!(extracted(TP, &spaced), [ts.clone(), ts]);
    }

    #[test]
    fn a_small_tracestate_is_untouched() {
        let ts = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
        assert_eq!(extracted(TP, ts), [ts.to_owned(), ts.to_owned()]);
    }

    proptest! {
        /// Whatever the members, what is kept fits, is made of whole members in their order, and
        /// is everything when everything fits.
        #[test]
        fn the_cap_keeps_whole_members_in_order(
            m in prop::collection::vec(("[a-z][a-z0-9_]{0,60}", "[!-+a-z ]{0,160}[a-z]"), 0..40),
        ) {
            let members: Vec<String> =
                m.iter().enumerate().map(|(i, (k, v))| format!("k{i}{k}={v}")).collect();
            let parsed = &members[..members.len().min(32)];
            for h in extracted(TP, &members.join(",")) {
                prop_assert!(h.len() <= CAP, "{} bytes", h.len());
                let mut rest = parsed.iter();
                for kept in h.split(',').filter(|k| !k.is_empty()) {
                    prop_assert!(rest.any(|p| p == kept), "{kept} is not a whole member in order");
                }
                if parsed.join(",").len() <= CAP {
                    prop_assert_eq!(h, parsed.join(","));
                }
            }
        }
    }
}
