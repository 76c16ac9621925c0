//! Oversize attribute values are truncated with a marker; attribute count limits are honoured.
use baker_otel::config::EnvSource;
use baker_otel::testing::Capture;
use baker_otel::OpenTelemetrySpanExt;

#[test]
fn oversize_values_are_truncated_and_counts_limited() {
    let capture = Capture::with_builder(baker_otel::Telemetry::builder().env_source(
        EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "limits"),
            ("RUST_LOG", "info"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "16"),
            ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024"),
        ]),
    ));
    let huge = "é".repeat(100_000); // multi-byte: the cut must stay on a char boundary
    capture.in_scope(|| {
        let span = tracing::info_span!("big", prompt = %huge, small = "ok");
        for i in 0..40 {
            span.set_attribute(format!("extra.{i}"), i as i64);
        }
        span.in_scope(|| tracing::info!("{huge}"));
    });
    let span = capture.span("big");
    let prompt = Capture::attr(&span, "prompt").unwrap().to_string();
    assert!(prompt.len() <= 1024, "{}", prompt.len());
    assert!(prompt.ends_with("…[truncated]"));
    assert!(prompt.starts_with("éé"));
    assert_eq!(Capture::attr(&span, "small").unwrap().to_string(), "ok");
    assert_eq!(span.attributes.len(), 16, "count limit honoured");
    assert!(span.dropped_attributes_count > 0);

    let logs = capture.logs();
    let body = format!("{:?}", logs[0].record.body().unwrap());
    assert!(
        body.len() < 1200 && body.contains("…[truncated]"),
        "{}",
        body.len()
    );
    // The JSON line is cut too (16 KiB per value) and stays valid JSON.
    let line = &capture.json_lines()[0];
    assert!(line["message"].as_str().unwrap().len() <= 17 * 1024);
}

#[test]
fn log_record_and_span_event_attributes_obey_the_length_limits() {
    let capture = Capture::with_builder(baker_otel::Telemetry::builder().env_source(
        EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "limits"),
            ("RUST_LOG", "info"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "256"),
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "4"),
        ]),
    ));
    let huge = "ü".repeat(50_000);
    capture.in_scope(|| {
        let span = tracing::info_span!("with event");
        span.add_event(
            "tool output",
            vec![
                opentelemetry::KeyValue::new("output", huge.clone()),
                opentelemetry::KeyValue::new("short", "ok"),
            ],
        );
        span.in_scope(|| {
            tracing::info!(prompt = %huge, small = "ok", "log with a big attribute");
            tracing::info!(a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, "many attributes");
        });
    });
    let span = capture.span("with event");
    let event = &span.events.events[0];
    let output = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "output")
        .unwrap()
        .value
        .to_string();
    assert!(
        output.len() <= 256 && output.ends_with("…[truncated]"),
        "{}",
        output.len()
    );
    assert!(output.starts_with("üü"));
    assert!(event
        .attributes
        .iter()
        .any(|kv| kv.value.to_string() == "ok"));

    let logs = capture.logs();
    let big = logs
        .iter()
        .find(|l| format!("{:?}", l.record.body()).contains("log with a big attribute"))
        .expect("big log");
    let attr = |name: &str| {
        big.record
            .attributes_iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v.clone())
    };
    match attr("prompt") {
        Some(opentelemetry::logs::AnyValue::String(s)) => {
            assert!(s.as_str().len() <= 256, "{}", s.as_str().len());
            assert!(s.as_str().ends_with("…[truncated]"));
        }
        other => panic!("prompt attribute: {other:?}"),
    }
    assert!(attr("small").is_some());
    assert!(
        big.record.trace_context().is_some(),
        "the copy keeps the trace context"
    );
    assert!(big.record.severity_number().is_some());

    let many = logs
        .iter()
        .find(|l| format!("{:?}", l.record.body()).contains("many attributes"))
        .expect("many");
    assert_eq!(
        many.record.attributes_iter().count(),
        4,
        "count limit honoured"
    );
}
