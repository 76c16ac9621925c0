//! The `tracing` layer: creates, enters, exits, records and closes the spans.

use super::compat::{self, CompatSpans};
use super::compat_tracer::{self, CompatTracer};
use super::record::FieldVisitor;
use super::shared::Shared;
use super::state::SpanState;
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The span layer; one per pipeline. Spans only: events are log records, never span events.
#[derive(Debug, Clone)]
pub(crate) struct SpanLayer {
    pub(crate) shared: Arc<Shared>,
    /// The spans left to tracing-opentelemetry's layer (`compat`): not recorded here.
    pub(crate) compat: CompatSpans,
}

impl SpanLayer {
    pub(crate) fn new(shared: Shared, compat: CompatSpans) -> Self {
        Self {
            shared: Arc::new(shared),
            compat,
        }
    }

    fn parent<S>(&self, attrs: &Attributes<'_>, ctx: &LayerContext<'_, S>) -> Context
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if attrs.is_contextual() {
            // The entered span's context is the current one (activated on enter).
            return Context::current();
        }
        let Some(parent) = attrs.parent() else {
            return Context::default();
        };
        let own = ctx.span(parent).and_then(|p| {
            let mut ext = p.extensions_mut();
            ext.get_mut::<SpanState>().map(|s| s.child_parent())
        });
        own.or_else(|| self.compat_context(parent))
            .unwrap_or_default()
    }

    /// tracing-opentelemetry's layer for the spans [`CompatSpans`] selects (see `compat`).
    /// Stacked above this layer, which sees every new span first. `None` with
    /// `CompatSpans::off()`.
    pub(crate) fn compat_layers<S>(&self) -> Option<impl Layer<S> + Send + Sync + 'static>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if self.compat.is_off() {
            return None;
        }
        let tracer = CompatTracer::new(self.shared.clone());
        Some(compat::layer(tracer, self.compat.clone()))
    }

    /// The context of a span recorded by tracing-opentelemetry's layer (`compat`).
    fn compat_context(&self, id: &Id) -> Option<Context> {
        if self.compat.is_off() {
            return None;
        }
        // The hub's dispatcher: `dispatcher::get_default` has none inside a scoped one's callback.
        let dispatch = self.shared.dispatch.get()?;
        tracing_opentelemetry::get_otel_context(id, &dispatch)
    }
}

/// The context of an event's explicit parent (`info!(parent: &span, …)`) when baker-otel's layer
/// records that span: the event's JSON line and OTLP log record take their trace and span ids
/// and Baker ids from it, not from the current context. `None` for any other event.
pub(crate) fn explicit_parent<S>(
    event: &tracing::Event<'_>,
    ctx: &LayerContext<'_, S>,
) -> Option<Context>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(event.parent()?)?;
    let ext = span.extensions();
    ext.get::<SpanState>().map(SpanState::event_context)
}

thread_local! {
    /// Contexts attached by `on_enter`, detached by the matching `on_exit`.
    static GUARDS: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing_core::subscriber::Interest {
        compat::warn_if_needed(&self.shared, &self.compat, meta);
        tracing_core::subscriber::Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if self.compat.selects(attrs.metadata()) {
            // tracing-opentelemetry's span: only an explicit parent of ours to hand over.
            let parent = attrs.parent().and_then(|p| {
                let span = ctx.span(p)?;
                let mut ext = span.extensions_mut();
                ext.get_mut::<SpanState>().map(|s| s.link_target())
            });
            compat_tracer::hand_over_parent(parent);
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = self.parent(attrs, &ctx);
        let name = attrs.metadata().name();
        let mut state = SpanState::new(parent, name, attrs.fields().len(), &self.shared);
        if let Some(record) = state.pending() {
            attrs.record(&mut FieldVisitor {
                record,
                limits: &self.shared.limits,
                replace: false,
            });
        }
        state.sample(&self.shared);
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            state.with_record(&self.shared, |record, limits| {
                values.record(&mut FieldVisitor {
                    record,
                    limits,
                    replace: true,
                })
            });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let own = ctx.span(follows).and_then(|f| {
            let mut ext = f.extensions_mut();
            ext.get_mut::<SpanState>().map(|s| s.link_target())
        });
        let Some(sc) = own
            .or_else(|| {
                let cx = self.compat_context(follows)?;
                Some(cx.span().span_context().clone())
            })
            .filter(SpanContext::is_valid)
        else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            state.with_record(&self.shared, |r, limits| {
                r.push_link(opentelemetry::trace::Link::new(sc, Vec::new(), 0), limits)
            });
        }
    }

    /// An `ERROR` event marks the span it belongs to (its explicit parent, else the current
    /// span) as failed, as tracing-opentelemetry does: status `Error` (never over `Ok`),
    /// described by the event's `error` field when it has no message — the event
    /// `#[instrument(err)]` logs. The event itself stays a log record.
    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        if *event.metadata().level() != tracing::Level::ERROR {
            return;
        }
        let span = match event.parent() {
            Some(id) => ctx.span(id),
            None if event.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let Some(span) = span else { return };
        // Fields are read before the span is locked: a `Debug` impl may log.
        let mut description = ErrorDescription::default();
        event.record(&mut description);
        let description = description.get();
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            state.with_record(&self.shared, |r, _| {
                r.set_status(Status::error(description.unwrap_or_default()));
            });
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let cx = span
            .extensions_mut()
            .get_mut::<SpanState>()
            .map(|s| s.context(&self.shared));
        // Attached with the extensions unlocked: nothing here may log into a locked span.
        if let Some(cx) = cx {
            let guard = cx.attach();
            // During thread teardown the stack may be gone: the context is then detached again
            // at once (the guard drops here) instead of panicking.
            let _ = GUARDS.try_with(|g| g.borrow_mut().push((id.clone(), guard)));
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
                // Read only for a recording span.
                state.with_record(&self.shared, |r, _| r.set_end(SystemTime::now()));
            }
        }
        let guard = GUARDS
            .try_with(|g| {
                let mut g = g.borrow_mut();
                let at = g.iter().rposition(|(i, _)| i == id)?;
                Some(g.remove(at).1)
            })
            .ok()
            .flatten();
        // Dropped outside the borrow: detaching may log.
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // The registry drops the extensions after the last layer's `on_close`.
        let data = span
            .extensions_mut()
            .get_mut::<SpanState>()
            .and_then(|s| s.end(&self.shared));
        if let Some(data) = data {
            self.shared.push(data);
        }
    }
}

/// The `error` field of an event without a message, as text (a `%e` or `?e` field's text, a
/// string field's value; not an `&dyn Error` field): the description an `ERROR` event gives
/// its span's status.
#[derive(Default)]
struct ErrorDescription {
    message: bool,
    error: Option<String>,
}

impl ErrorDescription {
    fn get(self) -> Option<String> {
        self.error.filter(|_| !self.message)
    }
}

impl tracing::field::Visit for ErrorDescription {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = true,
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = true,
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }

    /// An `&dyn Error` field gives no description (as with tracing-opentelemetry).
    fn record_error(&mut self, _: &tracing::field::Field, _: &(dyn std::error::Error + 'static)) {}
}
