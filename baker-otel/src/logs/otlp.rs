//! OTLP log records through `opentelemetry-appender-tracing`, with Baker ids added.

use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::LogItem;
use crate::export::{build, select};
use crate::InitError;
use opentelemetry::logs::{AnyValue, LogRecord as _};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The OTLP log bridge, `tracing` events → the logger provider: `opentelemetry-appender-tracing`'s,
/// except that an event with an explicit parent span is logged in that span's context (the
/// bridge itself always takes the current one). Built with `new`, the bridge does nothing but
/// `on_event` (its span hooks, behind the `experimental_span_attributes` feature, return at once
/// without span attributes configured): that is all to forward.
pub(crate) struct LogBridge(pub(crate) OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>);

impl<S> Layer<S> for LogBridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        let _parent = crate::span_layer::explicit_parent(event, &ctx).map(Context::attach);
        self.0.on_event(event, ctx);
    }
}

/// The logger provider's only processor: adds Baker ids (as `conversation_id` / `job_id`, like
/// the JSON lines) from the current context to each record, hands it to the service's own
/// processors (which may change it), and queues it for export.
pub(crate) struct BakerLogProcessor {
    /// `None` without an exporter (the service's processors are then the only destination).
    queue: Option<BatchQueue<LogItem>>,
    max_value_len: usize,
    max_attributes: usize,
    /// Makes fresh records: the SDK has no way to edit or remove a record's attributes, so a
    /// record over the limits is copied into a new one with its attributes cut.
    blank: opentelemetry_sdk::logs::SdkLogger,
    /// The service's processors, in the order they were added (shared with the thread that
    /// shuts them down alongside the queue).
    theirs: Arc<[Box<dyn LogProcessor>]>,
}

impl std::fmt::Debug for BakerLogProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BakerLogProcessor")
            .field("queue", &self.queue)
            .field("max_value_len", &self.max_value_len)
            .field("max_attributes", &self.max_attributes)
            .field("theirs", &self.theirs)
            .finish()
    }
}

impl BakerLogProcessor {
    pub(crate) fn new(
        queue: Option<BatchQueue<LogItem>>,
        limits: &crate::config::Limits,
        theirs: Vec<Box<dyn LogProcessor>>,
    ) -> Self {
        use opentelemetry::logs::LoggerProvider as _;
        Self {
            queue,
            max_value_len: limits.log_attribute_value_length,
            max_attributes: limits.log_attribute_count as usize,
            blank: SdkLoggerProvider::builder().build().logger("baker-otel"),
            theirs: theirs.into(),
        }
    }

    /// Whether a value (or a string nested in a list or map) is longer than the limit.
    fn too_long(&self, v: &AnyValue) -> bool {
        match v {
            AnyValue::String(s) => s.as_str().len() > self.max_value_len,
            AnyValue::ListAny(l) => l.iter().any(|v| self.too_long(v)),
            AnyValue::Map(m) => m.values().any(|v| self.too_long(v)),
            _ => false,
        }
    }

    fn cut(&self, v: &AnyValue) -> AnyValue {
        match v {
            AnyValue::String(s) if s.as_str().len() > self.max_value_len => {
                AnyValue::String(crate::util::truncated(s.as_str(), self.max_value_len).into())
            }
            AnyValue::ListAny(l) => {
                AnyValue::ListAny(Box::new(l.iter().map(|v| self.cut(v)).collect()))
            }
            AnyValue::Map(m) => AnyValue::Map(Box::new(
                m.iter().map(|(k, v)| (k.clone(), self.cut(v))).collect(),
            )),
            other => other.clone(),
        }
    }

