//! tracing-opentelemetry's own layer, for the spans whose code relies on its contract.
//!
//! Crates built on tracing-opentelemetry (axum-/tonic-tracing-opentelemetry, the instrumentation
//! SDK they share, many in-house middlewares) call `tracing_opentelemetry::OpenTelemetrySpanExt`.
//! That trait reaches its layer through a crate-private downcast, which no other layer can
//! answer: under baker-otel's own span layer alone, `set_parent` would do nothing and
//! `context()` would be empty — the caller's trace silently lost. So the spans such code creates
//! are recorded by tracing-opentelemetry's real `OpenTelemetryLayer`, with [`CompatTracer`]
//! behind it: the same sampler, id generator, limits, Baker ids and export queue as every other
//! span of the hub. Every other span stays on baker-otel's faster layer. Which spans go where is
//! decided once per callsite by [`CompatSpans`] (off by default: its per-layer filter costs every
//! span and event of the process a little; then [`warn_if_needed`] says when a crate needs it).
//!
//! The layer is tracing-opentelemetry's own `OpenTelemetryLayer<S, CompatTracer>` behind a
//! per-layer filter ([`CompatSpans`]): it answers the trait's downcast itself. One gap of that
//! layer is closed here: a selected span whose explicit `parent:` is a span of baker-otel's own
//! layer would start a new trace (the filtered layer does not see that parent). baker-otel's
//! layer, which sees every new span first, hands the parent's span context over
//! (`compat_tracer::hand_over_parent`); the tracer carries it in the span's builder.

use super::compat_tracer::CompatTracer;
use super::Shared;
use tracing::{Metadata, Subscriber};
use tracing_core::subscriber::Interest;
use tracing_subscriber::layer::{Context as LayerContext, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Which `tracing` spans are recorded through tracing-opentelemetry's layer, so that code
/// calling [`tracing_opentelemetry::OpenTelemetrySpanExt`] on them gets what that crate gives
/// it (`set_parent`, `context()`, `add_link`, `set_attribute`, `set_status`).
///
/// The rest use baker-otel's own span layer, which is faster (README, Performance) and which
/// [`baker_otel::OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt) serves. Both record into the same pipeline: same sampler, ids, limits, Baker ids, export
/// queue, and parents across the two are kept.
///
/// ```
/// use baker_otel::CompatSpans;
///
/// // Crates built on tracing-opentelemetry, found by their callsites.
/// let auto = CompatSpans::auto();
/// // Plus the spans of an in-house middleware that calls tracing-opentelemetry's trait on
/// // spans without `otel.*` fields.
/// let mine = CompatSpans::auto().with_target("my_company_middleware");
/// // Every span (tracing-opentelemetry's cost on each), or none (the default: third-party
/// // calls of tracing-opentelemetry's trait then do nothing, and a warning says so).
/// let (all, off) = (CompatSpans::all(), CompatSpans::off());
/// # let _ = (auto, mine, all, off);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompatSpans {
    mode: Mode,
    targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Auto,
    All,
}

/// The default is [`off`](CompatSpans::off): tracing-opentelemetry's layer costs every span of
/// the process, not only the selected ones (README, Performance), so a service turns it on when
/// it has crates that need it — and baker-otel says so in a warning the first time such a
/// crate's span shows up.
impl Default for CompatSpans {
    fn default() -> Self {
        Self::off()
    }
}

/// Crates of baker-otel's own integrations: they use baker-otel's trait and layer.
const OWN_TARGETS: &str = "baker_otel";
/// The target of the spans of davidB's instrumentation SDK (axum-, tonic-tracing-opentelemetry).
const INSTRUMENTATION_SDK_TARGET: &str = "otel::tracing";

impl CompatSpans {
    /// The default. A span goes through tracing-opentelemetry's layer when its callsite's
    /// target starts with `otel::` (the instrumentation SDK behind axum- and
    /// tonic-tracing-opentelemetry), or is in a crate named for tracing or OpenTelemetry
    /// instrumentation (`reqwest_tracing`, `tonic_tracing_opentelemetry`, `tower_otel`: a name
    /// containing `tracing`, `otel` or `opentelemetry`, baker-otel's own `baker_otel*` crates
    /// excepted), or starts with a target added by [`with_target`](Self::with_target).
    /// Your own spans stay on baker-otel's layer: use
    /// [`baker_otel::OpenTelemetrySpanExt`](crate::OpenTelemetrySpanExt) on them, or add their
    /// target.
    #[must_use]
    pub fn auto() -> Self {
        Self {
            mode: Mode::Auto,
            targets: Vec::new(),
        }
    }

    /// Every `tracing` span goes through tracing-opentelemetry's layer.
    #[must_use]
    pub fn all() -> Self {
        Self {
            mode: Mode::All,
            targets: Vec::new(),
        }
    }

