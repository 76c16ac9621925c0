//! Fault: NATS outage. A dedicated `nats-server` (own port, own JetStream store) is killed with
//! SIGKILL while messages flow and restarted on the same port with the same store.
//!
//! Proves, against real processes on loopback:
//! - failures surface as errors *and* error spans/metrics (`request` times out → span status
//!   ERROR + `error.type`; a client that gives up reconnecting → `publish` returns `Err`, span
//!   and `messaging.client.sent.messages{error_type}` say so; a publish the caller abandons
//!   while back-pressured → `error.type="cancelled"`; a JetStream publish whose ack fails →
//!   ERROR send span + `error_type`); every send span is counted exactly once in the metrics;
//! - our wrapper adds no buffer of its own: during the outage publishes are absorbed only by
//!   async-nats's bounded command channel (`client_capacity`), then back-pressure reaches the
//!   caller; every publish eventually completes (hang guards), nothing panics;
//! - after reconnect, consumers resume and context propagation is intact: `process` spans are
//!   children of the producer's `send` spans (same trace) and carry the conversation/job ids;
//! - JetStream: messages published before the kill, persisted in a file-backed stream and
//!   consumed after the restart, keep their trace parent and ids (headers persisted).
//!
//! Needs the Debian `nats-server` binary (`scripts/test` installs it). No timing assertions:
//! every bound below is a hang guard.

mod common;

use async_nats::connection::State;
use async_nats::jetstream::{self, consumer::pull, stream};
use async_nats::{Client, ConnectOptions};
use baker_otel::context::BakerScope;
use baker_otel::testing::{Capture, CapturedSpan};
use baker_otel::OpenTelemetrySpanExt;
use baker_otel_nats::{NatsTelemetry, TracedClient, TracedMessages};
use common::server_round_trip;
use futures_util::StreamExt;
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use std::future::{Future, IntoFuture};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// Bound of async-nats's command channel: the only place publishes may queue during an outage.
const CLIENT_CAPACITY: usize = 32;
/// Hang guard for one operation (never a timing assertion).
const GUARD: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Harness: one capture per process, a dedicated nats-server child, hang guards.
// ---------------------------------------------------------------------------------------------

/// The test's capture, as this thread's default subscriber: on a current-thread runtime every
/// task (publishers, consumers, the client's connection task) runs under it.
fn capture() -> (Capture, tracing::dispatcher::DefaultGuard) {
    let cap = Capture::new();
    let guard = cap.set_default();
    (cap, guard)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// Awaits `f`, failing (not hanging) if it does not finish within [`GUARD`].
async fn guard<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {GUARD:?} (hang)"))
}

