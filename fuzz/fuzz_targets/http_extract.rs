//! W3C traceparent / tracestate / baggage extraction from arbitrary header values (the core
//! codec every carrier uses, and the SDK propagator it falls back to): never panics.
//! Input: `traceparent\0tracestate\0baggage`.
#![no_main]
use baker_otel::config::PropagatorKind;
use baker_otel::propagation::Propagation;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let p = Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
    let mut parts = data
        .splitn(3, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut carrier = HashMap::new();
    for key in ["traceparent", "tracestate", "baggage"] {
        if let Some(v) = parts.next() {
            carrier.insert(key.to_owned(), v);
        }
    }
    let cx = p.extract(&carrier);
    let _ = baker_otel::context::ids(&cx);
    let mut out: HashMap<String, String> = HashMap::new();
    p.inject_context(&cx, &mut out);
    let _ = p.extract_values_filtered(&cx, &baker_otel::propagation::FieldValues::from_extractor(&carrier), &|k| k.len() < 8);
});
