//! W3C traceparent / tracestate / baggage extraction from arbitrary header values (the same
//! path HTTP and NATS carriers take): never panics. Input: `traceparent\0tracestate\0baggage`.
#![no_main]
use baker_otel::config::PropagatorKind;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::Once;

static INSTALL: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    INSTALL.call_once(|| {
        baker_otel::propagation::install(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
    });
    let mut parts = data
        .splitn(3, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut carrier = HashMap::new();
    for key in ["traceparent", "tracestate", "baggage"] {
        if let Some(v) = parts.next() {
            carrier.insert(key.to_owned(), v);
        }
    }
    let cx = baker_otel::propagation::extract(&carrier);
    let _ = baker_otel::context::ids(&cx);
    let mut out: HashMap<String, String> = HashMap::new();
    baker_otel::propagation::inject_context(&cx, &mut out);
});
