//! The `demo` main job: NATS, an embedded OTLP receiver, `brain` and `worker` as separate
//! processes, N requests, one printed trace tree per request and a metrics summary.

use super::collector::{Collector, SpanRecord};
use super::procs::{free_port, sibling_binary, wait_http_ok, Service};
use super::{expect, promtext, tree};
use crate::wire::MessageResponse;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Command-line options.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Args {
    /// `--requests N` (default 1).
    pub requests: usize,
    /// `--concurrency C` (default 1).
    pub concurrency: usize,
    /// `--otlp-endpoint URL`: send telemetry to a real collector instead of the embedded receiver.
    pub otlp_endpoint: Option<String>,
    /// `--trees N`: how many trace trees to print (default: all up to 10 requests, else 3).
    pub trees: Option<usize>,
}

/// Usage text.
pub const USAGE: &str =
    "usage: demo [--requests N] [--concurrency C] [--otlp-endpoint URL] [--trees N]

Runs the Brain -> NATS -> Worker pipeline as separate processes, sends N messages and prints
each request's trace (received by an embedded OTLP receiver) and a metrics summary.
  --requests N         messages to send (default 1)
  --concurrency C      requests in flight (default 1)
  --otlp-endpoint URL  export to this OTLP collector instead (then only trace ids are printed)
  --trees N            trace trees to print (default: all when N <= 10, else 3)
Environment: NATS_URL (default nats://127.0.0.1:4222; a nats-server -js is started on a free
port when none answers and nats-server is on PATH), OTEL_SDK_DISABLED=true (throughput only),
any OTEL_* variable (passed to brain and worker).
Exit status 0 only if every request succeeded and got a complete trace.";

/// Parses the arguments (without the program name).
///
/// ```
/// use agent_pipeline::demo::app::parse_args;
/// let a = parse_args(["--requests", "5", "--concurrency=2"].map(String::from)).unwrap();
/// assert_eq!((a.requests, a.concurrency), (5, 2));
/// assert!(parse_args(["--requests", "x"].map(String::from)).is_err());
/// ```
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        requests: 1,
        concurrency: 1,
        otlp_endpoint: None,
        trees: None,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "--requests" => a.requests = number(value()?)?,
            "--concurrency" => a.concurrency = number(value()?)?.max(1),
            "--trees" => a.trees = Some(number(value()?)?),
            "--otlp-endpoint" => a.otlp_endpoint = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

const MESSAGES: &[&str] = &[
    "How many boxes of tea are in my standing order, and what is 12 * 3?",
    "When do refunds arrive? Also work out (120 - 45) / 3 for me.",
    "What are your support hours, and is my next order on its way?",
    "I want 4 boxes at 7.5 each: what is 4 * 7.5, and when would they ship?",
];

/// Outcome of one request.
#[derive(Debug, Clone)]
struct Outcome {
    index: usize,
    status: u16,
    trace_id: Option<String>,
    latency: Duration,
    response: Option<MessageResponse>,
}

fn env_true(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Runs the demo; returns the process exit code.
pub async fn run(args: Args) -> i32 {
    match run_inner(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("demo: {e}");
            1
        }
    }
}

