//! Baker ids cross NATS in baggage; hostile headers never break delivery.

mod common;

use baker_otel::context::BakerScope;
use baker_otel::testing::Capture;
use common::*;
use futures_util::StreamExt;
use opentelemetry::trace::SpanId;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn conversation_and_job_ids_reach_the_consumer_span_and_json_lines() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let client = telemetry(&cap).client(connect().await);
    let subject = unique("t.baggage");
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.inner().flush().await.unwrap();

    let brain = tracing::info_span!("brain");
    let scope = BakerScope::current()
        .conversation_id("conv-42")
        .job_id("job-7");
    let publish = client.publish(subject.clone(), "work".into());
    tracing::Instrument::instrument(scope.instrument(publish), brain)
        .await
        .unwrap();

    let msg = within(sub.next()).await.unwrap();
    assert!(msg
        .headers
        .as_ref()
        .unwrap()
        .get("baggage")
        .unwrap()
        .as_str()
        .contains("conv-42"));
    // Outside the handler nothing is current …
    assert_eq!(baker_otel::context::conversation_id(), None);
    // … inside, the worker sees the Brain's ids.
    msg.in_scope(|| {
        assert_eq!(
            baker_otel::context::conversation_id().as_deref(),
            Some("conv-42")
        );
        tracing::info!("worker handling");
    });
    drop(msg);

    let send = cap.span(&format!("send {subject}"));
    let process = cap.span(&format!("process {subject}"));
    for s in [&send, &process] {
        assert_eq!(
            attr(s, "gen_ai.conversation.id").as_deref(),
            Some("conv-42"),
            "{}",
            s.name
        );
        assert_eq!(
            attr(s, "baker.job.id").as_deref(),
            Some("job-7"),
            "{}",
            s.name
        );
    }
    let line = cap
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "worker handling")
        .unwrap();
    assert_eq!(line["conversation_id"], "conv-42");
    assert_eq!(line["job_id"], "job-7");
    assert_eq!(line["trace_id"], send.span_context.trace_id().to_string());
    assert_eq!(line["span_id"], process.span_context.span_id().to_string());
}

fn assert_new_trace(cap: &Capture, subject: &str, expected: usize) {
    let processes: Vec<_> = cap
        .spans()
        .into_iter()
        .filter(|s| s.name == format!("process {subject}"))
        .collect();
    assert_eq!(processes.len(), expected);
    for p in processes {
        assert_eq!(
            p.parent_span_id,
            SpanId::INVALID,
            "process span must start a new trace"
        );
        assert!(p.span_context.is_valid());
    }
}

#[tokio::test]
async fn garbage_headers_through_the_client_deliver_and_start_a_new_trace() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let traced = telemetry(&cap).client(connect().await);
    let raw = connect().await; // untraced publisher sending hostile headers
    let subject = unique("t.garbage");
    let mut sub = traced.subscribe(subject.clone()).await.unwrap();
    server_round_trip(traced.inner()).await;

    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("traceparent", "garbage".into()),
            ("tracestate", "=,=,,==".into()),
        ],
        vec![(
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", "a".repeat(100_000)),
        )],
        vec![
            ("baggage", format!("k={}", "v".repeat(100 * 1024))),
            ("tracestate", "x".repeat(100 * 1024)),
        ],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-0000000000000000-01".into(),
        )],
        vec![
            (
                "Traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            ),
            (
                "TRACEPARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01".into(),
            ),
        ],
        vec![("baggage", "%ff%fe=%c3%28,;;;===,,".into())],
    ];
    let n = cases.len();
    for case in &cases {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in case {
            h.insert(*k, v.as_str());
        }
        raw.publish_with_headers(subject.clone(), h, "payload".into())
            .await
            .unwrap();
    }
    // Repeated traceparent (two values of one header) is ambiguous and skipped.
    let mut h = async_nats::HeaderMap::new();
    h.append(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    h.append(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01",
    );
    raw.publish_with_headers(subject.clone(), h, "payload".into())
        .await
        .unwrap();
    raw.flush().await.unwrap();

    for _ in 0..=n {
        let msg = within(sub.next()).await.unwrap();
        assert_eq!(msg.payload.as_ref(), b"payload");
    }
    assert_new_trace(&cap, &subject, n + 1);
}

