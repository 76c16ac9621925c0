//! Context propagation: one owner for W3C trace-context + baggage.
//!
//! A [`Propagation`] is built from the configured propagators (`OTEL_PROPAGATORS`) by the
//! [`Telemetry`](crate::Telemetry) hub; every integration (HTTP server and client, NATS) takes
//! it from there ([`TelemetryHandle::propagation`](crate::TelemetryHandle::propagation)), so
//! there is no guessing which propagator is installed. It runs the allocation-light
//! W3C codec (module `w3c`) for the canonical forms and the SDK propagators for everything else, with the
//! same result as the SDK.
//!
//! ```
//! use baker_otel::propagation::Propagation;
//! use baker_otel::config::PropagatorKind;
//! use opentelemetry::trace::TraceContextExt;
//! use std::collections::HashMap;
//!
//! let p = Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
//! let mut carrier = HashMap::new();
//! carrier.insert("traceparent".to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string());
//! let cx = p.extract(&carrier);
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! let mut out: HashMap<String, String> = HashMap::new();
//! p.inject_context(&cx, &mut out);
//! assert_eq!(out["traceparent"], carrier["traceparent"]);
//! ```
//!
//! [`init`](crate::init) also installs a [`GlobalPropagator`] as OpenTelemetry's global text-map
//! propagator, for third-party code that uses `opentelemetry::global`: it extracts what is
//! configured but never injects baggage, since a global injection does not know where the
//! request goes. Outbound baggage follows an [`OutboundPolicy`] ([`Propagation::inject_for`]).

mod carrier;
mod global;
pub mod hex;
mod outbound;
mod tracestate;
mod w3c;

pub use carrier::OutboundCarrier;
pub use global::{
    extract, extract_with_context, inject, inject_context, install, GlobalPropagator,
};
pub use outbound::{Destinations, OutboundPolicy, INTERNAL_SUFFIXES};
pub use tracestate::MAX_TRACESTATE_LEN;

pub use crate::config::PropagatorKind;
pub use w3c::{Field, FieldValues};

use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::BaggagePropagator;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Largest propagation header value read or written (8 KiB, the W3C baggage limit).
pub const MAX_VALUE_LEN: usize = w3c::MAX_BAGGAGE_LENGTH;

static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The configured propagators: which W3C fields are injected and extracted. Cheap to clone.
#[derive(Clone)]
pub struct Propagation {
    inner: Arc<Inner>,
}

struct Inner {
    trace_context: bool,
    baggage: bool,
    kinds: Vec<PropagatorKind>,
    fields: Vec<&'static str>,
    epoch: u64,
}

impl std::fmt::Debug for Propagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Propagation")
            .field("kinds", &self.inner.kinds)
            .field("epoch", &self.inner.epoch)
            .finish()
    }
}

impl Propagation {
    /// Propagation of the given kinds (empty: propagate nothing). Each handle gets a new
    /// [`epoch`](Self::epoch).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// let p = Propagation::new(&[PropagatorKind::TraceContext]);
    /// assert_eq!(p.fields().collect::<Vec<_>>(), ["traceparent", "tracestate"]);
    /// ```
    pub fn new(kinds: &[PropagatorKind]) -> Self {
        let trace_context = kinds.contains(&PropagatorKind::TraceContext);
        let baggage = kinds.contains(&PropagatorKind::Baggage);
        let mut fields = Vec::new();
        if trace_context {
            fields.extend([Field::TraceParent.name(), Field::TraceState.name()]);
        }
        if baggage {
            fields.push(Field::Baggage.name());
        }
        Self {
            inner: Arc::new(Inner {
                trace_context,
                baggage,
                kinds: kinds.to_vec(),
                fields,
                epoch: EPOCH.fetch_add(1, Ordering::Relaxed) + 1,
            }),
        }
    }

    /// The configured kinds.
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// assert!(Propagation::new(&[]).kinds().is_empty());
    /// ```
    pub fn kinds(&self) -> &[PropagatorKind] {
        &self.inner.kinds
    }

