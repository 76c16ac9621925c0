//! Baker context: the conversation id and job id of the work in progress.
//!
//! Both ids travel as W3C baggage (`gen_ai.conversation.id`, `baker.job.id`), so they cross HTTP
//! and NATS hops with the trace. Every span started inside a scope carries them as attributes,
//! and every JSON log line and OTLP log record written inside carries them too.
//!
//! ```
//! use baker_otel::context::{self, BakerScope};
//!
//! let scope = BakerScope::current().conversation_id("conv-42").job_id("job-7");
//! scope.in_scope(|| {
//!     assert_eq!(context::conversation_id().as_deref(), Some("conv-42"));
//!     tracing::info!("inside the job"); // the JSON line carries conversation_id and job_id
//! });
//! assert_eq!(context::conversation_id(), None);
//! ```
//!
//! # The application's ids always win
//!
//! An id set here replaces whatever the context inherited (e.g. baggage a client sent). An id
//! that cannot be carried — empty, longer than [`MAX_ID_LEN`] bytes, or with control characters —
//! is never silently replaced by the inherited value: [`BakerScope::try_conversation_id`] /
//! [`BakerScope::try_job_id`] return an [`InvalidId`] error (reject the request), and the
//! infallible [`BakerScope::conversation_id`] / [`BakerScope::job_id`] *remove* the inherited
//! value and log a warning, so the scope carries no id rather than someone else's.
//!
//! ```
//! use baker_otel::context::{self, BakerScope, InvalidId};
//! use opentelemetry::baggage::BaggageExt;
//!
//! // A client sent `baggage: gen_ai.conversation.id=victim-conv`.
//! let inbound = opentelemetry::Context::new()
//!     .with_baggage([opentelemetry::KeyValue::new(context::CONVERSATION_ID, "victim-conv")]);
//! let too_long = "x".repeat(300);
//! let err = BakerScope::from_context(inbound.clone()).try_conversation_id(too_long.clone()).unwrap_err();
//! assert!(matches!(err, InvalidId::TooLong { len: 300, .. }));
//! let cx = BakerScope::from_context(inbound).conversation_id(too_long).context();
//! assert_eq!(context::ids(&cx).0, None); // not "victim-conv"
//! ```

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue};

/// Baggage key and span attribute of the conversation id (GenAI semantic conventions).
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Baggage key and span attribute of the job id.
pub const JOB_ID: &str = "baker.job.id";

/// Largest id (bytes) carried; longer values (e.g. hostile baggage) are ignored on read and
/// rejected on write.
pub const MAX_ID_LEN: usize = 256;

/// Why an id given to [`BakerScope`] cannot be used.
///
/// ```
/// use baker_otel::context::{validate_id, InvalidId, CONVERSATION_ID};
/// assert_eq!(validate_id(CONVERSATION_ID, ""), Err(InvalidId::Empty { key: CONVERSATION_ID }));
/// assert!(validate_id(CONVERSATION_ID, "conv-42").is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidId {
    /// The id is empty.
    #[error("{key} is empty")]
    Empty {
        /// Baggage key of the id.
        key: &'static str,
    },
    /// The id is longer than [`MAX_ID_LEN`] bytes.
    #[error("{key} is {len} bytes long (at most {max})", max = MAX_ID_LEN)]
    TooLong {
        /// Baggage key of the id.
        key: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The id contains a control character.
    #[error("{key} contains a control character")]
    ControlCharacter {
        /// Baggage key of the id.
        key: &'static str,
    },
}

