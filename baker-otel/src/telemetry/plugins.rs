//! SDK plug-ins: the service's own exporters, sampler, id generator, span and log processors
//! and span start hooks, written against opentelemetry_sdk's traits, for every span and log
//! record of the pipeline (`tracing` ones included).

use super::builder::TelemetryBuilder;
use crate::span_layer::{SharedIds, SharedSampler, SpanStartHook};
use opentelemetry_sdk::logs::LogProcessor;
use opentelemetry_sdk::trace::{IdGenerator, ShouldSample, SpanProcessor};
use std::sync::Arc;

impl TelemetryBuilder {
    /// Installs the service's own sampler in place of the configured one
    /// ([`sampler`](Self::sampler), `OTEL_TRACES_SAMPLER`): it decides for **every** span —
    /// `tracing` spans, [`SpanStarter`](crate::SpanStarter) spans, spans recorded through
    /// tracing-opentelemetry's layer ([`CompatSpans`](crate::CompatSpans)) and spans of the
    /// tracer provider (`opentelemetry::global::tracer`), which runs the same instance.
    ///
    /// It gets what the SDK's tracer gives a sampler: the parent [`Context`] (and so the
    /// conversation and job ids of its baggage, read with
    /// [`context::conversation_id_in`](crate::context::conversation_id_in) /
    /// [`job_id_in`](crate::context::job_id_in)), the trace id, the span name and kind, the
    /// attributes known at start — for a `tracing` span, the fields recorded at its creation
    /// (`otel.name` and `otel.kind` already applied) — and the links. The attributes and the
    /// trace state it returns go on the span, as with the SDK; `RecordOnly` spans reach the
    /// span processors ([`with_span_processor`](Self::with_span_processor)) but are not
    /// exported. A `tracing` span re-parented by
    /// [`set_parent`](crate::OpenTelemetrySpanExt::set_parent) is sampled again under its new
    /// parent. Without this call, the configured sampler runs as before (the
    /// `parentbased_*`/`always_*` ones inline, at no cost).
    ///
    /// To fall back to the configured sampler, take it from [`config`](Self::config):
    /// `Sampler::from(builder.config()?.sampler)`. A second call replaces the first sampler.
    ///
    /// [`Context`]: opentelemetry::Context
    ///
    /// Every trace of a *flagged* conversation (errored, over budget) is kept; the others are
    /// sampled as configured (here: nothing):
    ///
    /// ```
    /// use baker_otel::config::EnvSource;
    /// use baker_otel::context::{self, BakerScope};
    /// use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId};
    /// use opentelemetry::{Context, KeyValue};
    /// use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
    /// use std::collections::HashSet;
    /// use std::sync::{Arc, RwLock};
    ///
    /// /// Keeps every span of a flagged conversation; `otherwise` decides for the rest.
    /// #[derive(Debug, Clone)]
    /// struct KeepFlagged {
    ///     flagged: Arc<RwLock<HashSet<String>>>,
    ///     otherwise: Sampler,
    /// }
    ///
    /// impl ShouldSample for KeepFlagged {
    ///     fn should_sample(
    ///         &self,
    ///         parent: Option<&Context>,
    ///         trace_id: TraceId,
    ///         name: &str,
    ///         kind: &SpanKind,
    ///         attributes: &[KeyValue],
    ///         links: &[Link],
    ///     ) -> SamplingResult {
    ///         let conversation = parent.and_then(context::conversation_id_in);
    ///         if conversation.is_some_and(|c| self.flagged.read().unwrap().contains(c)) {
    ///             return SamplingResult {
    ///                 decision: SamplingDecision::RecordAndSample,
    ///                 attributes: vec![KeyValue::new("baker.sampling.rule", "flagged")],
    ///                 trace_state: parent
    ///                     .map(|cx| cx.span().span_context().trace_state().clone())
    ///                     .unwrap_or_default(),
    ///             };
    ///         }
    ///         self.otherwise.should_sample(parent, trace_id, name, kind, attributes, links)
    ///     }
    /// }
    ///
    /// let builder = baker_otel::Telemetry::builder().env_source(EnvSource::from_pairs([
    ///     ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
    ///     ("OTEL_TRACES_SAMPLER_ARG", "0"),
    /// ]));
    /// let flagged = Arc::new(RwLock::new(HashSet::new()));
    /// let sampler = KeepFlagged {
    ///     flagged: flagged.clone(),
    ///     otherwise: Sampler::from(builder.config()?.sampler),
    /// };
    /// let capture = baker_otel::testing::Capture::with_builder(builder.with_sampler(sampler));
    ///
    /// flagged.write().unwrap().insert("conv-42".to_owned()); // say, its job failed
    /// capture.in_scope(|| {
    ///     for conversation in ["conv-42", "conv-7"] {
    ///         BakerScope::current()
    ///             .conversation_id(conversation)
    ///             .in_scope(|| tracing::info_span!("turn", conversation).in_scope(|| {}));
    ///     }
    /// });
    /// let spans = capture.spans();
    /// assert_eq!(spans.len(), 1);
    /// let kept = &spans[0];
    /// assert_eq!(baker_otel::testing::Capture::attr(kept, "conversation"), Some("conv-42".into()));
    /// assert_eq!(baker_otel::testing::Capture::attr(kept, "baker.sampling.rule"), Some("flagged".into()));
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn with_sampler<S: ShouldSample + 'static>(mut self, sampler: S) -> Self {
        self.plugins.spans.sampler = Some(SharedSampler(Arc::new(sampler)));
        self
    }

    /// Installs the service's own trace and span id generator, for every span (those of the
    /// tracer provider too, which runs the same instance). A second call replaces the first.
    ///
    /// AWS X-Ray style trace ids (the first 4 bytes are the start time in epoch seconds):
    ///
    /// ```
    /// use opentelemetry::trace::{SpanId, TraceId};
    /// use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
    /// use std::time::{SystemTime, UNIX_EPOCH};
    ///
    /// #[derive(Debug, Default)]
    /// struct XRayIds(RandomIdGenerator);
    ///
    /// impl IdGenerator for XRayIds {
    ///     fn new_trace_id(&self) -> TraceId {
    ///         let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ///         let mut id = self.0.new_trace_id().to_bytes();
    ///         id[..4].copy_from_slice(&(now.as_secs() as u32).to_be_bytes());
    ///         TraceId::from_bytes(id)
    ///     }
    ///     fn new_span_id(&self) -> SpanId {
    ///         self.0.new_span_id()
    ///     }
    /// }
    ///
    /// let capture = baker_otel::testing::Capture::with_builder(
    ///     baker_otel::Telemetry::builder().with_id_generator(XRayIds::default()),
    /// );
    /// let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    /// capture.in_scope(|| tracing::info_span!("work").in_scope(|| {}));
    /// let id = capture.span("work").span_context.trace_id().to_bytes();
    /// let secs = u32::from_be_bytes([id[0], id[1], id[2], id[3]]) as u64;
    /// assert!(secs >= before);
    /// ```
    pub fn with_id_generator<G: IdGenerator + 'static>(mut self, ids: G) -> Self {
        self.plugins.spans.ids = Some(SharedIds(Arc::new(ids)));
        self
    }

    /// Adds a span processor of the service's own. Its `on_end` gets **every** finished span of
    /// the pipeline — `tracing` spans, [`SpanStarter`](crate::SpanStarter) spans, spans recorded
    /// through tracing-opentelemetry's layer and spans of the tracer provider — as the
    /// `SpanData` the exporters get (attribute values already cut to the length limit), before
    /// it is queued for export: the spans that record (sampled, or `RecordOnly` from a sampler
    /// of yours, which are then not exported), as with the SDK. Processors run in the order
    /// they were added, each on its own copy of the span. Nothing is copied, and nothing runs,
    /// without one.
    ///
    /// `on_start` is called for the spans of the tracer provider only: it takes the SDK's own
    /// `Span`, which only the SDK's tracer can create. For start-time enrichment of every span,
    /// `tracing` spans included, add a [`with_span_start_hook`](Self::with_span_start_hook).
    ///
    /// [`Telemetry::force_flush`](crate::Telemetry::force_flush) flushes it after baker-otel's
    /// queue; [`Telemetry::shutdown`](crate::Telemetry::shutdown) shuts it down at the same time
    /// as the queue, under the same deadline (a processor that has not finished by then is
    /// reported as a timeout and left to finish on its own); no span reaches it afterwards. It
    /// gets the pipeline's resource (`set_resource`) when the telemetry is built. With the SDK
    /// disabled nothing is built and it is never called.
    ///
    /// A second destination, next to OTLP (an exporter behind the SDK's `SimpleSpanProcessor`
    /// or `BatchSpanProcessor`):
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    ///
    /// let second = InMemorySpanExporter::default();
    /// let capture = baker_otel::testing::Capture::with_builder(
    ///     baker_otel::Telemetry::builder()
    ///         .with_span_processor(SimpleSpanProcessor::new(second.clone())),
    /// );
    /// capture.in_scope(|| tracing::info_span!("work").in_scope(|| {}));
    /// let exported = capture.spans(); // what the pipeline's own exporter got
    /// let copy = second.get_finished_spans().unwrap();
    /// assert_eq!(copy[0].name, "work");
    /// assert_eq!(copy[0].span_context, exported[0].span_context);
    /// ```
    pub fn with_span_processor<P: SpanProcessor + 'static>(mut self, processor: P) -> Self {
        self.plugins.spans.processors.push(Box::new(processor));
        self
    }

    /// Adds a hook run when a span starts, for **every** span of the pipeline (see
    /// [`SpanStartHook`] for exactly when): the start-time half of a span processor, for
    /// enrichment from the parent context (baggage, say) that is exported with the span. Hooks
    /// run in the order they were added; nothing runs without one.
    ///
    /// ```
    /// use baker_otel::StartingSpan;
    /// use opentelemetry::{Context, KeyValue};
    ///
    /// let capture = baker_otel::testing::Capture::with_builder(
    ///     baker_otel::Telemetry::builder().with_span_start_hook(
    ///         |span: &mut StartingSpan<'_>, _parent: &Context| {
    ///             span.set_attribute(KeyValue::new("cloud.region", "eu-west-1"));
    ///         },
    ///     ),
    /// );
    /// capture.in_scope(|| tracing::info_span!("work").in_scope(|| {}));
    /// let span = capture.span("work");
    /// assert_eq!(baker_otel::testing::Capture::attr(&span, "cloud.region"), Some("eu-west-1".into()));
    /// ```
    pub fn with_span_start_hook<H: SpanStartHook>(mut self, hook: H) -> Self {
        self.plugins.spans.hooks.push(Box::new(hook));
        self
    }

    /// Adds a log processor of the service's own. It sees every OTLP log record before
    /// baker-otel's processor queues it for export, after the Baker ids (`conversation_id`,
    /// `job_id`) were added: what it changes (`emit(&mut SdkLogRecord, ..)`: an attribute added,
    /// a body redacted) is exported, within the log limits. Processors run in the order they
    /// were added. It sees only the records baker-otel exports (never the exporters' own
    /// network logs), and may be the only destination (`OTEL_LOGS_EXPORTER=none`).
    /// Flush and shutdown as for [`with_span_processor`](Self::with_span_processor).
    ///
    /// ```
    /// use opentelemetry::logs::{AnyValue, LogRecord as _};
    /// use opentelemetry::InstrumentationScope;
    /// use opentelemetry_sdk::error::OTelSdkResult;
    /// use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
    ///
    /// /// Adds the region and hides API keys in message bodies.
    /// #[derive(Debug)]
    /// struct Scrub;
    ///
    /// impl LogProcessor for Scrub {
    ///     fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
    ///         record.add_attribute("cloud.region", "eu-west-1");
    ///         if let Some(AnyValue::String(body)) = record.body() {
    ///             if body.as_str().contains("sk-") {
    ///                 record.set_body(AnyValue::from("[redacted]"));
    ///             }
    ///         }
    ///     }
    ///     fn force_flush(&self) -> OTelSdkResult {
    ///         Ok(())
    ///     }
    ///     fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let capture = baker_otel::testing::Capture::with_builder(
    ///     baker_otel::Telemetry::builder().with_log_processor(Scrub),
    /// );
    /// capture.in_scope(|| tracing::warn!("rejected key sk-12345"));
    /// let logs = capture.logs();
    /// let record = &logs[0].record;
    /// assert_eq!(record.body(), Some(&AnyValue::from("[redacted]")));
    /// assert!(record.attributes_iter().any(|(k, _)| k.as_str() == "cloud.region"));
    /// ```
    pub fn with_log_processor<P: LogProcessor + 'static>(mut self, processor: P) -> Self {
        self.plugins.logs.push(Box::new(processor));
        self
    }

    /// Adds a custom span exporter (a vendor backend, a file…) next to the configured ones. It is
    /// fed through the same bounded, drop-counting queue and runs on the export runtime.
    pub fn with_span_exporter<E: opentelemetry_sdk::trace::SpanExporter + 'static>(
        mut self,
        exporter: E,
    ) -> Self {
        let mut exporter = exporter;
        self.extra_spans.push(Box::new(move |r| {
            exporter.set_resource(r);
            Box::new(crate::export::build::Spans(exporter))
        }));
        self
    }

    /// Adds a custom log exporter next to the configured ones.
    pub fn with_log_exporter<E: opentelemetry_sdk::logs::LogExporter + 'static>(
        mut self,
        exporter: E,
    ) -> Self {
        let mut exporter = exporter;
        self.extra_logs.push(Box::new(move |r| {
            exporter.set_resource(r);
            Box::new(crate::export::build::Logs(exporter))
        }));
        self
    }
}
