//! Baker ids: recorded on the active span when set late, inherited by children, carried by
//! JSON lines and log records, and propagated as W3C baggage.
use baker_otel::context::{self, BakerScope};
use baker_otel::testing::Capture;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use std::collections::HashMap;

#[test]
fn ids_reach_spans_logs_and_the_wire() {
    let capture = Capture::new();
    let mut carrier = HashMap::new();
    capture.in_scope(|| {
        let request = tracing::info_span!("POST /v1/conversations/{id}/messages");
        let _e = request.enter();
        // Ids become known inside the handler, after the server span started.
        BakerScope::current()
            .conversation_id("conv-9")
            .job_id("job-3")
            .in_scope(|| {
                tracing::info_span!("publish job").in_scope(|| {
                    tracing::info!("queued");
                    capture.telemetry().propagation().inject(&mut carrier);
                });
                assert_eq!(context::job_id().as_deref(), Some("job-3"));
            });
    });
    let server = capture.span("POST /v1/conversations/{id}/messages");
    let child = capture.span("publish job");
    for s in [&server, &child] {
        assert_eq!(
            Capture::attr(s, "gen_ai.conversation.id")
                .unwrap()
                .to_string(),
            "conv-9",
            "{}",
            s.name
        );
        assert_eq!(
            Capture::attr(s, "baker.job.id").unwrap().to_string(),
            "job-3",
            "{}",
            s.name
        );
    }
    let line = capture
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "queued")
        .unwrap();
    assert_eq!(line["conversation_id"], "conv-9");
    assert_eq!(line["job_id"], "job-3");
    assert_eq!(line["trace_id"], child.span_context.trace_id().to_string());
    let logs = capture.logs();
    let rec = &logs
        .iter()
        .find(|l| format!("{:?}", l.record.body()).contains("queued"))
        .unwrap()
        .record;
    let attrs: HashMap<String, String> = rec
        .attributes_iter()
        .map(|(k, v)| (k.to_string(), format!("{v:?}")))
        .collect();
    assert!(attrs["conversation_id"].contains("conv-9"), "{attrs:?}");
    assert!(attrs["job_id"].contains("job-3"), "{attrs:?}");

    // On the wire: W3C traceparent of the child and baggage with both ids.
    assert!(carrier["traceparent"].contains(&child.span_context.span_id().to_string()));
    let baggage = &carrier["baggage"];
    assert!(
        baggage.contains("gen_ai.conversation.id=conv-9") && baggage.contains("baker.job.id=job-3"),
        "{baggage}"
    );

    // The receiving side gets them back from the carrier.
    let remote = capture.telemetry().propagation().extract(&carrier);
    assert_eq!(
        context::ids(&remote),
        (Some("conv-9".into()), Some("job-3".into()))
    );
}

#[test]
fn ids_are_recorded_on_a_span_started_directly_with_the_sdk() {
    let capture = Capture::new();
    let tracer = capture
        .telemetry()
        .tracer_provider()
        .unwrap()
        .tracer("direct");
    capture.in_scope(|| {
        let span = tracer.start("GET /direct");
        let cx = opentelemetry::Context::current_with_span(span);
        let _g = cx.clone().attach();
        BakerScope::current()
            .conversation_id("conv-direct")
            .in_scope(|| {});
        cx.span().end();
    });
    let s = capture.span("GET /direct");
    assert_eq!(
        Capture::attr(&s, "gen_ai.conversation.id")
            .unwrap()
            .to_string(),
        "conv-direct"
    );
}

#[test]
fn oversized_ids_are_ignored() {
    let huge = "x".repeat(10_000);
    let cx = BakerScope::from_context(opentelemetry::Context::new())
        .conversation_id(huge)
        .job_id("ok")
        .context();
    assert_eq!(context::ids(&cx), (None, Some("ok".into())));
}
