//! [`SpanStarter`]: OpenTelemetry spans started straight into the export queue, for
//! integrations that start a span per request on a hot path.

use super::live::LiveSpan;
use super::record::SpanRecord;
use super::Shared;
use opentelemetry::trace::{SpanBuilder, SpanContext, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Starts OpenTelemetry spans the way baker-otel records `tracing` spans: straight into the
/// pipeline's bounded export queue, with the configured sampler, span limits and attribute
/// length limit, and the conversation and job ids of the parent's baggage as attributes — the
/// same spans, ids and attributes the tracer provider's [`Tracer`](opentelemetry::trace::Tracer)
/// would produce, without the SDK's per-span machinery (a span builder boxed through the
/// processor chain, a second copy on end). baker-otel-axum starts its SERVER spans with it.
///
/// [`start`](Self::start) returns `parent` with the new span active: the span is reached, changed
/// and ended through the context (`cx.span().set_attribute(..)`, `cx.span().end()`), and ends
/// when the last clone of that context is dropped if nothing ended it before (as an SDK span
/// does). When the SDK is disabled, `start` returns `parent` unchanged.
///
/// ```
/// use opentelemetry::trace::{SpanBuilder, SpanKind, TraceContextExt};
/// use opentelemetry::{Context, InstrumentationScope, KeyValue};
///
/// let capture = baker_otel::testing::Capture::new();
/// let telemetry = capture.telemetry();
/// let starter = telemetry.span_starter(InstrumentationScope::builder("my-layer").build());
/// let cx = starter.start(
///     SpanBuilder::from_name("GET /jobs/{id}")
///         .with_kind(SpanKind::Server)
///         .with_attributes([KeyValue::new("http.route", "/jobs/{id}")]),
///     &Context::new(),
/// );
/// assert!(cx.span().span_context().is_sampled());
/// cx.span().set_attribute(KeyValue::new("http.response.status_code", 200));
/// cx.span().end();
/// assert_eq!(capture.spans()[0].name, "GET /jobs/{id}");
/// ```
#[derive(Clone)]
pub struct SpanStarter {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    shared: Arc<Shared>,
    scope: InstrumentationScope,
}

impl fmt::Debug for SpanStarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanStarter")
            .field("scope", &self.inner.as_ref().map(|i| i.scope.name()))
            .finish_non_exhaustive()
    }
}

impl SpanStarter {
    pub(crate) fn new(shared: Option<Arc<Shared>>, scope: InstrumentationScope) -> Self {
        Self {
            inner: shared.map(|shared| Arc::new(Inner { shared, scope })),
        }
    }

    /// Whether [`start`](Self::start) starts spans (false when the SDK is disabled).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let scope = opentelemetry::InstrumentationScope::builder("my-layer").build();
    /// assert!(capture.telemetry().span_starter(scope).is_enabled());
    /// ```
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Starts a span from `builder` under `parent` and returns `parent` with that span active.
    ///
    /// Every field of the builder is used: name, kind, start time (now when unset), attributes,
    /// events and links, within the span limits. A span the sampler drops
    /// still gets its own span id (not sampled), so its context propagates.
    ///
    /// ```
    /// use opentelemetry::trace::{SpanBuilder, SpanContext, TraceContextExt};
    /// use opentelemetry::{Context, InstrumentationScope, KeyValue};
    ///
    /// let (telemetry, _dispatch) = baker_otel::Telemetry::builder()
    ///     .env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
    ///     .build()?;
    /// let starter = telemetry.span_starter(InstrumentationScope::builder("my-layer").build());
    /// let cx = starter.start(SpanBuilder::from_name("work"), &Context::new());
    /// assert!(!cx.has_active_span()); // SDK disabled: `parent` unchanged
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn start(&self, builder: SpanBuilder, parent: &Context) -> Context {
        self.start_with_attributes(builder, [], parent)
    }

    /// [`start`](Self::start), with `attributes` added after the builder's: a caller that
    /// knows its attributes up front passes them without collecting them into a `Vec` first —
    /// say an array of `Option<KeyValue>` it borrows, `attrs.iter_mut().filter_map(Option::take)`
    /// (a by-value `attrs.into_iter().flatten()` copies the whole array along with the iterator).
    ///
    /// ```
    /// use opentelemetry::trace::{SpanBuilder, SpanContext, TraceContextExt};
    /// use opentelemetry::{Context, InstrumentationScope, KeyValue};
    ///
    /// let capture = baker_otel::testing::Capture::new();
    /// let starter = capture.telemetry().span_starter(InstrumentationScope::builder("db").build());
    /// let table: Option<&'static str> = None;
    /// let mut attrs = [
    ///     Some(KeyValue::new("db.system.name", "postgresql")),
    ///     table.map(|t| KeyValue::new("db.collection.name", t)),
    /// ];
    /// let cx = starter.start_with_attributes(
    ///     SpanBuilder::from_name("SELECT"),
    ///     attrs.iter_mut().filter_map(Option::take),
    ///     &Context::new(),
    /// );
    /// cx.span().end();
    /// assert_eq!(capture.spans()[0].attributes.len(), 1);
    /// ```
    pub fn start_with_attributes<I>(
        &self,
        builder: SpanBuilder,
        attributes: I,
        parent: &Context,
    ) -> Context
    where
        I: IntoIterator<Item = KeyValue>,
    {
        let Some(inner) = &self.inner else {
            return parent.clone();
        };
        match start_live(&inner.shared, &inner.scope, builder, attributes, parent) {
            Ok(span) => parent.with_span(span),
            Err(sc) => parent.with_remote_span_context(sc),
        }
    }
}

/// Starts a span from `builder` under `parent` into `shared`'s queue: `Err` with the span
/// context of a span the sampler does not record. Shared by [`SpanStarter`] and the
/// tracing-opentelemetry tracer (`compat`).
pub(crate) fn start_live<I>(
    shared: &Arc<Shared>,
    scope: &InstrumentationScope,
    builder: SpanBuilder,
    attributes: I,
    parent: &Context,
) -> Result<LiveSpan, SpanContext>
where
    I: IntoIterator<Item = KeyValue>,
{
    let attributes = attributes.into_iter();
    let (low, high) = attributes.size_hint();
    // Room for the Baker ids and two attributes set at the end (a status code, say).
    let fields = builder.attributes.as_ref().map_or(0, Vec::len) + high.unwrap_or(low) + 4;
    let start = builder.start_time.unwrap_or_else(SystemTime::now);
    let mut record = SpanRecord::starting(builder.name, start, fields, scope);
    if let Some(kind) = builder.span_kind {
        record.set_kind(kind);
    }
    if let Some(list) = builder.attributes {
        record.extend_attributes(list, &shared.limits);
    }
    record.extend_attributes(attributes, &shared.limits);
    // `if let` rather than `.into_iter().flatten()`: the usual `None` costs one test, not
    // the construction and drop of a flattening iterator.
    if let Some(links) = builder.links {
        for link in links {
            record.push_link(link, &shared.limits);
        }
    }
    if let Some(events) = builder.events {
        for event in events {
            record.push_event(event, &shared.limits);
        }
    }
    let mut s = shared.sample(parent, &record);
    if !s.recording {
        // Sampled out (the common case under ratio sampling): the allocation goes back to
        // the pool for the next span.
        record.recycle();
        return Err(s.sc);
    }
    record.extend_attributes(std::mem::take(&mut s.extra), &shared.limits);
    super::state::started(parent, &mut record, &s.sc, shared);
    Ok(LiveSpan::owned(record, shared.clone(), s))
}
