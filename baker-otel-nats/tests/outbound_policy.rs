//! Outbound policy for NATS (audit finding 3d, issue #31): a publish, request or reply carries
//! baggage only to subjects allowed to receive it. Never to subjects marked untrusted, never in
//! a reply to a request from an untrusted subject (its publisher chose the reply subject), and
//! a refused field the caller put in the headers is removed. What crossed the wire is what a
//! raw (untraced) subscriber on the real server received.

mod common;

use baker_otel::context::BakerScope;
use baker_otel::testing::Capture;
use common::*;
use futures_util::StreamExt;
use tracing::Instrument;

/// Headers a hostile requester sends, with a baggage entry of its own.
fn hostile_headers() -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-01",
    );
    h.insert("baggage", "client.app=web");
    h
}

/// The value of header `name`, exact spelling.
fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// Whether a header named `name` in any spelling arrived (a consumer accepts `Baggage` too).
fn any_case(m: &async_nats::Message, name: &str) -> bool {
    m.headers.as_ref().is_some_and(|h| {
        h.iter()
            .any(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(name))
    })
}

/// The Baker ids of the job being handled: set by the responder itself, never the requester's.
async fn as_job<F: std::future::Future>(f: F) -> F::Output {
    BakerScope::current()
        .conversation_id("conv-internal")
        .job_id("job-internal")
        .instrument(f)
        .await
}

#[tokio::test]
async fn a_reply_to_an_untrusted_requester_carries_no_baggage() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let prefix = unique("ext");
    let nats = telemetry(&cap).untrusted_subjects([format!("{prefix}.>")]);
    let conn = connect().await;
    let responder = nats.client(conn.clone());
    let untrusted = format!("{prefix}.rpc");
    let trusted = unique("internal.rpc");
    let sub_u = responder.subscribe(untrusted.clone()).await.unwrap();
    let sub_t = responder.subscribe(trusted.clone()).await.unwrap();
    server_round_trip(&conn).await;

    let serve = |mut sub: baker_otel_nats::TracedSubscriber| {
        let responder = responder.clone();
        tokio::spawn(async move {
            let msg = sub.next().await.unwrap();
            let span = msg.span().clone();
            as_job(async { responder.reply(&msg, "pong".into()).await.unwrap() })
                .instrument(span)
                .await;
        })
    };
    let (server_u, server_t) = (serve(sub_u), serve(sub_t));
    // The requesters: outside our telemetry (raw requests on the same connection).
    let reply_u =
        within(conn.request_with_headers(untrusted.clone(), hostile_headers(), "ping".into()))
            .await
            .unwrap();
    let reply_t =
        within(conn.request_with_headers(trusted.clone(), hostile_headers(), "ping".into()))
            .await
            .unwrap();
    within(server_u).await.unwrap();
    within(server_t).await.unwrap();

    assert!(
        !any_case(&reply_u, "baggage"),
        "the untrusted requester received our baggage: {:?}",
        reply_u.headers
    );
    assert!(
        header(&reply_u, "traceparent").is_some(),
        "trace context still goes back (a new trace, not the requester's)"
    );
    assert!(!header(&reply_u, "traceparent")
        .unwrap()
        .contains("11111111111111111111111111111111"));
    // A trusted requester still gets the ids back (the default for internal subjects).
    let b = header(&reply_t, "baggage").unwrap_or_default();
    assert!(b.contains("baker.job.id=job-internal"), "{b:?}");
}

#[tokio::test]
async fn publishes_to_untrusted_subjects_carry_no_baggage_and_drop_forwarded_baggage() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let prefix = unique("ext");
    let nats = telemetry(&cap).untrusted_subjects([format!("{prefix}.>")]);
    let conn = connect().await;
    let client = nats.client(conn.clone());
    let untrusted = format!("{prefix}.events");
    let trusted = unique("internal.events");
    let mut raw_u = conn.subscribe(untrusted.clone()).await.unwrap();
    let mut raw_t = conn.subscribe(trusted.clone()).await.unwrap();
    server_round_trip(&conn).await;

    as_job(async {
        for subject in [&untrusted, &trusted] {
            // A handler forwarding the headers it received, in two spellings.
            let mut h = async_nats::HeaderMap::new();
            h.insert("baggage", "user.id=forwarded");
            h.insert("Baggage", "user.id=forwarded-too");
            client
                .publish_with_headers(subject.clone(), h, "x".into())
                .await
                .unwrap();
        }
    })
    .await;
    conn.flush().await.unwrap();
    let got_u = within(raw_u.next()).await.unwrap();
    let got_t = within(raw_t.next()).await.unwrap();

    assert!(!any_case(&got_u, "baggage"), "{:?}", got_u.headers);
    assert!(header(&got_u, "traceparent").is_some());
    let b = header(&got_t, "baggage").unwrap_or_default();
    assert!(b.contains("gen_ai.conversation.id=conv-internal"), "{b:?}");
}

