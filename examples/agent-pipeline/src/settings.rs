//! Settings shared by the binaries, read from environment variables.
//!
//! | variable | default | used by |
//! |---|---|---|
//! | `NATS_URL` | `nats://127.0.0.1:4222` | brain, worker, demo |
//! | `BRAIN_ADDR` | `127.0.0.1:8080` | brain (public API and `/healthz`) |
//! | `BRAIN_METRICS_ADDR` | `127.0.0.1:9465` | brain (`/metrics` and `/healthz`; keep it internal) |
//! | `WORKER_METRICS_ADDR` | `127.0.0.1:9464` | worker |
//! | `BAKER_STREAM` | `BAKER_JOBS` | brain, worker |
//! | `BAKER_SUBJECT_PREFIX` | `jobs` | brain, worker (stream subjects `<prefix>.>`) |
//! | `BAKER_CONSUMER` | `agent-worker` | worker (durable pull consumer), brain (queue depth) |
//! | `BAKER_JOB_TIMEOUT_MS` | `30000` | brain (504 after this) |
//! | `BAKER_WORKER_CONCURRENCY` | `32` | worker (jobs in flight) |
//! | `BAKER_LLM_LATENCY_MS` | `4` | brain, worker (scripted LLM base latency) |

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the pipeline.
///
/// ```
/// let s = agent_pipeline::settings::Settings::from_env();
/// assert!(s.job_subject().ends_with(".agent"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// NATS server URL.
    pub nats_url: String,
    /// Brain listen address (the public API).
    pub brain_addr: SocketAddr,
    /// Brain `/metrics` address: internal, never the public API port.
    pub brain_metrics_addr: SocketAddr,
    /// Worker `/metrics` address.
    pub worker_metrics_addr: SocketAddr,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix; the stream captures `<prefix>.>`.
    pub subject_prefix: String,
    /// Durable consumer name.
    pub consumer: String,
    /// How long the Brain waits for the Worker.
    pub job_timeout: Duration,
    /// Jobs the Worker runs at once.
    pub worker_concurrency: usize,
    /// Base latency of the scripted LLM.
    pub llm_latency: Duration,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> T {
    match var(name) {
        Some(v) => match v.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("agent-pipeline: ignoring invalid {name}={v:?}");
                default
            }
        },
        None => default,
    }
}

impl Settings {
    /// Reads the environment; invalid values fall back to the default (with a warning on stderr).
    ///
    /// ```
    /// let s = agent_pipeline::settings::Settings::from_env();
    /// assert!(!s.stream.is_empty());
    /// ```
    pub fn from_env() -> Self {
        Self {
            nats_url: var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            brain_addr: parsed("BRAIN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080))),
            brain_metrics_addr: parsed(
                "BRAIN_METRICS_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 9465)),
            ),
            worker_metrics_addr: parsed(
                "WORKER_METRICS_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 9464)),
            ),
            stream: var("BAKER_STREAM").unwrap_or_else(|| "BAKER_JOBS".into()),
            subject_prefix: var("BAKER_SUBJECT_PREFIX").unwrap_or_else(|| "jobs".into()),
            consumer: var("BAKER_CONSUMER").unwrap_or_else(|| "agent-worker".into()),
            job_timeout: Duration::from_millis(parsed("BAKER_JOB_TIMEOUT_MS", 30_000u64)),
            worker_concurrency: parsed("BAKER_WORKER_CONCURRENCY", 32usize).max(1),
            llm_latency: Duration::from_millis(parsed("BAKER_LLM_LATENCY_MS", 4u64)),
        }
    }

    /// Subject the Brain publishes jobs to.
    ///
    /// ```
    /// let s = agent_pipeline::settings::Settings::from_env();
    /// assert_eq!(s.job_subject(), format!("{}.agent", s.subject_prefix));
    /// ```
    pub fn job_subject(&self) -> String {
        format!("{}.agent", self.subject_prefix)
    }

    /// Subjects captured by the stream.
    ///
    /// ```
    /// let s = agent_pipeline::settings::Settings::from_env();
    /// assert!(s.stream_subjects().ends_with(".>"));
    /// ```
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// A random id with a prefix, e.g. `job_4f1c…` (16 hex digits).
///
/// ```
/// let id = agent_pipeline::settings::new_id("job");
/// assert!(id.starts_with("job_") && id.len() == 20);
/// ```
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}