/// Checks that `value` can be carried as the id `key` (non-empty, at most [`MAX_ID_LEN`] bytes,
/// no control characters).
///
/// ```
/// use baker_otel::context::{validate_id, InvalidId, JOB_ID};
/// assert_eq!(validate_id(JOB_ID, &"j".repeat(257)), Err(InvalidId::TooLong { key: JOB_ID, len: 257 }));
/// assert_eq!(validate_id(JOB_ID, "a\nb"), Err(InvalidId::ControlCharacter { key: JOB_ID }));
/// ```
pub fn validate_id(key: &'static str, value: &str) -> Result<(), InvalidId> {
    if value.is_empty() {
        return Err(InvalidId::Empty { key });
    }
    if value.len() > MAX_ID_LEN {
        return Err(InvalidId::TooLong {
            key,
            len: value.len(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidId::ControlCharacter { key });
    }
    Ok(())
}

/// Builder for a context carrying Baker ids on top of an existing [`Context`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BakerScope {
    cx: Context,
}

impl BakerScope {
    /// Starts from the current OpenTelemetry context (current span and baggage).
    pub fn current() -> Self {
        Self {
            cx: Context::current(),
        }
    }

    /// Starts from an explicit context (e.g. one extracted from message headers).
    pub fn from_context(cx: Context) -> Self {
        Self { cx }
    }

    /// Sets the conversation id, replacing any inherited one. An invalid id (see
    /// [`validate_id`]) removes the inherited id instead and logs a warning: the scope then
    /// carries no conversation id — never the inherited one. Use
    /// [`try_conversation_id`](Self::try_conversation_id) to reject the input instead.
    ///
    /// ```
    /// use baker_otel::context::{self, BakerScope};
    /// let cx = BakerScope::from_context(opentelemetry::Context::new()).conversation_id("c1").context();
    /// assert_eq!(context::ids(&cx).0.as_deref(), Some("c1"));
    /// ```
    pub fn conversation_id(self, id: impl Into<String>) -> Self {
        self.with_or_clear(CONVERSATION_ID, id.into())
    }

    /// Sets the job id, replacing any inherited one; an invalid id removes the inherited one
    /// (see [`conversation_id`](Self::conversation_id)).
    ///
    /// ```
    /// use baker_otel::context::{self, BakerScope};
    /// let cx = BakerScope::from_context(opentelemetry::Context::new()).job_id("").context();
    /// assert_eq!(context::ids(&cx).1, None);
    /// ```
    pub fn job_id(self, id: impl Into<String>) -> Self {
        self.with_or_clear(JOB_ID, id.into())
    }

    /// Sets the conversation id, or returns why it cannot be carried (the caller rejects the
    /// request: a typed outcome, never a fallback to the inherited value).
    ///
    /// ```
    /// use baker_otel::context::{BakerScope, InvalidId};
    /// let r = BakerScope::from_context(opentelemetry::Context::new()).try_conversation_id("x".repeat(300));
    /// assert!(matches!(r, Err(InvalidId::TooLong { .. })));
    /// ```
    pub fn try_conversation_id(self, id: impl Into<String>) -> Result<Self, InvalidId> {
        let id = id.into();
        validate_id(CONVERSATION_ID, &id)?;
        Ok(self.with(CONVERSATION_ID, Some(id)))
    }

    /// Sets the job id, or returns why it cannot be carried.
    ///
    /// ```
    /// use baker_otel::context::BakerScope;
    /// assert!(BakerScope::from_context(opentelemetry::Context::new()).try_job_id("job-7").is_ok());
    /// ```
    pub fn try_job_id(self, id: impl Into<String>) -> Result<Self, InvalidId> {
        let id = id.into();
        validate_id(JOB_ID, &id)?;
        Ok(self.with(JOB_ID, Some(id)))
    }

    fn with_or_clear(self, key: &'static str, value: String) -> Self {
        match validate_id(key, &value) {
            Ok(()) => self.with(key, Some(value)),
            Err(e) => {
                let scope = self.with(key, None);
                // Logged in the new scope without Baker ids: the line carries no inherited id.
                let quiet = scope.clone().with(CONVERSATION_ID, None).with(JOB_ID, None);
                let _g = quiet.cx.attach();
                tracing::warn!(
                    target: crate::INTERNAL_TARGET,
                    error = %e,
                    "invalid Baker id not set; the inherited value is removed"
                );
                scope
            }
        }
    }

    /// Replaces `key` (or removes it for `None`). Baggage already at the W3C limits (64
    /// entries, 8 KiB) must lose something, and the order of insertion decides what: the new
    /// id goes in first, then the other Baker id the context carries, then the inherited
    /// entries. So an inherited entry is dropped, never an id set here — deterministically: the
    /// inherited entries come in the baggage map's hash order, which must never decide.
    fn with(self, key: &'static str, value: Option<String>) -> Self {
        let inherited = self.cx.baggage();
        let mut kvs: Vec<opentelemetry::baggage::KeyValueMetadata> =
            Vec::with_capacity(inherited.len() + 1);
        if let Some(v) = value {
            // Reference-counted: every span and log record in the scope copies the id.
            let v = opentelemetry::StringValue::from(std::sync::Arc::<str>::from(v));
            kvs.push(KeyValue::new(key, v).into());
        }
        let entry = |k: &opentelemetry::Key,
                     (v, m): &(
            opentelemetry::StringValue,
            opentelemetry::baggage::BaggageMetadata,
        )| {
            opentelemetry::baggage::KeyValueMetadata::new(k.clone(), v.clone(), m.clone())
        };
        // The other Baker id next (it was set by this application or its caller's scope).
        for other in [CONVERSATION_ID, JOB_ID] {
            if other != key {
                if let Some(vm) = inherited.get_with_metadata(other) {
                    kvs.push(entry(&opentelemetry::Key::from_static_str(other), vm));
                }
            }
        }
        kvs.extend(
            inherited
                .iter()
                .filter(|(k, _)| k.as_str() != CONVERSATION_ID && k.as_str() != JOB_ID)
                .map(|(k, vm)| entry(k, vm)),
        );
        Self {
            cx: self.cx.with_baggage(kvs),
        }
    }

    /// The resulting context.
    pub fn context(&self) -> Context {
        self.cx.clone()
    }

    /// Records the ids on the active span (which started before they were known) and attaches
    /// the context until the guard drops. Use [`instrument`](Self::instrument) in async code.
    pub fn attach(self) -> ContextGuard {
        record_on_current_span(&self.cx);
        self.cx.attach()
    }

    /// Runs `f` inside the scope.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _g = self.attach();
        f()
    }

    /// Runs a future inside the scope (the context is attached on every poll).
    pub fn instrument<F: std::future::Future>(
        self,
        fut: F,
    ) -> opentelemetry::context::WithContext<F> {
        record_on_current_span(&self.cx);
        fut.with_context(self.cx)
    }
}