async fn run_inner(args: Args) -> Result<i32, Box<dyn std::error::Error>> {
    let disabled = env_true("OTEL_SDK_DISABLED");
    let nats_url = std::env::var("NATS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let nats = super::nats::ensure(&nats_url).await?;
    let collector = if disabled || args.otlp_endpoint.is_some() {
        None
    } else {
        Some(Collector::start().await?)
    };

    let run_id = format!("{:08x}", rand::random::<u32>());
    let stream = format!("DEMO_JOBS_{run_id}");
    let prefix = format!("demo_{run_id}.jobs");
    let brain_addr = format!("127.0.0.1:{}", free_port()?);
    let brain_metrics_addr = format!("127.0.0.1:{}", free_port()?);
    let worker_addr = format!("127.0.0.1:{}", free_port()?);
    let logs = std::env::temp_dir().join(format!("agent-pipeline-demo-{run_id}"));
    std::fs::create_dir_all(&logs)?;

    let mut env: Vec<(String, String)> = vec![
        ("NATS_URL".into(), nats.url.clone()),
        ("BRAIN_ADDR".into(), brain_addr.clone()),
        ("BRAIN_METRICS_ADDR".into(), brain_metrics_addr.clone()),
        ("WORKER_METRICS_ADDR".into(), worker_addr.clone()),
        ("BAKER_STREAM".into(), stream.clone()),
        ("BAKER_SUBJECT_PREFIX".into(), prefix),
        ("BAKER_CONSUMER".into(), format!("agent-worker-{run_id}")),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
        ("OTEL_BLRP_SCHEDULE_DELAY".into(), "200".into()),
        ("OTEL_BSP_MAX_QUEUE_SIZE".into(), "65536".into()),
        ("OTEL_BLRP_MAX_QUEUE_SIZE".into(), "65536".into()),
    ];
    let mut remove: Vec<&str> = Vec::new();
    if let Some(c) = &collector {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), c.endpoint()));
        env.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()));
        env.push(("OTEL_TRACES_EXPORTER".into(), "otlp".into()));
        env.push(("OTEL_TRACES_SAMPLER".into(), "parentbased_always_on".into()));
        remove.extend([
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        ]);
    } else if let Some(url) = &args.otlp_endpoint {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), url.clone()));
    }

    let worker = Service::spawn(
        "worker",
        &sibling_binary("worker")?,
        &env,
        &remove,
        logs.join("worker.log"),
    )?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    if !wait_http_ok(
        &http,
        &format!("http://{worker_addr}/healthz"),
        Duration::from_secs(20),
    )
    .await
    {
        return Err(format!("worker did not start; see {}", worker.log.display()).into());
    }
    let brain = Service::spawn(
        "brain",
        &sibling_binary("brain")?,
        &env,
        &remove,
        logs.join("brain.log"),
    )?;
    if !wait_http_ok(
        &http,
        &format!("http://{brain_addr}/healthz"),
        Duration::from_secs(20),
    )
    .await
    {
        return Err(format!("brain did not start; see {}", brain.log.display()).into());
    }

    println!("agent-pipeline demo");
    println!(
        "  nats      {}{}",
        nats.url,
        if nats.started {
            " (nats-server -js started by the demo)"
        } else {
            ""
        }
    );
    println!("  brain     http://{brain_addr} (metrics http://{brain_metrics_addr}/metrics)");
    println!("  worker    http://{worker_addr}/metrics");
    match (&collector, &args.otlp_endpoint, disabled) {
        (Some(c), _, _) => println!("  telemetry embedded OTLP/HTTP receiver {}", c.endpoint()),
        (None, Some(url), _) => println!("  telemetry OTLP collector {url}"),
        _ => println!("  telemetry OTEL_SDK_DISABLED=true (no traces)"),
    }
    println!(
        "  logs      {} (JSON lines of brain and worker)",
        logs.display()
    );
    println!();

    // Requests.
    let started = Instant::now();
    let mut outcomes: Vec<Outcome> = futures_util::stream::iter(0..args.requests)
        .map(|i| send(&http, &brain_addr, i))
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    outcomes.sort_by_key(|o| o.index);
    let ok = outcomes.iter().filter(|o| o.status == 200).count();

    // Metrics while the services are still up.
    let brain_metrics = scrape(&http, &format!("http://{brain_metrics_addr}/metrics")).await;
    let worker_metrics = scrape(&http, &format!("http://{worker_addr}/metrics")).await;

    // Stop the services: they flush their telemetry on SIGTERM.
    brain.stop(Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(15)).await;
    delete_stream(&nats.url, &stream).await;

    let mut complete = 0;
    let tree_limit = args
        .trees
        .unwrap_or(if args.requests <= 10 { usize::MAX } else { 3 });
    for (n, o) in outcomes.iter().enumerate() {
        let Some(tid) = &o.trace_id else {
            println!(
                "request {} -> HTTP {} (no X-Trace-Id)",
                o.index + 1,
                o.status
            );
            continue;
        };
        println!("trace_id={tid}");
        if let Some(c) = &collector {
            let spans = c
                .wait_for_trace(tid, Duration::from_secs(if n == 0 { 10 } else { 2 }), |s| {
                    expect::missing(s).is_empty()
                })
                .await;
            let missing = expect::missing(&spans);
            if o.status == 200 && missing.is_empty() {
                complete += 1;
            }
            if n < tree_limit {
                print!("{}", tree::render(&spans));
                print_usage(o, &spans);
            }
            if !missing.is_empty() {
                let what: Vec<&str> = missing.iter().map(|m| m.what).collect();
                println!("  INCOMPLETE: missing {}", what.join(", "));
            }
            if n < tree_limit {
                println!();
            }
        } else if o.status == 200 {
            complete += 1;
        }
    }
    if tree_limit < outcomes.len() && collector.is_some() {
        println!("(trees printed for the first {tree_limit} requests; --trees N to change)\n");
    }
    if collector.is_none() && !disabled {
        println!(
            "(traces went to {}; trees are printed only with the embedded receiver)\n",
            args.otlp_endpoint.as_deref().unwrap_or("?")
        );
    }

    summary(
        &outcomes,
        ok,
        elapsed,
        &args,
        &brain_metrics,
        &worker_metrics,
    );
    let success = ok == args.requests && (disabled || complete == args.requests);
    if !success {
        println!(
            "FAILED: {ok}/{} requests succeeded, {complete} complete traces; logs in {}",
            args.requests,
            logs.display()
        );
    }
    Ok(if success { 0 } else { 1 })
}

