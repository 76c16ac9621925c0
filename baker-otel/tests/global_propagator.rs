//! The global text-map propagator `init` installs (audit finding 3c, issue #31): third-party
//! code that injects through `opentelemetry::global` (reqwest-tracing, tonic interceptors, …)
//! knows nothing of the destination, so it must never write `baggage`; extracting baggage
//! through it keeps working for inbound paths. One test: it owns this process's globals.
use baker_otel::config::EnvSource;
use baker_otel::Telemetry;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::collections::HashMap;

#[test]
fn the_global_propagator_never_injects_baggage_but_still_extracts_it() {
    let telemetry = Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_PROPAGATORS", "tracecontext,baggage"),
        ]))
        .json_logs(false)
        .init()
        .unwrap();

    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v")]).unwrap(),
    );
    let cx = Context::new().with_remote_span_context(sc).with_baggage([
        KeyValue::new("gen_ai.conversation.id", "conv-secret"),
        KeyValue::new("user.id", "u-1"),
    ]);

    // What a third-party client does: the global propagator, into its own carrier.
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    assert_eq!(
        carrier.get("traceparent").map(String::as_str),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "trace context still goes: {carrier:?}"
    );
    assert_eq!(
        carrier.get("tracestate").map(String::as_str),
        Some("vendor=v")
    );
    assert!(
        !carrier.contains_key("baggage"),
        "the global propagator injected baggage: {carrier:?}"
    );
    // baker-otel's own wrapper around the global propagator too.
    let mut carrier: HashMap<String, String> = HashMap::new();
    baker_otel::propagation::inject_context(&cx, &mut carrier);
    assert!(carrier.contains_key("traceparent"));
    assert!(!carrier.contains_key("baggage"), "{carrier:?}");

    // Extraction (inbound) keeps baggage and trace context.
    let mut inbound: HashMap<String, String> = HashMap::new();
    inbound.insert(
        "traceparent".into(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    );
    inbound.insert("baggage".into(), "gen_ai.conversation.id=conv-7".into());
    for extracted in [
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&inbound)),
        baker_otel::propagation::extract(&inbound),
    ] {
        assert_eq!(
            extracted.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            extracted
                .baggage()
                .get("gen_ai.conversation.id")
                .map(|v| v.to_string()),
            Some("conv-7".into())
        );
    }
    // The fields it handles: all three (it reads baggage), so carriers can be cleared of them.
    let fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert!(fields.iter().any(|f| f == "baggage"), "{fields:?}");

    telemetry.shutdown().unwrap();
}
