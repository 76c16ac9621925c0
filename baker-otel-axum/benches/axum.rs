//! Bare axum vs axum + `OtelLayer` vs axum + axum-tracing-opentelemetry's `OtelAxumLayer`, in
//! one run, two ways:
//!
//! 1. **In-process added CPU per request** (criterion): the router is driven as a tower
//!    `Service` (`oneshot`) on a current-thread runtime; added CPU = x − bare.
//! 2. **Loopback throughput**: each server runs alone on a current-thread runtime on its own
//!    thread pinned to the second CPU (one server core), bound to 127.0.0.1:0, and an
//!    in-process HTTP/1.1 keep-alive client (16 connections, plain `TcpStream`s and `httparse`,
//!    like `wrk`) pinned to the first CPU sends a fixed number of `GET /hello/{id}` requests;
//!    the export thread floats. Pinning keeps client and server off each other's core:
//!    unpinned, the scheduler sometimes stacks them on one core and a round's server CPU per
//!    request varies by 2.5× between rounds of the same server. (The CPUs are listed before any
//!    thread is pinned: listed from the server thread, which inherits the pinned client's
//!    affinity, they were the client's CPU alone, and until this was found client and server
//!    shared one core.) Rounds run bare, ours, peer and a minimal layer (one constant response
//!    header: the floor of any tower layer on the machine) back to back, each round starting
//!    with the next of the four; the ratios are the median of the per-round ratios (paired, so
//!    drift between rounds cancels), requests/s the median of each side. Each round also reads
//!    the CPU time per request of the server thread, the client thread and the rest of the
//!    process (the export thread) from `/proc/self/task/*/schedstat`: on a shared VM whose
//!    request rate varies by ±30 % between rounds, server CPU per request says what the layer
//!    costs where the rate says what a client sees.
//!
//! For profiling, `AXUM_BENCH_REQ=n` runs one round of `n` requests (and `n`/10 warm-up),
//! `AXUM_BENCH_ONLY=0|1|2|3` serves only bare, ours, peer or the minimal layer (the others
//! report 1 req/s) and `AXUM_BENCH_CONNECTIONS=n` changes the number of client connections,
//! e.g. `AXUM_BENCH_ONLY=1 AXUM_BENCH_REQ=3000 valgrind --tool=callgrind --separate-threads=yes
//! <bench binary> --bench loopback`; `AXUM_BENCH_ROUNDS=1` prints every round's requests/s.
//!
//! Setup shared by both:
//! * baker-otel is installed globally with its real pipelines (OTLP to the closed port
//!   127.0.0.1:1, so spans really go through the span processor and the bounded batch queue).
//! * The peer gets a real tracing-opentelemetry subscriber (thread-local default on its
//!   threads) built on the *same* tracer provider and with the same lean layer settings as
//!   baker-otel's, so the difference is the middleware alone. Its spans are at TRACE level, so
//!   its filter is TRACE.
//!
//! `main` prints a table and writes `target/bench-axum.json`:
//! `{"bare_ns","ours_ns","peer_ns","ours_spans_only_ns","bare_rps","ours_rps","peer_rps",
//! "minimal_rps","added_ratio","throughput_ratio","rps_ratio","rps_vs_peer","minimal_ratio"}`
//! and, per server (`bare`, `ours`, `peer`, `minimal`), `<server>_server_cpu_ns`,
//! `<server>_client_cpu_ns` and `<server>_other_cpu_ns` (median CPU time per request)
//! (ns = criterion's slope, else mean; `rps_ratio`, `rps_vs_peer` and `minimal_ratio` paired).
//! Targets: added CPU ours ≤ 0.5 × peer's; throughput ours ≥ 0.85 × bare.
//!
//! The loopback figures include the span pipeline's background work (OTLP encoding and failed
//! exports on the export thread) competing with client and server for the cores; run with
//! `OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none` to measure
//! the middleware alone (spans are still built and ended, just not exported).
//!
//! **Instruction counts.** Per request, in process: the inclusive instructions of
//! `Runtime::block_on` over its calls, under `valgrind --tool=callgrind --fair-sched=yes <bench
//! binary> --bench --profile-time 2 --exact axum/ours` (or `axum/bare`, `axum/peer`). Measured
//! 2026-12, before the changes listed below: bare 7 951, ours 15 153, peer 29 726, so the layer
//! added 7 202 and `OtelAxumLayer` 21 775. What single choices of the layer were worth on that
//! row (share of the layer's added instructions, then of ours' total):
//! * `X-Trace-Id` and `traceresponse` values cut from a per-thread 4 KiB block instead of
//!   allocated per response: 93 (1.3 %, 0.6 %). Not worth a thread-local block that any
//!   retained value pins; removed.
//! * Span names `{METHOD} {route}` interned as `&'static str` (`src/intern.rs`: one
//!   process-wide table of at most 4 096 names of up to 256 bytes, built from the router's route
//!   templates only) instead of a `String` formatted, allocated and freed per request: 305
//!   (4.2 %, 2.0 %). Kept. On the loopback server the same cut is 163 of ≈ 19 500 instructions
//!   per request in hyper's dispatcher, plus the name's free on the export thread. Interning
//!   `http.route`, the first `User-Agent` and the first `Host` too saved 0–40 (noise) over sharing
//!   them by reference count, so they are no longer interned: no client-chosen text is leaked.
//! * The server span's `RUST_LOG` check decided by a hand-built static callsite's cached
//!   interest (`src/service.rs`, `span_enabled`) instead of `tracing::enabled!`, which asks the
//!   subscriber on every call whatever the interest (≈ 185 instructions through the layered
//!   `EnvFilter` of this bench): 250 (3.5 %, 1.6 %). Kept.
//! * One pass over a request's header names finds the propagation fields, `User-Agent` and
//!   `Host` (`src/service.rs`, `HeaderScan`): ≈ 40 instead of ≈ 400 for the fields of a request
//!   with two headers, and ≈ 100 saved on each of the `User-Agent` and `Host` lookups (measured
//!   when introduced).
//!
//! Run: `cargo bench -p baker-otel-axum --bench axum` (≈ 90–120 s).

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

