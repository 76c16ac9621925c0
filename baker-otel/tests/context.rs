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

/// The issue #14 attack: a client sends `baggage: gen_ai.conversation.id=victim-conv` and a
/// 300-byte conversation id in the path. The inherited value must never survive.
#[test]
fn an_invalid_id_never_falls_back_to_the_inherited_one() {
    use opentelemetry::baggage::BaggageExt;
    let capture = Capture::new();
    let inbound = capture.telemetry().propagation().extract(&HashMap::from([(
        "baggage".to_string(),
        "gen_ai.conversation.id=victim-conv,baker.job.id=victim-job".to_string(),
    )]));
    assert_eq!(context::ids(&inbound).0.as_deref(), Some("victim-conv"));
    let long = "c".repeat(300);

    // The fallible setters: a typed error naming the id.
    let err = BakerScope::from_context(inbound.clone())
        .try_conversation_id(long.clone())
        .unwrap_err();
    assert_eq!(
        err,
        context::InvalidId::TooLong {
            key: context::CONVERSATION_ID,
            len: 300
        }
    );
    assert!(err.to_string().contains("300 bytes"), "{err}");

    // The infallible setters: the inherited ids are removed, nothing else is touched.
    let mut carrier = HashMap::new();
    capture.in_scope(|| {
        let _root = inbound.clone().attach();
        BakerScope::current()
            .conversation_id(long.clone())
            .job_id("")
            .in_scope(|| {
                tracing::info_span!("work").in_scope(|| tracing::info!("working"));
                assert_eq!(context::conversation_id(), None);
                assert_eq!(context::job_id(), None);
                capture.telemetry().propagation().inject(&mut carrier);
            });
    });
    let everything = format!(
        "{:?}{:?}{:?}{carrier:?}",
        capture.spans(),
        capture.json_lines(),
        capture.logs()
    );
    assert!(!everything.contains("victim-conv"), "{everything}");
    assert!(!everything.contains("victim-job"), "{everything}");
    assert!(capture
        .json_lines()
        .iter()
        .any(|l| l["message"] == "working"));

    // A valid id replaces the inherited one.
    let cx = BakerScope::from_context(inbound)
        .try_conversation_id("mine")
        .unwrap()
        .context();
    assert_eq!(context::ids(&cx).0.as_deref(), Some("mine"));
    assert_eq!(cx.baggage().len(), 2);
}

/// Baggage already at the W3C limits (64 entries) cannot push the application's id out.
///
/// Which inherited entry falls off the limit used to depend on the hash order of the baggage
/// map, so one run could pass by luck: the check runs 2000 times, each with fresh baggage (a
/// new hash seed), and also with the byte limit (8192) reached instead of the entry limit.
#[test]
fn the_new_id_wins_over_full_inherited_baggage() {
    use opentelemetry::baggage::BaggageExt;
    for round in 0..2000 {
        let full: Vec<opentelemetry::KeyValue> = if round % 2 == 0 {
            (0..64)
                .map(|i| opentelemetry::KeyValue::new(format!("k{i}"), "v"))
                .collect()
        } else {
            // Fewer entries, but together within a few bytes of the 8192-byte limit.
            (0..40)
                .map(|i| opentelemetry::KeyValue::new(format!("k{i:02}"), "v".repeat(201)))
                .collect()
        };
        let cx = opentelemetry::Context::new().with_baggage(full);
        assert!(cx.baggage().len() >= 40);
        let cx = BakerScope::from_context(cx)
            .conversation_id("conv-1")
            .job_id("job-1")
            .context();
        assert_eq!(
            context::ids(&cx),
            (Some("conv-1".into()), Some("job-1".into())),
            "round {round}"
        );
        // The other order, and an id replaced while the baggage is full.
        let cx = BakerScope::from_context(cx)
            .job_id("job-2")
            .conversation_id("conv-2")
            .context();
        assert_eq!(
            context::ids(&cx),
            (Some("conv-2".into()), Some("job-2".into())),
            "round {round}"
        );
    }
}