    /// No span does (the default): calls of `tracing_opentelemetry::OpenTelemetrySpanExt` find
    /// no layer (`set_parent` returns `Err(LayerNotFound)`, `context()` is empty). The first
    /// span from a callsite [`auto`](Self::auto) would select logs a warning naming its
    /// target and this setting, once per hub.
    #[must_use]
    pub fn off() -> Self {
        Self {
            mode: Mode::Off,
            targets: Vec::new(),
        }
    }

    /// Also the spans whose target starts with `prefix` (with [`auto`](Self::auto)).
    #[must_use]
    pub fn with_target(mut self, prefix: impl Into<String>) -> Self {
        self.targets.push(prefix.into());
        self
    }

    pub(crate) fn is_off(&self) -> bool {
        self.mode == Mode::Off
    }

    /// `directives` (`RUST_LOG` style) plus `otel::tracing=trace` unless they name that target:
    /// the instrumentation SDK of axum- and tonic-tracing-opentelemetry creates its spans at
    /// `TRACE` (init-tracing-opentelemetry adds the same directive).
    pub(crate) fn directives(&self, directives: &str) -> String {
        let target = INSTRUMENTATION_SDK_TARGET;
        if self.is_off() || directives.contains(target) {
            directives.to_owned()
        } else if directives.trim().is_empty() {
            format!("{target}=trace")
        } else {
            format!("{directives},{target}=trace")
        }
    }

    /// Whether spans of this callsite go through tracing-opentelemetry's layer.
    #[inline]
    pub(crate) fn selects(&self, meta: &Metadata<'_>) -> bool {
        match self.mode {
            Mode::Off => false,
            Mode::All => meta.is_span(),
            Mode::Auto => {
                let target = meta.target();
                meta.is_span()
                    && (target.starts_with("otel::")
                        || self.targets.iter().any(|t| target.starts_with(t.as_str()))
                        || instrumentation_crate(target))
            }
        }
    }
}

/// Whether `target` is in a crate named for tracing or OpenTelemetry instrumentation
/// (`reqwest_tracing`, `tonic_tracing_opentelemetry`, `actix_web_opentelemetry`, `tower_otel`…),
/// other than baker-otel's own. One pass over the crate name's bytes: this runs for every span
/// of a callsite whose interest is re-evaluated.
fn instrumentation_crate(target: &str) -> bool {
    let bytes = target.as_bytes();
    let end = bytes.iter().position(|&b| b == b':').unwrap_or(bytes.len());
    let name = &bytes[..end];
    if name.starts_with(OWN_TARGETS.as_bytes()) {
        return false;
    }
    (0..name.len()).any(|i| match name[i] {
        b't' => name[i..].starts_with(b"tracing"),
        b'o' => name[i..].starts_with(b"otel") || name[i..].starts_with(b"opentelemetry"),
        _ => false,
    })
}

impl<S> Filter<S> for CompatSpans {
    fn enabled(&self, meta: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        self.selects(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.selects(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// With `CompatSpans::off()`: the first time a callsite `auto()` would select registers, a
/// warning says that its spans' tracing-opentelemetry calls do nothing and how to turn the
/// layer on. Logged from a short-lived thread: `register_callsite` runs under tracing's callsite
/// registry lock, and an event logged there would wait for that same lock.
pub(crate) fn warn_if_needed(shared: &Shared, select: &CompatSpans, meta: &Metadata<'_>) {
    if !select.is_off() || !CompatSpans::auto().selects(meta) {
        return;
    }
    let target = meta.target().to_owned();
    if shared.compat_warned.set(target.clone()).is_err() {
        return;
    }
    let dispatch = shared.dispatch.get();
    let _ = std::thread::Builder::new()
        .name("baker-otel-compat-warning".into())
        .spawn(move || {
            let warn = || {
                tracing::warn!(
                    target: crate::INTERNAL_TARGET,
                    span_target = %target,
                    "spans of `{target}` come from a crate built on tracing-opentelemetry: its \
                     trace-context calls (set_parent, context) do nothing under baker-otel's own \
                     span layer, so its traces break. Turn its layer on with \
                     TelemetryBuilder::compat_spans(CompatSpans::auto())"
                );
            };
            match dispatch {
                Some(d) => tracing::dispatcher::with_default(&d, warn),
                None => warn(),
            }
        });
}

/// tracing-opentelemetry's layer as baker-otel configures it — no code location, thread or
/// level attributes and no busy/idle timings (baker-otel's own spans have none either) — for
/// the spans `select` selects.
pub(crate) fn layer<S>(
    tracer: CompatTracer,
    select: CompatSpans,
) -> tracing_subscriber::filter::Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, CompatTracer>,
    CompatSpans,
    S,
>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(select)
}
