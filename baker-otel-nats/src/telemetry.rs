//! [`NatsTelemetry`]: the instruments and propagation every wrapper uses, from the hub.

use crate::instruments::Instruments;
use crate::{TracedClient, TracedJetStream};
use baker_otel::propagation::Propagation;
use baker_otel::TelemetryHandle;
use opentelemetry::metrics::Meter;
use std::sync::Arc;

/// Instrumentation scope name of the meter.
pub const SCOPE: &str = "baker-otel-nats";

/// Handle to the messaging instruments and the hub's propagation; cheap to clone. Wrap clients
/// and contexts with it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = baker_otel::init()?;
/// let nats = baker_otel_nats::NatsTelemetry::new(&telemetry);
/// let client = nats.client(async_nats::connect("nats://127.0.0.1:4222").await?);
/// client.publish("jobs.summarise", "{}".into()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NatsTelemetry {
    pub(crate) inst: Arc<Instruments>,
    pub(crate) propagation: Propagation,
}

impl NatsTelemetry {
    /// Instruments on `telemetry`'s meter provider, propagation with its propagators
    /// (`OTEL_PROPAGATORS`). Built at any point of start-up: nothing is looked up later.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let _nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry());
    /// ```
    pub fn new(telemetry: &TelemetryHandle) -> Self {
        Self {
            inst: Arc::new(Instruments::new(telemetry.meter(SCOPE))),
            propagation: telemetry.propagation().clone(),
        }
    }

    /// Wraps a core NATS client.
    ///
    /// ```no_run
    /// # async fn run(nats: baker_otel_nats::NatsTelemetry) -> Result<(), async_nats::ConnectError> {
    /// let client = nats.client(async_nats::connect("127.0.0.1:4222").await?);
    /// # Ok(()) }
    /// ```
    pub fn client(&self, client: async_nats::Client) -> TracedClient {
        TracedClient::new(client, self.clone())
    }

    /// Wraps a JetStream context.
    ///
    /// ```no_run
    /// # async fn run(nats: baker_otel_nats::NatsTelemetry) -> Result<(), async_nats::ConnectError> {
    /// let client = async_nats::connect("127.0.0.1:4222").await?;
    /// let js = nats.jetstream(async_nats::jetstream::new(client));
    /// # Ok(()) }
    /// ```
    pub fn jetstream(&self, context: async_nats::jetstream::Context) -> TracedJetStream {
        TracedJetStream::new(context, self.clone())
    }

    /// The meter the instruments were created from (the queue-depth gauge uses it too).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let _meter = baker_otel_nats::NatsTelemetry::new(capture.telemetry()).meter();
    /// ```
    pub fn meter(&self) -> &Meter {
        &self.inst.meter
    }

    /// The propagation used for every inject/extract (the hub's).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry());
    /// assert_eq!(nats.propagation().fields().count(), 3);
    /// ```
    pub fn propagation(&self) -> &Propagation {
        &self.propagation
    }
}
