//! [`NatsTelemetry`]: the instruments and propagation every wrapper uses, from the hub.

use crate::instruments::Instruments;
use crate::policy::{Destination, Outbound, SubjectSet};
use crate::SubjectTemplates;
use baker_otel::cardinality::BoundedValues;
use baker_otel::propagation::{Field, Propagation};
use baker_otel::TelemetryHandle;
use opentelemetry::metrics::Meter;
use std::borrow::Cow;
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
    pub(crate) untrusted: Arc<Untrusted>,
    pub(crate) outbound: Arc<Outbound>,
}

/// Which consumed subjects come from untrusted publishers, and what of their baggage is kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Untrusted {
    /// NATS subject patterns (`*` one token, `>` one or more trailing tokens).
    pub(crate) subjects: SubjectSet,
    /// Publisher baggage keys kept on untrusted subjects.
    pub(crate) baggage_allow: Vec<Cow<'static, str>>,
}

impl Untrusted {
    /// Whether a message on `subject` comes from an untrusted publisher.
    pub(crate) fn covers(&self, subject: &str) -> bool {
        self.subjects.covers(subject)
    }

    /// Whether the publisher baggage key `key` is kept.
    pub(crate) fn keeps(&self, key: &str) -> bool {
        self.baggage_allow.iter().any(|a| a.as_ref() == key)
    }
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
            untrusted: Arc::default(),
            outbound: Arc::default(),
        }
    }

    /// Marks the publishers of the subjects matching `patterns` as **untrusted** (default:
    /// none; NATS wildcards: `*` one token, `>` one or more trailing tokens, so `[">"]` is every
    /// subject). A message consumed on such a subject is handled as the HTTP layer's
    /// `public_endpoint` handles a request: its `process` span starts a **new trace** (the
    /// publisher cannot choose the trace id or force sampling), the publisher's span context is
    /// kept only as a **span link** (without its `tracestate`), and its **baggage is dropped**
    /// except the keys of [`untrusted_baggage_allow_list`](Self::untrusted_baggage_allow_list) —
    /// so a publisher cannot set `gen_ai.conversation.id` / `baker.job.id`, which spans, logs
    /// and budgets are charged to. Other subjects keep full propagation. Replaces earlier
    /// patterns.
    ///
    /// Outbound, an untrusted subject is the outside of the boundary too: no publish, request
    /// or reply to it carries baggage, and neither does a [`reply`](crate::TracedClient::reply)
    /// to a request that arrived on one (its publisher chose the reply subject) — whatever
    /// [`baggage_to_subjects`](Self::baggage_to_subjects) says.
    ///
    /// It applies to every consumer built from this telemetry (and its clones made after
    /// this call); for one consumer only, build that consumer from a configured clone:
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry());
    /// // Per subject: everything under `ext.` is published by third parties.
    /// let nats = nats.untrusted_subjects(["ext.>"]);
    /// // Per consumer: this consumer trusts no publisher at all (publish with `nats`: a
    /// // telemetry that distrusts every subject sends baggage to none).
    /// let _webhooks = nats.clone().untrusted_subjects([">"]);
    /// # async fn f(sub: async_nats::Subscriber, webhooks: baker_otel_nats::NatsTelemetry) {
    /// let traced = baker_otel_nats::TracedSubscriber::new(sub, None, webhooks);
    /// # }
    /// ```
    #[must_use]
    pub fn untrusted_subjects<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut u = (*self.untrusted).clone();
        u.subjects = SubjectSet::of(patterns);
        self.untrusted = Arc::new(u);
        self
    }

    /// Publisher baggage keys kept on untrusted subjects (default: none; see
    /// [`untrusted_subjects`](Self::untrusted_subjects)). Keep this to keys whose values you
    /// would accept from anyone; never the Baker ids. Replaces earlier keys.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let _nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry())
    ///     .untrusted_subjects(["ext.>"])
    ///     .untrusted_baggage_allow_list(["client.app_version"]);
    /// ```
    #[must_use]
    pub fn untrusted_baggage_allow_list<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<Cow<'static, str>>,
    {
        let mut u = (*self.untrusted).clone();
        u.baggage_allow = keys.into_iter().map(Into::into).collect();
        self.untrusted = Arc::new(u);
        self
    }

    /// The subjects a publish, request or reply may carry **baggage** (with the Baker ids) to
    /// — NATS wildcards as in [`untrusted_subjects`](Self::untrusted_subjects). Default
    /// `[">"]`: every subject of the deployment's NATS account, minus the untrusted subjects
    /// and the replies to requests that arrived on one, which never get baggage. Narrow it
    /// when subjects reach parties outside the deployment (a bridge, another account's
    /// import, a partner's subscription); `[]` sends baggage nowhere. A `baggage` header the
    /// caller put in the headers of a refused send is removed (in every spelling of the
    /// name). Replaces earlier patterns.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry())
    ///     .untrusted_subjects(["ext.>"])
    ///     .baggage_to_subjects(["jobs.>", "_INBOX.>"]);
    /// assert!(nats.sends_baggage_to("jobs.summarise"));
    /// assert!(!nats.sends_baggage_to("partner.events"));
    /// assert!(!nats.sends_baggage_to("ext.webhooks"));
    /// assert!(nats.sends_trace_context_to("partner.events"));
    /// ```
    #[must_use]
    pub fn baggage_to_subjects<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut o = (*self.outbound).clone();
        o.baggage = SubjectSet::of(patterns);
        self.outbound = Arc::new(o);
        self
    }

    /// The subjects a publish, request or reply may carry **trace context** (`traceparent`,
    /// `tracestate`) to (default `[">"]`: every subject, as W3C intends; untrusted subjects
    /// included, as an HTTP third party gets `traceparent`). A refused field the caller put in
    /// the headers is removed. Replaces earlier patterns.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry())
    ///     .trace_context_to_subjects(["jobs.>"]);
    /// assert!(!nats.sends_trace_context_to("partner.events"));
    /// ```
    #[must_use]
    pub fn trace_context_to_subjects<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut o = (*self.outbound).clone();
        o.trace_context = SubjectSet::of(patterns);
        self.outbound = Arc::new(o);
        self
    }

    /// Whether a publish or request to `subject` carries baggage (see
    /// [`baggage_to_subjects`](Self::baggage_to_subjects)).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry()).untrusted_subjects(["ext.>"]);
    /// assert!(nats.sends_baggage_to("jobs.x") && !nats.sends_baggage_to("ext.x"));
    /// ```
    pub fn sends_baggage_to(&self, subject: &str) -> bool {
        self.allows(Field::Baggage, Destination::publish(subject))
    }

    /// Whether a publish or request to `subject` carries trace context (see
    /// [`trace_context_to_subjects`](Self::trace_context_to_subjects)).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// assert!(baker_otel_nats::NatsTelemetry::new(capture.telemetry()).sends_trace_context_to("jobs.x"));
    /// ```
    pub fn sends_trace_context_to(&self, subject: &str) -> bool {
        self.allows(Field::TraceParent, Destination::publish(subject))
    }

    /// Whether `field` may go to `to` (the outbound policy and the untrusted subjects).
    pub(crate) fn allows(&self, field: Field, to: Destination<'_>) -> bool {
        self.outbound.allows(&self.untrusted.subjects, field, to)
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
