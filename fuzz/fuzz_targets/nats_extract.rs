//! Fuzzes header-map extraction: arbitrary bytes are split into `name: value` lines, turned
//! into an `async_nats::HeaderMap` with the fallible conversions, and extracted through both the
//! fast path (default W3C propagators) and the generic carrier path. Must never panic.
#![no_main]

use async_nats::header::{HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::Extractor;
use std::str::FromStr;
use std::sync::Once;

static INSTALL: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    INSTALL.call_once(|| {
        baker_otel::propagation::install(&[
            baker_otel::config::PropagatorKind::TraceContext,
            baker_otel::config::PropagatorKind::Baggage,
        ])
    });
    let text = String::from_utf8_lossy(data);
    let mut headers = async_nats::HeaderMap::new();
    for line in text.split('\n') {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        if let (Ok(k), Ok(v)) = (HeaderName::from_str(k), HeaderValue::from_str(v)) {
            headers.append(k, v);
        }
    }
    let cx = baker_otel_nats::propagation::extract(Some(&headers));
    let mut out = async_nats::HeaderMap::new();
    baker_otel_nats::propagation::inject_context(&cx, &mut out);
    let ex = baker_otel_nats::HeaderExtractor(&headers);
    for key in ["traceparent", "tracestate", "baggage", "Traceparent", ""] {
        let _ = ex.get(key);
    }
    let _ = ex.keys();
    // Generic path: the installed SDK propagator over our carrier.
    let _ = opentelemetry::global::get_text_map_propagator(|p| p.extract(&ex));
});
