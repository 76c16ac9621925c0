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

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue};

/// Baggage key and span attribute of the conversation id (GenAI semantic conventions).
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Baggage key and span attribute of the job id.
pub const JOB_ID: &str = "baker.job.id";

/// Largest id kept; longer values (e.g. hostile baggage) are ignored.
const MAX_ID_LEN: usize = 256;

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

    /// Sets the conversation id.
    pub fn conversation_id(self, id: impl Into<String>) -> Self {
        self.with(CONVERSATION_ID, id.into())
    }

    /// Sets the job id.
    pub fn job_id(self, id: impl Into<String>) -> Self {
        self.with(JOB_ID, id.into())
    }

    fn with(self, key: &'static str, value: String) -> Self {
        if value.len() > MAX_ID_LEN {
            return self;
        }
        let mut kvs: Vec<KeyValue> = self
            .cx
            .baggage()
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
            .collect();
        kvs.push(KeyValue::new(key, value));
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

/// The ids borrowed from `cx`'s baggage (no allocation: used on the log hot path).
#[inline]
pub(crate) fn id_refs(cx: &Context) -> (Option<&str>, Option<&str>) {
    let b = cx.baggage();
    if b.is_empty() {
        return (None, None);
    }
    let get = |k: &str| {
        b.get(k)
            .map(|v| v.as_str())
            .filter(|v| v.len() <= MAX_ID_LEN)
    };
    (get(CONVERSATION_ID), get(JOB_ID))
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
    let b = cx.baggage();
    if b.is_empty() {
        return;
    }
    for key in [CONVERSATION_ID, JOB_ID] {
        if let Some(v) = b.get(key) {
            if v.as_str().len() <= MAX_ID_LEN {
                push(key, v.clone());
            }
        }
    }
}