/// Loopback: connections, requests per measured round, rounds per server.
const CONNECTIONS: usize = 16;
const REQUESTS: usize = 12_000;
const WARMUP: usize = 1_200;
const ROUNDS: usize = 21;
const SETTLE: Duration = Duration::from_millis(200);

fn router() -> Router {
    Router::new().route("/hello/{id}", get(|| async { "hello" }))
}

fn request() -> http::Request<Body> {
    http::Request::get("/hello/42")
        .header("host", "localhost")
        .header("user-agent", "bench")
        .body(Body::empty())
        .unwrap()
}

fn peer_router() -> Router {
    router().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
}

/// A tracing-opentelemetry subscriber on baker-otel's tracer provider, for the peer.
fn peer_dispatch(telemetry: &baker_otel::Telemetry) -> tracing::Dispatch {
    use opentelemetry::trace::TracerProvider as _;
    let tracer = telemetry
        .tracer_provider()
        .expect("tracer provider")
        .tracer("peer");
    tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_location(false)
                    .with_threads(false)
                    .with_tracked_inactivity(false)
                    .with_target(false)
                    .with_level(false),
            )
            .with(tracing_subscriber::filter::LevelFilter::TRACE),
    )
}

fn in_process(c: &mut Criterion, telemetry: &baker_otel::Telemetry, peer: &tracing::Dispatch) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("axum");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let bare = router();
    g.bench_function("bare", |b| {
        b.iter(|| rt.block_on(bare.clone().oneshot(request())).unwrap())
    });

    let ours = router().layer(baker_otel_axum::OtelLayer::new(telemetry));
    g.bench_function("ours", |b| {
        b.iter(|| rt.block_on(ours.clone().oneshot(request())).unwrap())
    });

    // Same without the request metrics, to split the added cost between span and metrics.
    let spans_only = router().layer(
        baker_otel_axum::OtelLayer::builder(telemetry)
            .metrics(false)
            .build(),
    );
    g.bench_function("ours_spans_only", |b| {
        b.iter(|| rt.block_on(spans_only.clone().oneshot(request())).unwrap())
    });

    let peer_app = peer_router();
    tracing::dispatcher::with_default(peer, || {
        g.bench_function("peer", |b| {
            b.iter(|| rt.block_on(peer_app.clone().oneshot(request())).unwrap())
        });
    });
    g.finish();
}

