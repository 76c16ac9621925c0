//! The [`Telemetry`] hub: its builder, the assembly of the pipelines, the handle integrations
//! attach to, and the lifecycle (global install, flush, bounded shutdown).
//!
//! | module | concept |
//! |---|---|
//! | `builder` | [`TelemetryBuilder`]: settings and configuration resolution |
//! | `assemble` | one signal pipeline per module, wired into a `tracing` dispatcher or one layer |
//! | `compose` | the service's own layers next to baker-otel's, both ways |
//! | `plugins` | the service's SDK plug-ins: exporters, sampler, ids, processors, start hooks |
//! | `handle` | [`TelemetryHandle`]: providers, propagation, attached integration state |
//! | `guard` | [`Telemetry`]: the owning guard, flush and shutdown under one deadline |
//! | `install` | the process-global install done by [`init`] |

mod assemble;
mod builder;
mod compose;
mod guard;
mod handle;
mod install;
mod plugins;

#[cfg(feature = "testing")]
pub(crate) use builder::Overrides;
pub use builder::TelemetryBuilder;
pub use guard::Telemetry;
pub use handle::TelemetryHandle;

use crate::InitError;

/// Initialises telemetry from the environment with defaults and installs it process-wide.
/// Equivalent to `Telemetry::builder().init()`.
///
/// ```no_run
/// fn main() -> Result<(), baker_otel::InitError> {
///     let telemetry = baker_otel::init()?;   // flushes and shuts down on drop
///     tracing::info!(service = %telemetry.config().service_name, "service started");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Telemetry, InitError> {
    Telemetry::builder().init()
}