/// `baggage_to_subjects` / `trace_context_to_subjects`: core publish, request and JetStream
/// publish each get what the policy gives their subject, and lose what it refuses (also a
/// field the caller put in the headers).
#[tokio::test]
async fn the_subject_policy_decides_for_publish_request_and_jetstream() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let internal = unique("internal");
    let partner = unique("partner");
    let nats = telemetry(&cap)
        .baggage_to_subjects([format!("{internal}.>"), "*.jobs".into()])
        .trace_context_to_subjects([format!("{internal}.>"), "*.jobs".into()]);
    let conn = connect().await;
    let client = nats.client(conn.clone());
    let mut raw_in = conn.subscribe(format!("{internal}.events")).await.unwrap();
    let mut raw_out = conn.subscribe(format!("{partner}.events")).await.unwrap();
    let mut rpc_out = conn.subscribe(format!("{partner}.rpc")).await.unwrap();
    server_round_trip(&conn).await;

    let forwarded = || {
        let mut h = async_nats::HeaderMap::new();
        h.insert("baggage", "user.id=forwarded");
        h.insert(
            "traceparent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        );
        h.insert("Nats-Msg-Id", "m-1");
        h
    };
    let answer = tokio::spawn(async move {
        let m = rpc_out.next().await.unwrap();
        let headers = m.headers.clone();
        conn.publish(m.reply.unwrap(), "ok".into()).await.unwrap();
        headers
    });
    as_job(async {
        client
            .publish_with_headers(format!("{internal}.events"), forwarded(), "x".into())
            .await
            .unwrap();
        client
            .publish_with_headers(format!("{partner}.events"), forwarded(), "x".into())
            .await
            .unwrap();
        within(client.request_with_headers(format!("{partner}.rpc"), forwarded(), "x".into()))
            .await
            .unwrap();
    })
    .await;
    let got_in = within(raw_in.next()).await.unwrap();
    let got_out = within(raw_out.next()).await.unwrap();
    let rpc_headers = within(answer).await.unwrap().unwrap();

    let b = header(&got_in, "baggage").unwrap_or_default();
    assert!(
        b.contains("baker.job.id=job-internal") && !b.contains("forwarded"),
        "{b}"
    );
    assert!(!header(&got_in, "traceparent")
        .unwrap()
        .contains("1111111111"));
    for h in [got_out.headers.as_ref().unwrap(), &rpc_headers] {
        assert!(h.get("baggage").is_none(), "{h:?}");
        assert!(h.get("traceparent").is_none(), "{h:?}");
        assert_eq!(h.get("Nats-Msg-Id").map(|v| v.as_str()), Some("m-1"));
    }

    // JetStream publishes go through the same policy: the stream subject `<name>.jobs`
    // matches `*.jobs`; a telemetry that allows only `{internal}.>` refuses it.
    let js = nats.jetstream(async_nats::jetstream::new(connect().await));
    let narrow = nats
        .clone()
        .baggage_to_subjects([format!("{internal}.>")])
        .jetstream(js.inner().clone());
    let (js2, internal2) = (js.clone(), internal.clone());
    with_stream(&js, "BAKER_OUT", |stream, _name, subject| async move {
        let last_baggage = || async {
            let m = stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .unwrap();
            m.headers.get("baggage").map(|v| v.as_str().to_owned())
        };
        for (traced, allowed) in [(&narrow, false), (&js2, true)] {
            as_job(async {
                traced
                    .publish(subject.clone(), "x".into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            })
            .await;
            let b = last_baggage().await;
            assert_eq!(
                b.as_deref()
                    .is_some_and(|b| b.contains("baker.job.id=job-internal")),
                allowed,
                "{b:?} (allowed: {allowed}, {internal2}.> only: {})",
                !allowed
            );
        }
    })
    .await;
    let refused = nats.clone().baggage_to_subjects(Vec::<String>::new());
    assert!(!refused.sends_baggage_to("any.jobs"));
    assert!(refused.sends_trace_context_to("any.jobs"));
}
