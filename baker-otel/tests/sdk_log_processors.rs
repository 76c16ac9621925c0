//! The service's own log processors (`with_log_processor`) run before baker-otel's: what they
//! change is exported. Asserted on the records the pipeline exported (`with_log_exporter`); each
//! test builds its own scoped pipeline.
use baker_otel::context::BakerScope;
use opentelemetry::logs::{AnyValue, LogRecord as _};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    in_memory_exporter::LogDataWithResource, InMemoryLogExporter, LogProcessor, SdkLogRecord,
    SimpleLogProcessor,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A pipeline whose log records go to `exporter` only (when given), with `processor`.
fn pipeline(
    env: &[(&str, &str)],
    exporter: Option<InMemoryLogExporter>,
    processor: impl LogProcessor + 'static,
) -> (baker_otel::Telemetry, tracing::Dispatch) {
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "log-processors"),
        ("RUST_LOG", "trace"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ];
    vars.extend_from_slice(env);
    let mut b = baker_otel::Telemetry::builder()
        .env_source(baker_otel::config::EnvSource::from_pairs(vars))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(
            std::io::sink(),
        ))))
        .with_log_processor(processor);
    if let Some(e) = exporter {
        b = b.with_log_exporter(e);
    }
    b.build().expect("valid configuration")
}

fn exported(
    telemetry: &baker_otel::Telemetry,
    e: &InMemoryLogExporter,
) -> Vec<LogDataWithResource> {
    telemetry.force_flush().expect("flush");
    e.get_emitted_logs().expect("logs")
}

fn attr<'a>(record: &'a SdkLogRecord, key: &str) -> Option<&'a AnyValue> {
    record
        .attributes_iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// Adds the region, hides API keys in bodies, and notes the conversation id it saw.
#[derive(Debug, Clone, Default)]
struct Scrub(Arc<Mutex<Vec<Option<AnyValue>>>>);

impl LogProcessor for Scrub {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        self.0
            .lock()
            .unwrap()
            .push(attr(record, "conversation_id").cloned());
        record.add_attribute("cloud.region", "eu-west-1");
        if let Some(AnyValue::String(body)) = record.body() {
            if body.as_str().contains("sk-") {
                record.set_body(AnyValue::from("[redacted]"));
            }
        }
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[test]
fn what_a_log_processor_changes_is_exported() {
    let exporter = InMemoryLogExporter::default();
    let scrub = Scrub::default();
    let (telemetry, dispatch) = pipeline(&[], Some(exporter.clone()), scrub.clone());
    BakerScope::current()
        .conversation_id("conv-3")
        .in_scope(|| {
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::warn!(user = "ada", "rejected key sk-12345");
                tracing::info!("accepted");
            })
        });

    let logs = exported(&telemetry, &exporter);
    assert_eq!(logs.len(), 2);
    let rejected = &logs[0].record;
    assert_eq!(rejected.body(), Some(&AnyValue::from("[redacted]")));
    assert_eq!(
        attr(rejected, "cloud.region"),
        Some(&AnyValue::from("eu-west-1"))
    );
    assert_eq!(attr(rejected, "user"), Some(&AnyValue::from("ada")));
    let accepted = &logs[1].record;
    assert_eq!(accepted.body(), Some(&AnyValue::from("accepted")));
    assert_eq!(
        attr(accepted, "cloud.region"),
        Some(&AnyValue::from("eu-west-1"))
    );
    // It ran after the Baker ids were added.
    let conv = Some(AnyValue::from("conv-3"));
    assert_eq!(*scrub.0.lock().unwrap(), [conv.clone(), conv]);
}

#[test]
fn a_log_processor_never_sees_what_baker_otel_does_not_export() {
    let exporter = InMemoryLogExporter::default();
    let scrub = Scrub::default();
    let (telemetry, dispatch) = pipeline(&[], Some(exporter.clone()), scrub.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "h2::codec", "frame sent"); // an exporter's network stack
        tracing::info!(target: "baker_otel::internal", "queue full");
        tracing::info!(target: "async_nats", "connected"); // quiet below WARN
        tracing::info!("kept");
    });
    let logs = exported(&telemetry, &exporter);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].record.body(), Some(&AnyValue::from("kept")));
    assert_eq!(scrub.0.lock().unwrap().len(), 1);
}

#[test]
fn a_log_processor_can_be_the_only_destination() {
    let mine = InMemoryLogExporter::default();
    let (telemetry, dispatch) = pipeline(&[], None, SimpleLogProcessor::new(mine.clone()));
    BakerScope::current().job_id("job-8").in_scope(|| {
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("to my exporter only"));
    });
    let logs = exported(&telemetry, &mine);
    assert_eq!(logs.len(), 1);
    let record = &logs[0].record;
    assert_eq!(record.body(), Some(&AnyValue::from("to my exporter only")));
    assert_eq!(attr(record, "job_id"), Some(&AnyValue::from("job-8")));
    // It was given the pipeline's resource.
    let service = logs[0]
        .resource
        .get(&opentelemetry::Key::from_static_str("service.name"));
    assert_eq!(service, Some("log-processors".into()));
}

/// Counts flushes and shutdowns.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<(AtomicUsize, AtomicUsize, AtomicUsize)>);

impl LogProcessor for Counting {
    fn emit(&self, _record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0 .1.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.0 .2.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn flush_and_shutdown_reach_the_service_log_processors() {
    let exporter = InMemoryLogExporter::default();
    let counting = Counting::default();
    let (telemetry, dispatch) = pipeline(&[], Some(exporter.clone()), counting.clone());
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("one"));
    assert_eq!(exported(&telemetry, &exporter).len(), 1);
    let (emitted, flushed, shut) = (&counting.0 .0, &counting.0 .1, &counting.0 .2);
    assert_eq!(emitted.load(Ordering::SeqCst), 1);
    assert_eq!(flushed.load(Ordering::SeqCst), 1);
    telemetry.shutdown().expect("shutdown");
    assert_eq!(shut.load(Ordering::SeqCst), 1);
}
