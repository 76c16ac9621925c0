//! A hostile publisher's NATS message (subject and headers) through the consumer path:
//! `Traced::new` builds the `process` span from it, trusted (the publisher's context is the
//! parent) or on an untrusted subject (a new root; only allow-listed baggage). Alongside, the
//! header carriers and the codec: the one-pass header read against per-key lookups, the SDK
//! propagator over the carrier, and inject → extract.
//!
//! Input: the first byte picks the consumer (bit 0: untrusted publishers); then `\n`-separated
//! lines, the first the subject, the others `name:value` headers (async-nats' fallible
//! conversions; invalid ones are left out as a server would never deliver them).
//!
//! Invariants, besides "no panic, bounded time":
//! - trusted: the `process` span is in the publisher's trace and sees exactly its baggage;
//! - untrusted: a new trace, and only allow-listed baggage;
//! - destination names (span names, metric labels) stay within their bound;
//! - the one-pass read equals the per-key reads; `tracestate` has at most 32 members, is no
//!   longer than its header and never over `MAX_VALUE_LEN`; baggage has at most 64 entries;
//! - the extracted span context survives inject → extract unchanged.
#![no_main]

use async_nats::header::{HeaderName, HeaderValue};
use baker_otel::config::EnvSource;
use baker_otel::propagation::{FieldValues, Propagation};
use baker_otel::OpenTelemetrySpanExt;
use baker_otel_nats::{HeaderExtractor, NatsTelemetry, Traced, MAX_VALUE_LEN};
use libfuzzer_sys::fuzz_target;

#[path = "common/extract.rs"]
mod common;
use common::same_span;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use std::cell::RefCell;
use std::collections::HashSet;
use std::str::FromStr;

/// The only publisher baggage key kept on untrusted subjects.
const ALLOWED: &str = "client.app";

struct World {
    dispatch: tracing::Dispatch,
    trusted: NatsTelemetry,
    untrusted: NatsTelemetry,
    p: Propagation,
    destinations: RefCell<HashSet<String>>,
    _telemetry: baker_otel::Telemetry,
}

thread_local! {
    static WORLD: World = world();
}

fn world() -> World {
    let (telemetry, dispatch) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "fuzz"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            ("RUST_LOG", "info"),
        ]))
        .build()
        .expect("fuzz hub");
    let trusted = NatsTelemetry::new(&telemetry);
    let untrusted = trusted
        .clone()
        .untrusted_subjects([">"])
        .untrusted_baggage_allow_list([ALLOWED]);
    World {
        dispatch,
        trusted,
        untrusted,
        p: telemetry.propagation().clone(),
        destinations: RefCell::default(),
        _telemetry: telemetry,
    }
}

fn bag(cx: &Context) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
        .collect();
    v.sort();
    v
}

/// An extracted context: the shared invariants, the tracestate within its header's length and
/// `MAX_VALUE_LEN`.
fn check_extracted(cx: &Context, values: &FieldValues<'_>) {
    common::check_extracted(cx, values.tracestate.map_or(0, str::len).min(MAX_VALUE_LEN));
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let untrusted = flags & 1 == 1;
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let subject = lines.next().unwrap_or_default().to_owned();
    let mut headers = async_nats::HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        if let (Ok(k), Ok(v)) = (HeaderName::from_str(k), HeaderValue::from_str(v)) {
            headers.append(k, v);
        }
    }

    WORLD.with(|w| {
        // The carriers and the codec.
        let ex = HeaderExtractor(&headers);
        let values = FieldValues::from_extractor(&ex);
        for key in ["traceparent", "tracestate", "baggage"] {
            if let Some(v) = ex.get(key) {
                assert!(v.len() <= MAX_VALUE_LEN);
            }
        }
        let _ = ex.keys();
        let expected = baker_otel_nats::propagation::extract(&w.p, Some(&headers));
        let per_key = w.p.extract_values(&Context::new(), &values);
        assert!(same_span(
            expected.span().span_context(),
            per_key.span().span_context()
        ));
        assert_eq!(
            bag(&expected),
            bag(&per_key),
            "one-pass and per-key reads differ"
        );
        check_extracted(&expected, &values);
        let sdk = w.p.to_sdk().extract(&ex);
        check_extracted(&sdk, &values);

        let mut out = async_nats::HeaderMap::new();
        baker_otel_nats::propagation::inject_context(&w.p, &expected, &mut out);
        let again = baker_otel_nats::propagation::extract(&w.p, Some(&out));
        assert!(
            same_span(again.span().span_context(), expected.span().span_context()),
            "{:?} became {:?}",
            expected.span().span_context(),
            again.span().span_context()
        );

        // The consumer path.
        let dest = w.trusted.destination(&subject);
        let msg = async_nats::Message {
            subject: subject.into(),
            reply: None,
            payload: bytes::Bytes::from_static(b"{}"),
            headers: Some(headers.clone()),
            status: None,
            description: None,
            length: 0,
        };
        let tel = if untrusted { &w.untrusted } else { &w.trusted };
        let seen = tracing::dispatcher::with_default(&w.dispatch, || {
            let traced = Traced::new(msg, None, tel.clone());
            traced.span().context()
        });
        let mut destinations = w.destinations.borrow_mut();
        destinations.insert(dest.to_string());
        assert!(
            destinations.len() <= baker_otel_nats::DEFAULT_MAX_DESTINATIONS + 2,
            "{} destination names",
            destinations.len()
        );
        let publisher = expected.span().span_context().clone();
        let trace = seen.span().span_context().trace_id();
        if untrusted {
            if publisher.is_valid() {
                assert_ne!(
                    trace,
                    publisher.trace_id(),
                    "an untrusted publisher chose the trace"
                );
            }
            assert!(
                bag(&seen).iter().all(|(k, _, _)| k == ALLOWED),
                "{:?}",
                bag(&seen)
            );
        } else {
            if publisher.is_valid() {
                assert_eq!(
                    trace,
                    publisher.trace_id(),
                    "the publisher's trace was not continued"
                );
            }
            assert_eq!(bag(&seen), bag(&expected));
        }
    });
});
