//! W3C `traceparent` / `tracestate` / `baggage` from hostile HTTP request headers, through the
//! real server path: an axum router behind `OtelLayer` (trusted, and a public endpoint with a
//! baggage allow-list), plus the core codec and the SDK propagator over the same headers.
//!
//! Input: the first byte picks the endpoint (bit 0: public); the rest are header lines
//! `name:value` separated by `\n`, converted with http's fallible constructors (raw bytes, so
//! obs-text values reach the extractor, which must ignore them).
//!
//! Invariants, besides "no panic, bounded time":
//! - a trusted request's handler runs in the client's trace with exactly the extracted baggage;
//! - a public request's handler runs in a new trace with only allow-listed baggage;
//! - every response carries a valid `X-Trace-Id`;
//! - an extracted `tracestate` has at most 32 members and is no longer than the header it came
//!   from; baggage has at most 64 entries;
//! - the extracted span context survives inject → extract unchanged.
#![no_main]
use axum::routing::get;
use axum::Router;
use baker_otel::config::EnvSource;
use baker_otel::propagation::{FieldValues, Propagation};
use baker_otel_axum::{HeaderExtractor, HeaderInjector, OtelLayer};
use libfuzzer_sys::fuzz_target;

#[path = "common/extract.rs"]
mod common;
use common::same_span;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use std::cell::RefCell;
use tower::ServiceExt;

/// The only client baggage key a public endpoint keeps.
const ALLOWED: &str = "client.app";

struct World {
    rt: tokio::runtime::Runtime,
    dispatch: tracing::Dispatch,
    trusted: Router,
    public: Router,
    p: Propagation,
    _telemetry: baker_otel::Telemetry,
}

thread_local! {
    static WORLD: World = world();
    /// The context the handler ran in (the runtime is current-thread: same thread).
    static SEEN: RefCell<Option<Context>> = const { RefCell::new(None) };
}

fn world() -> World {
    // A real hub (sampler, span pipeline, metrics) that exports nowhere.
    let (telemetry, dispatch) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "fuzz"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            ("RUST_LOG", "info"),
        ]))
        .build()
        .expect("fuzz hub");
    let handler = || async {
        SEEN.with(|s| *s.borrow_mut() = Some(Context::current()));
        "ok"
    };
    let trusted = Router::new()
        .route("/x", get(handler))
        .layer(OtelLayer::new(&telemetry));
    let public = Router::new().route("/x", get(handler)).layer(
        OtelLayer::builder(&telemetry)
            .public_endpoint(true)
            .public_baggage_allow_list([ALLOWED])
            .build(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    World {
        rt,
        dispatch,
        trusted,
        public,
        p: telemetry.propagation().clone(),
        _telemetry: telemetry,
    }
}

fn bag(cx: &Context) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

/// An extracted context: the shared invariants, and a remote parent.
fn check_extracted(cx: &Context, values: &FieldValues<'_>) {
    assert!(!cx.span().span_context().is_valid() || cx.span().span_context().is_remote());
    common::check_extracted(cx, values.tracestate.map_or(0, str::len));
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let public = flags & 1 == 1;
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let at = line.iter().position(|b| *b == b':').unwrap_or(line.len());
        let (name, value) = (&line[..at], line.get(at + 1..).unwrap_or_default());
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }

    WORLD.with(|w| {
        // The codec as the layer runs it, the public filter, and the SDK propagator.
        let ex = HeaderExtractor(&headers);
        let values = FieldValues::from_extractor(&ex);
        let expected = w.p.extract(&ex);
        check_extracted(&expected, &values);
        let filtered =
            w.p.extract_values_filtered(&Context::new(), &values, &|k| k == ALLOWED);
        check_extracted(&filtered, &values);
        assert!(bag(&filtered).iter().all(|(k, _)| k == ALLOWED));
        let sdk = w.p.to_sdk().extract(&ex);
        check_extracted(&sdk, &values);

        // Inject and extract again: the same span context.
        let mut out = http::HeaderMap::new();
        w.p.inject_context(&expected, &mut HeaderInjector(&mut out));
        let again = w.p.extract(&HeaderExtractor(&out));
        assert!(
            same_span(again.span().span_context(), expected.span().span_context()),
            "{:?} became {:?}",
            expected.span().span_context(),
            again.span().span_context()
        );

        // The server path.
        let mut req = http::Request::get("/x");
        *req.headers_mut().unwrap() = headers.clone();
        let req = req.body(axum::body::Body::empty()).unwrap();
        let app = if public { &w.public } else { &w.trusted };
        SEEN.with(|s| s.borrow_mut().take());
        let res = tracing::dispatcher::with_default(&w.dispatch, || {
            w.rt.block_on(app.clone().oneshot(req))
        })
        .unwrap();
        assert_eq!(res.status(), 200);
        let id = res.headers().get("x-trace-id").expect("X-Trace-Id");
        let id = id.to_str().unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(id, "0".repeat(32));
        let seen = SEEN
            .with(|s| s.borrow_mut().take())
            .expect("the handler ran");
        let client = expected.span().span_context().clone();
        let server_trace = seen.span().span_context().trace_id();
        assert_eq!(server_trace.to_string(), id);
        if public {
            if client.is_valid() {
                assert_ne!(
                    server_trace,
                    client.trace_id(),
                    "a public client chose the trace"
                );
            }
            assert_eq!(bag(&seen), bag(&filtered));
        } else {
            if client.is_valid() {
                assert_eq!(
                    server_trace,
                    client.trace_id(),
                    "the client's trace was not continued"
                );
            }
            assert_eq!(bag(&seen), bag(&expected));
        }
    });
});
