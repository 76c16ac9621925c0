//! End to end: the real `brain` and `worker` binaries against the real NATS server, exporting to
//! an OTLP receiver in this test. One good request (with secrets in it, content capture on), one
//! with bad JSON, one whose tool fails, and the issue #14 identity attack.

use agent_pipeline::demo::collector::{Collector, Kind, SpanRecord};
use agent_pipeline::demo::procs::{free_port, wait_http_ok, Service};
use agent_pipeline::demo::{expect, promtext};
use std::path::Path;
use std::time::Duration;

struct Run {
    brain: String,
    brain_metrics: String,
    worker_metrics: String,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    trace_id: String,
    body: serde_json::Value,
}

impl Run {
    async fn post(&self, conversation: &str, body: &str) -> Reply {
        let r = self
            .http
            .post(format!(
                "http://{}/v1/conversations/{conversation}/messages",
                self.brain
            ))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("brain answers");
        let status = r.status().as_u16();
        let trace_id = r
            .headers()
            .get("x-trace-id")
            .expect("X-Trace-Id on every answer")
            .to_str()
            .unwrap()
            .to_string();
        let body = serde_json::from_slice(&r.bytes().await.unwrap()).expect("JSON body");
        Reply {
            status,
            trace_id,
            body,
        }
    }
}

fn one<'a>(
    spans: &'a [SpanRecord],
    service: &str,
    kind: Option<Kind>,
    prefix: &str,
) -> &'a SpanRecord {
    let found: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| {
            s.service == service && kind.is_none_or(|k| k == s.kind) && s.name.starts_with(prefix)
        })
        .collect();
    assert!(
        !found.is_empty(),
        "no {service} span {prefix:?} in {:#?}",
        spans
            .iter()
            .map(|s| (&s.service, &s.name))
            .collect::<Vec<_>>()
    );
    found[0]
}

fn parent_of<'a>(spans: &'a [SpanRecord], s: &SpanRecord) -> Option<&'a SpanRecord> {
    spans.iter().find(|p| p.span_id == s.parent_span_id)
}

