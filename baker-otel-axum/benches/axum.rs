//! In-process added CPU per request: bare axum vs axum + `OtelLayer` vs axum +
//! axum-tracing-opentelemetry's `OtelAxumLayer`, in one run.
//!
//! * The router is driven as a tower `Service` (`oneshot`) on a current-thread runtime.
//! * baker-otel is installed globally with its real pipelines (OTLP to the closed port
//!   127.0.0.1:1, so spans really go through the span processor and the bounded batch queue).
//! * The peer gets a real tracing-opentelemetry subscriber (thread-local default for its group)
//!   built on the *same* tracer provider and with the same lean layer settings as baker-otel's, so
//!   the difference is the middleware alone. Its spans are at TRACE level, so its filter is TRACE.
//! * After criterion's own output, `main` reads `target/criterion/axum/{bare,ours,peer}/new/
//!   estimates.json` (criterion's headline estimate: slope, else mean; ns) and writes `target/bench-axum.json` as
//!   `{"bare_ns", "ours_ns", "peer_ns", "added_ratio", "throughput_ratio"}`, and prints the ratios:
//!   added CPU = (x − bare), target ours ≤ 0.5 × peer; throughput = bare/ours, target ≥ 0.85.
//!
//! Run: `cargo bench -p baker-otel-axum --bench axum`.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, Criterion};
use std::time::Duration;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

fn router() -> Router {
    Router::new().route("/hello/{id}", get(|| async { "hello" }))
}

fn request() -> http::Request<Body> {
    http::Request::get("/hello/42")
        .header("host", "localhost")
        .header("user-agent", "bench")
        .body(Body::empty())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let telemetry = baker_otel::Telemetry::builder()
        .service_name("bench")
        .otlp_endpoint("http://127.0.0.1:1")
        .log_filter("info,baker_otel::internal=off")
        .init()
        .expect("telemetry");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("axum");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let bare = router();
    g.bench_function("bare", |b| {
        b.iter(|| rt.block_on(bare.clone().oneshot(request())).unwrap())
    });

    let ours = router().layer(baker_otel_axum::OtelLayer::new());
    g.bench_function("ours", |b| {
        b.iter(|| rt.block_on(ours.clone().oneshot(request())).unwrap())
    });

    // Same without the request metrics, to split the added cost between span and metrics.
    let spans_only = router().layer(baker_otel_axum::OtelLayer::builder().metrics(false).build());
    g.bench_function("ours_spans_only", |b| {
        b.iter(|| rt.block_on(spans_only.clone().oneshot(request())).unwrap())
    });

    use opentelemetry::trace::TracerProvider as _;
    let tracer = telemetry
        .tracer_provider()
        .expect("tracer provider")
        .tracer("peer");
    let peer_subscriber = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_target(false)
                .with_level(false),
        )
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let peer = router().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default());
    tracing::subscriber::with_default(peer_subscriber, || {
        g.bench_function("peer", |b| {
            b.iter(|| rt.block_on(peer.clone().oneshot(request())).unwrap())
        });
    });
    g.finish();
    drop(telemetry);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}

fn report() {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let median = |name: &str| -> Option<f64> {
        let path = format!("{target}/criterion/axum/{name}/new/estimates.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        v["slope"]["point_estimate"]
            .as_f64()
            .or_else(|| v["mean"]["point_estimate"].as_f64())
    };
    let (Some(bare), Some(ours), Some(peer)) = (median("bare"), median("ours"), median("peer"))
    else {
        return; // e.g. `cargo bench -- <filter>` or test mode
    };
    let added_ratio = (ours - bare) / (peer - bare);
    let throughput_ratio = bare / ours;
    println!(
        "axum: bare {bare:.0} ns, ours {ours:.0} ns (+{:.0}), peer {peer:.0} ns (+{:.0}); added CPU ours/peer = {added_ratio:.2} (target ≤ 0.5), throughput ours/bare = {throughput_ratio:.2} (target ≥ 0.85)",
        ours - bare,
        peer - bare
    );
    if let Some(so) = median("ours_spans_only") {
        println!("axum: ours without metrics {so:.0} ns (+{:.0})", so - bare);
    }
    let json = serde_json::json!({
        "bare_ns": bare, "ours_ns": ours, "peer_ns": peer,
        "added_ratio": added_ratio, "throughput_ratio": throughput_ratio,
    });
    let _ = std::fs::write(format!("{target}/bench-axum.json"), json.to_string());
}
