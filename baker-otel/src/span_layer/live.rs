//! A span that has been handed out in an OpenTelemetry `Context` (entered, or asked for with
//! `context()`): shared between the `tracing` span and any code holding that context.

use super::record::{SpanLimits, SpanRecord};
use super::Shared;
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// The record behind a handed-out span; `None` once the span has ended.
#[derive(Debug)]
pub(crate) struct LiveCell {
    record: Mutex<Option<SpanRecord>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) sc: SpanContext,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
}

impl LiveCell {
    pub(crate) fn new(
        record: SpanRecord,
        shared: Arc<Shared>,
        sc: SpanContext,
        parent_span_id: SpanId,
        parent_is_remote: bool,
    ) -> Self {
        Self {
            record: Mutex::new(Some(record)),
            shared,
            sc,
            parent_span_id,
            parent_is_remote,
        }
    }

    /// The record, unless the span has ended. A poisoned lock still holds a usable record.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<SpanRecord>> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the span at `end` (or its last exit): the finished span to export, the first time.
    pub(crate) fn take_data(&self, end: Option<SystemTime>) -> Option<Box<SpanData>> {
        let record = self.lock().take()?;
        let (sc, parent, remote) = (&self.sc, self.parent_span_id, self.parent_is_remote);
        finished(record, end, &self.shared, sc, parent, remote)
    }

    /// Ends and exports the span; later calls do nothing.
    pub(crate) fn finish(&self, end: Option<SystemTime>) {
        if let Some(data) = self.take_data(end) {
            self.shared.push(data);
        }
    }
}

/// The OpenTelemetry view of a recording span: what `Context::current().span()` returns inside
/// a `tracing` span, or in the context a [`SpanStarter`](super::SpanStarter) returns.
#[derive(Debug)]
pub(crate) enum LiveSpan {
    /// A `tracing` span's record, shared with that span (which ends it).
    View(Arc<LiveCell>),
    /// A started span, owned by the context holding it (whose own lock guards it): it ends
    /// when dropped if nothing ended it before, as the SDK's spans do.
    Owned(Owned),
}

/// A span started by a [`SpanStarter`](super::SpanStarter).
#[derive(Debug)]
pub(crate) struct Owned {
    /// `None` once the span has ended.
    record: Option<SpanRecord>,
    shared: Arc<Shared>,
    sc: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
}

impl LiveSpan {
    /// A started span, with its ids and sampling decision.
    pub(crate) fn owned(record: SpanRecord, shared: Arc<Shared>, s: super::Sampled) -> Self {
        Self::Owned(Owned {
            record: Some(record),
            shared,
            sc: s.sc,
            parent_span_id: s.parent_span_id,
            parent_is_remote: s.parent_is_remote,
        })
    }

    fn with(&mut self, f: impl FnOnce(&mut SpanRecord, &SpanLimits)) {
        match self {
            Self::View(cell) => {
                if let Some(r) = cell.lock().as_mut() {
                    f(r, &cell.shared.limits);
                }
            }
            Self::Owned(o) => {
                if let Some(r) = o.record.as_mut() {
                    f(r, &o.shared.limits);
                }
            }
        }
    }
}

impl Owned {
    /// Ends and exports the span; later calls do nothing.
    fn finish(&mut self, end: Option<SystemTime>) {
        let Some(record) = self.record.take() else {
            return;
        };
        let (sc, parent, remote) = (&self.sc, self.parent_span_id, self.parent_is_remote);
        if let Some(data) = finished(record, end, &self.shared, sc, parent, remote) {
            self.shared.push(data);
        }
    }
}

/// `record` ended at `end` (or its last exit, or now) as the exporters take it; `None` when it
/// is not sampled or the pipeline has no exporter or has shut down.
fn finished(
    mut record: SpanRecord,
    end: Option<SystemTime>,
    shared: &Shared,
    sc: &SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
) -> Option<Box<SpanData>> {
    if let Some(at) = end {
        record.set_end(at);
    }
    shared.span_data(record, sc.clone(), parent_span_id, parent_is_remote)
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.finish(None);
    }
}

impl opentelemetry::trace::Span for LiveSpan {
    fn add_event_with_timestamp<T>(&mut self, name: T, timestamp: SystemTime, attrs: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.with(|r, s| r.push_event(Event::new(name, timestamp, attrs, 0), s));
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            Self::View(cell) => &cell.sc,
            Self::Owned(o) => &o.sc,
        }
    }

    fn is_recording(&self) -> bool {
        match self {
            Self::View(cell) => cell.lock().is_some(),
            Self::Owned(o) => o.record.is_some(),
        }
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.with(|r, s| r.put_attribute(attribute, s));
    }

    fn set_status(&mut self, status: Status) {
        self.with(|r, _| r.set_status(status));
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.with(|r, _| r.set_name(new_name.into()));
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if span_context.is_valid() {
            self.with(|r, s| r.push_link(Link::new(span_context, attributes, 0), s));
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        match self {
            Self::View(cell) => cell.finish(Some(timestamp)),
            Self::Owned(o) => o.finish(Some(timestamp)),
        }
    }
}