/// Polls `check` until it holds (bounded by [`GUARD`]).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    guard(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A `nats-server -js` child on its own port and store dir; killed (and the dir removed) on drop.
struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl NatsServer {
    fn start() -> Self {
        assert!(
            std::path::Path::new(NATS_SERVER).exists(),
            "{NATS_SERVER} is missing: this fault test needs the Debian nats-server binary; \
             run scripts/test (it installs it with apt) or `apt-get install nats-server`"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = std::env::temp_dir().join(unique("baker-otel-nats-outage"));
        std::fs::create_dir_all(&dir).expect("create the JetStream store dir");
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.spawn();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("server.log")).expect("server log file");
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-sd"])
            .arg(self.dir.join("store"))
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + GUARD;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not listen on {}; log: {}",
                self.port,
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Same port, same store dir.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn options() -> ConnectOptions {
    ConnectOptions::new()
        .reconnect_delay_callback(|attempt| Duration::from_millis((attempt as u64 * 50).min(250)))
        .client_capacity(CLIENT_CAPACITY)
        .subscription_capacity(1024)
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(Duration::from_millis(500)))
}

async fn connect(url: &str, opts: ConnectOptions) -> Client {
    guard("connect", opts.connect(url))
        .await
        .expect("connect to the dedicated nats-server")
}

fn attr(span: &CapturedSpan, key: &str) -> Option<String> {
    Capture::attr(span, key).map(|v| v.to_string())
}

/// The `messaging_client_sent_messages_total` / duration series of `dest` with `error_type`.
fn prom_has(prom: &str, metric: &str, dest: &str, error_type: &str) -> bool {
    prom.lines().any(|l| {
        l.starts_with(metric)
            && l.contains(&format!("messaging_destination_name=\"{dest}\""))
            && l.contains(&format!("error_type=\"{error_type}\""))
    })
}

/// Sum of the `metric` samples of `dest` over all `error_type`s.
fn prom_sum(prom: &str, metric: &str, dest: &str) -> f64 {
    prom.lines()
        .filter(|l| {
            l.starts_with(&format!("{metric}{{"))
                && l.contains(&format!("messaging_destination_name=\"{dest}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every `send {dest}` span is counted exactly once in `sent.messages` and
/// `operation.duration`, whatever its outcome (ok, error, cancelled).
fn assert_spans_match_metrics(spans: &[CapturedSpan], prom: &str, dest: &str) -> usize {
    let sends = spans
        .iter()
        .filter(|s| s.name == format!("send {dest}"))
        .count();
    let sent = prom_sum(prom, "messaging_client_sent_messages_total", dest);
    let durations = prom_sum(
        prom,
        "messaging_client_operation_duration_seconds_count",
        dest,
    );
    assert_eq!(
        (sends as f64, sends as f64),
        (sent, durations),
        "{dest}: {sends} send spans vs sent.messages {sent} / operation.duration count {durations}\n{prom}"
    );
    sends
}

/// Publishes `payload` inside a Baker scope whose conversation/job ids are derived from it.
async fn publish_scoped(client: &TracedClient, subject: &str, payload: &str) {
    let scope = BakerScope::current()
        .conversation_id(format!("conv-{payload}"))
        .job_id(format!("job-{payload}"));
    let res = guard(
        "publish",
        scope.instrument(client.publish(subject.to_owned(), payload.to_owned().into())),
    )
    .await;
    res.expect("publish while connected succeeds");
}

/// Checks that every consumed `payload` has a `process` span that is the child of a `send`
/// span of the same trace, and that both carry the payload's conversation/job ids.
fn assert_propagated(spans: &[CapturedSpan], subject: &str, received: &[(String, SpanContext)]) {
    let sends: Vec<_> = spans
        .iter()
        .filter(|s| s.name == format!("send {subject}"))
        .collect();
    for (payload, process_cx) in received {
        let process = spans
            .iter()
            .find(|s| s.span_context.span_id() == process_cx.span_id())
            .unwrap_or_else(|| panic!("process span of {payload} exported"));
        assert_eq!(process.name, format!("process {subject}"));
        let conv = format!("conv-{payload}");
        let job = format!("job-{payload}");
        assert_eq!(
            attr(process, "gen_ai.conversation.id").as_deref(),
            Some(conv.as_str()),
            "{payload}: conversation id on the process span"
        );
        assert_eq!(attr(process, "baker.job.id").as_deref(), Some(job.as_str()));
        let send = sends
            .iter()
            .find(|s| s.span_context.span_id() == process.parent_span_id)
            .unwrap_or_else(|| panic!("{payload}: process span's parent is a send span"));
        assert!(process.parent_span_is_remote);
        assert_eq!(
            process.span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            attr(send, "gen_ai.conversation.id").as_deref(),
            Some(conv.as_str())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Core NATS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn core_nats_outage_errors_are_traced_buffering_is_bounded_and_propagation_resumes() {
    let (cap, _scope) = capture();
    let mut server = NatsServer::start();
    let url = server.url();
    let nats = NatsTelemetry::new(cap.telemetry());
    let subject = unique("outage.jobs");
    let rpc = unique("outage.rpc");

    let publisher = nats.client(connect(&url, options()).await);
    let worker = nats.client(connect(&url, options()).await);
    // Gives up after one failed reconnect: its publishes must then fail loudly.
    let fragile = nats.client(
        connect(
            &url,
            options()
                .max_reconnects(1)
                .reconnect_delay_callback(|_| Duration::from_millis(20)),
        )
        .await,
    );

    // Worker: a traced queue subscriber consuming in a task.
    let mut sub = guard(
        "subscribe",
        worker.queue_subscribe(subject.clone(), "workers".into()),
    )
    .await
    .unwrap();
    server_round_trip(worker.inner()).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, SpanContext)>();
    let consumer = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let payload = String::from_utf8_lossy(&msg.payload).into_owned();
            let cx = msg.span().context().span().span_context().clone();
            msg.in_scope(|| tracing::info!(%payload, "consumed"));
            drop(msg);
            if tx.send((payload, cx)).is_err() {
                break;
            }
        }
    });

    // Phase 1: messages flow.
    for i in 0..10 {
        publish_scoped(&publisher, &subject, &format!("pre-{i}")).await;
    }
    guard("flush", publisher.inner().flush()).await.unwrap();
    let mut pre = Vec::new();
    while pre.len() < 10 {
        pre.push(guard("consume pre-outage", rx.recv()).await.unwrap());
    }

    // A publisher that keeps going across the kill: every call must complete (Ok or Err).
    let flowing = publisher.clone();
    let flow_subject = subject.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let flow = tokio::spawn(async move {
        let mut outcomes = (0usize, 0usize);
        let mut i = 0;
        while !*stop_rx.borrow_and_update() {
            let res = tokio::time::timeout(
                GUARD,
                flowing.publish(flow_subject.clone(), format!("flow-{i}").into()),
            )
            .await
            .expect("a publish across the outage completes (no hang)");
            match res {
                Ok(()) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        outcomes
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Phase 2: outage.
    server.kill();
    until("publisher sees the disconnect", || {
        publisher.inner().connection_state() == State::Disconnected
    })
    .await;
    let _ = stop_tx.send(true);

    // request() during the outage: an error, and an error span/metric.
    let err = guard(
        "request during outage",
        publisher.request(rpc.clone(), "ping".into()),
    )
    .await
    .expect_err("request without a server fails");
    let request_span = cap.span(&format!("request {rpc}"));
    assert_eq!(request_span.status, Status::error(err.to_string()));
    let request_error = attr(&request_span, "error.type").expect("error.type on the request span");
    assert_eq!(
        request_error,
        format!("{:?}", err.kind()),
        "error.type is the error kind"
    );

    // The fragile client gives up reconnecting; publish then returns Err and says so.
    let fragile_subject = unique("outage.fragile");
    let fragile_err = guard("fragile publish fails", async {
        loop {
            if let Err(e) = fragile
                .publish(fragile_subject.clone(), "lost".into())
                .await
            {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let fragile_span = cap
        .spans()
        .into_iter()
        .find(|s| s.name == format!("send {fragile_subject}") && s.status != Status::Unset)
        .expect("the failed publish has an error span");
    assert_eq!(fragile_span.status, Status::error(fragile_err.to_string()));
    let fragile_error = attr(&fragile_span, "error.type").expect("error.type on the send span");
    assert_eq!(fragile_error, format!("{:?}", fragile_err.kind()));

    // Bounded buffering: while disconnected, publishes are absorbed only by async-nats's
    // bounded command channel, then back-pressure reaches the caller (our wrapper queues
    // nothing). The short timeout only detects "blocked"; it is not a timing assertion.
    let mut absorbed = 0;
    let mut blocked = false;
    for i in 0..CLIENT_CAPACITY * 4 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            publisher.publish(subject.clone(), format!("outage-{i}").into()),
        )
        .await
        {
            Ok(res) => {
                // async-nats keeps it for after the reconnect (or fails it: both are fine).
                let _ = res;
                absorbed += 1;
            }
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    assert!(
        blocked,
        "publishes during the outage never hit back-pressure: {absorbed} absorbed (unbounded?)"
    );
    assert!(
        absorbed <= CLIENT_CAPACITY,
        "{absorbed} publishes absorbed during the outage, more than client_capacity {CLIENT_CAPACITY}"
    );
    // The publish we gave up on (its future dropped by the timeout) is recorded as cancelled,
    // exactly once.
    let cancelled: Vec<_> = cap
        .spans()
        .into_iter()
        .filter(|s| {
            s.name == format!("send {subject}")
                && attr(s, "error.type").as_deref() == Some("cancelled")
        })
        .collect();
    assert_eq!(
        cancelled.len(),
        1,
        "exactly the blocked publish was cancelled"
    );
    assert!(matches!(cancelled[0].status, Status::Error { .. }));
    // One more publish waits on back-pressure; it must complete once the server is back.
    let waiting = {
        let p = publisher.clone();
        let s = subject.clone();
        tokio::spawn(async move { p.publish(s, "waiting".into()).await })
    };

    // Phase 3: the server comes back on the same port with the same store.
    server.restart();
    guard("waiting publish completes after restart", waiting)
        .await
        .expect("no panic")
        .expect("the waiting publish succeeds after reconnect");
    let (flow_ok, flow_err) = guard("flow publisher stops", flow).await.expect("no panic");
    eprintln!(
        "outage: request error.type={request_error}, fragile publish error.type={fragile_error}, \
         {absorbed} publishes absorbed before back-pressure (capacity {CLIENT_CAPACITY}), \
         flowing publisher ok={flow_ok} err={flow_err}"
    );
    assert!(
        flow_ok > 0,
        "the flowing publisher published before the kill"
    );
    for c in [&publisher, &worker] {
        until("reconnect", || {
            c.inner().connection_state() == State::Connected
        })
        .await;
    }
    // The worker's re-subscription took effect on the server before we publish.
    server_round_trip(worker.inner()).await;

    for i in 0..10 {
        publish_scoped(&publisher, &subject, &format!("post-{i}")).await;
    }
    guard("flush", publisher.inner().flush()).await.unwrap();
    let mut post = Vec::new();
    while post.len() < 10 {
        let (payload, cx) = guard("consume post-restart", rx.recv()).await.unwrap();
        if payload.starts_with("post-") {
            post.push((payload, cx));
        }
    }
    consumer.abort();
    let _ = consumer.await;

    // Propagation before and after the outage.
    let spans = cap.spans();
    assert_propagated(&spans, &subject, &pre);
    assert_propagated(&spans, &subject, &post);
    // The handler's log line after the restart carries the trace and ids too.
    let line = cap
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "consumed" && l["payload"] == "post-3")
        .expect("the handler logged post-3");
    let post3 = spans
        .iter()
        .find(|s| s.span_context.span_id() == post[3].1.span_id())
        .unwrap();
    assert_eq!(line["trace_id"], post3.span_context.trace_id().to_string());
    assert_eq!(line["conversation_id"], "conv-post-3", "{line}");

    // Failures are in the metrics with their error type.
    let prom = cap.prometheus_text();
    for (metric, dest, error) in [
        (
            "messaging_client_operation_duration_seconds_count",
            &rpc,
            &request_error,
        ),
        ("messaging_client_sent_messages_total", &rpc, &request_error),
        (
            "messaging_client_sent_messages_total",
            &fragile_subject,
            &fragile_error,
        ),
    ] {
        assert!(
            prom_has(&prom, metric, dest, error),
            "{metric}{{{dest}, {error}}}\n{prom}"
        );
    }
    // The blocked-then-cancelled publish is in the metrics too, and every send span (ok,
    // absorbed, cancelled, waiting) is counted exactly once.
    for metric in [
        "messaging_client_sent_messages_total",
        "messaging_client_operation_duration_seconds_count",
    ] {
        assert!(prom_has(&prom, metric, &subject, "cancelled"), "{prom}");
    }
    let sends = assert_spans_match_metrics(&spans, &prom, &subject);
    eprintln!("outage: {sends} send spans on {subject}, all counted once");
    assert_spans_match_metrics(&spans, &prom, &fragile_subject);
}

// ---------------------------------------------------------------------------------------------
// JetStream
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn jetstream_messages_published_before_a_kill_keep_their_trace_after_restart() {
    let (cap, _scope) = capture();
    let mut server = NatsServer::start();
    let url = server.url();
    let nats = NatsTelemetry::new(cap.telemetry());
    let client = connect(&url, options()).await;
    let js = nats.jetstream(
        jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(client.clone()),
    );
    let name = unique("OUTAGE");
    let subject = format!("{}.jobs", name.to_lowercase());
    let stream = guard(
        "create stream",
        js.inner().create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    guard(
        "create consumer",
        stream.create_consumer(pull::Config {
            durable_name: Some("workers".into()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();

    for i in 0..5 {
        let id = format!("js-{i}");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        let scope = BakerScope::current()
            .conversation_id(format!("conv-{id}"))
            .job_id(format!("job-{id}"));
        let ack = guard(
            "js publish",
            scope.instrument(js.publish_with_headers(subject.clone(), headers, "{}".into())),
        )
        .await
        .unwrap();
        guard("js ack", ack.into_future())
            .await
            .expect("stored before the kill");
    }

    server.kill();
    until("disconnect", || {
        client.connection_state() == State::Disconnected
    })
    .await;
    // A JetStream publish during the outage fails (usually at the ack), returned to the caller
    // unchanged — and its send span and metrics say so.
    let outage_err = guard("js publish during outage", async {
        js.publish(subject.clone(), "lost?".into()).await?.await
    })
    .await
    .expect_err("no ack without a server");
    let outage_type = format!("{:?}", outage_err.kind());
    let failed: Vec<_> = cap
        .spans()
        .into_iter()
        .filter(|s| s.name == format!("send {subject}") && s.status != Status::Unset)
        .collect();
    assert_eq!(failed.len(), 1, "the failed publish has an error span");
    assert_eq!(failed[0].status, Status::error(outage_err.to_string()));
    assert_eq!(
        attr(&failed[0], "error.type").as_deref(),
        Some(outage_type.as_str())
    );
    let prom = cap.prometheus_text();
    for metric in [
        "messaging_client_sent_messages_total",
        "messaging_client_operation_duration_seconds_count",
    ] {
        assert!(prom_has(&prom, metric, &subject, &outage_type), "{prom}");
    }
    // 5 acked + 1 failed: each counted once, at ack time.
    assert_eq!(assert_spans_match_metrics(&cap.spans(), &prom, &subject), 6);
    eprintln!("outage: JetStream publish without a server → error.type={outage_type}");

    server.restart();
    until("reconnect", || {
        client.connection_state() == State::Connected
    })
    .await;

    let consumer: pull::Stream = {
        let stream = guard("get stream", js.inner().get_stream(&name))
            .await
            .expect("the file-backed stream survived the restart");
        let c: jetstream::consumer::PullConsumer =
            guard("get consumer", stream.get_consumer("workers"))
                .await
                .expect("the durable consumer survived the restart");
        guard("messages", c.messages()).await.unwrap()
    };
    let mut messages = TracedMessages::new(consumer, nats.clone());
    let mut received = Vec::new();
    while received.len() < 5 {
        let msg = guard("consume after restart", messages.next())
            .await
            .expect("stream open")
            .expect("message");
        let id = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_owned());
        guard("ack", msg.ack()).await.expect("ack after restart");
        if let Some(id) = id {
            received.push((id, msg.span().context().span().span_context().clone()));
        }
    }
    drop(messages);
    let _ = guard("delete stream", js.inner().delete_stream(&name)).await;

    let spans = cap.spans();
    let sends: Vec<_> = spans
        .iter()
        .filter(|s| s.name == format!("send {subject}"))
        .collect();
    for (id, process_cx) in &received {
        let process = spans
            .iter()
            .find(|s| s.span_context.span_id() == process_cx.span_id())
            .expect("process span exported");
        let send = sends
            .iter()
            .find(|s| attr(s, "messaging.message.id").as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("send span of {id}"));
        assert_eq!(process.parent_span_id, send.span_context.span_id(), "{id}");
        assert_eq!(
            process.span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            attr(process, "gen_ai.conversation.id").as_deref(),
            Some(format!("conv-{id}").as_str())
        );
        assert_eq!(
            attr(process, "baker.job.id").as_deref(),
            Some(format!("job-{id}").as_str())
        );
    }
}
