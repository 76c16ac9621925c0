//! tracing-opentelemetry's own layer, for the spans whose code relies on its contract.
//!
//! Crates built on tracing-opentelemetry (axum-/tonic-tracing-opentelemetry, the instrumentation
//! SDK they share, many in-house middlewares) call `tracing_opentelemetry::OpenTelemetrySpanExt`.
//! That trait reaches its layer through a crate-private downcast, which no other layer can
//! answer: under baker-otel's own span layer alone, `set_parent` would do nothing and
//! `context()` would be empty — the caller's trace silently lost. So the spans such code creates
//! are recorded by tracing-opentelemetry's real `OpenTelemetryLayer`, with [`CompatTracer`]
//! behind it: the same sampler, id generator, limits, Baker ids and export queue as every other
//! span of the hub. Every other span stays on baker-otel's faster layer. Which spans go where is
//! decided once per callsite by [`CompatSpans`].
//!
//! Three pieces, all safe code:
//! - [`DowncastAnchor`]: a second `OpenTelemetryLayer` behind a filter that enables nothing.
//!   It is only there to answer the trait's downcast; its functions find the span data the other
//!   one stored (they look it up in the registry, whoever created it).
//! - [`CompatLayer`]: the `OpenTelemetryLayer` that records the selected spans. A selected span
//!   whose explicit `parent:` is a span of baker-otel's own layer is handed over with that
//!   parent's context current, so that it continues the parent's trace.
//! - [`CompatTracer`] / [`CompatSpan`]: the `opentelemetry::trace::Tracer` behind it.

use super::live::LiveSpan;
use super::starter::start_live;
use super::state::SpanState;
use super::Shared;
use opentelemetry::trace::{SpanBuilder, SpanContext, Status};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::subscriber::Interest;
use tracing_subscriber::layer::{Context as LayerContext, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Which `tracing` spans are recorded through tracing-opentelemetry's layer, so that code
/// calling [`tracing_opentelemetry::OpenTelemetrySpanExt`] on them gets what that crate gives
/// it (`set_parent`, `context()`, `add_link`, `set_attribute`, `set_status`).
///
/// The rest use baker-otel's own span layer, which is about twice as fast
/// (README, Performance) and which [`baker_otel::OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt)
/// serves. Both record into the same pipeline: same sampler, ids, limits, Baker ids, export
/// queue, and parents across the two are kept.
///
/// ```
/// use baker_otel::CompatSpans;
///
/// // The default: crates built on tracing-opentelemetry, found by their callsites.
/// let auto = CompatSpans::auto();
/// // Plus the spans of an in-house middleware that calls tracing-opentelemetry's trait on
/// // spans without `otel.*` fields.
/// let mine = CompatSpans::auto().with_target("my_company_middleware");
/// // Every span (tracing-opentelemetry's cost on each), or none (third-party calls of
/// // tracing-opentelemetry's trait then do nothing).
/// let (all, off) = (CompatSpans::all(), CompatSpans::off());
/// # let _ = (auto, mine, all, off);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompatSpans {
    mode: Mode,
    targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Auto,
    All,
}

impl Default for CompatSpans {
    fn default() -> Self {
        Self::auto()
    }
}

/// Crates of baker-otel's own integrations: they use baker-otel's trait and layer.
const OWN_TARGETS: &str = "baker_otel";
/// The target of the spans of davidB's instrumentation SDK (axum-, tonic-tracing-opentelemetry).
const INSTRUMENTATION_SDK_TARGET: &str = "otel::tracing";

impl CompatSpans {
    /// The default. A span goes through tracing-opentelemetry's layer when its callsite's
    /// target starts with `otel::` (the instrumentation SDK behind axum- and
    /// tonic-tracing-opentelemetry), or is in a crate named for tracing or OpenTelemetry
    /// instrumentation (`reqwest_tracing`, `tonic_tracing_opentelemetry`, `tower_otel`: a name
    /// containing `tracing`, `otel` or `opentelemetry`, baker-otel's own `baker_otel*` crates
    /// excepted), or starts with a target added by [`with_target`](Self::with_target).
    /// Your own spans stay on baker-otel's layer: use
    /// [`baker_otel::OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt) on them, or add their
    /// target.
    #[must_use]
    pub fn auto() -> Self {
        Self {
            mode: Mode::Auto,
            targets: Vec::new(),
        }
    }

