//! Reading and changing the OpenTelemetry side of a `tracing::Span`.

use super::state::{SetParentError, SpanState};
use super::{Shared, SpanLayer};
use opentelemetry::trace::{Event, Link, SpanContext, Status};
use opentelemetry::{Context, Key, KeyValue, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// OpenTelemetry operations on a `tracing::Span` recorded by baker-otel: its [`Context`] (for
/// propagation), a remote parent, links, attributes, status and events.
///
/// The same methods as `baker_otel::OpenTelemetrySpanExt`, for spans recorded by
/// baker-otel's own span layer (which replaces tracing-opentelemetry's in [`crate::init`]).
///
/// ```
/// use baker_otel::OpenTelemetrySpanExt;
/// use opentelemetry::trace::TraceContextExt;
///
/// let (telemetry, dispatch) = baker_otel::Telemetry::builder()
///     .env_source(baker_otel::config::EnvSource::from_pairs([
///         ("OTEL_TRACES_EXPORTER", "none"),
///         ("OTEL_METRICS_EXPORTER", "none"),
///         ("OTEL_LOGS_EXPORTER", "none"),
///     ]))
///     .build()
///     .unwrap();
/// tracing::dispatcher::with_default(&dispatch, || {
///     let span = tracing::info_span!("handle");
///     span.set_attribute("app.tenant", "acme");
///     let cx = span.context();
///     assert!(cx.span().span_context().is_valid());
/// });
/// telemetry.shutdown().unwrap();
/// ```
pub trait OpenTelemetrySpanExt {
    /// Makes `cx`'s span (typically extracted from an inbound message) this span's parent, and
    /// its baggage this span's baggage. Call it right after creating the span: once it was
    /// entered, its context taken, or a child or link created from it, it returns
    /// [`SetParentError::AlreadyStarted`].
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError>;
    /// Adds a link to `cx` (ignored when `cx` is not valid).
    fn add_link(&self, cx: SpanContext);
    /// Adds a link to `cx` with attributes (ignored when `cx` is not valid).
    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>);
    /// The parent context with this span in it: what `inject` propagates. A span not recorded
    /// by baker-otel yields an empty context.
    fn context(&self) -> Context;
    /// Sets an attribute (any OpenTelemetry value, unlike `tracing` fields, which must be
    /// declared up front); a key set before keeps one value, the last.
    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);
    /// Sets the status (Unset < Error < Ok: a status never moves down).
    fn set_status(&self, status: Status);
    /// Adds a span event timestamped now.
    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>);
    /// Adds a span event at `timestamp`.
    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    );
}

/// Runs `f` on the span's state; `None` when the span is disabled or not ours.
fn with_state<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut SpanState, &Arc<Shared>) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let layer = dispatch.downcast_ref::<SpanLayer>()?;
        let registry = dispatch.downcast_ref::<Registry>()?;
        let data = registry.span(id)?;
        let mut ext = data.extensions_mut();
        let state = ext.get_mut::<SpanState>()?;
        Some(f(state, &layer.shared))
    })
    .flatten()
}

// Spans without baker-otel's state are those tracing-opentelemetry's layer records
// (`CompatSpans`), or none at all: each method then does what tracing-opentelemetry's trait does.
impl OpenTelemetrySpanExt for tracing::Span {
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError> {
        let mut cx = Some(cx);
        let own = with_state(self, |s, shared| match cx.take() {
            Some(cx) => s.set_parent(shared, cx),
            None => Ok(()),
        });
        match (own, cx) {
            (Some(result), _) => result,
            (None, Some(cx)) => tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(self, cx)
                .map_err(|e| match e {
                    tracing_opentelemetry::SetParentError::AlreadyStarted => {
                        SetParentError::AlreadyStarted
                    }
                    _ => SetParentError::LayerNotFound,
                }),
            (None, None) => Err(SetParentError::LayerNotFound),
        }
    }

    fn add_link(&self, cx: SpanContext) {
        self.add_link_with_attributes(cx, Vec::new());
    }

    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>) {
        if !cx.is_valid() {
            return;
        }
        let mut link = Some((cx, attributes));
        let own = with_state(self, |s, shared| {
            if let Some((cx, attributes)) = link.take() {
                s.with_record(shared, |r, l| r.push_link(Link::new(cx, attributes, 0), l));
            }
        });
        if let (None, Some((cx, attributes))) = (own, link) {
            tracing_opentelemetry::OpenTelemetrySpanExt::add_link_with_attributes(
                self, cx, attributes,
            );
        }
    }

    fn context(&self) -> Context {
        with_state(self, |s, shared| s.context(shared))
            .unwrap_or_else(|| tracing_opentelemetry::OpenTelemetrySpanExt::context(self))
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        let mut kv = Some(KeyValue::new(key, value));
        let own = with_state(self, |s, shared| {
            if let Some(kv) = kv.take() {
                s.with_record(shared, |r, l| r.put_attribute(kv, l));
            }
        });
        if let (None, Some(kv)) = (own, kv) {
            tracing_opentelemetry::OpenTelemetrySpanExt::set_attribute(self, kv.key, kv.value);
        }
    }

    fn set_status(&self, status: Status) {
        let mut status = Some(status);
        let own = with_state(self, |s, shared| {
            if let Some(status) = status.take() {
                s.with_record(shared, |r, _| r.set_status(status));
            }
        });
        if let (None, Some(status)) = (own, status) {
            tracing_opentelemetry::OpenTelemetrySpanExt::set_status(self, status);
        }
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.add_event_with_timestamp(name, SystemTime::now(), attributes);
    }

    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        let mut event = Some(Event::new(name, timestamp, attributes, 0));
        let own = with_state(self, |s, shared| {
            if let Some(event) = event.take() {
                s.with_record(shared, |r, l| r.push_event(event, l));
            }
        });
        if let (None, Some(e)) = (own, event) {
            tracing_opentelemetry::OpenTelemetrySpanExt::add_event_with_timestamp(
                self,
                e.name,
                e.timestamp,
                e.attributes,
            );
        }
    }
}
