//! [`NatsTelemetry`]: the instruments and propagation every wrapper uses, from the hub.

use crate::instruments::Instruments;
use crate::{SubjectTemplates, TracedClient, TracedJetStream};
use baker_otel::cardinality::BoundedValues;
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
    pub(crate) subjects: Arc<SubjectTemplates>,
    pub(crate) error_types: BoundedValues,
}

/// Bound on distinct `error.type` values set with [`Traced::set_error`](crate::Traced::set_error).
pub const MAX_ERROR_TYPES: usize = 50;

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
            subjects: Arc::new(SubjectTemplates::new()),
            error_types: BoundedValues::new(MAX_ERROR_TYPES),
        }
    }

    /// How subjects become destination names in span names and metric labels (default:
    /// [`SubjectTemplates::new`] — inbox collapse, id collapse, at most
    /// [`DEFAULT_MAX_DESTINATIONS`](crate::DEFAULT_MAX_DESTINATIONS) names). Declare the
    /// subjects that carry tenants or other variable tokens:
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry()).subject_templates(
    ///     baker_otel_nats::SubjectTemplates::new().pattern("jobs.{tenant}.agent").unwrap(),
    /// );
    /// assert_eq!(&*nats.destination("jobs.acme.agent"), "jobs.{tenant}.agent");
    /// ```
    #[must_use]
    pub fn subject_templates(mut self, templates: SubjectTemplates) -> Self {
        self.subjects = Arc::new(templates);
        self
    }

    /// The destination name `subject` gets in span names and metric labels.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry());
    /// assert_eq!(&*nats.destination("_INBOX.x.1"), "_INBOX");
    /// ```
    pub fn destination(&self, subject: &str) -> Arc<str> {
        self.subjects.apply(subject)
    }

    /// A user-supplied `error.type` normalised and bounded (see
    /// [`baker_otel::cardinality::error_type`]; beyond [`MAX_ERROR_TYPES`] distinct values,
    /// `_OTHER`).
    pub(crate) fn error_type(&self, raw: &str) -> Arc<str> {
        self.error_types
            .get(baker_otel::cardinality::error_type(raw))
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
