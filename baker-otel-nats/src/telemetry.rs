//! [`NatsTelemetry`]: the instruments and propagation every wrapper uses, from the hub.

use crate::instruments::Instruments;
use crate::{SubjectTemplates, TracedClient, TracedJetStream};
use baker_otel::cardinality::BoundedValues;
use baker_otel::propagation::Propagation;
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
}

/// Which consumed subjects come from untrusted publishers, and what of their baggage is kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Untrusted {
    /// NATS subject patterns (`*` one token, `>` one or more trailing tokens).
    subjects: Vec<Box<str>>,
    /// Publisher baggage keys kept on untrusted subjects.
    pub(crate) baggage_allow: Vec<Cow<'static, str>>,
}

impl Untrusted {
    /// Whether a message on `subject` comes from an untrusted publisher.
    pub(crate) fn covers(&self, subject: &str) -> bool {
        self.subjects.iter().any(|p| subject_matches(p, subject))
    }

    /// Whether the publisher baggage key `key` is kept.
    pub(crate) fn keeps(&self, key: &str) -> bool {
        self.baggage_allow.iter().any(|a| a.as_ref() == key)
    }
}

/// NATS subject matching: `*` matches one token, a final `>` one or more tokens.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
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
    /// It applies to every consumer built from this telemetry (and its clones made after
    /// this call); for one consumer only, build that consumer from a configured clone:
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let nats = baker_otel_nats::NatsTelemetry::new(capture.telemetry());
    /// // Per subject: everything under `ext.` is published by third parties.
    /// let nats = nats.untrusted_subjects(["ext.>"]);
    /// // Per consumer: this consumer trusts no publisher at all.
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
        u.subjects = patterns
            .into_iter()
            .map(|p| p.into().into_boxed_str())
            .collect();
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

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn subject_patterns_follow_nats_wildcards() {
        for (p, s, m) in [
            (">", "a", true),
            (">", "a.b.c", true),
            ("ext.>", "ext.a.b", true),
            ("ext.>", "ext", false),
            ("ext.*", "ext.a", true),
            ("ext.*", "ext.a.b", false),
            ("*.jobs", "x.jobs", true),
            ("a.b", "a.b", true),
            ("a.b", "a.bc", false),
            ("a", "a.b", false),
            ("", "a", false),
        ] {
            assert_eq!(subject_matches(p, s), m, "{p} ~ {s}");
        }
    }
}
