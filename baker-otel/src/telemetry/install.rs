//! The process-global install: `tracing` dispatcher, OpenTelemetry providers, propagator.

use super::handle::TelemetryHandle;
use crate::InitError;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Sets the global `tracing` dispatcher (once per process; `None` when the service installs its
/// own subscriber) and OpenTelemetry's global tracer provider, meter provider and text-map
/// propagator from `hub`.
pub(crate) fn install_global(
    hub: &TelemetryHandle,
    dispatch: Option<tracing::Dispatch>,
) -> Result<(), InitError> {
    if INSTALLED.swap(true, Ordering::SeqCst)
        || dispatch.is_some_and(|d| tracing::dispatcher::set_global_default(d).is_err())
    {
        return Err(InitError::AlreadyInitialized);
    }
    if let Some(tp) = hub.tracer_provider() {
        opentelemetry::global::set_tracer_provider(tp.clone());
    }
    if let Some(mp) = hub.meter_provider() {
        opentelemetry::global::set_meter_provider(mp.clone());
    }
    // Never injects baggage: a global injection does not know where the request goes.
    opentelemetry::global::set_text_map_propagator(crate::propagation::GlobalPropagator::new(
        hub.propagation().clone(),
    ));
    Ok(())
}
