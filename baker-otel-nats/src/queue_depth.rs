//! `baker.queue.depth`: JetStream consumer backlog as an observable gauge.
//!
//! A background task polls `CONSUMER.INFO` for each configured (stream, consumer) every
//! `interval` and caches `num_pending` / `num_ack_pending`; the gauge callback only reads the
//! cache (it never blocks on the network). Labels: `stream`, `consumer`, `state` =
//! `pending` | `ack_pending`. A consumer that cannot be read keeps its last values (and is
//! absent until first read). Dropping the [`QueueDepth`] guard stops the task and the gauge
//! reports nothing further.

use crate::NatsTelemetry;
use opentelemetry::metrics::{Meter, ObservableGauge};
use opentelemetry::KeyValue;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Metric name of the queue-depth gauge.
pub const QUEUE_DEPTH: &str = "baker.queue.depth";
/// Attribute of [`QUEUE_DEPTH`] saying which backlog it counts (`pending`, `ack_pending`); replaces
/// the bare `state`, which semantic conventions v1.41 reserve (deprecated, for connection pools).
pub const QUEUE_STATE: &str = "baker.queue.state";

/// Error starting the queue-depth poller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueDepthError {
    /// `start` was called outside a Tokio runtime.
    #[error("baker.queue.depth poller must be started inside a Tokio runtime")]
    NoRuntime,
    /// No (stream, consumer) pair was configured.
    #[error("baker.queue.depth poller needs at least one (stream, consumer)")]
    NoConsumers,
}

#[derive(Debug, Clone)]
struct Entry {
    stream: String,
    consumer: String,
    values: Option<(u64, u64)>,
}

type Cache = Arc<RwLock<Vec<Entry>>>;

/// Builder for the queue-depth poller: which streams/consumers, how often, and the gauge it feeds.
///
/// ```no_run
/// # async fn run(js: async_nats::jetstream::Context) -> Result<(), Box<dyn std::error::Error>> {
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let nats = baker_otel_nats::NatsTelemetry::new(&telemetry);
/// let depth = baker_otel_nats::QueueDepth::builder(&nats, js)
///     .consumer("JOBS", "workers")
///     .interval(std::time::Duration::from_secs(15))
///     .build()?; // keep the guard alive
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct QueueDepthBuilder {
    js: async_nats::jetstream::Context,
    targets: Vec<(String, String)>,
    interval: Duration,
    meter: Meter,
}

impl QueueDepthBuilder {
    /// Adds a (stream, consumer) pair to watch.
    ///
    /// ```no_run
    /// # fn f(b: baker_otel_nats::QueueDepthBuilder) { let _ = b.consumer("JOBS", "workers"); }
    /// ```
    pub fn consumer(mut self, stream: impl Into<String>, consumer: impl Into<String>) -> Self {
        self.targets.push((stream.into(), consumer.into()));
        self
    }

