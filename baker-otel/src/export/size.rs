//! Estimated OTLP protobuf size of a span or log record, for the export byte cap.
//!
//! An over-estimate on purpose (each field counted with a generous tag/length overhead), so that
//! a request formed under the cap stays under it once encoded.

use super::LogItem;
use opentelemetry::logs::AnyValue;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Tag, length prefix and wrapper messages of one field or attribute.
const FIELD: usize = 16;

fn value(v: &Value) -> usize {
    match v {
        Value::String(s) => s.as_str().len() + FIELD,
        Value::Array(Array::String(l)) => l.iter().map(|s| s.as_str().len() + FIELD).sum(),
        Value::Array(Array::Bool(l)) => l.len() * 4 + FIELD,
        Value::Array(Array::I64(l)) => l.len() * 12 + FIELD,
        Value::Array(Array::F64(l)) => l.len() * 12 + FIELD,
        _ => FIELD,
    }
}

fn attributes(kvs: &[KeyValue]) -> usize {
    kvs.iter()
        .map(|kv| kv.key.as_str().len() + value(&kv.value) + FIELD)
        .sum()
}

/// A span: ids, times, name, attributes, events, links and status.
pub(crate) fn span(s: &SpanData) -> usize {
    let status = match &s.status {
        opentelemetry::trace::Status::Error { description } => description.len() + FIELD,
        _ => FIELD,
    };
    96 + s.name.len()
        + attributes(&s.attributes)
        + s.events
            .iter()
            .map(|e| 32 + e.name.len() + attributes(&e.attributes))
            .sum::<usize>()
        + s.links
            .iter()
            .map(|l| 64 + attributes(&l.attributes))
            .sum::<usize>()
        + status
}

fn any(v: &AnyValue) -> usize {
    match v {
        AnyValue::String(s) => s.as_str().len() + FIELD,
        AnyValue::Bytes(b) => b.len() + FIELD,
        AnyValue::ListAny(l) => l.iter().map(any).sum::<usize>() + FIELD,
        AnyValue::Map(m) => {
            m.iter()
                .map(|(k, v)| k.as_str().len() + any(v) + FIELD)
                .sum::<usize>()
                + FIELD
        }
        _ => FIELD,
    }
}

/// A log record: times, severity, ids, body, attributes, and its scope's name.
pub(crate) fn log(item: &LogItem) -> usize {
    let (r, scope) = item;
    96 + r.body().map_or(0, any)
        + r.event_name().map_or(0, str::len)
        + scope.name().len()
        + r.attributes_iter()
            .map(|(k, v)| k.as_str().len() + any(v) + FIELD)
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};

    #[test]
    fn estimates_cover_the_encoded_size() {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        use opentelemetry_sdk::trace::InMemorySpanExporter;
        let exporter = InMemorySpanExporter::default();
        let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        tp.tracer("t").in_span("a span name", |cx| {
            use opentelemetry::trace::TraceContextExt as _;
            let span = cx.span();
            span.set_attribute(opentelemetry::KeyValue::new("big", "x".repeat(10_000)));
            span.set_attribute(opentelemetry::KeyValue::new("n", 5));
            span.add_event(
                "ev",
                vec![opentelemetry::KeyValue::new("k", "v".repeat(500))],
            );
        });
        let spans = exporter.get_finished_spans().unwrap();
        let est = super::span(&spans[0]);
        assert!(est >= 10_500 + 11, "{est}");
        assert!(est < 12_000, "not wildly over: {est}");

        let lp = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
        let mut r = lp.logger("scope").create_log_record();
        r.set_body("b".repeat(2_000).into());
        r.add_attribute("attr", "a".repeat(3_000));
        let est = super::log(&(
            r,
            opentelemetry::InstrumentationScope::builder("scope").build(),
        ));
        assert!((5_000..6_000).contains(&est), "{est}");
    }
}
