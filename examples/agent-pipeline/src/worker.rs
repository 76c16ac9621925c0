//! The Worker: a durable JetStream pull consumer running the agent loop for every job.

use crate::agent::{Agent, MEMORY_STORE};
use crate::llm::ScriptedLlm;
use crate::memory::MemoryStore;
use crate::settings::Settings;
use crate::wire::{Job, JobResult};
use async_nats::jetstream;
use baker_otel::context::BakerScope;
use baker_otel_llm::{JobUsage, LlmTelemetry, MemoryStoreStats};
use baker_otel_nats::{NatsTelemetry, QueueDepth, Traced, TracedClient, TracedMessages};
use futures_util::StreamExt;
use opentelemetry::metrics::UpDownCounter;
use std::sync::Arc;
use std::time::Duration;

/// Why the Worker stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// NATS connection or JetStream setup failed.
    #[error("nats: {0}")]
    Nats(String),
    /// A listener could not be bound.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

fn nats_err(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Nats(e.to_string())
}

/// Creates the job stream (`<prefix>.>`) if it does not exist.
pub async fn ensure_stream(
    js: &jetstream::Context,
    s: &Settings,
) -> Result<jetstream::stream::Stream, WorkerError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: s.stream.clone(),
        subjects: vec![s.stream_subjects()],
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .map_err(nats_err)
}

/// Runs the Worker until `shutdown` resolves; in-flight jobs finish first.
pub async fn run(
    s: Settings,
    telemetry: &baker_otel::Telemetry,
    llm: &LlmTelemetry,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WorkerError> {
    let raw = async_nats::ConnectOptions::new()
        .name("agent-worker")
        .connect(&s.nats_url)
        .await
        .map_err(nats_err)?;
    let nats = NatsTelemetry::new(telemetry);
    let client = nats.client(raw.clone());
    let js = jetstream::new(raw);
    let stream = ensure_stream(&js, &s).await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            &s.consumer,
            jetstream::consumer::pull::Config {
                durable_name: Some(s.consumer.clone()),
                filter_subject: s.job_subject(),
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 1024,
                ..Default::default()
            },
        )
        .await
        .map_err(nats_err)?;
    let _depth = QueueDepth::builder(&nats, js.clone())
        .consumer(&s.stream, &s.consumer)
        .interval(Duration::from_secs(1))
        .build()
        .ok();

    let memory = Arc::new(MemoryStore::seeded());
    let _memory_gauges = {
        let m = memory.clone();
        llm.register_memory_store(MEMORY_STORE, move || MemoryStoreStats {
            items: m.len() as u64,
            bytes: m.size_bytes(),
        })
    };
    let extension_url = crate::extension::spawn(telemetry).await?;
    let agent = Agent::new(
        ScriptedLlm::new(s.llm_latency),
        memory,
        extension_url,
        baker_otel_axum::OtelClientLayer::new(telemetry),
    );

    let metrics_app = crate::metrics_router(telemetry);
    let listener = tokio::net::TcpListener::bind(s.worker_metrics_addr).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, metrics_app).await;
    });

    let active = telemetry
        .meter("agent-pipeline")
        .i64_up_down_counter("baker.worker.jobs.active")
        .with_unit("{job}")
        .build();
    let limit = Arc::new(tokio::sync::Semaphore::new(s.worker_concurrency));
    let mut messages =
        TracedMessages::new(consumer.messages().await.map_err(nats_err)?, nats.clone());
    tracing::info!(stream = %s.stream, consumer = %s.consumer, metrics = %s.worker_metrics_addr, "worker ready");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let msg = tokio::select! {
            _ = &mut shutdown => break,
            m = messages.next() => m,
        };
        match msg {
            Some(Ok(msg)) => {
                let (agent, client, active) = (agent.clone(), client.clone(), active.clone());
                tokio::spawn(async move {
                    handle(msg, &agent, &client, &active).await;
                    drop(permit);
                });
            }
            Some(Err(e)) => {
                tracing::warn!(exception.message = %e, "consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            None => break,
        }
    }
    // Wait for in-flight jobs.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        limit.acquire_many(s.worker_concurrency as u32),
    )
    .await;
    tracing::info!("worker stopped");
    Ok(())
}

async fn handle(
    mut msg: Traced<jetstream::Message>,
    agent: &Agent,
    client: &TracedClient,
    active: &UpDownCounter<i64>,
) {
    let job: Job = match serde_json::from_slice(&msg.payload) {
        Ok(j) => j,
        Err(e) => {
            msg.in_scope(|| tracing::error!(exception.message = %e, "invalid job payload"));
            msg.set_error("invalid_payload");
            let _ = msg.term().await;
            return;
        }
    };
    active.add(1, &[]);
    let work = async {
        let scope = BakerScope::current()
            .conversation_id(job.conversation_id.clone())
            .job_id(job.job_id.clone());
        scope
            .instrument(async {
                tracing::info!(route = %job.route, "job started");
                // Totals every LLM call of this job; `finish` logs the `job usage` line.
                let usage = JobUsage::start();
                let mut result: JobResult = agent.run(&job).await;
                result.usage = crate::wire::Usage::from_totals(&usage.finish());
                let payload = serde_json::to_vec(&result).unwrap_or_default();
                if let Err(e) = client.publish(job.reply_to.clone(), payload.into()).await {
                    tracing::error!(exception.message = %e, "could not publish the reply");
                }
            })
            .await
    };
    msg.instrument(work).await;
    if let Err(e) = msg.ack().await {
        msg.in_scope(|| tracing::warn!(exception.message = %e, "ack failed"));
    }
    active.add(-1, &[]);
}
