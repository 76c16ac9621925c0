//! One span of each kind a pipeline records: a `tracing` span (baker-otel's layer), a span
//! recorded through tracing-opentelemetry's layer (`CompatSpans::auto` selects the `otel::`
//! target), a `SpanStarter` span and a span of the SDK tracer provider.
#![allow(dead_code)]

use opentelemetry::trace::{Span as _, SpanBuilder, TraceContextExt as _, Tracer as _};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

/// Their names, in the order [`one_of_each`] starts them.
pub const NAMES: [&str; 4] = ["tracing span", "compat span", "starter span", "sdk span"];

/// Starts and ends one span of each kind under `dispatch`, in the current OpenTelemetry
/// context, each with the attribute `case = case` set at start and kind `Server`.
pub fn one_of_each(telemetry: &baker_otel::Telemetry, dispatch: &tracing::Dispatch, case: &str) {
    let case = case.to_owned();
    tracing::dispatcher::with_default(dispatch, || {
        tracing::info_span!("tracing span", otel.kind = "server", case = %case).in_scope(|| {});
        tracing::info_span!(target: "otel::tracing", "compat span", otel.kind = "server", case = %case)
            .in_scope(|| {});
        let builder = |name: &'static str| {
            SpanBuilder::from_name(name)
                .with_kind(SpanKind::Server)
                .with_attributes([KeyValue::new("case", case.clone())])
        };
        let starter = telemetry.span_starter(InstrumentationScope::builder("starter").build());
        starter
            .start(builder("starter span"), &Context::current())
            .span()
            .end();
        let tracer = telemetry
            .tracer_provider()
            .expect("a tracer provider")
            .tracer("sdk");
        tracer
            .build_with_context(builder("sdk span"), &Context::current())
            .end();
    });
}
