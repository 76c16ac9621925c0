//! [`LlmSpan`]: one LLM call (`chat {model}` / `embeddings {model}`, CLIENT).

use super::handle::{sealed, SpanHandle};
use super::outcome::{DynReports, Outcome};
use crate::accumulator::{self, Accumulator};
use crate::args::LlmArgs;
use crate::content::ContentKind;
use crate::pricing::Cost;
use crate::semconv as sc;
use crate::telemetry::shared;
use crate::Usage;
use baker_otel::OpenTelemetrySpanExt;
use opentelemetry::{Array, StringValue, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    usage: Option<Usage>,
    cost: Option<Cost>,
    ttft: Option<Duration>,
}

/// An LLM call in progress, created by [`llm_span!`](crate::llm_span) or
/// [`embeddings_span!`](crate::embeddings_span) (or by `#[llm_call]`). The span ends, and the
/// duration, token, cost metrics are recorded and rolled up, when the handle is dropped or
/// [`end`](SpanHandle::end)ed.
///
/// ```
/// use baker_otel_llm::{llm_span, Usage};
/// let span = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic", role = "assistant", iteration = 1);
/// span.in_scope(|| { /* call the model */ });
/// span.record_usage(Usage { input_tokens: 812, output_tokens: 97, ..Default::default() });
/// span.record_response_id("msg_01");
/// span.record_finish_reasons(&["end_turn"]);
/// span.end();
/// ```
pub type LlmSpan = SpanHandle<Llm>;

/// The kind of an [`LlmSpan`]: the call's labels, the agent scope it rolls up into, and what it
/// reported (usage, cost, time to first chunk) for the metrics at the end.
///
/// ```
/// let span: baker_otel_llm::SpanHandle<baker_otel_llm::kind::Llm> =
///     baker_otel_llm::embeddings_span!(model = "text-embedding-3-small", provider = "openai");
/// span.record_response_model("text-embedding-3-small");
/// ```
pub struct Llm {
    operation: StringValue,
    provider: StringValue,
    model: StringValue,
    acc: Option<Arc<Accumulator>>,
    conversation: Option<String>,
    embeddings: bool,
    state: Mutex<State>,
}

impl sealed::Kind for Llm {
    const NAME: &'static str = "LlmSpan";
    const ERROR_CONTENT: ContentKind = ContentKind::Output;

    fn report(h: &SpanHandle<Self>, r: &dyn DynReports) {
        if let Some(u) = r.usage() {
            h.record_usage(u);
        }
        if let Some(id) = r.response_id() {
            h.record_response_id(id);
        }
        if let Some(m) = r.response_model() {
            h.record_response_model(m);
        }
        h.record_finish_reasons(&r.finish_reasons());
        // Serialised only when the policy captures output.
        if h.captures(ContentKind::Output) {
            if let Some(m) = r.output_messages() {
                h.record_output_messages_json(m);
            }
        }
    }

    fn end(h: &SpanHandle<Self>, elapsed: f64, error: Option<String>) {
        let Ok(mut st) = h.kind.state.lock() else {
            return;
        };
        let st = std::mem::take(&mut *st);
        let (k, shared) = (&h.kind, &h.shared);
        let ins = &shared.instruments;
        let agent = k.acc.as_ref().and_then(|a| a.agent_name.as_ref());
        let labels = shared.labels.call(
            ins,
            &shared.label_values,
            &k.operation,
            &k.provider,
            &k.model,
            agent,
        );
        labels.record_duration(ins, elapsed, error.as_deref());
        if let Some(t) = st.ttft {
            ins.ttft.record(t.as_secs_f64(), &labels.base);
        }
        let Some(u) = st.usage else { return };
        let output = (!k.embeddings).then_some(u.output_tokens);
        labels.record_tokens(ins, u.input_tokens, output);
        let priced = shared.pricing.is_some();
        match &st.cost {
            Some(cost) => {
                labels.add_cost(ins, cost);
                if let Some(conv) = &k.conversation {
                    shared.add_conversation_cost(conv, cost);
                }
            }
            None if priced => ins.unpriced.add(1, &labels.unpriced),
            None => {}
        }
        if let Some(acc) = &k.acc {
            acc.add(Some(&u), st.cost.as_ref(), priced && st.cost.is_none());
        }
    }

    fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("model", &self.model.as_str());
    }
}

