//! Public endpoints (issue #14): an untrusted client cannot choose the trace, force sampling or
//! set Baker ids through baggage; its context survives only as a span link.
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
