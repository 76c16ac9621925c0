//! publish → subscribe and request/reply against the real NATS server.

mod common;

use baker_otel::testing::Capture;
use common::*;
use futures_util::StreamExt;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tracing::Instrument;

#[tokio::test]
async fn publish_subscribe_continues_the_producer_trace() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let client = telemetry(&cap).client(connect().await);
    let subject = unique("t.pubsub");

    let mut sub = client
        .queue_subscribe(subject.clone(), "workers".into())
        .await
        .unwrap();
    client.inner().flush().await.unwrap();
    let mut user = async_nats::HeaderMap::new();
    user.insert("x-user", "kept");
    user.insert(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-01",
    ); // replaced
    client
        .publish_with_headers(subject.clone(), user, "hello".into())
        .await
        .unwrap();

    let msg = within(sub.next()).await.unwrap();
    assert_eq!(msg.payload.as_ref(), b"hello");
    let headers = msg.headers.clone().unwrap();
    assert_eq!(headers.get("x-user").unwrap().as_str(), "kept");
    msg.in_scope(|| tracing::info!("handled"));
    drop(msg);

    let send = cap.span(&format!("send {subject}"));
    let process = cap.span(&format!("process {subject}"));
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(
        process.span_context.trace_id(),
        send.span_context.trace_id()
    );
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert!(process.parent_span_is_remote);
    assert_eq!(
        headers
            .get("traceparent")
            .unwrap()
            .as_str()
            .split('-')
            .nth(1)
            .unwrap(),
        send.span_context.trace_id().to_string()
    );

    assert_eq!(attr(&send, "messaging.system").as_deref(), Some("nats"));
    assert_eq!(
        attr(&send, "messaging.operation.name").as_deref(),
        Some("publish")
    );
    assert_eq!(
        attr(&send, "messaging.operation.type").as_deref(),
        Some("send")
    );
    assert_eq!(
        attr(&send, "messaging.destination.name").as_deref(),
        Some(subject.as_str())
    );
    assert_eq!(
        attr(&send, "messaging.message.body.size").as_deref(),
        Some("5")
    );
    assert_eq!(
        attr(&process, "messaging.operation.name").as_deref(),
        Some("process")
    );
    assert_eq!(
        attr(&process, "messaging.consumer.group.name").as_deref(),
        Some("workers")
    );

    let line = cap
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "handled")
        .unwrap();
    assert_eq!(line["trace_id"], send.span_context.trace_id().to_string());

    assert_eq!(
        cap.metric_total("messaging.client.sent.messages"),
        Some(1.0)
    );
    assert_eq!(
        cap.metric_total("messaging.client.consumed.messages"),
        Some(1.0)
    );
    assert_eq!(cap.histogram_count("messaging.process.duration"), Some(1));
    assert_eq!(
        cap.histogram_count("messaging.client.operation.duration"),
        Some(1)
    );
    let prom = cap.prometheus_text();
    assert!(
        prom.contains("messaging_client_consumed_messages_total{"),
        "{prom}"
    );
    assert!(
        prom.contains("messaging_consumer_group_name=\"workers\""),
        "{prom}"
    );
}

#[tokio::test]
async fn request_reply_is_one_trace_and_the_reply_carries_context_back() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let client = telemetry(&cap).client(connect().await);
    let subject = unique("t.rpc");

    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.inner().flush().await.unwrap();
    let responder = client.clone();
    let server = tokio::spawn(async move {
        let msg = sub.next().await.unwrap();
        let span = msg.span().clone();
        responder
            .reply(&msg, "pong".into())
            .instrument(span)
            .await
            .unwrap();
    });

    let reply = within(client.request(subject.clone(), "ping".into()))
        .await
        .unwrap();
    within(server).await.unwrap();
    assert_eq!(reply.payload.as_ref(), b"pong");

    let request = cap.span(&format!("request {subject}"));
    let process = cap.span(&format!("process {subject}"));
    let send_reply = cap.span("send _INBOX");
    assert_eq!(request.span_kind, SpanKind::Client);
    let trace = request.span_context.trace_id();
    for s in [&process, &send_reply] {
        assert_eq!(s.span_context.trace_id(), trace);
    }
    assert_eq!(process.parent_span_id, request.span_context.span_id());
    assert_eq!(send_reply.parent_span_id, process.span_context.span_id());
    assert_eq!(
        attr(&send_reply, "messaging.destination.name").as_deref(),
        Some("_INBOX")
    );
    assert_eq!(
        attr(&send_reply, "messaging.destination.temporary").as_deref(),
        Some("true")
    );

    // The reply's headers carry the responder's context back to the requester …
    let back = baker_otel_nats::propagation::extract(
        cap.telemetry().propagation(),
        reply.headers.as_ref(),
    );
    assert_eq!(back.span().span_context().trace_id(), trace);
    assert_eq!(
        back.span().span_context().span_id(),
        send_reply.span_context.span_id()
    );
    // … and the request span links to it.
    assert!(request
        .links
        .iter()
        .any(|l| l.span_context.span_id() == send_reply.span_context.span_id()));

    // Raw inboxes never reach span names or metric labels.
    assert!(cap.spans().iter().all(|s| !s.name.contains("_INBOX.")));
    let prom = cap.prometheus_text();
    assert!(!prom.contains("_INBOX."), "{prom}");
    assert!(
        prom.contains("messaging_destination_name=\"_INBOX\""),
        "{prom}"
    );
    assert!(
        prom.contains("messaging_operation_name=\"request\""),
        "{prom}"
    );
}