/// Serves `app` on 127.0.0.1:0 on a current-thread runtime of its own thread (with `dispatch`
/// as that thread's default subscriber when given) until the returned sender is dropped.
fn spawn_server(
    app: Router,
    dispatch: Option<tracing::Dispatch>,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
    Option<String>,
) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::spawn(move || {
        pin(1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let run = || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx
                    .send((listener.local_addr().unwrap(), thread_id()))
                    .unwrap();
                tokio::select! {
                    r = axum::serve(listener, app) => r.unwrap(),
                    _ = stop_rx => {}
                }
            })
        };
        match dispatch {
            Some(d) => tracing::dispatcher::with_default(&d, run),
            None => run(),
        }
    });
    let (addr, tid) = addr_rx.recv().unwrap();
    (addr, stop_tx, handle, tid)
}

/// The calling thread's id in `/proc/self/task` (Linux), for [`cpu_ns`].
fn thread_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_str()?.to_owned())
}

/// CPU time of thread `tid` of this process so far, in ns (`/proc/self/task/<tid>/schedstat`).
fn cpu_ns(tid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// CPU time of every live thread of this process so far, in ns.
fn process_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| cpu_ns(e.file_name().to_str()?))
        .sum()
}

/// CPU time per request of one measured loopback round: server thread, client thread, and
/// every other thread of the process (the export thread, mostly).
#[derive(Clone, Copy, Default, Debug)]
struct Cpu {
    server: f64,
    client: f64,
    other: f64,
}

impl Cpu {
    /// Runs `f` (which serves `n` requests): its result, and its CPU time per request.
    fn measure<R>(server: Option<&str>, n: usize, f: impl FnOnce() -> R) -> (R, Option<Self>) {
        let threads = server.zip(thread_id());
        let read = || {
            let (server, client) = threads.as_ref()?;
            Some((cpu_ns(server)?, cpu_ns(client)?, process_cpu_ns()))
        };
        let before = read();
        let out = f();
        (
            out,
            before.zip(read()).map(|(b, a)| Self::per_request(b, a, n)),
        )
    }

    fn per_request(before: (u64, u64, u64), after: (u64, u64, u64), n: usize) -> Self {
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / n as f64;
        let (s, c) = (per(after.0, before.0), per(after.1, before.1));
        Self {
            server: s,
            client: c,
            other: (per(after.2, before.2) - s - c).max(0.0),
        }
    }
}

/// One keep-alive connection sending requests until `left` runs out.
async fn connection(addr: SocketAddr, left: Arc<AtomicUsize>) -> io::Result<usize> {
    const REQ: &[u8] = b"GET /hello/42 HTTP/1.1\r\nhost: localhost\r\nuser-agent: bench\r\n\r\n";
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 4096];
    let mut done = 0;
    while left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        s.write_all(REQ).await?;
        let mut len = 0;
        loop {
            let n = s.read(&mut buf[len..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            len += n;
            if let Some(total) = response_len(&buf[..len]) {
                if len >= total {
                    if !buf.starts_with(b"HTTP/1.1 200") {
                        return Err(io::Error::other("non-200 response"));
                    }
                    break;
                }
            }
        }
        done += 1;
    }
    Ok(done)
}

/// Length of the complete response at the start of `b` (head + `Content-Length` body), once
/// its head has arrived. Parsed with `httparse` (hyper's parser; `wrk` uses the C http-parser):
/// the client's cost per response should not depend on how many header lines the server
/// sends (the earlier `from_utf8` + line-split parse cost the client 800 instructions more per
/// response for ours' `X-Trace-Id` line, callgrind).
fn response_len(b: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut res = httparse::Response::new(&mut headers);
    let head = match res.parse(b) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let body = res
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    Some(head + body)
}

/// Requests per second over `n` requests on [`CONNECTIONS`] connections (or
/// `AXUM_BENCH_CONNECTIONS`).
fn drive(rt: &tokio::runtime::Runtime, addr: SocketAddr, n: usize) -> f64 {
    rt.block_on(async {
        let left = Arc::new(AtomicUsize::new(n));
        let start = Instant::now();
        let conns = std::env::var("AXUM_BENCH_CONNECTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CONNECTIONS);
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(connection(addr, left.clone())))
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap().expect("loopback request");
        }
        assert_eq!(total, n);
        n as f64 / start.elapsed().as_secs_f64()
    })
}

/// Loopback figures: median requests/s of each side, and the paired ratios.
struct Loopback {
    /// Median requests/s of bare, ours, peer and the minimal layer.
    rps: [f64; 4],
    /// Median over rounds of ours/bare, ours/peer and minimal/bare requests/s within the round:
    /// each round runs the four back to back, so drift of the shared machine between rounds
    /// cancels out.
    paired: [f64; 3],
    rounds: usize,
    /// Median CPU time per request of bare, ours, peer and the minimal layer (`None` where
    /// `/proc` cannot tell).
    cpu: [Option<Cpu>; 4],
}

