//! Public endpoints (issue #14): an untrusted client cannot choose the trace, force sampling or
//! set Baker ids through baggage; its context survives only as a span link, without its
//! `tracestate`. A trusted caller's `tracestate` is capped before spans inherit it.
mod common;

use axum::routing::get;
use axum::Router;
use baker_otel::config::EnvSource;
use baker_otel::context;
use baker_otel::testing::Capture;
use common::*;

const CLIENT_TRACE: &str = "11111111111111111111111111111111";
const CLIENT_SPAN: &str = "2222222222222222";

async fn echo_ids() -> String {
    let (c, j) = context::ids(&opentelemetry::Context::current());
    tracing::info!("handled");
    format!("{c:?}|{j:?}")
}

fn attack(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .header(
            "baggage",
            "gen_ai.conversation.id=victim-conv,baker.job.id=victim-job,client.app=web",
        )
}

#[tokio::test]
async fn a_public_endpoint_starts_a_new_trace_links_the_client_and_drops_its_baggage() {
    let cap = capture();
    let layer = baker_otel_axum::OtelLayer::builder(cap.telemetry())
        .public_endpoint(true)
        .public_baggage_allow_list(["client.app"])
        .build();
    let app = Router::new().route("/chat", get(echo_ids)).layer(layer);
    let addr = serve(app).await;
    let res = attack(client().get(format!("http://{addr}/chat")))
        .send()
        .await
        .unwrap();
    let tid = trace_header(&res);
    assert_ne!(tid, CLIENT_TRACE, "the client does not choose the trace");
    assert_eq!(res.text().await.unwrap(), "None|None");
    let server = server_span(&cap, &tid);
    assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_eq!(server.links.len(), 1, "the client's context is a link");
    let link = &server.links.links[0].span_context;
    assert_eq!(link.trace_id().to_string(), CLIENT_TRACE);
    assert_eq!(link.span_id().to_string(), CLIENT_SPAN);
    assert!(link.is_remote());
    assert_eq!(attr(&server, "client.app").as_deref(), None);
    let everything = format!("{:?}{:?}{:?}", cap.spans(), cap.json_lines(), cap.logs());
    assert!(!everything.contains("victim"), "{everything}");
}