    /// A process-unique number of this handle (handles built apart never share one).
    ///
    /// ```
    /// use baker_otel::propagation::Propagation;
    /// assert_ne!(Propagation::new(&[]).epoch(), Propagation::new(&[]).epoch());
    /// ```
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The header names read and written (lower case).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// assert_eq!(Propagation::new(&[PropagatorKind::Baggage]).fields().count(), 1);
    /// ```
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.fields.iter().copied()
    }

    /// Whether `field` is propagated.
    ///
    /// ```
    /// use baker_otel::propagation::{Field, Propagation, PropagatorKind};
    /// assert!(!Propagation::new(&[PropagatorKind::TraceContext]).propagates(Field::Baggage));
    /// ```
    pub fn propagates(&self, field: Field) -> bool {
        match field {
            Field::TraceParent | Field::TraceState => self.inner.trace_context,
            Field::Baggage => self.inner.baggage,
        }
    }

    /// Writes `cx`'s fields through `set` (no carrier type needed: carriers with typed header
    /// names map [`Field`] to their own constants).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// use opentelemetry::baggage::BaggageExt;
    /// let cx = opentelemetry::Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v")]);
    /// let mut seen = Vec::new();
    /// Propagation::new(&[PropagatorKind::Baggage]).inject_with(&cx, |f, v| seen.push((f, v)));
    /// assert_eq!(seen, [(baker_otel::propagation::Field::Baggage, "k=v".to_string())]);
    /// ```
    pub fn inject_with(&self, cx: &Context, mut set: impl FnMut(Field, String)) {
        if self.inner.trace_context {
            w3c::inject_trace_context(cx, &mut set);
        }
        if self.inner.baggage {
            w3c::inject_baggage(cx, &mut set);
        }
    }

    /// Injects into `carrier` the fields of `cx` that `policy` lets through to `host` (the
    /// destination URL's host), and **removes** from it every field the policy refuses to
    /// `host` — also one the caller put there, such as a `baggage` header forwarded from an
    /// inbound request.
    ///
    /// ```
    /// use baker_otel::propagation::{OutboundPolicy, Propagation, PropagatorKind};
    /// use opentelemetry::baggage::BaggageExt;
    /// use std::collections::HashMap;
    /// let cx = opentelemetry::Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v")]);
    /// let p = Propagation::new(&[PropagatorKind::Baggage]);
    /// let mut headers = HashMap::from([("baggage".to_string(), "forwarded=1".to_string())]);
    /// p.inject_for(&cx, &OutboundPolicy::default(), Some("api.openai.com"), &mut headers);
    /// assert!(headers.is_empty()); // no baggage to a third party by default, not even forwarded
    /// p.inject_for(&cx, &OutboundPolicy::default(), Some("extension"), &mut headers);
    /// assert_eq!(headers["baggage"], "k=v");
    /// ```
    pub fn inject_for(
        &self,
        cx: &Context,
        policy: &OutboundPolicy,
        host: Option<&str>,
        carrier: &mut dyn OutboundCarrier,
    ) {
        self.inject_allowed(cx, &|f| policy.allows(f, host), carrier);
    }

    /// Injects into `carrier` the fields of `cx` for which `allowed` is true and removes from it
    /// every field for which it is false (the building block of
    /// [`inject_for`](Self::inject_for), for destinations that are not URLs, e.g. NATS
    /// subjects). `tracestate` only goes with `traceparent`, and a `tracestate` already in the
    /// carrier is removed when a new `traceparent` is written without one.
    ///
    /// ```
    /// use baker_otel::propagation::{Field, Propagation, PropagatorKind};
    /// use opentelemetry::baggage::BaggageExt;
    /// use std::collections::HashMap;
    /// let cx = opentelemetry::Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v")]);
    /// let p = Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
    /// let mut out = HashMap::new();
    /// p.inject_allowed(&cx, &|f| f != Field::Baggage, &mut out);
    /// assert!(out.is_empty()); // no span to propagate, and baggage refused
    /// ```
    pub fn inject_allowed(
        &self,
        cx: &Context,
        allowed: &dyn Fn(Field) -> bool,
        carrier: &mut dyn OutboundCarrier,
    ) {
        carrier::inject_allowed(
            cx,
            self.inner.trace_context,
            self.inner.baggage,
            allowed,
            carrier,
        );
    }

    /// Injects `cx` into `carrier`, with no [`OutboundPolicy`] (for a destination you trust;
    /// [`inject_for`](Self::inject_for) applies one).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// let mut out = std::collections::HashMap::new();
    /// Propagation::new(&[PropagatorKind::TraceContext]).inject_context(&opentelemetry::Context::new(), &mut out);
    /// assert!(out.is_empty()); // no span, nothing written
    /// ```
    pub fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        self.inject_with(cx, |f, v| carrier.set(f.name(), v));
    }

    /// Injects the current context into `carrier`.
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// let mut out = std::collections::HashMap::new();
    /// Propagation::new(&[PropagatorKind::TraceContext]).inject(&mut out);
    /// ```
    pub fn inject(&self, carrier: &mut dyn Injector) {
        Context::map_current(|cx| self.inject_context(cx, carrier));
    }

    /// Extracts a remote context on top of an empty context: garbage yields a context without
    /// a span (a new trace).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// use opentelemetry::trace::TraceContextExt;
    /// let mut h = std::collections::HashMap::new();
    /// h.insert("traceparent".to_string(), "garbage".to_string());
    /// assert!(!Propagation::new(&[PropagatorKind::TraceContext]).extract(&h).has_active_span());
    /// ```
    pub fn extract(&self, carrier: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::new(), carrier)
    }

    /// Extracts on top of `cx` (keeps its values, adds the remote span and baggage).
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// let h = std::collections::HashMap::<String, String>::new();
    /// let _cx = Propagation::new(&[PropagatorKind::TraceContext]).extract_with_context(&opentelemetry::Context::current(), &h);
    /// ```
    pub fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        self.extract_values(cx, &FieldValues::from_extractor(carrier))
    }

    /// Extracts from field values a carrier already read (one pass over its headers).
    ///
    /// ```
    /// use baker_otel::propagation::{FieldValues, Propagation, PropagatorKind};
    /// use opentelemetry::baggage::BaggageExt;
    /// let p = Propagation::new(&[PropagatorKind::Baggage]);
    /// let cx = p.extract_values(&opentelemetry::Context::new(), &FieldValues::new(None, None, Some("a=1")));
    /// assert_eq!(cx.baggage().get("a").map(|v| v.to_string()), Some("1".into()));
    /// ```
    pub fn extract_values(&self, cx: &Context, values: &FieldValues<'_>) -> Context {
        if w3c::nothing_to_extract(values) {
            return cx.clone();
        }
        let cx = if self.inner.trace_context {
            w3c::extract_trace_context(cx, values)
        } else {
            cx.clone()
        };
        if self.inner.baggage {
            w3c::extract_baggage(&cx, values, None)
        } else {
            cx
        }
    }

    /// Like [`extract_values`](Self::extract_values), keeping only the baggage entries whose
    /// key passes `keep` (for untrusted senders).
    ///
    /// ```
    /// use baker_otel::propagation::{FieldValues, Propagation, PropagatorKind};
    /// use opentelemetry::baggage::BaggageExt;
    /// let p = Propagation::new(&[PropagatorKind::Baggage]);
    /// let v = FieldValues::new(None, None, Some("a=1,b=2"));
    /// let cx = p.extract_values_filtered(&opentelemetry::Context::new(), &v, &|k| k == "a");
    /// assert_eq!(cx.baggage().len(), 1);
    /// ```
    pub fn extract_values_filtered(
        &self,
        cx: &Context,
        values: &FieldValues<'_>,
        keep: &dyn Fn(&str) -> bool,
    ) -> Context {
        let cx = if self.inner.trace_context {
            w3c::extract_trace_context(cx, values)
        } else {
            cx.clone()
        };
        if self.inner.baggage {
            w3c::extract_baggage(&cx, values, Some(keep))
        } else {
            cx
        }
    }

    /// The SDK propagator with the same kinds: the SDK's W3C propagators, with the extracted
    /// `tracestate` capped at [`MAX_TRACESTATE_LEN`]. It injects baggage to any carrier: the
    /// global propagator is a [`GlobalPropagator`] instead.
    ///
    /// ```
    /// use baker_otel::propagation::{Propagation, PropagatorKind};
    /// use opentelemetry::propagation::TextMapPropagator;
    /// let sdk = Propagation::new(&[PropagatorKind::Baggage]).to_sdk();
    /// assert_eq!(sdk.fields().count(), 1);
    /// ```
    pub fn to_sdk(&self) -> TextMapCompositePropagator {
        let mut ps: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
        for k in &self.inner.kinds {
            match k {
                PropagatorKind::TraceContext => {
                    ps.push(Box::new(tracestate::CappedTraceContext::default()))
                }
                PropagatorKind::Baggage => ps.push(Box::new(BaggagePropagator::new())),
            }
        }
        TextMapCompositePropagator::new(ps)
    }
}
