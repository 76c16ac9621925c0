//! [`Telemetry`]: the guard that owns the pipelines; flush and shutdown under one deadline.

use super::builder::TelemetryBuilder;
use super::handle::TelemetryHandle;
use crate::ShutdownError;
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

    /// Exports everything buffered now (bounded by the shutdown deadline).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// t.force_flush().unwrap();
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let i = self.hub.inner.clone();
        run_bounded(i.config.shutdown_timeout, move || {
            let mut errs = Vec::new();
            if let Some(t) = &i.tracer_provider {
                t.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            if let Some(l) = &i.logger_provider {
                l.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            if let Some(m) = &i.meter_provider {
                m.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            errs
        })
    }

    /// Flushes and shuts down tracer → logger → meter under one deadline. Calling it again is a
    /// no-op. Safe inside and outside an async runtime; never blocks longer than the deadline
    /// (plus a few milliseconds).
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
        let start = Instant::now();
        let i = inner.clone();
        let result = run_bounded(timeout, move || {
            let mut errs = Vec::new();
            // The providers get slightly less than the overall deadline, so that a queue that
            // gives up on a stalled collector has counted what it abandoned before we return.
            let budget = timeout.saturating_sub(Duration::from_millis(25));
            let left = |s: Instant| budget.saturating_sub(s.elapsed());
            if let Some(t) = &i.tracer_provider {
                t.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("traces: {e}")))
                    .ok();
            }
            if let Some(l) = &i.logger_provider {
                l.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("logs: {e}")))
                    .ok();
            }
            if let Some(m) = &i.meter_provider {
                m.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("metrics: {e}")))
                    .ok();
            }
            errs
        });
        if let Ok(mut rt) = inner.runtime.lock() {
            drop(rt.take());
        }
        result
    }
}

/// Runs `f` on a helper thread and waits at most `timeout`.
fn run_bounded(
    timeout: Duration,
    f: impl FnOnce() -> Vec<String> + Send + 'static,
) -> Result<(), ShutdownError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("baker-otel-shutdown".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        return Err(ShutdownError::Provider(
            "could not spawn the shutdown thread".into(),
        ));
    }
    match rx.recv_timeout(timeout) {
        Ok(errs) if errs.is_empty() => Ok(()),
        Ok(errs) => {
            if errs
                .iter()
                .all(|e| e.contains("already shut down") || e.contains("AlreadyShutdown"))
            {
                Ok(())
            } else {
                Err(ShutdownError::Provider(errs.join("; ")))
            }
        }
        Err(_) => Err(ShutdownError::Timeout(timeout)),
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("baker-otel: {e}");
        }
    }
}
