//! Per-span state kept in the `tracing` span's extensions.

use super::live::{LiveCell, LiveSpan};
use super::record::{SpanLimits, SpanRecord};
use super::{Sampled, Shared};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SpanData;
use std::sync::Arc;

/// Why [`OpenTelemetrySpanExt::set_parent`](crate::OpenTelemetrySpanExt::set_parent) did not take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetParentError {
    /// The span's dispatcher has no baker-otel span layer (not installed by [`crate::init`] or
    /// [`crate::TelemetryBuilder`]), or the span is disabled.
    #[error("the span is not recorded by a baker-otel span layer")]
    LayerNotFound,
    /// The span was already entered, its context handed out, or a child or link carries its
    /// ids: they would keep the old trace id, so the parent can no longer change.
    #[error("the span has already been entered, its context taken, or a child or link made")]
    AlreadyStarted,
}

/// Where the span's data lives.
#[derive(Debug)]
enum Body {
    /// Recording, not yet handed out: the `tracing` span owns the record.
    Pending(SpanRecord),
    /// Recording and handed out in a `Context`: shared with that context.
    Live(Arc<LiveCell>),
    /// Sampled out at creation, not handed out yet: the fields are kept in case
    /// [`set_parent`](SpanState::set_parent) gives the span a sampled parent.
    Dormant(SpanRecord),
    /// Not recording (sampled out or telemetry suppressed): only its ids propagate.
    Off,
}

/// The OpenTelemetry side of one `tracing` span.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// The parent context: parent span ids and the baggage carrying the Baker ids.
    parent: Context,
    pub(crate) sc: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    name: &'static str,
    body: Body,
    /// `parent` + this span, built the first time it is needed.
    active: Option<Context>,
    /// A child or a link already carries this span's ids: its trace can no longer change.
    observed: bool,
}

impl SpanState {
    /// A new span under `parent`, recording until [`sample`](Self::sample) decides.
    #[inline]
    pub(crate) fn new(parent: Context, name: &'static str, fields: usize, shared: &Shared) -> Self {
        Self {
            parent,
            sc: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name,
            body: Body::Pending(SpanRecord::new(name, fields, &shared.scope)),
            active: None,
            observed: false,
        }
    }

    /// The record the creation fields go into (before sampling).
    #[inline]
    pub(crate) fn pending(&mut self) -> Option<&mut SpanRecord> {
        match &mut self.body {
            Body::Pending(r) => Some(r),
            _ => None,
        }
    }

    /// Gives the span its ids and sampling decision; a span sampled out stops recording.
    #[inline]
    pub(crate) fn sample(&mut self, shared: &Shared) {
        let Body::Pending(record) = &self.body else {
            return;
        };
        let s = shared.sample(&self.parent, record);
        let Body::Pending(record) = std::mem::replace(&mut self.body, Body::Off) else {
            return;
        };
        self.apply(s, record, shared);
    }

    /// Takes on a sampling result: ids, parent ids, and whether `record` keeps recording.
    #[inline]
    fn apply(&mut self, s: Sampled, mut record: SpanRecord, shared: &Shared) {
        self.body = if s.recording {
            for kv in s.extra {
                record.push_attribute(kv, &shared.limits);
            }
            Body::Pending(record)
        } else {
            Body::Dormant(record)
        };
        self.sc = s.sc;
        self.parent_span_id = s.parent_span_id;
        self.parent_is_remote = s.parent_is_remote;
    }

    /// The context a child created with this span as its explicit parent starts from; does not
    /// hand the span out, but fixes its trace (no `set_parent` after it).
    pub(crate) fn child_parent(&mut self) -> Context {
        self.observed = true;
        self.event_context()
    }

    /// The context an event whose explicit parent is this span is logged in; unlike
    /// [`child_parent`](Self::child_parent), it does not fix the span's trace.
    pub(crate) fn event_context(&self) -> Context {
        match &self.active {
            Some(cx) => cx.clone(),
            None => self.parent.with_remote_span_context(self.sc.clone()),
        }
    }