fn has_ancestor(spans: &[SpanRecord], s: &SpanRecord, ancestor: &SpanRecord) -> bool {
    let mut cur = parent_of(spans, s);
    while let Some(p) = cur {
        if p.span_id == ancestor.span_id {
            return true;
        }
        cur = parent_of(spans, p);
    }
    false
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_request_across_brain_nats_and_worker() {
    let nats_url = baker_otel_nats::testing::nats_url();
    let nats = async_nats::connect(&nats_url)
        .await
        .expect("a NATS server with JetStream (baker_otel_nats::testing::nats_url)");
    let js = async_nats::jetstream::new(nats);

    let collector = Collector::start().await.unwrap();
    let id = format!("{:08x}", rand::random::<u32>());
    let stream = format!("E2E_JOBS_{id}");
    let brain_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let brain_metrics_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let worker_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let dir = std::env::temp_dir().join(format!("agent-pipeline-e2e-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let env: Vec<(String, String)> = [
        ("NATS_URL", nats_url.clone()),
        ("BRAIN_ADDR", brain_addr.clone()),
        ("BRAIN_METRICS_ADDR", brain_metrics_addr.clone()),
        ("WORKER_METRICS_ADDR", worker_addr.clone()),
        ("BAKER_STREAM", stream.clone()),
        ("BAKER_SUBJECT_PREFIX", format!("e2e_{id}.jobs")),
        ("BAKER_CONSUMER", format!("worker-{id}")),
        ("BAKER_LLM_LATENCY_MS", "1".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "100".into()),
        ("OTEL_TRACES_SAMPLER", "always_on".into()),
        ("OTEL_SDK_DISABLED", "false".into()),
        // Content capture on: messages and tool arguments/results are exported, redacted.
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "true".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let remove = [
        "BAKER_LLM_CAPTURE",
        "OTEL_METRICS_EXPORTER",
        "OTEL_TRACES_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "RUST_LOG",
    ];
    let worker = Service::spawn(
        "worker",
        Path::new(env!("CARGO_BIN_EXE_worker")),
        &env,
        &remove,
        dir.join("worker.log"),
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(
        wait_http_ok(
            &http,
            &format!("http://{worker_addr}/healthz"),
            Duration::from_secs(30)
        )
        .await,
        "worker up"
    );
    let brain = Service::spawn(
        "brain",
        Path::new(env!("CARGO_BIN_EXE_brain")),
        &env,
        &remove,
        dir.join("brain.log"),
    )
    .unwrap();
    assert!(
        wait_http_ok(
            &http,
            &format!("http://{brain_addr}/healthz"),
            Duration::from_secs(30)
        )
        .await,
        "brain up"
    );
    let run = Run {
        brain: brain_addr.clone(),
        brain_metrics: brain_metrics_addr.clone(),
        worker_metrics: worker_addr.clone(),
        http,
    };

    // 1. A good request, with secrets a user might paste.
    let conversation = format!("conv-e2e-{id}");
    let good = run
        .post(
            &conversation,
            &format!(
                r#"{{"message": "How much tea is in my standing order? And what is 6 * 7? (my password={PASSWORD}, key {API_KEY})"}}"#
            ),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(good.trace_id.len(), 32);
    assert!(good
        .trace_id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let job_id = good.body["job_id"].as_str().expect("job_id").to_string();
    assert!(
        good.body["reply"].as_str().unwrap().contains("6 * 7 = 42"),
        "{}",
        good.body
    );
    assert!(good.body["usage"]["input_tokens"].as_u64().unwrap() > 100);
    assert!(good.body["usage"]["output_tokens"].as_u64().unwrap() > 10);
    assert!(good.body["usage"]["cost"].as_f64().unwrap() > 0.0);

    // 2. Bad JSON.
    let bad = run.post(&conversation, "{not json").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"], "invalid_json");
    assert_eq!(bad.trace_id.len(), 32);

    // 2b. Issue #14: a client forges trace and conversation identity. An over-long path id is
    // rejected (never replaced by the client's baggage); a valid one wins over the baggage; the
    // client's traceparent is only a link.
    let forged = |path_id: String| {
        run.http
            .post(format!(
                "http://{}/v1/conversations/{path_id}/messages",
                run.brain
            ))
            .header("content-type", "application/json")
            .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
            .header(
                "baggage",
                "gen_ai.conversation.id=victim-conv,baker.job.id=victim-job",
            )
            .body(r#"{"message": "what is 2 + 2?"}"#)
            .send()
    };
    let rejected = forged("c".repeat(300)).await.expect("brain answers");
    assert_eq!(rejected.status().as_u16(), 400);
    let rejected_trace = rejected.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        rejected_trace, CLIENT_TRACE,
        "the client does not choose the trace"
    );
    let body: serde_json::Value = serde_json::from_slice(&rejected.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_conversation_id", "{body}");
    let attacker_conv = format!("conv-attacker-{id}");
    let accepted = forged(attacker_conv.clone()).await.expect("brain answers");
    assert_eq!(accepted.status().as_u16(), 200);
    let accepted_trace = accepted.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(accepted_trace, CLIENT_TRACE);

    // 3. A tool failure: the agent recovers and still replies.
    let failing = run
        .post(&conversation, r#"{"message": "please fail tool"}"#)
        .await;
    assert_eq!(failing.status, 200, "{}", failing.body);
    assert!(
        failing.body["reply"]
            .as_str()
            .unwrap()
            .contains("calculator failed"),
        "{}",
        failing.body
    );

    // The public port serves no /metrics (audit finding 9): 404, nothing rendered.
    let public = run
        .http
        .get(format!("http://{}/metrics", run.brain))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status().as_u16(),
        404,
        "no /metrics on the public port"
    );
    let public_body = public.text().await.unwrap();
    assert!(!public_body.contains("# TYPE"), "{public_body}");

    // Metrics while both services run, from their internal addresses.
    let brain_m = promtext::parse(
        &run.http
            .get(format!("http://{}/metrics", run.brain_metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let worker_m = promtext::parse(
        &run.http
            .get(format!("http://{}/metrics", run.worker_metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    for (who, m, series) in [
        (
            "brain",
            &brain_m,
            "http_server_request_duration_seconds_count",
        ),
        ("brain", &brain_m, "http_server_active_requests"),
        ("brain", &brain_m, "messaging_client_sent_messages_total"),
        (
            "brain",
            &brain_m,
            "messaging_client_operation_duration_seconds_count",
        ),
        ("brain", &brain_m, "baker_queue_depth"),
        ("brain", &brain_m, "baker_memory_store_items"),
        ("brain", &brain_m, "baker_memory_store_size_bytes"),
        ("brain", &brain_m, "gen_ai_client_token_usage_sum"),
        ("brain", &brain_m, "baker_llm_cost_total"),
        (
            "worker",
            &worker_m,
            "messaging_client_consumed_messages_total",
        ),
        (
            "worker",
            &worker_m,
            "messaging_process_duration_seconds_count",
        ),
        ("worker", &worker_m, "baker_messaging_settlements_total"),
        ("worker", &worker_m, "baker_queue_depth"),
        ("worker", &worker_m, "baker_worker_jobs_active"),
        (
            "worker",
            &worker_m,
            "http_server_request_duration_seconds_count",
        ),
        ("worker", &worker_m, "gen_ai_client_token_usage_sum"),
        (
            "worker",
            &worker_m,
            "gen_ai_client_operation_duration_seconds_count",
        ),
        ("worker", &worker_m, "baker_llm_cost_total"),
        ("worker", &worker_m, "baker_tool_duration_seconds_count"),
        (
            "worker",
            &worker_m,
            "gen_ai_client_operation_time_to_first_chunk_seconds_count",
        ),
        (
            "worker",
            &worker_m,
            "baker_memory_operation_duration_seconds_count",
        ),
        ("worker", &worker_m, "baker_memory_store_items"),
        ("worker", &worker_m, "baker_memory_store_size_bytes"),
    ] {
        assert!(promtext::has(m, series), "{who} /metrics lacks {series}");
    }
    assert_eq!(
        promtext::sum(
            &brain_m,
            "http_server_request_duration_seconds_count",
            &["http_response_status_code=\"400\""]
        ),
        2.0
    );
    assert!(
        promtext::sum(
            &worker_m,
            "baker_tool_duration_seconds_count",
            &["error_type="]
        ) >= 1.0,
        "tool error counted"
    );
    assert!(promtext::sum(&worker_m, "baker_llm_cost_total", &[]) > 0.0);
    assert!(
        promtext::sum(
            &worker_m,
            "baker_llm_cost_total",
            &[
                "gen_ai_agent_name=\"baker-agent\"",
                "gen_ai_request_model=\"gpt-4o\"",
                "currency=\"USD\""
            ]
        ) > 0.0,
        "agent cost labelled with the agent and model"
    );
    assert!(
        promtext::sum(
            &brain_m,
            "baker_llm_cost_total",
            &[
                "gen_ai_agent_name=\"brain-router\"",
                "gen_ai_request_model=\"gpt-4o-mini\""
            ]
        ) > 0.0,
        "router cost labelled with the router agent"
    );
    assert_eq!(
        promtext::sum(&worker_m, "baker_llm_unpriced_calls_total", &[]),
        0.0,
        "every model of the demo is priced"
    );
    // Emitted once, by baker-otel-llm: no GenAI series from any other instrumentation scope.
    for (m, series) in [
        (&brain_m, "gen_ai_client_token_usage_sum"),
        (&worker_m, "gen_ai_client_token_usage_sum"),
        (&worker_m, "baker_llm_cost_total"),
        (&worker_m, "baker_tool_duration_seconds_count"),
        (&worker_m, "baker_memory_store_items"),
        (&brain_m, "baker_memory_store_items"),
    ] {
        assert!(
            m.iter()
                .filter(|x| x.name == series)
                .all(|x| x.labels.contains("otel_scope_name=\"baker-otel-llm\"")),
            "{series} only from baker-otel-llm"
        );
    }

    // Stop both (SIGTERM: they flush), then read traces and logs.
    brain.stop(Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(10)).await;
    let _ = js.delete_stream(&stream).await;

    let spans = collector
        .wait_for_trace(&good.trace_id, Duration::from_secs(15), |s| {
            expect::missing(s).is_empty()
        })
        .await;
    let missing: Vec<&str> = expect::missing(&spans).iter().map(|m| m.what).collect();
    assert!(
        missing.is_empty(),
        "trace {} lacks {missing:?}",
        good.trace_id
    );
    assert!(spans.iter().all(|s| s.trace_id == good.trace_id));

    // The structure, link by link.
    let server = one(
        &spans,
        "brain",
        Some(Kind::Server),
        "POST /v1/conversations/{conversation_id}/messages",
    );
    assert!(
        parent_of(&spans, server).is_none(),
        "the brain's server span is the root"
    );
    assert_eq!(
        server.attr_str("http.route"),
        Some("/v1/conversations/{conversation_id}/messages")
    );
    let send = one(&spans, "brain", Some(Kind::Producer), "send ");
    assert!(has_ancestor(&spans, send, server));
    let process = one(&spans, "worker", Some(Kind::Consumer), "process ");
    assert_eq!(
        process.parent_span_id, send.span_id,
        "worker process span is a child of the brain's send span"
    );
    let agent = one(
        &spans,
        "worker",
        Some(Kind::Internal),
        "invoke_agent baker-agent",
    );
    assert!(has_ancestor(&spans, agent, process));
    let iterations: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.service == "worker" && s.name == "baker.agent.iteration")
        .collect();
    assert_eq!(iterations.len(), 3, "three agent iterations");
    assert!(iterations.iter().all(|i| i.parent_span_id == agent.span_id
        && i.attr_str("gen_ai.agent.name") == Some("baker-agent")));
    let chats: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.service == "worker" && s.name.starts_with("chat "))
        .collect();
    assert_eq!(chats.len(), 3, "one LLM call per iteration");
    for c in &chats {
        assert_eq!(c.name, "chat gpt-4o");
        assert_eq!(c.kind, Kind::Client);
        let parent = parent_of(&spans, c).expect("chat has a parent");
        assert_eq!(
            parent.name, "baker.agent.iteration",
            "chat under an iteration"
        );
        assert_eq!(
            c.attr_f64("baker.agent.iteration"),
            parent.attr_f64("baker.agent.iteration"),
            "chat inherits the iteration number"
        );
        assert_eq!(c.attr_str("gen_ai.provider.name"), Some("openai"));
        assert_eq!(
            c.attr_str("gen_ai.response.model"),
            Some("gpt-4o-2024-08-06")
        );
        assert_eq!(c.attr_str("gen_ai.usage.cost.currency"), Some("USD"));
        assert!(c.attr_f64("gen_ai.usage.input_tokens").unwrap() > 0.0);
        assert!(
            c.attr_f64("gen_ai.usage.cost.amount").unwrap() > 0.0,
            "gpt-4o is priced"
        );
    }
    let streamed: Vec<&&SpanRecord> = chats
        .iter()
        .filter(|c| c.attr_f64("gen_ai.response.time_to_first_chunk").is_some())
        .collect();
    assert_eq!(streamed.len(), 1, "the final answer is streamed");
    // Roll-up: the agent span totals its LLM calls.
    let sum = |key: &str| chats.iter().map(|c| c.attr_f64(key).unwrap()).sum::<f64>();
    assert_eq!(
        agent.attr_f64("gen_ai.usage.input_tokens"),
        Some(sum("gen_ai.usage.input_tokens"))
    );
    assert_eq!(
        agent.attr_f64("gen_ai.usage.output_tokens"),
        Some(sum("gen_ai.usage.output_tokens"))
    );
    assert_eq!(agent.attr_f64("baker.llm.calls"), Some(3.0));
    let agent_cost = agent.attr_f64("gen_ai.usage.cost.amount").unwrap();
    assert!((agent_cost - sum("gen_ai.usage.cost.amount")).abs() < 1e-9);
    // The brain's routing call, inside its router agent.
    let router = one(
        &spans,
        "brain",
        Some(Kind::Internal),
        "invoke_agent brain-router",
    );
    assert!(has_ancestor(&spans, router, server));
    let route_call = one(&spans, "brain", Some(Kind::Client), "chat gpt-4o-mini");
    // router agent → its one iteration span → the call (role and iteration on every LLM span)
    let route_step = spans
        .iter()
        .find(|s| s.span_id == route_call.parent_span_id)
        .expect("parent of the routing call");
    assert_eq!(route_step.name, "baker.agent.iteration");
    assert_eq!(route_step.parent_span_id, router.span_id);
    assert_eq!(route_call.attr_f64("baker.agent.iteration"), Some(1.0));
    assert_eq!(route_call.attr_str("baker.llm.role"), Some("user"));
    assert_eq!(router.attr_f64("baker.agent.iteration_count"), Some(1.0));
    assert!(route_call.attr_f64("gen_ai.usage.cost.amount").unwrap() > 0.0);
    // The response's usage is the router call plus the worker's job.
    let all_chats = || spans.iter().filter(|s| s.name.starts_with("chat "));
    let total_in: f64 = all_chats()
        .map(|c| c.attr_f64("gen_ai.usage.input_tokens").unwrap())
        .sum();
    let total_cost: f64 = all_chats()
        .map(|c| c.attr_f64("gen_ai.usage.cost.amount").unwrap())
        .sum();
    assert_eq!(good.body["usage"]["input_tokens"].as_f64(), Some(total_in));
    assert!((good.body["usage"]["cost"].as_f64().unwrap() - total_cost).abs() < 1e-9);
    for name in [
        "execute_tool memory_search",
        "execute_tool calculator",
        "execute_tool order_lookup",
    ] {
        let t = one(&spans, "worker", Some(Kind::Internal), name);
        assert_eq!(
            parent_of(&spans, t).map(|p| p.name.as_str()),
            Some("baker.agent.iteration"),
            "{name} under an iteration"
        );
        assert!(
            t.attr_str("gen_ai.tool.call.id").is_some(),
            "{name} call id"
        );
        assert!(!t.error, "{name} succeeded");
    }
    let search_tool = one(&spans, "worker", None, "execute_tool memory_search");
    let search = one(
        &spans,
        "worker",
        Some(Kind::Client),
        "search_memory agent-notes",
    );
    assert_eq!(search.parent_span_id, search_tool.span_id);
    let ext_tool = one(&spans, "worker", None, "execute_tool order_lookup");
    let client = one(&spans, "worker", Some(Kind::Client), "POST");
    assert!(has_ancestor(&spans, client, ext_tool));
    let ext_server = one(
        &spans,
        "worker",
        Some(Kind::Server),
        "POST /extensions/order_lookup",
    );
    assert_eq!(
        ext_server.parent_span_id, client.span_id,
        "extension server span is a child of the HTTP client span"
    );
    let reply = spans
        .iter()
        .find(|s| s.service == "worker" && s.kind == Kind::Producer)
        .unwrap();
    assert!(has_ancestor(&spans, reply, process));
    let back = one(&spans, "brain", Some(Kind::Consumer), "process ");
    assert_eq!(
        back.parent_span_id, reply.span_id,
        "the reply comes back to the brain in the same trace"
    );
    for s in [process, agent, search, ext_server] {
        assert_eq!(
            s.attr_str("gen_ai.conversation.id"),
            Some(conversation.as_str()),
            "conversation id on {}",
            s.name
        );
        assert_eq!(
            s.attr_str("baker.job.id"),
            Some(job_id.as_str()),
            "job id on {}",
            s.name
        );
    }

    // Bad JSON: a server span with 400 in its own trace.
    let bad_spans = collector
        .wait_for_trace(&bad.trace_id, Duration::from_secs(5), |s| !s.is_empty())
        .await;
    let bad_server = one(
        &bad_spans,
        "brain",
        Some(Kind::Server),
        "POST /v1/conversations/",
    );
    // Semconv wants an int; t-o 0.34 turns u64 fields into strings, so accept both spellings here
    // (reported to baker-otel-axum; the exact type is that crate's test).
    let code = bad_server
        .attr("http.response.status_code")
        .map(|v| v.to_string().trim_matches('"').to_string());
    assert_eq!(code.as_deref(), Some("400"), "{:?}", bad_server.attributes);

    // Tool failure: an error span for the calculator, the job still completes.
    let fail_spans = collector
        .wait_for_trace(&failing.trace_id, Duration::from_secs(10), |s| {
            expect::missing(s).is_empty()
        })
        .await;
    let calc = one(&fail_spans, "worker", None, "execute_tool calculator");
    assert!(calc.error, "calculator span has status ERROR");
    assert_eq!(calc.attr_str("error.type"), Some("division_by_zero"));
    assert!(
        calc.status_message.contains("division by zero"),
        "{}",
        calc.status_message
    );
    assert!(expect::missing(&fail_spans).is_empty());

    // JSON log lines of both processes carry trace, conversation and job id.
    for log in [dir.join("brain.log"), dir.join("worker.log")] {
        let lines = json_lines(&log);
        let correlated = lines
            .iter()
            .filter(|l| l["trace_id"] == good.trace_id.as_str())
            .collect::<Vec<_>>();
        assert!(
            !correlated.is_empty(),
            "{} has lines for trace {}",
            log.display(),
            good.trace_id
        );
        assert!(
            correlated
                .iter()
                .any(|l| l["conversation_id"] == conversation.as_str()
                    && l["job_id"] == job_id.as_str()),
            "{}: lines of the trace carry conversation and job id: {correlated:#?}",
            log.display()
        );
    }
    let worker_lines = json_lines(&dir.join("worker.log"));
    let usage_line = worker_lines
        .iter()
        .find(|l| l["message"] == "job usage" && l["job_id"] == job_id.as_str())
        .expect("job usage line");
    assert_eq!(usage_line["trace_id"], good.trace_id.as_str());
    assert_eq!(usage_line["conversation_id"], conversation.as_str());
    assert_eq!(
        usage_line["input_tokens"].as_f64(),
        agent.attr_f64("gen_ai.usage.input_tokens"),
        "{usage_line}"
    );
    assert_eq!(
        usage_line["output_tokens"].as_f64(),
        agent.attr_f64("gen_ai.usage.output_tokens")
    );
    assert!((usage_line["cost"].as_f64().unwrap() - agent_cost).abs() < 1e-9);
    assert_eq!(usage_line["currency"], "USD");
    assert_eq!(
        worker_lines
            .iter()
            .filter(|l| l["message"] == "job usage" && l["job_id"] == job_id.as_str())
            .count(),
        1,
        "one job usage line per job"
    );
    assert!(
        !json_lines(&dir.join("brain.log"))
            .iter()
            .any(|l| l["message"] == "job usage"),
        "only the worker logs job usage"
    );
    // Issue #14, the attack: not one span, OTLP log record or JSON line (the `job usage`
    // cost line included) carries the client's ids; the accepted request ran under its own.
    let attack_spans = collector
        .wait_for_trace(&accepted_trace, Duration::from_secs(10), |s| {
            s.iter()
                .any(|s| s.service == "worker" && s.name == "invoke_agent baker-agent")
        })
        .await;
    let attack_server = one(
        &attack_spans,
        "brain",
        Some(Kind::Server),
        "POST /v1/conversations/",
    );
    assert!(attack_server.parent_span_id.is_empty(), "a new root");
    assert_eq!(
        attack_server.links,
        [(CLIENT_TRACE.to_string(), CLIENT_SPAN.to_string())],
        "the client's context is a link"
    );
    let attack_agent = one(&attack_spans, "worker", None, "invoke_agent baker-agent");
    assert_eq!(
        attack_agent.attr_str("gen_ai.conversation.id"),
        Some(attacker_conv.as_str())
    );
    let rejected_spans = collector
        .wait_for_trace(&rejected_trace, Duration::from_secs(5), |s| !s.is_empty())
        .await;
    assert!(rejected_spans
        .iter()
        .all(|s| s.attr_str("gen_ai.conversation.id").is_none()));
    let everything = format!(
        "{:?}{:?}{}{}",
        collector.spans(),
        collector.logs(),
        std::fs::read_to_string(dir.join("brain.log")).unwrap(),
        std::fs::read_to_string(dir.join("worker.log")).unwrap()
    );
    for forged in ["victim-conv", "victim-job"] {
        assert!(!everything.contains(forged), "{forged} was exported");
    }
    assert!(collector.spans().iter().all(|s| s.trace_id != CLIENT_TRACE));
    assert!(json_lines(&dir.join("worker.log"))
        .iter()
        .any(|l| l["message"] == "job usage" && l["conversation_id"] == attacker_conv.as_str()));

    // Content capture on the real path: messages, tool arguments and results are exported, and
    // the secrets in them are not.
    for c in chats.iter().chain([&route_call]) {
        for key in ["gen_ai.input.messages", "gen_ai.output.messages"] {
            let v = c
                .attr_str(key)
                .unwrap_or_else(|| panic!("{} lacks {key}", c.name));
            assert!(
                serde_json::from_str::<serde_json::Value>(v).is_ok(),
                "{key} is JSON: {v}"
            );
        }
    }
    let first_input = route_call.attr_str("gen_ai.input.messages").unwrap();
    assert!(
        first_input.contains("password=[REDACTED]") && first_input.contains("6 * 7"),
        "{first_input}"
    );
    for name in ["execute_tool memory_search", "execute_tool calculator"] {
        let t = one(&spans, "worker", None, name);
        assert!(
            t.attr_str("gen_ai.tool.call.arguments").is_some(),
            "{name} arguments"
        );
        assert!(
            t.attr_str("gen_ai.tool.call.result").is_some(),
            "{name} result"
        );
    }
    assert_eq!(
        one(&spans, "worker", None, "execute_tool calculator")
            .attr_str("gen_ai.tool.call.arguments"),
        Some(r#"{"expression":"6 * 7"}"#)
    );
    let exported = format!("{:?}{:?}", collector.spans(), collector.logs());
    for secret in [PASSWORD, API_KEY] {
        assert!(!exported.contains(secret), "{secret} left the process");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const PASSWORD: &str = "hunter2-tea-lover";
const API_KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx";
const CLIENT_TRACE: &str = "11111111111111111111111111111111";
const CLIENT_SPAN: &str = "2222222222222222";
