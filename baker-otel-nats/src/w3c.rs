//! Allocation-light W3C trace-context + baggage, byte-for-byte the SDK's behaviour for the
//! canonical forms; everything else is delegated to the SDK propagators.
//!
//! Only called while the global propagator is the default composite (see `propagation.rs`).

use crate::carrier::{HeaderExtractor, BAGGAGE, MAX_VALUE_LEN, TRACEPARENT, TRACESTATE};
use async_nats::header::HeaderValue;
use async_nats::HeaderMap;
use baker_otel::context::{CONVERSATION_ID, JOB_ID};
use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, Key};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use std::str::FromStr;

/// The SDK's limits for an extracted baggage header.
const MAX_BAGGAGE_LENGTH: usize = 8192;
const MAX_BAGGAGE_ITEMS: usize = 64;
const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

pub(crate) fn inject(cx: &Context, headers: &mut HeaderMap) {
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        headers.insert(TRACEPARENT, HeaderValue::from(traceparent(sc)));
        let ts = sc.trace_state().header();
        if !ts.is_empty() {
            if let Some(v) = crate::carrier::header_value(ts) {
                headers.insert(TRACESTATE, v);
            }
        }
    }
    inject_baggage(cx, headers);
}

/// `00-{trace id}-{span id}-{flags}` in one exact-size allocation.
pub(crate) fn traceparent(sc: &SpanContext) -> String {
    let mut buf = [0u8; 55];
    buf[..3].copy_from_slice(b"00-");
    hex_into(&mut buf[3..35], &sc.trace_id().to_bytes());
    buf[35] = b'-';
    hex_into(&mut buf[36..52], &sc.span_id().to_bytes());
    buf[52] = b'-';
    let flags = (sc.trace_flags() & TraceFlags::SAMPLED).to_u8();
    hex_into(&mut buf[53..55], &[flags]);
    // Only ASCII hex digits and '-' were written: valid UTF-8, checked word-at-a-time.
    String::from_utf8(buf.to_vec()).unwrap_or_default()
}

fn hex_into(out: &mut [u8], bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
}

/// Same output as the SDK's `BaggagePropagator`: `key=value[;metadata]` joined by `,`, with
/// controls, space, `"`, `;`, `,`, `=` and non-ASCII bytes percent-encoded (upper-case hex).
fn inject_baggage(cx: &Context, headers: &mut HeaderMap) {
    let baggage = cx.baggage();
    if baggage.is_empty() {
        return;
    }
    let mut out = String::with_capacity(64);
    for (i, (name, (value, metadata))) in baggage.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_into(&mut out, trim(name.as_str()));
        out.push('=');
        encode_into(&mut out, trim(value.as_str()));
        let md = trim(metadata.as_str());
        if !md.is_empty() {
            out.push(';');
            out.push_str(md);
        }
    }
    if let Some(v) = crate::carrier::header_value(out) {
        headers.insert(BAGGAGE, v);
    }
}

fn encode_into(out: &mut String, s: &str) {
    let needs = |b: u8| !(0x20..0x7f).contains(&b) || matches!(b, b' ' | b'"' | b';' | b',' | b'=');
    if !s.bytes().any(needs) {
        out.push_str(s);
        return;
    }
    for b in s.bytes() {
        if needs(b) {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 0xf) as usize] as char);
        } else {
            out.push(b as char);
        }
    }
}

pub(crate) fn extract(cx: &Context, carrier: HeaderExtractor<'_>) -> Context {
    let [traceparent, tracestate, baggage] = carrier.w3c_values();
    let cx = match traceparent {
        None => cx.clone(),
        Some(tp) => match parse_canonical(tp) {
            Some((trace_id, span_id, flags)) => {
                let ts = match tracestate {
                    Some(s) => TraceState::from_str(s).unwrap_or_default(),
                    None => TraceState::default(),
                };
                let sc = SpanContext::new(trace_id, span_id, flags, true, ts);
                if sc.is_valid() {
                    cx.with_remote_span_context(sc)
                } else {
                    cx.clone()
                }
            }
            None => TraceContextPropagator::new().extract_with_context(cx, &carrier),
        },
    };
    match baggage {
        None => cx,
        Some(b) if b.len() > MAX_BAGGAGE_LENGTH || b.bytes().any(|c| c == b'%' || c == b';') => {
            BaggagePropagator::new().extract_with_context(&cx, &carrier)
        }
        Some(b) => {
            let items = b.split(',').take(MAX_BAGGAGE_ITEMS).filter_map(|item| {
                // `k=v` (the SDK ignores anything after a second `=`).
                let (k, rest) = item.split_once('=')?;
                let v = rest.split_once('=').map_or(rest, |(v, _)| v);
                Some(KeyValueMetadata::new(
                    baggage_key(trim(k)),
                    trim(v).to_owned(),
                    "",
                ))
            });
            cx.with_baggage(items)
        }
    }
}

/// `str::trim`, without walking the string when neither end can be whitespace (the usual case).
#[inline]
fn trim(s: &str) -> &str {
    let solid = |b: u8| b < 0x80 && !(b as char).is_whitespace();
    match s.as_bytes() {
        [first, .., last] if solid(*first) && solid(*last) => s,
        [only] if solid(*only) => s,
        _ => s.trim(),
    }
}