    /// Poll interval (default 15 s; clamped to at least 10 ms).
    ///
    /// ```no_run
    /// # fn f(b: baker_otel_nats::QueueDepthBuilder) { let _ = b.interval(std::time::Duration::from_secs(5)); }
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Registers the gauge and starts the poller (in the current Tokio runtime).
    ///
    /// ```no_run
    /// # async fn f(b: baker_otel_nats::QueueDepthBuilder) -> Result<(), baker_otel_nats::QueueDepthError> {
    /// let _guard = b.build()?;
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<QueueDepth, QueueDepthError> {
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| QueueDepthError::NoRuntime)?;
        if self.targets.is_empty() {
            return Err(QueueDepthError::NoConsumers);
        }
        let cache: Cache = Arc::new(RwLock::new(
            self.targets
                .iter()
                .map(|(s, c)| Entry {
                    stream: s.clone(),
                    consumer: c.clone(),
                    values: None,
                })
                .collect(),
        ));
        let meter = self.meter;
        let read = Arc::downgrade(&cache);
        let gauge = meter
            .u64_observable_gauge(QUEUE_DEPTH)
            .with_unit("{message}")
            .with_description(
                "JetStream consumer backlog: messages pending delivery and awaiting ack.",
            )
            .with_callback(move |obs| {
                let Some(cache) = read.upgrade() else { return };
                let Ok(entries) = cache.read() else { return };
                for e in entries.iter() {
                    if let Some((pending, ack_pending)) = e.values {
                        let base = [
                            KeyValue::new("stream", e.stream.clone()),
                            KeyValue::new("consumer", e.consumer.clone()),
                        ];
                        obs.observe(
                            pending,
                            &[
                                base[0].clone(),
                                base[1].clone(),
                                KeyValue::new(QUEUE_STATE, "pending"),
                            ],
                        );
                        let [s, c] = base;
                        obs.observe(
                            ack_pending,
                            &[s, c, KeyValue::new(QUEUE_STATE, "ack_pending")],
                        );
                    }
                }
            })
            .build();
        let task = handle.spawn(poll(self.js, Arc::downgrade(&cache), self.interval));
        Ok(QueueDepth {
            cache,
            task,
            _gauge: gauge,
        })
    }
}

async fn poll(
    js: async_nats::jetstream::Context,
    cache: std::sync::Weak<RwLock<Vec<Entry>>>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(c) = cache.upgrade() else { return };
        let targets: Vec<(String, String)> = match c.read() {
            Ok(e) => e
                .iter()
                .map(|e| (e.stream.clone(), e.consumer.clone()))
                .collect(),
            Err(_) => return,
        };
        drop(c);
        for (i, (stream, consumer)) in targets.iter().enumerate() {
            let info = match js.get_stream_no_info(stream).await {
                Ok(s) => s.consumer_info(consumer).await.ok(),
                Err(_) => None,
            };
            let Some(info) = info else { continue };
            let Some(c) = cache.upgrade() else { return };
            if let Ok(mut entries) = c.write() {
                if let Some(e) = entries.get_mut(i) {
                    e.values = Some((info.num_pending, info.num_ack_pending as u64));
                }
            };
        }
    }
}

/// Guard of a running queue-depth poller; dropping it stops polling.
///
/// ```no_run
/// # async fn run(nats: baker_otel_nats::NatsTelemetry, js: async_nats::jetstream::Context) -> Result<(), Box<dyn std::error::Error>> {
/// let depth = baker_otel_nats::QueueDepth::builder(&nats, js).consumer("JOBS", "workers").build()?;
/// let _latest = depth.latest("JOBS", "workers"); // Some((pending, ack_pending)) once polled
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct QueueDepth {
    cache: Cache,
    task: tokio::task::JoinHandle<()>,
    _gauge: ObservableGauge<u64>,
}

impl QueueDepth {
    /// A builder watching consumers of `js`, reporting on `nats`'s meter.
    ///
    /// ```no_run
    /// # fn f(nats: &baker_otel_nats::NatsTelemetry, js: async_nats::jetstream::Context) {
    /// let _b = baker_otel_nats::QueueDepth::builder(nats, js);
    /// # }
    /// ```
    pub fn builder(nats: &NatsTelemetry, js: async_nats::jetstream::Context) -> QueueDepthBuilder {
        QueueDepthBuilder {
            js,
            targets: Vec::new(),
            interval: Duration::from_secs(15),
            meter: nats.meter().clone(),
        }
    }

    /// The cached `(num_pending, num_ack_pending)` of a watched consumer, once polled.
    ///
    /// ```no_run
    /// # fn f(d: &baker_otel_nats::QueueDepth) { let _ = d.latest("JOBS", "workers"); }
    /// ```
    pub fn latest(&self, stream: &str, consumer: &str) -> Option<(u64, u64)> {
        let entries = self.cache.read().ok()?;
        entries
            .iter()
            .find(|e| e.stream == stream && e.consumer == consumer)?
            .values
    }
}

impl Drop for QueueDepth {
    fn drop(&mut self) {
        self.task.abort();
    }
}