impl SpanHandle<Llm> {
    pub(crate) fn start(span: tracing::Span, a: LlmArgs) -> Self {
        let shared = shared();
        let acc = accumulator::current();
        if a.iteration.is_none() {
            if let Some(i) = acc.as_ref().and_then(|a| a.iteration()) {
                span.record(sc::BAKER_AGENT_ITERATION, i);
            }
        }
        let conversation = shared
            .conversation_budget
            .as_ref()
            .and_then(|_| opentelemetry::Context::map_current(|cx| baker_otel::context::ids(cx).0));
        let operation = a.operation.unwrap_or(StringValue::from("chat"));
        let embeddings = operation.as_str() == "embeddings";
        let provider = a
            .provider
            .unwrap_or_else(|| shared.default_provider.clone());
        let kind = Llm {
            operation,
            provider,
            model: a.model,
            acc,
            conversation,
            embeddings,
            state: Mutex::new(State::default()),
        };
        Self::new(span, shared, kind)
    }

    /// Records token usage (replacing earlier usage) and the call's cost.
    #[inline]
    pub fn record_usage(&self, u: Usage) {
        let cost = self
            .shared
            .pricing
            .as_ref()
            .and_then(|p| p.cost(self.kind.provider.as_str(), self.kind.model.as_str(), &u));
        self.write_usage(&u, cost.as_ref());
        if let Ok(mut s) = self.kind.state.lock() {
            s.usage = Some(u);
            s.cost = cost;
        }
    }

    fn write_usage(&self, u: &Usage, cost: Option<&Cost>) {
        if self.span.is_disabled() {
            return;
        }
        // Breakdown counts only when reported (non-zero), straight onto the OpenTelemetry span.
        for (key, v) in [
            (
                sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                u.cache_read_input_tokens,
            ),
            (
                self.shared.names.cache_creation_tokens,
                u.cache_creation_input_tokens,
            ),
            (
                sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                u.reasoning_output_tokens,
            ),
        ] {
            if v > 0 {
                self.span
                    .set_attribute(key, i64::try_from(v).unwrap_or(i64::MAX));
            }
        }
        if cost.is_some() {
            self.span
                .set_attribute(sc::GEN_AI_USAGE_COST_SOURCE, sc::COST_SOURCE_LOCAL);
        }
        let Some(meta) = self.span.metadata() else {
            return;
        };
        let fields = meta.fields();
        let Some([fi, fo, fa, fc]) = usage_fields(fields) else {
            return;
        };
        let amount = cost.map(|c| c.amount);
        let currency = cost.map(|c| c.currency.as_str());
        use tracing::field::Value as V;
        // i64, not u64: OTLP has no unsigned integer type.
        let (input, output) = (
            crate::spans::int(u.input_tokens),
            crate::spans::int(u.output_tokens),
        );
        let values: [(&tracing::field::Field, Option<&dyn V>); 4] = [
            (&fi, Some(&input as &dyn V)),
            (&fo, Some(&output as &dyn V)),
            (&fa, amount.as_ref().map(|v| v as &dyn V)),
            (&fc, currency.as_ref().map(|v| v as &dyn V)),
        ];
        self.span.record_all(&fields.value_set(&values));
    }

    /// Records everything a response reports through [`ReportsUsage`](crate::ReportsUsage):
    /// usage, response id, response model, finish reasons.
    pub fn record_response<R: crate::ReportsUsage>(&self, r: &R) {
        self.report(r)
    }

    /// `gen_ai.response.id`.
    pub fn record_response_id(&self, id: &str) {
        self.span
            .set_attribute(sc::GEN_AI_RESPONSE_ID, id.to_owned());
    }

    /// `gen_ai.response.model`.
    pub fn record_response_model(&self, model: &str) {
        self.span
            .set_attribute(sc::GEN_AI_RESPONSE_MODEL, model.to_owned());
    }

    /// `gen_ai.response.finish_reasons` (string array).
    pub fn record_finish_reasons(&self, reasons: &[&str]) {
        if !reasons.is_empty() && !self.span.is_disabled() {
            let v: Vec<StringValue> = reasons
                .iter()
                .map(|r| StringValue::from((*r).to_owned()))
                .collect();
            self.span.set_attribute(
                sc::GEN_AI_RESPONSE_FINISH_REASONS,
                Value::Array(Array::String(v)),
            );
        }
    }

    /// Records the time to the first streamed chunk (`gen_ai.response.time_to_first_chunk`, metric).
    pub fn record_time_to_first_chunk(&self, d: Duration) {
        self.span
            .set_attribute(sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, d.as_secs_f64());
        if let Ok(mut s) = self.kind.state.lock() {
            s.ttft = Some(d);
        }
    }

    /// `gen_ai.input.messages` (JSON), if the content policy allows; redacted and truncated.
    pub fn record_input_messages(&self, json: &str) {
        self.content(ContentKind::Input, sc::GEN_AI_INPUT_MESSAGES, json)
    }
    /// `gen_ai.output.messages` (JSON), if the content policy allows; redacted and truncated.
    pub fn record_output_messages(&self, json: &str) {
        self.content(ContentKind::Output, sc::GEN_AI_OUTPUT_MESSAGES, json)
    }
    /// `gen_ai.system_instructions`, if the content policy allows; redacted and truncated.
    pub fn record_system_instructions(&self, text: &str) {
        self.content(
            ContentKind::SystemInstructions,
            sc::GEN_AI_SYSTEM_INSTRUCTIONS,
            text,
        )
    }