    /// Every `tracing` span goes through tracing-opentelemetry's layer.
    #[must_use]
    pub fn all() -> Self {
        Self {
            mode: Mode::All,
            targets: Vec::new(),
        }
    }

    /// No span does: calls of `tracing_opentelemetry::OpenTelemetrySpanExt` then find no layer
    /// (`set_parent` returns `Err(LayerNotFound)`, `context()` is empty). For services whose
    /// dependencies do not use tracing-opentelemetry.
    #[must_use]
    pub fn off() -> Self {
        Self {
            mode: Mode::Off,
            targets: Vec::new(),
        }
    }

    /// Also the spans whose target starts with `prefix` (with [`auto`](Self::auto)).
    #[must_use]
    pub fn with_target(mut self, prefix: impl Into<String>) -> Self {
        self.targets.push(prefix.into());
        self
    }

    pub(crate) fn is_off(&self) -> bool {
        self.mode == Mode::Off
    }

    /// `directives` (`RUST_LOG` style) plus `otel::tracing=trace` unless they name that target:
    /// the instrumentation SDK of axum- and tonic-tracing-opentelemetry creates its spans at
    /// `TRACE` (init-tracing-opentelemetry adds the same directive).
    pub(crate) fn directives(&self, directives: &str) -> String {
        let target = INSTRUMENTATION_SDK_TARGET;
        if self.is_off() || directives.contains(target) {
            directives.to_owned()
        } else if directives.trim().is_empty() {
            format!("{target}=trace")
        } else {
            format!("{directives},{target}=trace")
        }
    }

    /// Whether spans of this callsite go through tracing-opentelemetry's layer.
    #[inline]
    pub(crate) fn selects(&self, meta: &Metadata<'_>) -> bool {
        match self.mode {
            Mode::Off => false,
            Mode::All => meta.is_span(),
            Mode::Auto => {
                let target = meta.target();
                meta.is_span()
                    && (target.starts_with("otel::")
                        || self.targets.iter().any(|t| target.starts_with(t.as_str()))
                        || instrumentation_crate(target))
            }
        }
    }
}

/// Whether `target` is in a crate named for tracing or OpenTelemetry instrumentation
/// (`reqwest_tracing`, `tonic_tracing_opentelemetry`, `actix_web_opentelemetry`, `tower_otel`…),
/// other than baker-otel's own.
fn instrumentation_crate(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    !krate.starts_with(OWN_TARGETS)
        && (krate.contains("tracing") || krate.contains("otel") || krate.contains("opentelemetry"))
}