/// Speaks the NATS protocol directly to send header blocks async-nats would never build.
///
/// async-nats 0.51 itself treats an invalid header name or a non-UTF-8 header block as a
/// connection error (it reconnects and the frame is lost before any user code sees it), so
/// those can only be checked for "no panic, the traced subscription keeps working"; header
/// blocks async-nats does parse (100 KB values, garbage values, odd casing, repeats) must be
/// delivered and start a new trace.
#[tokio::test]
async fn raw_wire_hostile_headers_deliver_or_are_dropped_by_async_nats_without_harm() {
    let cap = Capture::new();
    let _g = cap.set_default();
    let traced = telemetry(&cap).client(connect().await);
    let subject = unique("t.wire");
    let mut sub = traced.subscribe(subject.clone()).await.unwrap();
    server_round_trip(traced.inner()).await;

    let url = nats_url();
    let addr = url
        .trim_start_matches("nats://")
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut info = String::new();
    rd.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO"), "{info}");
    wr.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n",
    )
    .await
    .unwrap();
    let frame = |block: &[u8], payload: &[u8]| {
        let mut f = format!(
            "HPUB {subject} {} {}\r\n",
            block.len(),
            block.len() + payload.len()
        )
        .into_bytes();
        f.extend_from_slice(block);
        f.extend_from_slice(payload);
        f.extend_from_slice(b"\r\n");
        f
    };

    let parseable: Vec<Vec<u8>> = vec![
        [b"NATS/1.0\r\ntraceparent: ".as_slice(), "x".repeat(100 * 1024).as_bytes(), b"\r\n\r\n"].concat(),
        [b"NATS/1.0\r\nbaggage: k=".as_slice(), "v".repeat(100 * 1024).as_bytes(), b"\r\ntracestate: ===\r\n\r\n"].concat(),
        b"NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz\r\n\r\n".to_vec(),
        b"NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01\r\n\r\n".to_vec(),
        b"NATS/1.0\r\nTRACEPARENT: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nTraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n".to_vec(),
        b"NATS/1.0\r\nbaggage: %ff%fe=%c3%28,;;;===,,\r\n\r\n".to_vec(),
    ];
    for block in &parseable {
        wr.write_all(&frame(block, b"wire")).await.unwrap();
    }
    for _ in &parseable {
        let msg = within(sub.next()).await.unwrap();
        assert_eq!(msg.payload.as_ref(), b"wire");
    }
    assert_new_trace(&cap, &subject, parseable.len());

    // Frames async-nats rejects at the connection level.
    let unparseable: Vec<Vec<u8>> = vec![
        b"NATS/1.0\r\nbad name: x\r\n\r\n".to_vec(),
        [
            b"NATS/1.0\r\ntracestate: ".as_slice(),
            &[0xff, 0xfe, 0xfd],
            b"\r\n\r\n",
        ]
        .concat(),
    ];
    for block in &unparseable {
        wr.write_all(&frame(block, b"lost")).await.unwrap();
    }
    // The traced subscription survives async-nats' reconnect: keep publishing a marker until one arrives.
    let marker = frame(b"NATS/1.0\r\nx-ok: 1\r\n\r\n", b"wire");
    within(async {
        loop {
            wr.write_all(&marker).await.unwrap();
            if let Ok(Some(msg)) =
                tokio::time::timeout(std::time::Duration::from_millis(200), sub.next()).await
            {
                if msg.headers.as_ref().and_then(|h| h.get("x-ok")).is_some() {
                    break;
                }
            }
        }
    })
    .await;
}