/// The reference floor of the loopback rows: a layer that does nothing but insert one constant
/// response header (`X-Trace-Id`-sized), i.e. what any tower layer on an axum route costs per
/// request (a cloned, boxed service and a boxed future) before it does any work.
fn minimal_router() -> Router {
    router().layer(axum::middleware::map_response(
        |mut res: axum::response::Response| async move {
            res.headers_mut().insert(
                "x-trace-id",
                http::HeaderValue::from_static("0af7651916cd43dd8448eb211c80319c"),
            );
            res
        },
    ))
}

/// Pins the calling thread to CPU `i` (if the machine has it and allows it).
///
/// The CPUs are listed once, before any thread is pinned: `get_core_ids` lists the calling
/// thread's affinity mask, which a thread spawned by a pinned one inherits — listed from the
/// server thread (spawned by the pinned client thread) it held only the client's CPU, and the
/// server ran on the client's core.
fn pin(i: usize) {
    static CORES: std::sync::OnceLock<Vec<core_affinity::CoreId>> = std::sync::OnceLock::new();
    let cores = CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    if let Some(id) = cores.get(i).copied() {
        core_affinity::set_for_current(id);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Bare, ours, peer and the minimal layer over [`ROUNDS`] alternating rounds.
fn loopback(telemetry: &baker_otel::Telemetry, peer: &tracing::Dispatch) -> Loopback {
    pin(0);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut cpu: [Vec<Cpu>; 4] = Default::default();
    let dbg: Option<usize> = std::env::var("AXUM_BENCH_REQ")
        .ok()
        .and_then(|v| v.parse().ok());
    let (rounds, warm, reqs) = dbg.map_or((ROUNDS, WARMUP, REQUESTS), |n| (1, n / 10, n));
    for round in 0..rounds {
        // Each round starts with the next server: none of them always follows the same one.
        for i in (0..4).map(|k| (k + round) % 4) {
            let sample = &mut samples[i];
            if std::env::var("AXUM_BENCH_ONLY").is_ok_and(|v| v != i.to_string()) {
                sample.push(1.0);
                continue;
            }
            let (app, dispatch) = match i {
                0 => (router(), None),
                1 => (
                    router().layer(baker_otel_axum::OtelLayer::new(telemetry)),
                    None,
                ),
                2 => (peer_router(), Some(peer.clone())),
                _ => (minimal_router(), None),
            };
            // Let the export thread drain the previous round's spans (it shares the cores).
            std::thread::sleep(SETTLE);
            let (addr, stop, handle, tid) = spawn_server(app, dispatch);
            drive(&client, addr, warm);
            let (rps, used) = Cpu::measure(tid.as_deref(), reqs, || drive(&client, addr, reqs));
            sample.push(rps);
            cpu[i].extend(used);
            drop(stop);
            handle.join().unwrap();
        }
    }
    if std::env::var_os("AXUM_BENCH_ROUNDS").is_some() {
        eprintln!("rounds: {samples:?}");
        eprintln!("cpu: {cpu:?}");
    }
    let [b, o, p, m] = &samples;
    let per_round = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(x, y)| x / y).collect();
    let paired = [
        median(per_round(o, b)),
        median(per_round(o, p)),
        median(per_round(m, b)),
    ];
    Loopback {
        rps: samples.map(median),
        paired,
        rounds,
        cpu: cpu.map(|v| {
            (!v.is_empty()).then(|| Cpu {
                server: median(v.iter().map(|c| c.server).collect()),
                client: median(v.iter().map(|c| c.client).collect()),
                other: median(v.iter().map(|c| c.other).collect()),
            })
        }),
    }
}

fn main() {
    let telemetry = baker_otel::Telemetry::builder()
        .service_name("bench")
        .otlp_endpoint("http://127.0.0.1:1")
        .log_filter("info,baker_otel::internal=off,opentelemetry-otlp=off,opentelemetry_sdk=off")
        .init()
        .expect("telemetry");
    let peer = peer_dispatch(&telemetry);
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c, &telemetry, &peer);
    c.final_summary();
    let lb = run_loopback().then(|| loopback(&telemetry, &peer));
    report(lb);
    drop(telemetry);
}

