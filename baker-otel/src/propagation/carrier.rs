//! Policy-aware injection: a carrier that can be written **and cleared**.
//!
//! OpenTelemetry's [`Injector`](opentelemetry::propagation::Injector) can only set a field.
//! That is not enough for an outbound policy: a request often arrives at the client already
//! holding a `baggage` or `traceparent` header (forwarded from the inbound request by a proxy
//! or a handler), and a policy that only *adds* what it allows would let that header through
//! to a destination it refuses. [`OutboundCarrier`] adds `remove_field`, and
//! [`inject_allowed`] writes what is allowed and removes what is not.

use super::w3c::{self, Field};
use opentelemetry::Context;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A carrier (HTTP headers, NATS headers, a map) that policy-aware injection
/// ([`Propagation::inject_for`](super::Propagation::inject_for),
/// [`Propagation::inject_allowed`](super::Propagation::inject_allowed)) writes to and removes
/// from. Both methods act on every spelling of the field's name when the carrier's names are
/// case-sensitive, so a forwarded `Baggage` cannot survive next to (or instead of) `baggage`.
///
/// ```
/// use baker_otel::propagation::{Field, OutboundCarrier};
/// let mut m = std::collections::HashMap::from([("Baggage".to_string(), "k=v".to_string())]);
/// m.remove_field(Field::Baggage);
/// assert!(m.is_empty());
/// m.set_field(Field::TraceParent, "00-…".into());
/// assert_eq!(m["traceparent"], "00-…");
/// ```
pub trait OutboundCarrier {
    /// Sets `field` to `value`, replacing every value it had.
    fn set_field(&mut self, field: Field, value: String);
    /// Removes every value of `field`.
    fn remove_field(&mut self, field: Field);
}

impl<S: BuildHasher> OutboundCarrier for HashMap<String, String, S> {
    fn set_field(&mut self, field: Field, value: String) {
        self.remove_field(field);
        self.insert(field.name().to_owned(), value);
    }

    fn remove_field(&mut self, field: Field) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(field.name()));
    }
}

/// Removes from `carrier` every field `allowed` refuses, then injects `cx`'s fields that are
/// allowed and configured (`trace_context`, `baggage`). `tracestate` goes only with
/// `traceparent`: refused with it, and removed when a new `traceparent` is written without one
/// (a forwarded `tracestate` never rides along with our span's `traceparent`).
pub(crate) fn inject_allowed(
    cx: &Context,
    trace_context: bool,
    baggage: bool,
    allowed: &dyn Fn(Field) -> bool,
    carrier: &mut dyn OutboundCarrier,
) {
    let parent_ok = allowed(Field::TraceParent);
    let state_ok = parent_ok && allowed(Field::TraceState);
    let baggage_ok = allowed(Field::Baggage);
    if !parent_ok {
        carrier.remove_field(Field::TraceParent);
    }
    if !state_ok {
        carrier.remove_field(Field::TraceState);
    }
    if !baggage_ok {
        carrier.remove_field(Field::Baggage);
    }
    if trace_context && parent_ok {
        let (mut parent, mut state) = (false, false);
        w3c::inject_trace_context(cx, &mut |f, v| match f {
            Field::TraceParent => {
                parent = true;
                carrier.set_field(f, v);
            }
            Field::TraceState if state_ok => {
                state = true;
                carrier.set_field(f, v);
            }
            _ => {}
        });
        if parent && !state {
            carrier.remove_field(Field::TraceState);
        }
    }
    if baggage && baggage_ok {
        w3c::inject_baggage(cx, &mut |f, v| carrier.set_field(f, v));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Destinations, OutboundPolicy, Propagation, PropagatorKind};
    use super::*;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::KeyValue;

    fn both() -> Propagation {
        Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
    }

    fn cx(tracestate: &str) -> Context {
        let sc = SpanContext::new(
            TraceId::from(1),
            SpanId::from(2),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value(
                tracestate
                    .split_once('=')
                    .map(|(k, v)| vec![(k, v)])
                    .unwrap_or_default(),
            )
            .unwrap(),
        );
        Context::new()
            .with_remote_span_context(sc)
            .with_baggage([KeyValue::new("baker.job.id", "j-1")])
    }

    /// What a proxying handler forwards from its inbound request, in assorted spellings.
    fn forwarded() -> HashMap<String, String> {
        HashMap::from([
            ("baggage".into(), "user.id=inbound".into()),
            ("Baggage".into(), "user.id=inbound-too".into()),
            (
                "TraceParent".into(),
                "00-11111111111111111111111111111111-2222222222222222-01".into(),
            ),
            ("tracestate".into(), "vendor=inbound".into()),
            ("content-type".into(), "application/json".into()),
        ])
    }

    #[test]
    fn refused_fields_are_removed_in_every_spelling() {
        let mut m = forwarded();
        let none = OutboundPolicy::default()
            .baggage_to(Destinations::none())
            .trace_context_to(Destinations::none());
        both().inject_for(&cx("a=b"), &none, Some("api.example.com"), &mut m);
        assert_eq!(
            m,
            HashMap::from([("content-type".into(), "application/json".into())])
        );
    }

    #[test]
    fn allowed_fields_replace_the_forwarded_ones_and_refused_baggage_goes() {
        let mut m = forwarded();
        // Default policy, third-party host: trace context yes, baggage no.
        both().inject_for(
            &cx(""),
            &OutboundPolicy::default(),
            Some("api.openai.com"),
            &mut m,
        );
        assert_eq!(
            m.get("traceparent").map(String::as_str),
            Some("00-00000000000000000000000000000001-0000000000000002-01")
        );
        assert!(!m.contains_key("TraceParent"));
        assert!(
            !m.contains_key("tracestate"),
            "a forwarded tracestate does not ride with our traceparent: {m:?}"
        );
        assert!(
            !m.keys().any(|k| k.eq_ignore_ascii_case("baggage")),
            "{m:?}"
        );

        // Internal host: our baggage replaces both forwarded spellings.
        let mut m = forwarded();
        both().inject_for(
            &cx("a=b"),
            &OutboundPolicy::default(),
            Some("extension"),
            &mut m,
        );
        assert_eq!(
            m.get("baggage").map(String::as_str),
            Some("baker.job.id=j-1")
        );
        assert!(!m.contains_key("Baggage"));
        assert_eq!(m.get("tracestate").map(String::as_str), Some("a=b"));
    }

    #[test]
    fn without_a_value_of_its_own_an_allowed_field_is_left_as_the_caller_set_it() {
        let mut m = forwarded();
        both().inject_for(
            &Context::new(),
            &OutboundPolicy::everywhere(),
            Some("x"),
            &mut m,
        );
        assert_eq!(m, forwarded());
        // Not configured (OTEL_PROPAGATORS without baggage) yet refused: still removed.
        let mut m = forwarded();
        Propagation::new(&[PropagatorKind::TraceContext]).inject_for(
            &cx(""),
            &OutboundPolicy::default(),
            Some("api.openai.com"),
            &mut m,
        );
        assert!(
            !m.keys().any(|k| k.eq_ignore_ascii_case("baggage")),
            "{m:?}"
        );
    }
}