    /// `gen_ai.input.messages` from a JSON value (e.g.
    /// [`LlmRequest::input_messages`](crate::LlmRequest::input_messages)), if the content policy
    /// allows; redacted on its parsed string values, then truncated.
    ///
    /// ```
    /// let span = baker_otel_llm::llm_span!(model = "m");
    /// span.record_input_messages_json(serde_json::json!([{"role": "user", "parts": []}]));
    /// ```
    pub fn record_input_messages_json(&self, messages: serde_json::Value) {
        if let Some(v) = self
            .shared
            .capture
            .prepare_json(ContentKind::Input, messages)
        {
            self.span.set_attribute(sc::GEN_AI_INPUT_MESSAGES, v);
        }
    }
    /// `gen_ai.output.messages` from a JSON value, if the content policy allows; redacted and
    /// truncated.
    ///
    /// ```
    /// let span = baker_otel_llm::llm_span!(model = "m");
    /// span.record_output_messages_json(serde_json::json!([{"role": "assistant", "parts": []}]));
    /// ```
    pub fn record_output_messages_json(&self, messages: serde_json::Value) {
        if let Some(v) = self
            .shared
            .capture
            .prepare_json(ContentKind::Output, messages)
        {
            self.span.set_attribute(sc::GEN_AI_OUTPUT_MESSAGES, v);
        }
    }

    fn content(&self, kind: ContentKind, field: &'static str, text: &str) {
        if let Some(v) = self.shared.capture.prepare(kind, text) {
            self.span.set_attribute(field, v);
        }
    }

    /// Marks the call cancelled (`baker.llm.cancelled=true`, `error.type=cancelled`).
    pub(crate) fn cancel(&self) {
        self.span.set_attribute(sc::BAKER_LLM_CANCELLED, true);
        self.span.record(sc::ERROR_TYPE, "cancelled");
        if let Ok(mut e) = self.error.lock() {
            *e = Some("cancelled".into());
        }
    }
}

/// Usage fields of `__llm_span_impl!`, in the order they are declared there (from `USAGE_AT`).
const USAGE_FIELDS: [&str; 4] = [
    sc::GEN_AI_USAGE_INPUT_TOKENS,
    sc::GEN_AI_USAGE_OUTPUT_TOKENS,
    sc::GEN_AI_USAGE_COST_AMOUNT,
    sc::GEN_AI_USAGE_COST_CURRENCY,
];
const USAGE_AT: usize = 12;

/// The input, output, cost and currency fields: by position when the span comes from
/// `__llm_span_impl!` (one pass, no name search), else by name.
#[inline]
fn usage_fields(fields: &tracing::field::FieldSet) -> Option<[tracing::field::Field; 4]> {
    let mut it = fields.iter().skip(USAGE_AT);
    let got: [Option<tracing::field::Field>; 4] = std::array::from_fn(|_| it.next());
    let positional = USAGE_FIELDS
        .iter()
        .zip(&got)
        .all(|(n, f)| f.as_ref().is_some_and(|f| f.name() == *n));
    if positional {
        let [i, o, a, c] = got;
        return Some([i?, o?, a?, c?]);
    }
    Some([
        fields.field(sc::GEN_AI_USAGE_INPUT_TOKENS)?,
        fields.field(sc::GEN_AI_USAGE_OUTPUT_TOKENS)?,
        fields.field(sc::GEN_AI_USAGE_COST_AMOUNT)?,
        fields.field(sc::GEN_AI_USAGE_COST_CURRENCY)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_usage_fields_match_names() {
        let _g = tracing::subscriber::set_default(tracing_subscriber::registry());
        let span = crate::llm_span!(model = "m", provider = "p");
        let fields = span.span().metadata().map(|m| m.fields()).expect("enabled");
        let got = usage_fields(fields).expect("fields");
        let names: Vec<&str> = got.iter().map(tracing::field::Field::name).collect();
        assert_eq!(names, USAGE_FIELDS);
        assert_eq!(
            got[0].name(),
            fields.iter().nth(USAGE_AT).expect("field").name()
        );
        // A span declared elsewhere (different field order) still resolves by name.
        let other = tracing::info_span!(
            "x",
            gen_ai.usage.cost.currency = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cost.amount = tracing::field::Empty,
        );
        let f = other.metadata().map(|m| m.fields()).expect("enabled");
        let got = usage_fields(f).expect("fields");
        assert_eq!(got[0].name(), sc::GEN_AI_USAGE_INPUT_TOKENS);
        assert_eq!(got[3].name(), sc::GEN_AI_USAGE_COST_CURRENCY);
    }
}