impl<S> Filter<S> for CompatSpans {
    fn enabled(&self, meta: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        self.selects(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.selects(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// A filter that enables nothing: the [`DowncastAnchor`] never records a span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nothing;

impl<S> Filter<S> for Nothing {
    fn enabled(&self, _: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        false
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::never()
    }
}

/// The layer whose only job is answering tracing-opentelemetry's downcast (see the module docs).
pub(crate) type DowncastAnchor<S> = tracing_subscriber::filter::Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, CompatTracer>,
    Nothing,
    S,
>;

/// tracing-opentelemetry's layer as baker-otel configures it: no code location, thread or
/// level attributes and no busy/idle timings (baker-otel's own spans have none either).
fn otel_layer<S>(tracer: CompatTracer) -> tracing_opentelemetry::OpenTelemetryLayer<S, CompatTracer>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(false)
}

/// The anchor for a subscriber `S`.
pub(crate) fn anchor<S>(tracer: CompatTracer) -> DowncastAnchor<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    otel_layer(tracer).with_filter(Nothing)
}

/// tracing-opentelemetry's layer recording the spans [`CompatSpans`] selects (it is filtered by
/// it where it is stacked).
pub(crate) struct CompatLayer<S> {
    inner: tracing_opentelemetry::OpenTelemetryLayer<S, CompatTracer>,
    /// The dispatcher this layer is part of, to look up spans its filtered `Context` hides.
    dispatch: DispatchCell,
}

impl<S> CompatLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    pub(crate) fn new(tracer: CompatTracer, dispatch: DispatchCell) -> Self {
        Self {
            inner: otel_layer(tracer),
            dispatch,
        }
    }
}

/// The context a child of `parent` continues, when `parent` is a span of baker-otel's own
/// layer. Looked up in the registry of `dispatch` (the one the layer was registered with): the
/// `Context` a filtered layer gets does not show spans its filter did not select, and
/// `dispatcher::get_default` answers with no dispatcher inside a scoped one's callback.
fn native_parent(dispatch: &DispatchCell, parent: &Id) -> Option<Context> {
    let dispatch = dispatch.get()?;
    let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
    let span = registry.span(parent)?;
    let mut ext = span.extensions_mut();
    ext.get_mut::<SpanState>().map(SpanState::child_parent)
}

impl<S> Layer<S> for CompatLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        // tracing-opentelemetry starts a root for an explicit parent it did not record; hand
        // the span over as a contextual one, with the parent's context current.
        let native = attrs
            .parent()
            .and_then(|p| native_parent(&self.dispatch, p));
        if let Some(parent_cx) = native {
            let _current = parent_cx.attach();
            let contextual = Attributes::new(attrs.metadata(), attrs.values());
            self.inner.on_new_span(&contextual, id, ctx);
            return;
        }
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        self.inner.on_record(id, values, ctx);
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_follows_from(id, follows, ctx);
    }

    /// Events stay log records (the JSON lines and the OTLP log bridge), never span events —
    /// as on baker-otel's own spans. (The filter selects no event callsite anyway.)
    fn on_event(&self, _: &Event<'_>, _: LayerContext<'_, S>) {}

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }
}

/// The dispatcher baker-otel's layers end up in, for the lookups a `Layer` cannot make through
/// its `Context`. A layer of its own, stacked outside any `Option` (whose `Layer` impl does not
/// pass `on_register_dispatch` on), shared by the span layer and [`CompatLayer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct DispatchCell(Arc<OnceLock<WeakDispatch>>);

impl DispatchCell {
    pub(crate) fn get(&self) -> Option<tracing::Dispatch> {
        self.0.get()?.upgrade()
    }
}

impl<S: Subscriber> Layer<S> for DispatchCell {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.0.set(subscriber.downgrade());
    }
}

/// The `opentelemetry::trace::Tracer` behind tracing-opentelemetry's layer: spans start into
/// the hub's export queue like [`SpanStarter`](crate::SpanStarter)'s.
#[derive(Debug, Clone)]
pub(crate) struct CompatTracer {
    shared: Arc<Shared>,
    scope: Arc<InstrumentationScope>,
}

impl CompatTracer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            scope: Arc::new(shared.scope.clone()),
            shared,
        }
    }
}

impl opentelemetry::trace::Tracer for CompatTracer {
    type Span = CompatSpan;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> CompatSpan {
        match start_live(&self.shared, &self.scope, builder, [], parent_cx) {
            Ok(span) => CompatSpan::Live(span),
            Err(sc) => CompatSpan::Unsampled(sc),
        }
    }
}

/// A span of [`CompatTracer`]: recorded, or only its context when the sampler drops it.
#[derive(Debug)]
pub(crate) enum CompatSpan {
    Live(LiveSpan),
    Unsampled(SpanContext),
}

impl opentelemetry::trace::Span for CompatSpan {
    fn add_event_with_timestamp<T>(&mut self, name: T, timestamp: SystemTime, attrs: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Self::Live(s) = self {
            s.add_event_with_timestamp(name, timestamp, attrs);
        }
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            Self::Live(s) => s.span_context(),
            Self::Unsampled(sc) => sc,
        }
    }

    fn is_recording(&self) -> bool {
        matches!(self, Self::Live(s) if s.is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if let Self::Live(s) = self {
            s.set_attribute(attribute);
        }
    }

    fn set_status(&mut self, status: Status) {
        if let Self::Live(s) = self {
            s.set_status(status);
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Self::Live(s) = self {
            s.update_name(new_name);
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Self::Live(s) = self {
            s.add_link(span_context, attributes);
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let Self::Live(s) = self {
            s.end_with_timestamp(timestamp);
        }
    }
}