fn record_on_current_span(cx: &Context) {
    let (conv, job) = ids(cx);
    if conv.is_none() && job.is_none() {
        return;
    }
    // The active OpenTelemetry span: the entered `tracing` span (context activation) or a span
    // an integration started directly with the SDK and attached (e.g. the HTTP server span).
    Context::map_current(|current| {
        let span = current.span();
        if let Some(c) = conv {
            span.set_attribute(KeyValue::new(CONVERSATION_ID, c));
        }
        if let Some(j) = job {
            span.set_attribute(KeyValue::new(JOB_ID, j));
        }
    });
}

/// The conversation and job ids carried by `cx`.
///
/// ```
/// use baker_otel::context::{ids, BakerScope};
/// let cx = BakerScope::from_context(opentelemetry::Context::new()).job_id("j1").context();
/// assert_eq!(ids(&cx), (None, Some("j1".to_string())));
/// ```
pub fn ids(cx: &Context) -> (Option<String>, Option<String>) {
    let (c, j) = id_refs(cx);
    (c.map(str::to_owned), j.map(str::to_owned))
}

/// The conversation id carried by `cx`'s baggage, borrowed (no allocation): for code that sees a
/// parent context rather than the current one, such as a sampler of the service's own
/// ([`TelemetryBuilder::with_sampler`](crate::TelemetryBuilder::with_sampler)). Like [`ids`],
/// it ignores an id longer than [`MAX_ID_LEN`] bytes. The same as
/// `cx.baggage().get(CONVERSATION_ID)`, without the length check.
///
/// ```
/// use baker_otel::context::{conversation_id_in, BakerScope};
/// let cx = BakerScope::from_context(opentelemetry::Context::new()).conversation_id("c1").context();
/// assert_eq!(conversation_id_in(&cx), Some("c1"));
/// assert_eq!(conversation_id_in(&opentelemetry::Context::new()), None);
/// ```
pub fn conversation_id_in(cx: &Context) -> Option<&str> {
    id_refs(cx).0
}

/// The job id carried by `cx`'s baggage, borrowed (see [`conversation_id_in`]).
///
/// ```
/// use baker_otel::context::{job_id_in, BakerScope};
/// let cx = BakerScope::from_context(opentelemetry::Context::new()).job_id("j1").context();
/// assert_eq!(job_id_in(&cx), Some("j1"));
/// ```
pub fn job_id_in(cx: &Context) -> Option<&str> {
    id_refs(cx).1
}

/// The ids borrowed from `cx`'s baggage (no allocation: used on the log hot path).
#[inline]
pub(crate) fn id_refs(cx: &Context) -> (Option<&str>, Option<&str>) {
    let (c, j) = id_values(cx);
    (c.map(|v| v.as_str()), j.map(|v| v.as_str()))
}

/// The two ids in `cx`'s baggage (ignoring any longer than [`MAX_ID_LEN`]). Small baggage is
/// scanned rather than looked up: comparing a few keys costs far less than SipHashing both.
#[inline]
fn id_values(
    cx: &Context,
) -> (
    Option<&opentelemetry::StringValue>,
    Option<&opentelemetry::StringValue>,
) {
    let b = cx.baggage();
    if b.is_empty() {
        return (None, None);
    }
    let ok = |v: &&opentelemetry::StringValue| v.as_str().len() <= MAX_ID_LEN;
    if b.len() > 8 {
        return (b.get(CONVERSATION_ID).filter(ok), b.get(JOB_ID).filter(ok));
    }
    let (mut conv, mut job) = (None, None);
    for (k, (v, _)) in b {
        match k.as_str() {
            CONVERSATION_ID => conv = Some(v),
            JOB_ID => job = Some(v),
            _ => {}
        }
    }
    (conv.filter(ok), job.filter(ok))
}

/// The current conversation id, if any.
///
/// ```
/// assert_eq!(baker_otel::context::conversation_id(), None);
/// ```
pub fn conversation_id() -> Option<String> {
    Context::map_current(|cx| ids(cx).0)
}

/// The current job id, if any.
///
/// ```
/// assert_eq!(baker_otel::context::job_id(), None);
/// ```
pub fn job_id() -> Option<String> {
    Context::map_current(|cx| ids(cx).1)
}

/// Adds the Baker ids found in `cx`'s baggage to `attrs` (used by the span and log processors).
#[inline]
pub(crate) fn push_id_attributes(
    cx: &Context,
    mut push: impl FnMut(&'static str, opentelemetry::StringValue),
) {
    let (conv, job) = id_values(cx);
    if let Some(v) = conv {
        push(CONVERSATION_ID, v.clone());
    }
    if let Some(v) = job {
        push(JOB_ID, v.clone());
    }
}