async fn send(http: &reqwest::Client, brain: &str, i: usize) -> Outcome {
    let url = format!(
        "http://{brain}/v1/conversations/conv-{:03}/messages",
        i % 7 + 1
    );
    let body = serde_json::json!({ "message": MESSAGES[i % MESSAGES.len()] }).to_string();
    let start = Instant::now();
    let res = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let mut o = Outcome {
        index: i,
        status: 0,
        trace_id: None,
        latency: Duration::ZERO,
        response: None,
    };
    if let Ok(r) = res {
        o.status = r.status().as_u16();
        o.trace_id = r
            .headers()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Ok(b) = r.bytes().await {
            o.response = serde_json::from_slice(&b).ok();
        }
    }
    o.latency = start.elapsed();
    o
}

fn print_usage(o: &Outcome, spans: &[SpanRecord]) {
    if let Some(r) = &o.response {
        let llm_calls = spans.iter().filter(|s| tree::is_llm_call(s)).count();
        println!(
            "  => HTTP {} in {:.1} ms, {} spans, {llm_calls} LLM calls, {} input + {} output tokens, ${:.6}",
            o.status,
            o.latency.as_secs_f64() * 1e3,
            spans.len(),
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.cost
        );
    }
}

async fn scrape(http: &reqwest::Client, url: &str) -> Vec<promtext::Sample> {
    match http.get(url).send().await {
        Ok(r) => promtext::parse(&r.text().await.unwrap_or_default()),
        Err(_) => Vec::new(),
    }
}

async fn delete_stream(url: &str, stream: &str) {
    if let Ok(c) = async_nats::connect(url).await {
        let _ = async_nats::jetstream::new(c).delete_stream(stream).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn summary(
    outcomes: &[Outcome],
    ok: usize,
    elapsed: Duration,
    args: &Args,
    brain: &[promtext::Sample],
    worker: &[promtext::Sample],
) {
    let mut lat: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.status == 200)
        .map(|o| o.latency)
        .collect();
    lat.sort();
    let (input, output, cost) =
        outcomes
            .iter()
            .filter_map(|o| o.response.as_ref())
            .fold((0, 0, 0.0), |(i, o, c), r| {
                (
                    i + r.usage.input_tokens,
                    o + r.usage.output_tokens,
                    c + r.usage.cost,
                )
            });
    let both = |name: &str, filters: &[&str]| {
        promtext::sum(brain, name, filters) + promtext::sum(worker, name, filters)
    };
    println!("metrics summary");
    println!(
        "  requests    {} sent, {ok} ok, {} failed (concurrency {})",
        outcomes.len(),
        outcomes.len() - ok,
        args.concurrency
    );
    println!(
        "  latency     p50 {:.1} ms, p99 {:.1} ms",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99)
    );
    println!(
        "  throughput  {:.1} req/s ({} requests in {:.2} s)",
        outcomes.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        outcomes.len(),
        elapsed.as_secs_f64()
    );
    println!("  tokens      {input} input + {output} output (from responses)");
    if promtext::has(brain, "gen_ai_client_token_usage_sum")
        || promtext::has(worker, "gen_ai_client_token_usage_sum")
    {
        println!(
            "              {} input + {} output (gen_ai_client_token_usage_sum, brain + worker /metrics)",
            both("gen_ai_client_token_usage_sum", &["gen_ai_token_type=\"input\""]),
            both("gen_ai_client_token_usage_sum", &["gen_ai_token_type=\"output\""])
        );
    }
    println!(
        "  cost        ${cost:.6} (baker_llm_cost_total: ${:.6})",
        both("baker_llm_cost_total", &[])
    );
    println!(
        "  queue depth pending {} / ack_pending {} (baker_queue_depth, worker)",
        promtext::sum(
            worker,
            "baker_queue_depth",
            &["baker_queue_state=\"pending\""]
        ),
        promtext::sum(
            worker,
            "baker_queue_depth",
            &["baker_queue_state=\"ack_pending\""]
        )
    );
    println!(
        "  tool errors {} (baker_tool_duration_seconds_count with error_type)",
        promtext::sum(
            worker,
            "baker_tool_duration_seconds_count",
            &["error_type="]
        )
    );
}
