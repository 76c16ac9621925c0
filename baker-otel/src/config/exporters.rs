//! Exporter kinds: what `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` names, and which cargo feature
//! each one needs. Together with `export/select.rs` (what each kind exports) this is where an
//! exporter kind is added.

use super::{Protocol, Signal};
use crate::ConfigError;

/// An exporter selected by `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterKind {
    /// OTLP over gRPC or HTTP (default).
    Otlp,
    /// Human-readable output on stderr, for local work.
    Console,
    /// Prometheus text on `/metrics` (metrics only).
    Prometheus,
}

/// The exporters `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` (`value`, read from `name`) selects.
pub(super) fn parse_exporters(
    name: &str,
    value: Option<&str>,
    signal: Signal,
    compiled: Compiled,
) -> Result<Vec<ExporterKind>, ConfigError> {
    let Some(v) = value else {
        return Ok(compiled.default_exporters());
    };
    let mut out = Vec::new();
    for e in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = match e {
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "prometheus" if signal == Signal::Metrics => ExporterKind::Prometheus,
            "none" => return Ok(Vec::new()),
            _ => {
                let allowed = if signal == Signal::Metrics {
                    "otlp, prometheus, console, none"
                } else {
                    "otlp, console, none"
                };
                return Err(ConfigError::invalid(
                    name,
                    v,
                    format!("unsupported exporter {e:?} (supported: {allowed})"),
                ));
            }
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// The optional exporters compiled into this build (cargo features `otlp-grpc`, `otlp-http`,
/// `prometheus`). Defaults follow it: OTLP is the default exporter only when a transport is
/// compiled in, and the default protocol is `grpc` unless only `otlp-http` is. A setting that
/// asks for a missing one is a [`ConfigError::FeatureDisabled`](crate::ConfigError).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compiled {
    pub(crate) otlp_grpc: bool,
    pub(crate) otlp_http: bool,
    pub(crate) prometheus: bool,
}

impl Compiled {
    pub(crate) const THIS_BUILD: Compiled = Compiled {
        otlp_grpc: cfg!(feature = "otlp-grpc"),
        otlp_http: cfg!(feature = "otlp-http"),
        prometheus: cfg!(feature = "prometheus"),
    };

    pub(crate) fn any_otlp(self) -> bool {
        self.otlp_grpc || self.otlp_http
    }

    /// Exporters of a signal whose `OTEL_*_EXPORTER` is unset.
    pub(crate) fn default_exporters(self) -> Vec<ExporterKind> {
        if self.any_otlp() {
            vec![ExporterKind::Otlp]
        } else {
            Vec::new()
        }
    }

    /// Protocol when `OTEL_EXPORTER_OTLP_PROTOCOL` is unset.
    pub(crate) fn default_protocol(self) -> Protocol {
        if !self.otlp_grpc && self.otlp_http {
            Protocol::HttpProtobuf
        } else {
            Protocol::Grpc
        }
    }

    /// The cargo feature `kind` (over `protocol`) needs and this build lacks.
    pub(crate) fn missing(self, kind: ExporterKind, protocol: Protocol) -> Option<&'static str> {
        match (kind, protocol) {
            (ExporterKind::Otlp, Protocol::Grpc) => (!self.otlp_grpc).then_some("otlp-grpc"),
            (ExporterKind::Otlp, _) => (!self.otlp_http).then_some("otlp-http"),
            (ExporterKind::Prometheus, _) => (!self.prometheus).then_some("prometheus"),
            (ExporterKind::Console, _) => None,
        }
    }

    /// The error for an exporter chosen through the builder (`exporters`, `otlp_protocol`,
    /// `configure`) that this build lacks; the environment is checked when it is read.
    pub(crate) fn check_builder(
        self,
        signal: Signal,
        kind: ExporterKind,
        protocol: Protocol,
    ) -> Result<(), crate::ConfigError> {
        let Some(feature) = self.missing(kind, protocol) else {
            return Ok(());
        };
        let (name, value) = match kind {
            ExporterKind::Otlp if self.any_otlp() => (
                "TelemetryBuilder::otlp_protocol".to_owned(),
                protocol.name(),
            ),
            ExporterKind::Otlp => (builder_exporters(signal), "otlp"),
            _ => (builder_exporters(signal), "prometheus"),
        };
        Err(crate::ConfigError::FeatureDisabled {
            name,
            value: value.to_owned(),
            feature,
        })
    }
}

fn builder_exporters(signal: Signal) -> String {
    let s = match signal {
        Signal::Traces => "Traces",
        Signal::Metrics => "Metrics",
        Signal::Logs => "Logs",
    };
    format!("TelemetryBuilder::exporters(Signal::{s})")
}
