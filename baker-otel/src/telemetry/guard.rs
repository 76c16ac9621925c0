//! [`Telemetry`]: the guard that owns the pipelines; flush and shutdown under one deadline.

use super::builder::TelemetryBuilder;
use super::handle::TelemetryHandle;
use crate::export::DropReason;
use crate::ShutdownError;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The telemetry hub of a service. Keep it alive for the life of the service: dropping it (or
/// calling [`shutdown`](Self::shutdown)) flushes and stops every pipeline within the configured
/// deadline.
///
/// It dereferences to [`TelemetryHandle`], which every integration is built from
/// (`OtelLayer::new(&telemetry)`, `NatsTelemetry::new(&telemetry)`,
/// `LlmTelemetry::builder(&telemetry)`): they take their providers, propagation and
/// configuration from it, so the order in which they are built does not matter.
///
/// ```no_run
/// let telemetry = baker_otel::init()?;
/// let meter = telemetry.meter("brain");          // via TelemetryHandle
/// meter.u64_counter("requests").build().add(1, &[]);
/// telemetry.shutdown()?;                          // or let it drop
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the guard shuts telemetry down"]
pub struct Telemetry {
    pub(crate) hub: TelemetryHandle,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service_name", &self.hub.config().service_name)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Telemetry {
    type Target = TelemetryHandle;
    fn deref(&self) -> &TelemetryHandle {
        &self.hub
    }
}

impl AsRef<TelemetryHandle> for Telemetry {
    fn as_ref(&self) -> &TelemetryHandle {
        &self.hub
    }
}

impl Telemetry {
    /// Starts a builder.
    ///
    /// ```
    /// let _b = baker_otel::Telemetry::builder().service_name("brain");
    /// ```
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// A clone of the handle (for integrations that outlive a borrow, or other threads).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// let h = t.handle();
    /// std::thread::spawn(move || h.config().service_name.clone()).join().unwrap();
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn handle(&self) -> TelemetryHandle {
        self.hub.clone()
    }

    /// Exports everything buffered now, the three signals at once, bounded by the shutdown
    /// deadline. The service's span and log processors
    /// ([`with_span_processor`](TelemetryBuilder::with_span_processor),
    /// [`with_log_processor`](TelemetryBuilder::with_log_processor)) are flushed after
    /// baker-otel's queues.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// t.force_flush().unwrap();
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let i = &self.hub.inner;
        let mut tasks: Vec<Task> = Vec::with_capacity(3);
        if let Some(t) = i.tracer_provider.clone() {
            tasks.push(("traces", Box::new(move || t.force_flush())));
        }
        if let Some(l) = i.logger_provider.clone() {
            tasks.push(("logs", Box::new(move || l.force_flush())));
        }
        if let Some(m) = i.meter_provider.clone() {
            tasks.push(("metrics", Box::new(move || m.force_flush())));
        }
        let timeout = i.config.shutdown_timeout;
        run_parallel(timeout, tasks).into_result(timeout)
    }

    /// Flushes and shuts down the three pipelines under one deadline. Calling it again is a
    /// no-op. Safe inside and outside an async runtime; never blocks longer than the deadline
    /// (plus a few milliseconds).
    ///
    /// The pipelines are told to shut down all at once and are then waited for in parallel,
    /// each with the whole deadline: a trace collector that never answers costs the traces in
    /// flight, not the queued log records or the final metric export. What a pipeline could
    /// not send in time is counted in [`dropped`](TelemetryHandle::dropped): spans and log
    /// records as items, the final metric export (a whole collection) as one for
    /// [`Signal::Metrics`](crate::Signal::Metrics). The service's span and log processors are
    /// shut down alongside the queues, under the same deadline: one that hangs is reported
    /// (an error) and left to finish on its own, without holding up the export.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// t.shutdown().unwrap();
    /// t.shutdown().unwrap(); // no-op
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn shutdown(&self) -> Result<(), ShutdownError> {
        let inner = &self.hub.inner;
        if inner.shut_down.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let timeout = inner.config.shutdown_timeout;
        // The providers get slightly less than the overall deadline, so that a queue that
        // gives up on a stalled collector has counted what it abandoned before we return.
        let budget = timeout.saturating_sub(Duration::from_millis(25));
        let mut tasks: Vec<Task> = Vec::with_capacity(3);
        if let Some(t) = inner.tracer_provider.clone() {
            tasks.push(("traces", Box::new(move || t.shutdown_with_timeout(budget))));
        }
        if let Some(l) = inner.logger_provider.clone() {
            tasks.push(("logs", Box::new(move || l.shutdown_with_timeout(budget))));
        }
        // Only a push reader (OTLP, console) has a final export to lose; Prometheus is pulled.
        let pushes_metrics = crate::export::select::pushes_metrics(&inner.config.metrics.exporters);
        if let Some(m) = inner.meter_provider.clone() {
            tasks.push(("metrics", Box::new(move || m.shutdown_with_timeout(budget))));
        }
        let outcome = run_parallel(timeout, tasks);
        if pushes_metrics {
            // The meter provider's shutdown is its final collection and export: failed, or
            // still running at the deadline, that export is lost.
            if outcome.pending.contains(&"metrics") {
                inner.drops.metrics.add(DropReason::Shutdown, 1);
            } else if outcome.failed.contains(&"metrics") {
                inner.drops.metrics.add(DropReason::ExportFailed, 1);
            }
        }
        if let Ok(mut rt) = inner.runtime.lock() {
            drop(rt.take());
        }
        outcome.into_result(timeout)
    }
}

