//! Every publish/request outcome is recorded exactly once, on the span and in the metrics:
//! JetStream ack failures, unawaited acks, and futures cancelled by the caller.

mod common;

use async_nats::jetstream;
use baker_otel::testing::{Capture, CapturedSpan};
use common::*;
use futures_util::{FutureExt, StreamExt};
use opentelemetry::trace::Status;
use std::future::IntoFuture;
use std::time::Duration;

fn spans_named(cap: &Capture, name: &str) -> Vec<CapturedSpan> {
    cap.spans().into_iter().filter(|s| s.name == name).collect()
}

fn cancelled_status() -> Status {
    Status::error("cancelled: the operation's future was dropped before it completed")
}

#[tokio::test]
async fn jetstream_ack_failure_marks_the_send_span_and_metrics() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let js = telemetry(&cap).jetstream(jetstream::new(connect().await));
    // No stream captures this subject: the server answers "no responders" as the ack.
    let subject = unique("t.nostream");

    let pending = within(js.publish(subject.clone(), "x".into()))
        .await
        .expect("the send step itself succeeds");
    assert!(
        spans_named(&cap, &format!("send {subject}")).is_empty(),
        "the span stays open until the ack resolves"
    );
    let err = within(pending.into_future()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );

    let spans = spans_named(&cap, &format!("send {subject}"));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].status, Status::error(err.to_string()));
    assert_eq!(
        attr(&spans[0], "error.type").as_deref(),
        Some("StreamNotFound")
    );
    assert_eq!(
        send_metrics(&cap, &subject),
        vec![(Some("StreamNotFound".into()), 1.0)],
        "recorded once, at ack time, as a failure"
    );
}

#[tokio::test]
async fn jetstream_ack_timeout_is_an_error_span() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let raw = connect().await;
    let js = telemetry(&cap).jetstream(
        jetstream::ContextBuilder::new()
            .timeout(Duration::from_millis(200))
            .build(raw.clone()),
    );
    // A responder that never answers: the ack times out.
    let subject = unique("t.silent");
    let _silent = raw.subscribe(subject.clone()).await.unwrap();
    raw.flush().await.unwrap();

    let err = within(async { js.publish(subject.clone(), "x".into()).await?.await })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), jetstream::context::PublishErrorKind::TimedOut);
    let span = cap.span(&format!("send {subject}"));
    assert_eq!(span.status, Status::error(err.to_string()));
    assert_eq!(attr(&span, "error.type").as_deref(), Some("TimedOut"));
    assert_eq!(
        send_metrics(&cap, &subject),
        vec![(Some("TimedOut".into()), 1.0)]
    );
}

#[tokio::test]
async fn jetstream_successful_ack_and_unawaited_ack_count_as_sent() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let js = telemetry(&cap).jetstream(jetstream::new(connect().await));
    let js = &js;
    let (_, subject) = with_stream(js, "BAKER_O", |_, name, subject| async move {
        let ack = within(async { js.publish(subject.clone(), "awaited".into()).await?.await })
            .await
            .unwrap();
        assert_eq!(ack.stream, name);
        // Fire-and-forget: dropped without awaiting (async-nats's acker still takes the ack).
        drop(
            within(js.publish(subject.clone(), "unawaited".into()))
                .await
                .unwrap(),
        );
        // Escape hatch to the raw future: same as unawaited for our telemetry.
        let raw_ack = within(js.publish(subject.clone(), "raw".into()))
            .await
            .unwrap()
            .into_inner();
        within(raw_ack.into_future()).await.unwrap();
    })
    .await;

    let spans = spans_named(&cap, &format!("send {subject}"));
    assert_eq!(spans.len(), 3);
    for s in &spans {
        assert_eq!(
            s.status,
            Status::Unset,
            "success or unknown outcome: no status"
        );
        assert_eq!(attr(s, "error.type"), None);
    }
    assert_eq!(send_metrics(&cap, &subject), vec![(None, 3.0)]);
}

#[tokio::test]
async fn jetstream_ack_await_dropped_while_pending_is_cancelled() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let raw = connect().await;
    let js = telemetry(&cap).jetstream(jetstream::new(raw.clone()));
    let subject = unique("t.silentack");
    let _silent = raw.subscribe(subject.clone()).await.unwrap();
    raw.flush().await.unwrap();

    let pending = within(js.publish(subject.clone(), "x".into()))
        .await
        .unwrap();
    // Polled once (the responder never answers, so it is pending), then dropped.
    assert!(pending.into_future().now_or_never().is_none());

    let span = cap.span(&format!("send {subject}"));
    assert_eq!(span.status, cancelled_status());
    assert_eq!(attr(&span, "error.type").as_deref(), Some("cancelled"));
    assert_eq!(
        send_metrics(&cap, &subject),
        vec![(Some("cancelled".into()), 1.0)]
    );
}

#[tokio::test]
async fn cancelled_request_is_recorded_once_as_cancelled() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let raw = connect().await;
    let client = telemetry(&cap).client(raw.clone());
    // A responder that never replies: the request would wait for the client's request timeout.
    let subject = unique("t.slow");
    let mut silent = raw.subscribe(subject.clone()).await.unwrap();
    raw.flush().await.unwrap();

    let res = tokio::time::timeout(
        Duration::from_millis(200),
        client.request(subject.clone(), "x".into()),
    )
    .await;
    assert!(res.is_err(), "the caller gave up first");
    // The request did reach the responder.
    within(silent.next()).await.unwrap();

    let spans = spans_named(&cap, &format!("request {subject}"));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].status, cancelled_status());
    assert_eq!(attr(&spans[0], "error.type").as_deref(), Some("cancelled"));
    assert_eq!(
        send_metrics(&cap, &subject),
        vec![(Some("cancelled".into()), 1.0)]
    );
    assert!(cap.prometheus_text().lines().any(|l| l
        .starts_with("messaging_client_operation_duration_seconds_count")
        && l.contains("messaging_operation_name=\"request\"")
        && l.contains("error_type=\"cancelled\"")));
}
