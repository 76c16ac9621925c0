//! Fuzzes header-map extraction: arbitrary bytes are split into `name: value` lines, turned
//! into an `async_nats::HeaderMap` with the fallible conversions, and extracted through the
//! hub's propagation (one-pass header read + core codec) and the SDK propagator over the
//! generic carrier. Must never panic.
#![no_main]

use async_nats::header::{HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::Extractor;
use opentelemetry::propagation::TextMapPropagator;
use std::str::FromStr;

fuzz_target!(|data: &[u8]| {
    let p = baker_otel::propagation::Propagation::new(&[
        baker_otel::config::PropagatorKind::TraceContext,
        baker_otel::config::PropagatorKind::Baggage,
    ]);
    let text = String::from_utf8_lossy(data);
    let mut headers = async_nats::HeaderMap::new();
    for line in text.split('\n') {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        if let (Ok(k), Ok(v)) = (HeaderName::from_str(k), HeaderValue::from_str(v)) {
            headers.append(k, v);
        }
    }
    let cx = baker_otel_nats::propagation::extract(&p, Some(&headers));
    let mut out = async_nats::HeaderMap::new();
    baker_otel_nats::propagation::inject_context(&p, &cx, &mut out);
    let ex = baker_otel_nats::HeaderExtractor(&headers);
    for key in ["traceparent", "tracestate", "baggage", "Traceparent", ""] {
        let _ = ex.get(key);
    }
    let _ = ex.keys();
    // Generic path: the SDK propagator over our carrier.
    let _ = p.to_sdk().extract(&ex);
});
