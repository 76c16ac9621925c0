//! # agent-pipeline
//!
//! A small Baker Street: the **Brain** (HTTP API) routes each message with a cheap LLM call and
//! publishes a job on NATS JetStream; the **Worker** runs an agent loop over a scripted LLM,
//! tools, a memory store and an HTTP extension, and replies. One trace covers the whole
//! request, across both processes; the **demo** binary runs everything and prints each trace.
//!
//! GenAI telemetry comes from `baker-otel-llm`: `#[llm_call]` on the scripted provider,
//! `#[tool]` on the tools, `agent_span!` / `iteration_span!` around the agent loop, memory spans
//! and store-size gauges, [`baker_otel_llm::LlmStream`] for the streamed answer and
//! [`baker_otel_llm::JobUsage`] for the Worker's `job usage` log line.
//!
//! Binaries: `brain`, `worker`, `demo`. See the repository README for how to run them.
#![forbid(unsafe_code)]

pub mod agent;
pub mod brain;
pub mod calculator;
pub mod demo;
pub mod extension;
pub mod llm;
pub mod memory;
pub mod settings;
pub mod tools;
pub mod wire;
pub mod worker;

/// The telemetry builder of the pipeline's services: `service.name` = `service`, and metrics
/// exported both over OTLP and on `/metrics` unless `OTEL_METRICS_EXPORTER` says otherwise.
///
/// ```no_run
/// let _telemetry = agent_pipeline::telemetry("brain").init()?;
/// # Ok::<(), baker_otel::InitError>(())
/// ```
pub fn telemetry(service: &str) -> baker_otel::TelemetryBuilder {
    let b = baker_otel::Telemetry::builder()
        .service_name(service)
        .service_version(env!("CARGO_PKG_VERSION"));
    if std::env::var_os("OTEL_METRICS_EXPORTER").is_some() {
        b
    } else {
        b.exporters(
            baker_otel::Signal::Metrics,
            [
                baker_otel::config::ExporterKind::Otlp,
                baker_otel::config::ExporterKind::Prometheus,
            ],
        )
    }
}

/// The GenAI telemetry builder of the pipeline's services: provider `openai` (the scripted LLM
/// plays OpenAI models), genai-prices decoded and both models' prices resolved at start-up.
///
/// ```no_run
/// let telemetry = agent_pipeline::telemetry("worker").init()?;
/// let _llm = agent_pipeline::llm_telemetry(&telemetry).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn llm_telemetry(
    telemetry: &baker_otel::TelemetryHandle,
) -> baker_otel_llm::LlmTelemetryBuilder {
    baker_otel_llm::LlmTelemetry::builder(telemetry)
        .default_provider(llm::PROVIDER)
        .preload_model(llm::PROVIDER, llm::AGENT_MODEL)
        .preload_model(llm::PROVIDER, llm::ROUTER_MODEL)
}

/// `GET /metrics` of the process (empty when the Prometheus exporter is off) and `GET /healthz`.
pub fn metrics_router(telemetry: &baker_otel::Telemetry) -> axum::Router {
    let handler = telemetry
        .metrics_handler()
        .cloned()
        .unwrap_or_else(|| baker_otel::MetricsHandler::new(Default::default()));
    baker_otel_axum::metrics_router(&handler)
        .route("/healthz", axum::routing::get(|| async { "ok" }))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
