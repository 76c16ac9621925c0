//! Memory spans follow the GenAI memory conventions (semantic-conventions-genai): operation name,
//! `{operation} {store}` span names, `gen_ai.memory.*` attributes, query text and records only
//! under the content-capture opt-in; the duration metric keeps its dashboard labels.

use baker_otel::testing::Capture;
use baker_otel_llm::content::{CapturePolicy, ContentKind};
use baker_otel_llm::semconv::op;
use baker_otel_llm::{memory_span, LlmTelemetry};
use opentelemetry::Value;

fn s(v: Option<Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

fn run_all_operations() {
    let m = memory_span!(search, "notes");
    m.record_query_text("what does the user like?");
    m.record_records(r#"[{"id":"n1","content":"likes tea"}]"#);
    m.record_result_count(1);
    m.end();
    let m = memory_span!(insert, "notes");
    m.record_record_id("n2");
    m.record_result_count(1);
    m.end();
    let store = String::from("history");
    let m = memory_span!(update, store.clone());
    m.record_record_id("h7");
    m.end();
    let m = memory_span!(upsert, "notes");
    m.end();
    let m = memory_span!(delete, store);
    m.record_result_count(4);
    m.end();
    memory_span!(create_store, "scratch").end();
    memory_span!(delete_store, String::from("scratch")).end();
}

#[test]
fn memory_spans_carry_upstream_operation_names_and_attributes() {
    let capture = Capture::new();
    capture.in_scope(run_all_operations);
    for (span, op, store) in [
        ("search_memory notes", op::SEARCH_MEMORY, "notes"),
        ("create_memory notes", op::CREATE_MEMORY, "notes"),
        ("update_memory history", op::UPDATE_MEMORY, "history"),
        ("upsert_memory notes", op::UPSERT_MEMORY, "notes"),
        ("delete_memory history", op::DELETE_MEMORY, "history"),
        (
            "create_memory_store scratch",
            op::CREATE_MEMORY_STORE,
            "scratch",
        ),
        (
            "delete_memory_store scratch",
            op::DELETE_MEMORY_STORE,
            "scratch",
        ),
    ] {
        assert!(span.starts_with(&format!("{op} ")));
        let sp = capture.span(span);
        assert_eq!(
            s(Capture::attr(&sp, "gen_ai.operation.name")).as_deref(),
            Some(op),
            "{span}"
        );
        assert_eq!(
            s(Capture::attr(&sp, "gen_ai.memory.store.id")).as_deref(),
            Some(store),
            "{span}"
        );
        assert_eq!(sp.span_kind, opentelemetry::trace::SpanKind::Client);
        // The old span attributes are gone (metric labels only).
        assert!(Capture::attr(&sp, "baker.memory.store").is_none());
        assert!(Capture::attr(&sp, "baker.memory.operation").is_none());
    }
    let search = capture.span("search_memory notes");
    assert_eq!(
        Capture::attr(&search, "gen_ai.memory.record.count"),
        Some(Value::I64(1))
    );
    // Content capture is off by default: no query text, no records.
    assert!(Capture::attr(&search, "gen_ai.memory.query.text").is_none());
    assert!(Capture::attr(&search, "gen_ai.memory.records").is_none());
    let create = capture.span("create_memory notes");
    assert_eq!(
        s(Capture::attr(&create, "gen_ai.memory.record.id")).as_deref(),
        Some("n2")
    );
    let update = capture.span("update_memory history");
    assert_eq!(
        s(Capture::attr(&update, "gen_ai.memory.record.id")).as_deref(),
        Some("h7")
    );
    assert!(Capture::attr(&update, "gen_ai.memory.record.count").is_none());
    let delete = capture.span("delete_memory history");
    assert_eq!(
        Capture::attr(&delete, "gen_ai.memory.record.count"),
        Some(Value::I64(4))
    );
}

#[test]
fn memory_metric_keeps_dashboard_labels() {
    let capture = Capture::new();
    capture.in_scope(run_all_operations);
    assert_eq!(
        capture.histogram_count("baker.memory.operation.duration"),
        Some(7)
    );
    let text = capture.prometheus_text();
    for op in [
        "search",
        "insert",
        "update",
        "upsert",
        "delete",
        "create_store",
        "delete_store",
    ] {
        let needle = format!("baker_memory_operation=\"{op}\"");
        assert!(text.contains(&needle), "{needle} missing:\n{text}");
    }
    assert!(text.contains("baker_memory_store=\"notes\""));
    assert!(text.contains("baker_memory_store=\"history\""));
    assert!(!text.contains("gen_ai_memory_store_id"));
}

#[test]
fn query_text_and_records_only_under_content_capture() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .capture(
            CapturePolicy::none()
                .capture(ContentKind::Input, true)
                .capture(ContentKind::Output, true),
        )
        .build()
        .unwrap();
    capture.in_scope(run_all_operations);
    let search = capture.span("search_memory notes");
    assert_eq!(
        s(Capture::attr(&search, "gen_ai.memory.query.text")).as_deref(),
        Some("what does the user like?")
    );
    assert_eq!(
        s(Capture::attr(&search, "gen_ai.memory.records")).as_deref(),
        Some(r#"[{"id":"n1","content":"likes tea"}]"#)
    );

    // Input only: the query, not the records.
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .capture(CapturePolicy::none().capture(ContentKind::Input, true))
        .build()
        .unwrap();
    capture.in_scope(run_all_operations);
    let search = capture.span("search_memory notes");
    assert!(Capture::attr(&search, "gen_ai.memory.query.text").is_some());
    assert!(Capture::attr(&search, "gen_ai.memory.records").is_none());
}