    /// The record to queue, taken out of `record` (the SDK drops the emitted record after its
    /// only processor, this one, has seen it; taking it saves a deep copy per log line): as is, or
    /// copied with its body and attributes cut to the limits (values shortened with the
    /// `…[truncated]` marker, attributes past the count dropped).
    fn limited(&self, record: &mut SdkLogRecord) -> SdkLogRecord {
        use opentelemetry::logs::Logger as _;
        let mut n = 0usize;
        let over = record.attributes_iter().any(|(_, v)| {
            n += 1;
            n > self.max_attributes || self.too_long(v)
        }) || record.body().is_some_and(|b| self.too_long(b));
        if !over {
            return std::mem::replace(record, self.blank.create_log_record());
        }
        let mut out = self.blank.create_log_record();
        if let Some(name) = record.event_name() {
            out.set_event_name(name);
        }
        if let Some(t) = record.target() {
            out.set_target(t.clone());
        }
        if let Some(t) = record.timestamp() {
            out.set_timestamp(t);
        }
        if let Some(t) = record.observed_timestamp() {
            out.set_observed_timestamp(t);
        }
        if let Some(tc) = record.trace_context() {
            out.set_trace_context(tc.trace_id, tc.span_id, tc.trace_flags);
        }
        if let Some(s) = record.severity_text() {
            out.set_severity_text(s);
        }
        if let Some(s) = record.severity_number() {
            out.set_severity_number(s);
        }
        if let Some(b) = record.body() {
            out.set_body(self.cut(b));
        }
        for (k, v) in record.attributes_iter().take(self.max_attributes) {
            out.add_attribute(k.clone(), self.cut(v));
        }
        out
    }
}

impl LogProcessor for BakerLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if record.event_name().is_some_and(is_code_location) {
            // An empty name is exported as "no event name" (proto3 default).
            record.set_event_name("");
        }
        Context::map_current(|cx| {
            // Same keys as the JSON lines (`conversation_id`, `job_id`), so Loki's structured
            // metadata is identical whichever path a line arrived by.
            crate::context::push_id_attributes(cx, |k, v| {
                let key = if k == crate::context::CONVERSATION_ID {
                    "conversation_id"
                } else {
                    "job_id"
                };
                record.add_attribute(key, AnyValue::String(v))
            });
        });
        // The service's processors see the record as it stands now (Baker ids included) and
        // may enrich or redact it before the limits are applied and it is queued.
        for p in self.theirs.iter() {
            p.emit(record, scope);
        }
        if let Some(queue) = &self.queue {
            // A dropped record is counted by the queue; nothing to do with it here.
            let _ = queue.push((self.limited(record), scope.clone()));
        }
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        // The service's processors never see what baker-otel would not export (the exporters'
        // own network stacks would feed back into the pipeline).
        !is_feedback_target(target)
            && !is_otlp_quiet(level, target)
            && (self.queue.is_some()
                || self
                    .theirs
                    .iter()
                    .any(|p| p.event_enabled(level, target, name)))
    }

    fn force_flush(&self) -> OTelSdkResult {
        let ours = self
            .queue
            .as_ref()
            .map_or(Ok(()), |q| q.flush(Duration::from_secs(5)));
        let theirs = crate::util::first_error(self.theirs.iter().map(|p| p.force_flush()));
        ours.and(theirs)
    }

    /// The queue and the service's processors at once, under one deadline.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let theirs = (!self.theirs.is_empty()).then(|| {
            let theirs = self.theirs.clone();
            move || {
                crate::util::shutdown_in_order(&theirs, timeout, |p, t| p.shutdown_with_timeout(t))
            }
        });
        let ours = || self.queue.as_ref().map_or(Ok(()), |q| q.shutdown(timeout));
        crate::util::alongside(timeout, ours, theirs)
    }
}

/// The whole log pipeline: the configured exporters plus `extra`, one bounded queue, the
/// Baker log processor with the service's processors (`theirs`) and the logger provider (`None`
/// without any exporter or processor).
pub(crate) fn pipeline(
    cfg: &crate::config::Config,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    extra: Vec<Box<dyn BatchExporter<LogItem>>>,
    dropped: std::sync::Arc<crate::export::Drops>,
    mut theirs: Vec<Box<dyn LogProcessor>>,
) -> Result<Option<SdkLoggerProvider>, InitError> {
    let mut list = select::logs(&cfg.logs, handle, resource, &dropped)?;
    list.extend(extra);
    let queue = build::combine(list).map(|e| {
        BatchQueue::start(
            handle,
            e,
            cfg.log_batch,
            dropped,
            "logs",
            crate::export::size::log,
        )
    });
    if queue.is_none() && theirs.is_empty() {
        return Ok(None);
    }
    for p in &mut theirs {
        // The provider cannot: it only sees baker-otel's processor.
        p.set_resource(resource);
    }
    let processor = BakerLogProcessor::new(queue, &cfg.limits, theirs);
    Ok(Some(provider(resource.clone(), processor)))
}

