//! Real HTTP over loopback: headers, spans and their trace ids for every kind of response.
mod common;

use axum::routing::{get, post};
use axum::{Json, Router};
use baker_otel::testing::Capture;
use common::*;
use http::StatusCode;
use opentelemetry::trace::{SpanKind, Status};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "late"
}

#[allow(unreachable_code)]
async fn boom() -> &'static str {
    panic!("handler bug");
    "never"
}

fn app(cap: &Capture) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "nope") }),
        )
        .route(
            "/unavailable",
            get(|| async { Err::<String, _>((StatusCode::SERVICE_UNAVAILABLE, "busy")) }),
        )
        .route("/panic", get(boom))
        .route("/slow", get(slow))
        .route(
            "/json",
            post(|Json(v): Json<serde_json::Value>| async move { v.to_string() }),
        )
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            baker_otel_axum::OtelLayer::builder(cap.telemetry())
                .traceresponse(true)
                .build(),
        )
}

#[tokio::test]
async fn every_response_carries_the_server_span_trace_id() {
    let cap = capture();
    let addr = serve(app(&cap)).await;
    let http = client();
    // (method, path, expected status, expected span name, expected error.type)
    let cases: [(&str, &str, u16, &str, Option<&str>); 8] = [
        ("GET", "/ok", 200, "GET /ok", None),
        ("GET", "/users/42", 200, "GET /users/{id}", None),
        ("GET", "/nowhere/7", 404, "GET", None),
        ("GET", "/fail", 500, "GET /fail", Some("500")),
        ("GET", "/unavailable", 503, "GET /unavailable", Some("503")),
        ("GET", "/panic", 500, "GET /panic", Some("500")),
        ("GET", "/slow", 408, "GET /slow", None),
        ("POST", "/json", 415, "POST /json", None), // extractor rejection: no JSON content type
    ];
    for (method, path, status, name, error) in cases {
        let res = http
            .request(method.parse().unwrap(), format!("http://{addr}{path}"))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        let tid = trace_header(&res);
        let tr = res
            .headers()
            .get("traceresponse")
            .expect("traceresponse")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(tr.starts_with(&format!("00-{tid}-")), "{tr}");
        let span = server_span(&cap, &tid);
        assert_eq!(span.name, name, "{path}");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert!(
            tr.contains(&span.span_context.span_id().to_string()),
            "traceresponse names the server span"
        );
        assert_eq!(
            attr(&span, "http.response.status_code").as_deref(),
            Some(status.to_string().as_str())
        );
        assert_eq!(attr(&span, "http.request.method").as_deref(), Some(method));
        assert_eq!(attr(&span, "url.path").as_deref(), Some(path));
        assert_eq!(attr(&span, "url.scheme").as_deref(), Some("http"));
        assert_eq!(attr(&span, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            attr(&span, "server.port").as_deref(),
            Some(addr.port().to_string().as_str())
        );
        assert_eq!(
            attr(&span, "network.protocol.version").as_deref(),
            Some("1.1")
        );
        assert_eq!(attr(&span, "error.type").as_deref(), error, "{path}");
        if error.is_some() {
            assert!(
                matches!(span.status, Status::Error { .. }),
                "{path}: {:?}",
                span.status
            );
        } else {
            assert!(
                !matches!(span.status, Status::Error { .. }),
                "{path}: {:?}",
                span.status
            );
        }
        let route = name.split_once(' ').map(|(_, r)| r.to_owned());
        assert_eq!(attr(&span, "http.route"), route, "{path}");
    }
}

#[tokio::test]
async fn valid_traceparent_continues_the_trace() {
    let cap = capture();
    let addr = serve(app(&cap)).await;
    let res = client()
        .get(format!("http://{addr}/ok"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header(
            "baggage",
            "gen_ai.conversation.id=conv-1,baker.job.id=job-9",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(trace_header(&res), "0af7651916cd43dd8448eb211c80319c");
    let span = server_span(&cap, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(span.parent_span_id.to_string(), "b7ad6b7169203331");
    assert!(span.parent_span_is_remote);
    assert_eq!(
        attr(&span, "gen_ai.conversation.id").as_deref(),
        Some("conv-1"),
        "baggage ids reach the span"
    );
    assert_eq!(attr(&span, "baker.job.id").as_deref(), Some("job-9"));
}

/// The layer finds the propagation fields, `User-Agent` and `Host` by scanning a request's few
/// header names, and by lookups past 16 names: both give the same span.
#[tokio::test]
async fn propagation_fields_and_user_agent_are_found_among_few_or_many_headers() {
    let cap = capture();
    let addr = serve(app(&cap)).await;
    for (extra, trace) in [
        (0, "0af7651916cd43dd8448eb211c803190"),
        (3, "0af7651916cd43dd8448eb211c803191"),
        (24, "0af7651916cd43dd8448eb211c803192"),
    ] {
        let mut req = client().get(format!("http://{addr}/ok"));
        for i in 0..extra {
            req = req.header(format!("x-extra-{i}"), "v");
        }
        let res = req
            .header("user-agent", format!("agent-{extra}"))
            .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
            .send()
            .await
            .unwrap();
        assert_eq!(trace_header(&res), trace, "{extra} extra headers");
        let span = server_span(&cap, trace);
        assert_eq!(span.parent_span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(
            attr(&span, "user_agent.original").as_deref(),
            Some(format!("agent-{extra}").as_str()),
            "{extra} extra headers"
        );
        // `Host` (reqwest sends the address it connects to).
        assert_eq!(
            attr(&span, "server.address").as_deref(),
            Some("127.0.0.1"),
            "{extra} extra headers"
        );
        assert_eq!(
            attr(&span, "server.port"),
            Some(addr.port().to_string()),
            "{extra} extra headers"
        );
    }
    // No propagation field and no User-Agent: a new root, no user_agent.original.
    // (reqwest sends no User-Agent of its own.)
    let res = client()
        .get(format!("http://{addr}/ok"))
        .send()
        .await
        .unwrap();
    let span = server_span(&cap, &trace_header(&res));
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_eq!(attr(&span, "user_agent.original"), None);
}

#[tokio::test]
async fn malformed_traceparent_starts_a_new_trace() {
    let cap = capture();
    let addr = serve(app(&cap)).await;
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-zz",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    ] {
        let res = client()
            .get(format!("http://{addr}/ok"))
            .header("traceparent", bad)
            .header("baggage", "%%%;;=,=")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let tid = trace_header(&res);
        assert_ne!(tid, "0af7651916cd43dd8448eb211c80319c", "{bad}");
        let span = server_span(&cap, &tid);
        assert_eq!(
            span.parent_span_id,
            opentelemetry::trace::SpanId::INVALID,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn health_and_metrics_paths_produce_no_span_and_no_metrics() {
    let cap = capture();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(|| async { "# metrics" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/ok", get(|| async { "ok" }))
        .layer(
            baker_otel_axum::OtelLayer::builder(cap.telemetry())
                .exclude_path("/livez")
                .build(),
        );
    let addr = serve(app).await;
    for p in ["/healthz", "/readyz", "/metrics", "/livez"] {
        let res = client()
            .get(format!("http://{addr}{p}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("x-trace-id").is_none(), "{p}");
    }
    assert!(server_spans(&cap).is_empty(), "{:?}", server_spans(&cap));
    assert_eq!(
        cap.histogram_count("http.server.request.duration")
            .unwrap_or(0),
        0
    );
    let res = client()
        .get(format!("http://{addr}/ok"))
        .send()
        .await
        .unwrap();
    trace_header(&res);
    assert_eq!(server_spans(&cap).len(), 1);
    assert_eq!(cap.histogram_count("http.server.request.duration"), Some(1));
}

#[tokio::test]
async fn metrics_use_the_route_template() {
    let cap = capture();
    let addr = serve(app(&cap)).await;
    for id in 0..5 {
        client()
            .get(format!("http://{addr}/users/{id}"))
            .send()
            .await
            .unwrap();
    }
    client()
        .get(format!("http://{addr}/fail"))
        .send()
        .await
        .unwrap();
    client()
        .get(format!("http://{addr}/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(cap.histogram_count("http.server.request.duration"), Some(7));
    assert_eq!(cap.metric_total("http.server.active_requests"), Some(0.0));
    let text = cap.prometheus_text();
    let bucket = |needle: &str| {
        text.lines()
            .filter(|l| {
                l.starts_with("http_server_request_duration_seconds_bucket") && l.contains(needle)
            })
            .count()
    };
    assert!(bucket(r#"http_route="/users/{id}""#) > 0, "{text}");
    assert!(
        text.contains(r#"le="0.005""#)
            && text.contains(r#"le="7.5""#)
            && text.contains(r#"le="10""#),
        "{text}"
    );
    let users = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count")
                && l.contains(r#"http_route="/users/{id}""#)
        })
        .unwrap();
    assert!(users.ends_with(" 5"), "{users}");
    for l in [
        "http_request_method=\"GET\"",
        "http_response_status_code=\"200\"",
        "url_scheme=\"http\"",
    ] {
        assert!(users.contains(l), "{users}");
    }
    assert!(!text.contains("/users/3"), "raw paths never become labels");
    let fail = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count") && l.contains("/fail")
        })
        .unwrap();
    assert!(fail.contains(r#"error_type="500""#), "{fail}");
    assert!(!users.contains("error_type"), "{users}");
    let missing = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count")
                && l.contains("status_code=\"404\"")
        })
        .unwrap();
    assert!(
        !missing.contains("http_route"),
        "404 fallback has no route label: {missing}"
    );
    assert!(text.contains("http_server_active_requests"), "{text}");
}

#[tokio::test]
async fn json_log_lines_in_handlers_carry_the_header_trace_id() {
    let cap = capture();
    let app = Router::new()
        .route(
            "/log",
            get(|| async {
                tokio::task::yield_now().await;
                tracing::info!(answer = 42, "inside handler");
                "ok"
            }),
        )
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let addr = serve(app).await;
    let res = client()
        .get(format!("http://{addr}/log"))
        .send()
        .await
        .unwrap();
    let tid = trace_header(&res);
    let span = server_span(&cap, &tid);
    let line = cap
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "inside handler")
        .expect("json line");
    assert_eq!(line["trace_id"], tid);
    assert_eq!(line["span_id"], span.span_context.span_id().to_string());
}
