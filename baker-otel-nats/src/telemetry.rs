//! [`NatsTelemetry`]: the shared instruments every wrapper records into.

use crate::instruments::Instruments;
use crate::{TracedClient, TracedJetStream};
use opentelemetry::metrics::{Meter, MeterProvider};
use std::sync::Arc;

/// Instrumentation scope name of the meter.
pub const SCOPE: &str = "baker-otel-nats";

/// Handle to the messaging instruments; cheap to clone. Wrap clients and contexts with it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = baker_otel_nats::NatsTelemetry::new(); // global meter provider
/// let client = nats.client(async_nats::connect("nats://127.0.0.1:4222").await?);
/// client.publish("jobs.summarise", "{}".into()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NatsTelemetry {
    pub(crate) inst: Arc<Instruments>,
}

impl Default for NatsTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl NatsTelemetry {
    /// Instruments from the global meter provider (`opentelemetry::global::meter("baker-otel-nats")`).
    ///
    /// ```
    /// let _nats = baker_otel_nats::NatsTelemetry::new();
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder (e.g. to pass an explicit meter provider in tests).
    ///
    /// ```
    /// let mp = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let _nats = baker_otel_nats::NatsTelemetry::builder().meter_provider(&mp).build();
    /// ```
    pub fn builder() -> NatsTelemetryBuilder {
        NatsTelemetryBuilder { meter: None }
    }

    /// Wraps a core NATS client.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), async_nats::ConnectError> {
    /// let client = baker_otel_nats::NatsTelemetry::new().client(async_nats::connect("127.0.0.1:4222").await?);
    /// # Ok(()) }
    /// ```
    pub fn client(&self, client: async_nats::Client) -> TracedClient {
        TracedClient::new(client, self.clone())
    }

    /// Wraps a JetStream context.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), async_nats::ConnectError> {
    /// let client = async_nats::connect("127.0.0.1:4222").await?;
    /// let js = baker_otel_nats::NatsTelemetry::new().jetstream(async_nats::jetstream::new(client));
    /// # Ok(()) }
    /// ```
    pub fn jetstream(&self, context: async_nats::jetstream::Context) -> TracedJetStream {
        TracedJetStream::new(context, self.clone())
    }

    /// The meter the instruments were created from (the queue-depth gauge uses it too).
    ///
    /// ```
    /// let _meter = baker_otel_nats::NatsTelemetry::new().meter();
    /// ```
    pub fn meter(&self) -> &Meter {
        &self.inst.meter
    }
}

/// Builder for [`NatsTelemetry`].
#[derive(Debug)]
#[must_use]
pub struct NatsTelemetryBuilder {
    meter: Option<Meter>,
}

impl NatsTelemetryBuilder {
    /// Records into `provider` instead of the global meter provider.
    ///
    /// ```
    /// let mp = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let _b = baker_otel_nats::NatsTelemetry::builder().meter_provider(&mp);
    /// ```
    pub fn meter_provider(mut self, provider: &dyn MeterProvider) -> Self {
        self.meter = Some(provider.meter(SCOPE));
        self
    }

    /// Records into `meter`.
    ///
    /// ```
    /// let _b = baker_otel_nats::NatsTelemetry::builder().meter(opentelemetry::global::meter("mine"));
    /// ```
    pub fn meter(mut self, meter: Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Creates the instruments.
    ///
    /// ```
    /// let _nats = baker_otel_nats::NatsTelemetry::builder().build();
    /// ```
    pub fn build(self) -> NatsTelemetry {
        let meter = self
            .meter
            .unwrap_or_else(|| opentelemetry::global::meter(SCOPE));
        NatsTelemetry {
            inst: Arc::new(Instruments::new(meter)),
        }
    }
}