/// The Baker ids travel on every message: their keys need no allocation.
fn baggage_key(k: &str) -> Key {
    match k {
        CONVERSATION_ID => Key::from_static_str(CONVERSATION_ID),
        JOB_ID => Key::from_static_str(JOB_ID),
        _ => Key::new(k.to_owned()),
    }
}

/// Parses exactly `00-<32 lower hex>-<16 lower hex>-<2 lower hex>`; `None` for anything else.
fn parse_canonical(tp: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = tp.as_bytes();
    if b.len() != 55 || &b[..3] != b"00-" || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let trace = hex_u128(&b[3..35])?;
    let span = hex_u128(&b[36..52])? as u64;
    let flags = hex_u128(&b[53..55])? as u8;
    Some((
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

fn hex_u128(s: &[u8]) -> Option<u128> {
    let mut v: u128 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u128;
    }
    Some(v)
}

// `MAX_VALUE_LEN` (carrier) equals the SDK's baggage limit; keep them in step.
const _: () = assert!(MAX_VALUE_LEN == MAX_BAGGAGE_LENGTH);

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapCompositePropagator;
    use opentelemetry::KeyValue;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn sdk() -> TextMapCompositePropagator {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    fn same(a: &Context, b: &Context) -> bool {
        let (sa, sb) = (a.span(), b.span());
        let bag = |c: &Context| {
            c.baggage()
                .iter()
                .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
                .collect::<std::collections::BTreeSet<_>>()
        };
        sa.span_context() == sb.span_context() && bag(a) == bag(b)
    }

    fn headers(tp: Option<&str>, ts: Option<&str>, bg: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [("traceparent", tp), ("tracestate", ts), ("baggage", bg)] {
            if let Some(v) = v.and_then(|v| crate::carrier::header_value(v.to_owned())) {
                h.insert(k, v);
            }
        }
        h
    }

    fn check_extract(h: &HeaderMap) -> Result<(), TestCaseError> {
        let ours = extract(&Context::new(), HeaderExtractor(h));
        let theirs = sdk().extract_with_context(&Context::new(), &HeaderExtractor(h));
        prop_assert!(same(&ours, &theirs), "headers {h:?}");
        Ok(())
    }

    #[test]
    fn w3c_spec_examples() {
        let h = headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            None,
        );
        let cx = extract(&Context::new(), HeaderExtractor(&h));
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
        assert_eq!(
            sc.trace_state().header(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        let mut out = HeaderMap::new();
        inject(&cx, &mut out);
        assert_eq!(
            out.get("traceparent").unwrap().as_str(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(
            out.get("tracestate").unwrap().as_str(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
    }

    #[test]
    fn inject_matches_sdk() {
        let sc = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::new(0xff),
            false,
            TraceState::from_str("foo=bar").unwrap(),
        );
        let cx = Context::new()
            .with_remote_span_context(sc)
            .with_baggage(vec![
                KeyValueMetadata::new("gen_ai.conversation.id", "c 1,é=;\"", "prop=1"),
                KeyValueMetadata::new("baker.job.id", "j-7", ""),
            ]);
        let mut ours = HeaderMap::new();
        inject(&cx, &mut ours);
        let mut theirs: HashMap<String, String> = HashMap::new();
        sdk().inject_context(&cx, &mut theirs);
        for k in ["traceparent", "tracestate", "baggage"] {
            assert_eq!(
                ours.get(k).map(|v| v.as_str()),
                theirs.get(k).map(|v| v.as_str()),
                "{k}"
            );
        }
        let _ = KeyValue::new("unused", 1);
    }

    #[test]
    fn extract_matches_sdk_on_edge_cases() {
        for tp in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-XYZ",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            for bg in [
                None,
                Some("a=1,b = 2 ,c"),
                Some("a=b=c"),
                Some("k=v%2C;p"),
                Some(",,=,"),
            ] {
                check_extract(&headers(Some(tp), Some("rojo=1,congo=2"), bg)).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn extract_is_sdk_equivalent(
            tp in prop_oneof![
                "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
                "[0-9a-fA-F+ -]{0,60}",
                ".{0,80}",
            ],
            ts in proptest::option::of("[a-z0-9=,@ ]{0,40}"),
            bg in proptest::option::of(prop_oneof!["[a-z0-9=, .]{0,60}", ".{0,60}"]),
        ) {
            check_extract(&headers(Some(&tp), ts.as_deref(), bg.as_deref()))?;
        }

        #[test]
        fn inject_is_sdk_equivalent(k in "[a-z.]{1,12}", v in ".{0,24}", trace in 1u128.., span in 1u64.., flags: u8) {
            let sc = SpanContext::new(TraceId::from(trace), SpanId::from(span), TraceFlags::new(flags), false, TraceState::default());
            let cx = Context::new().with_remote_span_context(sc).with_baggage(vec![KeyValue::new(k, v)]);
            let mut ours = HeaderMap::new();
            inject(&cx, &mut ours);
            let mut theirs: HashMap<String, String> = HashMap::new();
            sdk().inject_context(&cx, &mut theirs);
            for key in ["traceparent", "baggage"] {
                prop_assert_eq!(ours.get(key).map(|v| v.as_str()), theirs.get(key).map(|v| v.as_str()));
            }
        }
    }
}
