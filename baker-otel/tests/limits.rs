//! Oversize attribute values are truncated with a marker; attribute count limits are honoured.
use baker_otel::config::EnvSource;
use baker_otel::testing::Capture;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[test]
fn oversize_values_are_truncated_and_counts_limited() {
    let capture = Capture::with_builder(baker_otel::Telemetry::builder().env_source(
        EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "limits"),
            ("RUST_LOG", "info"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "16"),
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