fn is_already_shut_down(e: &str) -> bool {
    e.contains("already shut down") || e.contains("AlreadyShutdown")
}

/// One pipeline's flush or shutdown, named by its signal.
type Task = (&'static str, Box<dyn FnOnce() -> OTelSdkResult + Send>);

/// What [`run_parallel`] saw by the deadline.
#[derive(Debug, Default)]
struct Outcome {
    /// `signal: error` of the tasks that failed (an already shut down provider is no failure).
    errors: Vec<String>,
    /// Signals whose task failed.
    failed: Vec<&'static str>,
    /// Signals whose task had not finished at the deadline.
    pending: Vec<&'static str>,
}

impl Outcome {
    fn into_result(self, timeout: Duration) -> Result<(), ShutdownError> {
        if !self.pending.is_empty() {
            return Err(ShutdownError::Timeout(timeout));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError::Provider(self.errors.join("; ")))
        }
    }
}

/// Starts every task at once, each on its own thread, and waits for all of them until one
/// shared deadline, `timeout` from now. A task still running then is left to finish on its own
/// (each is bounded by its own timeout) and reported as pending.
fn run_parallel(timeout: Duration, tasks: Vec<Task>) -> Outcome {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = std::sync::mpsc::channel::<(&'static str, OTelSdkResult)>();
    let mut outcome = Outcome::default();
    let mut waiting = Vec::with_capacity(tasks.len());
    for (signal, task) in tasks {
        let their_tx = tx.clone();
        // The task goes to the thread through a shared slot, so that if the thread cannot be
        // spawned it is still here to run inline (bounded by its own timeout).
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(task)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("baker-otel-shutdown-{signal}"))
            .spawn(move || {
                let task = theirs.lock().ok().and_then(|mut t| t.take());
                if let Some(task) = task {
                    let _ = their_tx.send((signal, task()));
                }
            });
        if spawned.is_err() {
            let task = slot.lock().ok().and_then(|mut t| t.take());
            if let Some(task) = task {
                let _ = tx.send((signal, task()));
            }
        }
        waiting.push(signal);
    }
    drop(tx);
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((signal, result)) => {
                waiting.retain(|s| *s != signal);
                match result {
                    Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
                    // The SDK wraps a processor's "already shut down" in other variants.
                    Err(e) if is_already_shut_down(&e.to_string()) => {}
                    Err(e) => {
                        outcome.failed.push(signal);
                        outcome.errors.push(format!("{signal}: {e}"));
                    }
                }
            }
            Err(_) => break,
        }
    }
    outcome.pending = waiting;
    outcome
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("baker-otel: {e}");
        }
    }
}
