#![allow(dead_code)]
//! Shared helpers for the tests against the real NATS server (`NATS_URL` or 127.0.0.1:4222).

use baker_otel::testing::Capture;
use baker_otel_nats::NatsTelemetry;
use std::future::Future;
use std::time::Duration;

pub fn nats_url() -> String {
    baker_otel_nats::testing::nats_url()
}

pub async fn connect() -> async_nats::Client {
    async_nats::connect(nats_url())
        .await
        .expect("NATS server reachable (baker_otel_nats::testing::nats_url)")
}

/// A name unique to this test run (subjects, streams, consumers).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

pub fn telemetry(cap: &Capture) -> NatsTelemetry {
    NatsTelemetry::new(cap.telemetry())
}

/// Awaits `f` with a generous bound so a broken test fails instead of hanging.
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("operation finished within 20 s")
}

/// Retries `check` until it returns `Some` (no timing assertion: the bound only stops hangs).
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> T {
    within(async {
        loop {
            if let Some(v) = check() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

pub fn attr(span: &baker_otel::testing::CapturedSpan, key: &str) -> Option<String> {
    Capture::attr(span, key).map(|v| v.to_string())
}

/// The samples of Prometheus series `metric` for destination `dest`, as
/// (`error_type` label if any, value).
pub fn series(prom: &str, metric: &str, dest: &str) -> Vec<(Option<String>, f64)> {
    let dest_label = format!("messaging_destination_name=\"{dest}\"");
    prom.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(&dest_label))
        .map(|l| {
            let error_type = l
                .split_once("error_type=\"")
                .and_then(|(_, rest)| rest.split_once('"').map(|(v, _)| v.to_owned()));
            let value = l
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (error_type, value)
        })
        .collect()
}

/// `sent.messages` and `operation.duration` (count) series of `dest`, each as
/// (`error_type`, value) — the two must always agree.
pub fn send_metrics(cap: &Capture, dest: &str) -> Vec<(Option<String>, f64)> {
    let prom = cap.prometheus_text();
    let sent = series(&prom, "messaging_client_sent_messages_total", dest);
    let durations = series(
        &prom,
        "messaging_client_operation_duration_seconds_count",
        dest,
    );
    assert_eq!(
        sent, durations,
        "sent.messages and operation.duration agree\n{prom}"
    );
    sent
}

/// Waits until the server has *processed* everything `client` sent before (a `SUB` included).
///
/// `Client::flush` only writes the socket; the server reads each connection on its own, so
/// another connection's publish can overtake a freshly written `SUB` on a loaded machine. A
/// request to a subject nobody listens on is answered by the server itself ("no responders"),
/// in order on the same connection, after the earlier `SUB`s took effect.
pub async fn server_round_trip(client: &async_nats::Client) {
    use async_nats::RequestErrorKind;
    within(async {
        loop {
            let subject = unique("_baker.sync");
            match client.request(subject, "".into()).await {
                Err(e) if e.kind() == RequestErrorKind::NoResponders => return,
                // A slow server under load: ask again (the bound above stops hangs).
                Err(e) if e.kind() == RequestErrorKind::TimedOut => continue,
                other => panic!("round trip to the NATS server: {other:?}"),
            }
        }
    })
    .await
}

/// A throwaway JetStream stream `<prefix>_<random>` on the subject `<name, lower-cased>.jobs`:
/// `body` runs with it, then the stream is deleted — also when `body` panics, since the NATS
/// server is shared by every test and session on the machine. Returns `(name, subject)`.
pub async fn with_stream<Fut>(
    js: &baker_otel_nats::TracedJetStream,
    prefix: &str,
    body: impl FnOnce(async_nats::jetstream::stream::Stream, String, String) -> Fut,
) -> (String, String)
where
    Fut: Future<Output = ()>,
{
    use futures_util::FutureExt;
    let name = unique(prefix);
    let subject = format!("{}.jobs", name.to_lowercase());
    let stream = within(
        js.inner()
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![subject.clone()],
                ..Default::default()
            }),
    )
    .await
    .expect("create the test stream");
    let result = std::panic::AssertUnwindSafe(body(stream, name.clone(), subject.clone()))
        .catch_unwind()
        .await;
    let deleted = within(js.inner().delete_stream(&name)).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    deleted.expect("delete the test stream");
    (name, subject)
}