#[tokio::test]
async fn failed_request_marks_the_span_and_returns_the_error_unchanged() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let client = telemetry(&cap).client(connect().await);
    let subject = unique("t.nobody");
    let err = within(client.request(subject.clone(), "x".into()))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::client::RequestErrorKind::NoResponders
    );
    let span = cap.span(&format!("request {subject}"));
    assert_eq!(
        span.status,
        opentelemetry::trace::Status::error(err.to_string())
    );
    assert_eq!(attr(&span, "error.type").as_deref(), Some("NoResponders"));
    assert!(cap
        .prometheus_text()
        .contains("error_type=\"NoResponders\""));
}

/// Issue #14: 10 000 distinct subjects and error strings from a wildcard subscription create a
/// bounded number of metric series (no `otel.metric.overflow`, real series keep updating).
#[tokio::test]
async fn ten_thousand_subjects_and_errors_make_bounded_series() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let nats = telemetry(&cap).subject_templates(
        baker_otel_nats::SubjectTemplates::new()
            .pattern("{run}.jobs.{tenant}.agent")
            .unwrap(),
    );
    let client = nats.client(connect().await);
    let root = unique("card");
    let mut sub = client.subscribe(format!("{root}.>")).await.unwrap();
    client.inner().flush().await.unwrap();
    let n = 10_000;
    for i in 0..n {
        let subject = match i % 4 {
            0 => format!("{root}.jobs.tenant{i}.agent"),
            1 => format!("{root}.orders.{i}.created"),
            2 => format!("{root}.sess.{:032x}", i as u128 * 7919 + 1),
            _ => format!("{root}.free.word{i}x"),
        };
        client.publish(subject, "x".into()).await.unwrap();
    }
    client.inner().flush().await.unwrap();
    for i in 0..n {
        let mut msg = within(sub.next()).await.unwrap();
        msg.set_error(format!("failed for user {i}"));
        if i % 2 == 0 {
            msg.set_error(format!("code_{i}"));
        }
    }
    let prom = cap.prometheus_text();
    let series = |metric: &str| {
        prom.lines()
            .filter(|l| l.starts_with(&format!("{metric}{{")))
            .count()
    };
    let sent = series("messaging_client_sent_messages_total");
    let processed = series("messaging_process_duration_seconds_count");
    assert!(
        sent <= baker_otel_nats::DEFAULT_MAX_DESTINATIONS + 1,
        "{sent} sent series"
    );
    assert!(
        processed
            <= (baker_otel_nats::DEFAULT_MAX_DESTINATIONS + 1)
                * (baker_otel_nats::MAX_ERROR_TYPES + 1),
        "{processed} process series"
    );
    assert!(!prom.contains("otel_metric_overflow"), "no overflow");
    assert!(prom.contains("messaging_destination_name=\"{run}.jobs.{tenant}.agent\""));
    assert!(prom.contains(&format!(
        "messaging_destination_name=\"{root}.orders.{{id}}.created\""
    )));
    let errors: std::collections::HashSet<&str> = prom
        .lines()
        .filter_map(|l| {
            l.split_once("error_type=\"")
                .map(|(_, r)| r.split('"').next().unwrap())
        })
        .collect();
    assert!(errors.contains("_OTHER"), "free text is _OTHER");
    assert!(
        errors.len() <= baker_otel_nats::MAX_ERROR_TYPES + 1,
        "{}",
        errors.len()
    );
    assert!(!errors.iter().any(|e| e.contains("user")));
}
