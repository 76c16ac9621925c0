//! JetStream: publish → durable pull consumer → ack, settlements and queue depth.

mod common;

use async_nats::jetstream::{self, consumer::pull};
use baker_otel::testing::Capture;
use baker_otel_nats::{QueueDepth, TracedMessages};
use common::*;
use futures_util::StreamExt;
use std::time::Duration;

/// The `baker_queue_depth` sample for (stream, `baker.queue.state`) from the Prometheus text.
fn depth(cap: &Capture, stream: &str, state: &str) -> Option<u64> {
    cap.prometheus_text()
        .lines()
        .find(|l| {
            l.starts_with("baker_queue_depth{")
                && l.contains(&format!("stream=\"{stream}\""))
                && l.contains(&format!("baker_queue_state=\"{state}\""))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn publish_pull_ack_is_one_trace_with_settlements_and_queue_depth() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let nats = telemetry(&cap);
    let raw = connect().await;
    let js = nats.jetstream(jetstream::new(raw));
    let (js, nats, cap) = (&js, &nats, &cap);
    let (name, subject) = with_stream(js, "BAKER_T", |stream, name, subject| async move {
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("workers".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let monitor = QueueDepth::builder(nats, js.inner().clone())
            .consumer(&name, "workers")
            .interval(Duration::from_millis(50))
            .build()
            .unwrap();

        for i in 0..2 {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Nats-Msg-Id", format!("job-{i}").as_str());
            js.publish_with_headers(subject.clone(), h, "{}".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        // Pending before consumption: poll until the poller has seen both messages.
        eventually(|| (monitor.latest(&name, "workers") == Some((2, 0))).then_some(())).await;
        assert_eq!(depth(cap, &name, "pending"), Some(2));
        assert_eq!(depth(cap, &name, "ack_pending"), Some(0));

        let batch = consumer.fetch().max_messages(2).messages().await.unwrap();
        let mut messages = TracedMessages::new(batch, nats.clone());
        let mut n = 0;
        while let Some(msg) = within(messages.next()).await {
            let msg = msg.unwrap();
            msg.in_scope(|| tracing::info!("working"));
            within(msg.ack()).await.unwrap();
            n += 1;
        }
        assert_eq!(n, 2);
        eventually(|| (monitor.latest(&name, "workers") == Some((0, 0))).then_some(())).await;
        assert_eq!(depth(cap, &name, "pending"), Some(0));
        assert_eq!(depth(cap, &name, "ack_pending"), Some(0));
    })
    .await;

    let spans = cap.spans();
    let sends: Vec<_> = spans
        .iter()
        .filter(|s| s.name == format!("send {subject}"))
        .collect();
    let processes: Vec<_> = spans
        .iter()
        .filter(|s| s.name == format!("process {subject}"))
        .collect();
    let acks: Vec<_> = spans
        .iter()
        .filter(|s| s.name == format!("ack {name}"))
        .collect();
    assert_eq!((sends.len(), processes.len(), acks.len()), (2, 2, 2));
    for p in &processes {
        let id = attr(p, "messaging.message.id").unwrap();
        let send = sends
            .iter()
            .find(|s| attr(s, "messaging.message.id").as_deref() == Some(id.as_str()))
            .unwrap();
        assert_eq!(p.span_context.trace_id(), send.span_context.trace_id());
        assert_eq!(p.parent_span_id, send.span_context.span_id());
        assert_eq!(
            attr(p, "baker.messaging.delivery_count").as_deref(),
            Some("1")
        );
        assert_eq!(
            attr(p, "messaging.consumer.group.name").as_deref(),
            Some("workers")
        );
        let ack = acks
            .iter()
            .find(|a| a.parent_span_id == p.span_context.span_id())
            .unwrap();
        assert_eq!(ack.span_context.trace_id(), send.span_context.trace_id());
        assert_eq!(
            attr(ack, "messaging.operation.type").as_deref(),
            Some("settle")
        );
    }
    assert_eq!(cap.metric_total("baker.messaging.settlements"), Some(2.0));
    assert_eq!(
        cap.metric_total("messaging.client.consumed.messages"),
        Some(2.0)
    );
    let prom = cap.prometheus_text();
    assert!(
        prom.contains("baker_messaging_settlements_total{"),
        "{prom}"
    );
    assert!(prom.contains("messaging_operation_name=\"ack\""), "{prom}");
}

#[tokio::test]
async fn nak_redelivery_is_counted_and_term_settles() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let nats = telemetry(&cap);
    let js = nats.jetstream(jetstream::new(connect().await));
    let (js, nats) = (&js, &nats);
    let (name, _) = with_stream(js, "BAKER_R", |stream, _, subject| async move {
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("w".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        js.publish(subject.clone(), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let mut messages = TracedMessages::new(consumer.messages().await.unwrap(), nats.clone());
        let first = within(messages.next()).await.unwrap().unwrap();
        within(first.nak(None)).await.unwrap();
        drop(first);
        let second = within(messages.next()).await.unwrap().unwrap();
        assert_eq!(second.message().info().unwrap().delivered, 2);
        within(second.term()).await.unwrap();
    })
    .await;

    assert_eq!(cap.metric_total("baker.messaging.redeliveries"), Some(1.0));
    assert_eq!(cap.metric_total("baker.messaging.settlements"), Some(2.0));
    cap.span(&format!("nak {name}"));
    cap.span(&format!("term {name}"));
    let prom = cap.prometheus_text();
    assert!(
        prom.contains("baker_messaging_redeliveries_total{"),
        "{prom}"
    );
}
