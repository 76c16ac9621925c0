//! Untrusted publishers (audit finding 8): on subjects marked untrusted, a publisher cannot set
//! the Baker ids, choose the trace or force sampling; its context survives only as a span link,
//! without its `tracestate`, its baggage only through the allow-list. Trusted subjects keep full
//! propagation, with the `tracestate` capped at `MAX_TRACESTATE_LEN` (512) bytes.

mod common;

use baker_otel::context;
use baker_otel::testing::Capture;
use baker_otel_nats::NatsTelemetry;
use common::*;
use futures_util::StreamExt;
use opentelemetry::trace::SpanId;

const PUB_TRACE: &str = "11111111111111111111111111111111";
const PUB_SPAN: &str = "2222222222222222";

/// 32 `tracestate` list-members of 100 bytes (3,231 bytes, under the 8 KiB header value limit).
fn long_tracestate() -> Vec<String> {
    (0..32)
        .map(|i| format!("k{i:02}={}", "v".repeat(96)))
        .collect()
}

/// A hostile publisher's headers: a sampled parent, a long `tracestate` and the victim's ids in
/// baggage.
fn hostile_headers() -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert(
        "traceparent",
        format!("00-{PUB_TRACE}-{PUB_SPAN}-01").as_str(),
    );
    h.insert(
        "baggage",
        "gen_ai.conversation.id=victim,baker.job.id=victim-job,client.app=web",
    );
    h.insert("tracestate", long_tracestate().join(",").as_str());
    h
}

/// Subjects under `ext.` come from outside; keep only `client.app` of their baggage.
fn untrusting(nats: NatsTelemetry, prefix: &str) -> NatsTelemetry {
    nats.untrusted_subjects([format!("{prefix}.>")])
        .untrusted_baggage_allow_list(["client.app"])
}

#[tokio::test]
async fn an_untrusted_publisher_gets_a_link_not_a_parent_and_no_ids() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let prefix = unique("ext");
    let nats = untrusting(telemetry(&cap), &prefix);
    let consumer = nats.client(connect().await);
    // The publisher, outside our control: raw publishes without our telemetry. It shares the
    // consumer's connection so that the server has the subscriptions before the messages
    // (async-nats' flush() only writes the buffer; a second connection's PUB can overtake them).
    let raw = consumer.inner().clone();
    let untrusted = format!("{prefix}.jobs");
    let trusted = unique("internal.jobs");
    let mut sub_u = consumer.subscribe(untrusted.clone()).await.unwrap();
    let mut sub_t = consumer.subscribe(trusted.clone()).await.unwrap();
    consumer.inner().flush().await.unwrap();

    for subject in [&untrusted, &trusted] {
        raw.publish_with_headers(subject.clone(), hostile_headers(), "work".into())
            .await
            .unwrap();
    }
    raw.flush().await.unwrap();

    // Untrusted: nothing of the publisher's ids is current in the handler, the allow-listed
    // baggage is.
    let msg = within(sub_u.next()).await.unwrap();
    msg.in_scope(|| {
        use opentelemetry::baggage::BaggageExt;
        let cx = opentelemetry::Context::current();
        assert_eq!(context::ids(&cx), (None, None));
        assert_eq!(
            cx.baggage().get("client.app").map(|v| v.to_string()),
            Some("web".into())
        );
        tracing::info!("untrusted handling");
    });
    drop(msg);
    let span = cap.span(&format!("process {untrusted}"));
    assert_eq!(span.parent_span_id, SpanId::INVALID, "a new root");
    assert_ne!(
        span.span_context.trace_id().to_string(),
        PUB_TRACE,
        "the publisher does not choose the trace"
    );
    assert_eq!(span.links.len(), 1, "the publisher's context is a link");
    let link = &span.links.links[0].span_context;
    assert_eq!(link.trace_id().to_string(), PUB_TRACE);
    assert_eq!(link.span_id().to_string(), PUB_SPAN);
    assert!(link.is_remote());
    assert_eq!(link.trace_state().header(), "", "no tracestate on the link");
    assert_eq!(span.span_context.trace_state().header(), "");
    assert_eq!(attr(&span, "gen_ai.conversation.id"), None);
    assert_eq!(attr(&span, "baker.job.id"), None);
    let everything = format!(
        "{span:?}{:?}{:?}",
        cap.json_lines()
            .iter()
            .filter(|l| l["message"] == "untrusted handling")
            .collect::<Vec<_>>(),
        cap.logs()
    );
    assert!(!everything.contains("victim"), "{everything}");

    // Trusted (unchanged): the publisher's span is the parent and its ids are current.
    let msg = within(sub_t.next()).await.unwrap();
    msg.in_scope(|| {
        assert_eq!(
            context::conversation_id().as_deref(),
            Some("victim"),
            "trusted subjects keep full propagation"
        );
    });
    drop(msg);
    let span = cap.span(&format!("process {trusted}"));
    assert_eq!(span.parent_span_id.to_string(), PUB_SPAN);
    assert_eq!(span.span_context.trace_id().to_string(), PUB_TRACE);
    assert!(span.links.is_empty());
    // The publisher's tracestate, capped: the whole list-members that fit in 512 bytes.
    let kept = long_tracestate()[..5].join(",");
    assert!(kept.len() <= baker_otel::propagation::MAX_TRACESTATE_LEN);
    assert_eq!(span.span_context.trace_state().header(), kept);
    assert_eq!(
        attr(&span, "gen_ai.conversation.id").as_deref(),
        Some("victim")
    );
}

/// Per consumer: a JetStream consumer built from an untrusting telemetry (`">"`: every subject).
#[tokio::test]
async fn a_consumer_can_distrust_every_subject() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let nats = telemetry(&cap);
    let distrusting = nats.clone().untrusted_subjects([">"]);
    let client = connect().await;
    let subject = unique("any.jobs");
    let sub = client.subscribe(subject.clone()).await.unwrap();
    let mut sub = baker_otel_nats::TracedSubscriber::new(sub, None, distrusting);
    client.flush().await.unwrap();
    client
        .publish_with_headers(subject.clone(), hostile_headers(), "work".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let msg = within(sub.next()).await.unwrap();
    msg.in_scope(|| {
        use opentelemetry::baggage::BaggageExt;
        let cx = opentelemetry::Context::current();
        assert_eq!(context::ids(&cx), (None, None));
        assert!(cx.baggage().is_empty(), "no allow-list: no baggage at all");
    });
    drop(msg);
    let span = cap.span(&format!("process {subject}"));
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(span.links.len(), 1);
    assert_eq!(attr(&span, "gen_ai.conversation.id"), None);
}