#[tokio::test]
async fn allow_listed_client_baggage_is_kept_on_public_requests() {
    let cap = capture();
    let layer = baker_otel_axum::OtelLayer::builder(cap.telemetry())
        .public_endpoint(true)
        .public_baggage_allow_list(["client.app"])
        .build();
    let app = Router::new()
        .route(
            "/b",
            get(|| async {
                use opentelemetry::baggage::BaggageExt;
                let cx = opentelemetry::Context::current();
                let b = cx.baggage();
                let mut keys: Vec<String> = b.iter().map(|(k, _)| k.to_string()).collect();
                keys.sort();
                keys.join(",")
            }),
        )
        .layer(layer);
    let addr = serve(app).await;
    let res = attack(client().get(format!("http://{addr}/b")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "client.app");
}

#[tokio::test]
async fn the_client_sampled_flag_does_not_force_sampling() {
    // Under parentbased_always_off a trusted sampled parent forces a recorded span; a public
    // request is a root, so the sampler's own decision (off) holds.
    let env = EnvSource::from_pairs([
        ("OTEL_SERVICE_NAME", "test"),
        ("RUST_LOG", "trace"),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
    ]);
    let cap = scoped(Capture::with_builder(
        baker_otel::Telemetry::builder().env_source(env),
    ));
    let public = baker_otel_axum::OtelLayer::builder(cap.telemetry())
        .public_endpoint_fn(|req| req.uri().path().starts_with("/public"))
        .build();
    let app = Router::new()
        .route("/public/chat", get(echo_ids))
        .route("/internal/chat", get(echo_ids))
        .layer(public);
    let addr = serve(app).await;
    let res = attack(client().get(format!("http://{addr}/public/chat")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "None|None");
    assert!(server_spans(&cap).is_empty(), "not sampled: not exported");

    // The predicate keeps internal callers fully trusted.
    let res = attack(client().get(format!("http://{addr}/internal/chat")))
        .send()
        .await
        .unwrap();
    assert_eq!(trace_header(&res), CLIENT_TRACE);
    assert_eq!(
        res.text().await.unwrap(),
        "Some(\"victim-conv\")|Some(\"victim-job\")"
    );
    let spans = server_spans(&cap);
    assert_eq!(spans.len(), 1, "the trusted sampled parent is followed");
    assert_eq!(spans[0].name, "GET /internal/chat");
}

/// The trustworthy way to split callers: by the listener the request came in on, which the
/// server marks in an extension (here a layer on the internal listener's router) — a client can
/// send any path or header, but cannot set an extension.
#[tokio::test]
async fn a_public_endpoint_fn_can_decide_on_the_listener_not_the_path() {
    #[derive(Clone)]
    struct InternalListener;
    let env = EnvSource::from_pairs([
        ("OTEL_SERVICE_NAME", "brain"),
        ("BAKER_OTEL_JSON_LOGS", "false"),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
    ]);
    let cap = scoped(Capture::with_builder(
        baker_otel::Telemetry::builder().env_source(env),
    ));
    let layer = || {
        baker_otel_axum::OtelLayer::builder(cap.telemetry())
            .public_endpoint_fn(|req| {
                req.extensions()
                    .is_none_or(|e| e.get::<InternalListener>().is_none())
            })
            .build()
    };
    let app = || Router::new().route("/internal/chat", get(echo_ids));
    let public = serve(app().layer(layer())).await;
    let internal = serve(
        app()
            .layer(layer())
            .layer(axum::Extension(InternalListener)),
    )
    .await;
    // The same path, with the attacker's context: public on the public listener …
    let res = attack(client().get(format!("http://{public}/internal/chat")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "None|None");
    assert!(server_spans(&cap).is_empty(), "not sampled: not exported");
    // … trusted on the internal one.
    let res = attack(client().get(format!("http://{internal}/internal/chat")))
        .send()
        .await
        .unwrap();
    assert_eq!(trace_header(&res), CLIENT_TRACE);
    assert_eq!(
        res.text().await.unwrap(),
        "Some(\"victim-conv\")|Some(\"victim-job\")"
    );
}

/// A long `tracestate`: 32 list-members of 100 bytes (3,231 bytes).
fn long_tracestate() -> Vec<String> {
    (0..32)
        .map(|i| format!("k{i:02}={}", "v".repeat(96)))
        .collect()
}

async fn child_work() -> &'static str {
    tracing::info_span!("child work").in_scope(|| {});
    "ok"
}

#[tokio::test]
async fn a_public_clients_tracestate_is_not_kept_on_the_link() {
    let cap = capture();
    let layer = baker_otel_axum::OtelLayer::builder(cap.telemetry())
        .public_endpoint(true)
        .build();
    let app = Router::new().route("/chat", get(child_work)).layer(layer);
    let addr = serve(app).await;
    let res = attack(client().get(format!("http://{addr}/chat")))
        .header("tracestate", "congo=t61rcWkgMzE")
        .send()
        .await
        .unwrap();
    let server = server_span(&cap, &trace_header(&res));
    let link = &server.links.links[0].span_context;
    assert_eq!(link.trace_id().to_string(), CLIENT_TRACE, "still linked");
    assert_eq!(link.trace_state().header(), "", "no client tracestate");
    assert_eq!(server.span_context.trace_state().header(), "");
    assert_eq!(
        cap.span("child work").span_context.trace_state().header(),
        ""
    );
}

#[tokio::test]
async fn a_trusted_callers_tracestate_is_capped_before_spans_inherit_it() {
    let cap = capture();
    let app = Router::new()
        .route("/work", get(child_work))
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let addr = serve(app).await;
    let res = attack(client().get(format!("http://{addr}/work")))
        .header("tracestate", long_tracestate().join(","))
        .send()
        .await
        .unwrap();
    let tid = trace_header(&res);
    assert_eq!(tid, CLIENT_TRACE, "trusted: the caller's trace continues");
    // Whole list-members from the front, as many as fit in 512 bytes: five.
    let kept = long_tracestate()[..5].join(",");
    assert!(kept.len() <= baker_otel::propagation::MAX_TRACESTATE_LEN);
    let server = server_span(&cap, &tid);
    assert_eq!(server.span_context.trace_state().header(), kept);
    let child = cap.span("child work");
    assert_eq!(child.span_context.trace_state().header(), kept);
}