    /// Its span context, for a link: fixes its trace (no `set_parent` after it).
    pub(crate) fn link_target(&mut self) -> SpanContext {
        self.observed = true;
        self.sc.clone()
    }

    /// `parent` + this span; from now on the record is shared with the returned context.
    pub(crate) fn context(&mut self, shared: &Arc<Shared>) -> Context {
        if let Some(cx) = &self.active {
            return cx.clone();
        }
        let cx = match std::mem::replace(&mut self.body, Body::Off) {
            Body::Pending(mut record) => {
                started(&self.parent, &mut record, &self.sc, shared);
                let cell = Arc::new(LiveCell::new(
                    record,
                    shared.clone(),
                    self.sc.clone(),
                    self.parent_span_id,
                    self.parent_is_remote,
                ));
                self.body = Body::Live(cell.clone());
                self.parent.with_span(LiveSpan::View(cell))
            }
            Body::Live(cell) => {
                self.body = Body::Live(cell.clone());
                self.parent.with_span(LiveSpan::View(cell))
            }
            Body::Dormant(_) | Body::Off => self.parent.with_remote_span_context(self.sc.clone()),
        };
        self.active = Some(cx.clone());
        cx
    }

    /// Runs `f` on the record while the span is recording.
    pub(crate) fn with_record(
        &mut self,
        shared: &Shared,
        f: impl FnOnce(&mut SpanRecord, &SpanLimits),
    ) {
        match &mut self.body {
            Body::Pending(r) | Body::Dormant(r) => f(r, &shared.limits),
            Body::Live(cell) => {
                if let Some(r) = cell.lock().as_mut() {
                    f(r, &shared.limits);
                }
            }
            Body::Off => {}
        }
    }

    /// Re-parents a span that has not been handed out yet: new trace id and sampling decision.
    pub(crate) fn set_parent(
        &mut self,
        shared: &Shared,
        cx: Context,
    ) -> Result<(), SetParentError> {
        if self.active.is_some() || self.observed {
            return Err(SetParentError::AlreadyStarted);
        }
        let record = match std::mem::replace(&mut self.body, Body::Off) {
            Body::Pending(r) | Body::Dormant(r) => r,
            // `active` is set whenever the body is live.
            Body::Live(_) => return Err(SetParentError::AlreadyStarted),
            Body::Off => SpanRecord::new(self.name, 0, &shared.scope),
        };
        let mut s = shared.sample(&cx, &record);
        // The span keeps the id it was created with.
        s.sc = SpanContext::new(
            s.sc.trace_id(),
            self.sc.span_id(),
            s.sc.trace_flags(),
            false,
            s.sc.trace_state().clone(),
        );
        self.parent = cx;
        self.apply(s, record, shared);
        Ok(())
    }

    /// Ends the span: the finished span to export (when still pending), having ended a
    /// handed-out one itself. The state stays behind as a non-recording husk.
    #[inline]
    pub(crate) fn end(&mut self, shared: &Shared) -> Option<Box<SpanData>> {
        match std::mem::replace(&mut self.body, Body::Off) {
            Body::Pending(mut record) => {
                started(&self.parent, &mut record, &self.sc, shared);
                shared.span_data(
                    record,
                    self.sc.clone(),
                    self.parent_span_id,
                    self.parent_is_remote,
                )
            }
            Body::Live(cell) => cell.take_data(None),
            Body::Dormant(_) | Body::Off => None,
        }
    }
}

/// A recording span starts for good (its parent can no longer change): the conversation and job
/// ids in the parent's baggage become span attributes (what the SDK path's span processor adds
/// on start) unless the span already set them itself, then the service's start hooks run.
#[inline]
pub(super) fn started(
    parent: &Context,
    record: &mut SpanRecord,
    sc: &SpanContext,
    shared: &Shared,
) {
    crate::context::push_id_attributes(parent, |k, v| {
        if !record.attributes().iter().any(|a| a.key.as_str() == k) {
            record.push_attribute(KeyValue::new(k, v), &shared.limits)
        }
    });
    shared.start_hooks(parent, record, sc);
}