pub(crate) fn provider(resource: Resource, processor: BakerLogProcessor) -> SdkLoggerProvider {
    SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(processor)
        .build()
}

/// Targets whose events never become OTLP log records: the exporters' own network stacks
/// (a failing export would log, be exported, fail, log…) and our internal diagnostics.
pub(crate) fn is_feedback_target(target: &str) -> bool {
    const NOISY: &[&str] = &[
        "h2",
        "hyper",
        "hyper_util",
        "tonic",
        "tower",
        "reqwest",
        "opentelemetry",
        "rustls",
        "tokio_util",
    ];
    target.starts_with(crate::INTERNAL_TARGET)
        || NOISY.iter().any(|p| {
            target.starts_with(p)
                && matches!(
                    target.as_bytes().get(p.len()),
                    None | Some(b':') | Some(b'-') | Some(b'_')
                )
        })
}

/// Whether `name` is the name `tracing` gives an event without an explicit `name:`
/// (`event {file}:{line}`): a code location, not an event name. Such records are exported with no
/// event name (`opentelemetry-appender-tracing` copies `tracing`'s metadata name into the OTLP
/// `event_name`), for our crates and third-party ones alike; events with an explicit `name:` keep it.
pub(crate) fn is_code_location(name: &str) -> bool {
    name.strip_prefix("event ")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(file, line)| {
            !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Third-party targets whose events below WARN stay on the JSON lines only. async-nats logs its
/// connection chatter at INFO with a bare `server` field (a port number) that collides with the
/// semantic-convention `server.*` namespace; its warnings and errors still reach OTLP.
pub(crate) fn is_otlp_quiet(level: opentelemetry::logs::Severity, target: &str) -> bool {
    const QUIET_BELOW_WARN: &[&str] = &["async_nats"];
    (level as i32) < (opentelemetry::logs::Severity::Warn as i32)
        && QUIET_BELOW_WARN.iter().any(|p| {
            target.starts_with(p) && matches!(target.as_bytes().get(p.len()), None | Some(b':'))
        })
}

#[cfg(test)]
mod tests {
    use opentelemetry::logs::Severity;

    #[test]
    fn code_location_names() {
        for n in [
            "event src/main.rs:12",
            "event baker-otel-llm/src/accumulator.rs:244",
            "event /root/.cargo/registry/src/x/async-nats-0.51.0/src/lib.rs:1105",
        ] {
            assert!(super::is_code_location(n), "{n}");
        }
        for n in [
            "baker.job.usage",
            "event",
            "event x.rs",
            "event x.rs:12a",
            "gen_ai.evaluation.result",
        ] {
            assert!(!super::is_code_location(n), "{n}");
        }
    }

    #[test]
    fn quiet_third_party_targets() {
        assert!(super::is_otlp_quiet(Severity::Info, "async_nats"));
        assert!(super::is_otlp_quiet(
            Severity::Debug,
            "async_nats::connector"
        ));
        assert!(!super::is_otlp_quiet(
            Severity::Warn,
            "async_nats::connector"
        ));
        assert!(!super::is_otlp_quiet(Severity::Info, "async_nats_extra"));
        assert!(!super::is_otlp_quiet(Severity::Info, "worker"));
    }

    #[test]
    fn feedback_targets() {
        for t in [
            "h2",
            "h2::codec",
            "hyper_util::client",
            "tonic::transport",
            "opentelemetry-otlp",
            "opentelemetry_sdk",
            "baker_otel::internal",
        ] {
            assert!(super::is_feedback_target(t), "{t}");
        }
        for t in ["brain", "worker::agent", "hyperion", "towering"] {
            assert!(!super::is_feedback_target(t), "{t}");
        }
    }
}