/// `cargo bench` passes `--bench` (`cargo test --benches` does not: smoke run only); a name
/// filter other than `loopback`, or `--profile-time`, skips the loopback part.
fn run_loopback() -> bool {
    const VALUED: [&str; 6] = [
        "--save-baseline",
        "--baseline",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with('-') && (*i == 0 || !VALUED.contains(&args[i - 1].as_str())));
    args.iter().any(|a| a == "--bench")
        && !args.iter().any(|a| a == "--profile-time")
        && filter.is_none_or(|(_, f)| "loopback".contains(f.as_str()))
}

fn report(lb: Option<Loopback>) {
    let rps = lb.as_ref().map(|l| l.rps);
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let estimate = |name: &str| -> Option<f64> {
        let path = format!("{target}/criterion/axum/{name}/new/estimates.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        v["slope"]["point_estimate"]
            .as_f64()
            .or_else(|| v["mean"]["point_estimate"].as_f64())
    };
    let (Some(bare), Some(ours), Some(peer)) =
        (estimate("bare"), estimate("ours"), estimate("peer"))
    else {
        return; // e.g. `cargo bench -- <filter>` or test mode
    };
    let spans_only = estimate("ours_spans_only");
    let added_ratio = (ours - bare) / (peer - bare);
    let throughput_ratio = bare / ours;
    println!();
    println!(
        "{:<26}{:>12}{:>12}{:>14}",
        "axum hello", "ns/req", "added ns", "loopback req/s"
    );
    let row = |name: &str, ns: f64, rps: Option<f64>| {
        let rps = rps.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        println!("{name:<26}{ns:>12.0}{:>12.0}{rps:>14}", ns - bare);
    };
    row("bare", bare, rps.map(|r| r[0]));
    row("ours (OtelLayer)", ours, rps.map(|r| r[1]));
    if let Some(so) = spans_only {
        row("ours without metrics", so, None);
    }
    row("peer (OtelAxumLayer)", peer, rps.map(|r| r[2]));
    println!(
        "added CPU ours/peer = {added_ratio:.2} (target ≤ 0.5); in-process throughput ours/bare = {throughput_ratio:.2}"
    );
    let mut json = serde_json::json!({
        "bare_ns": bare, "ours_ns": ours, "peer_ns": peer, "ours_spans_only_ns": spans_only,
        "added_ratio": added_ratio, "throughput_ratio": throughput_ratio,
    });
    if let Some(Loopback {
        rps: [b, o, p, m],
        paired: [vs_bare, vs_peer, minimal],
        rounds,
        cpu,
    }) = lb
    {
        println!(
            "loopback minimal layer (one constant response header): {m:.0} req/s, {minimal:.2} of bare \
             (the floor of any tower layer on this machine)"
        );
        println!(
            "loopback throughput ours/bare = {vs_bare:.2} (target ≥ 0.85), ours/peer = {vs_peer:.2} \
             (median of per-round ratios over {rounds} rounds; ratio of the medians {:.2} and {:.2})",
            o / b,
            o / p
        );
        json["bare_rps"] = b.into();
        json["ours_rps"] = o.into();
        json["peer_rps"] = p.into();
        json["rps_ratio"] = vs_bare.into();
        json["rps_vs_peer"] = vs_peer.into();
        json["minimal_rps"] = m.into();
        json["minimal_ratio"] = minimal.into();
        println!(
            "loopback CPU per request (median over rounds): {:<22}{:>9}{:>9}{:>9}",
            "", "server", "client", "other"
        );
        let names = [
            "bare",
            "ours (OtelLayer)",
            "peer (OtelAxumLayer)",
            "minimal layer",
        ];
        let keys = ["bare", "ours", "peer", "minimal"];
        for ((name, key), c) in names.iter().zip(keys).zip(cpu) {
            let Some(c) = c else { continue };
            println!(
                "{name:>70}{:>7.0}ns{:>7.0}ns{:>7.0}ns",
                c.server, c.client, c.other
            );
            json[format!("{key}_server_cpu_ns")] = c.server.into();
            json[format!("{key}_client_cpu_ns")] = c.client.into();
            json[format!("{key}_other_cpu_ns")] = c.other.into();
        }
        if let [Some(b), Some(o), ..] = cpu {
            json["server_cpu_ratio"] = (o.server / b.server).into();
        }
    }
    let _ = std::fs::write(format!("{target}/bench-axum.json"), json.to_string());
}
