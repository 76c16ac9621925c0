//! Renders one trace as an indented tree: service, span name, kind, duration, and for LLM spans
//! model, tokens and cost.

use super::collector::SpanRecord;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The tree of `spans` (one trace), one line per span, children after their parent in start order.
///
/// ```
/// assert_eq!(agent_pipeline::demo::tree::render(&[]), "");
/// ```
pub fn render(spans: &[SpanRecord]) -> String {
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        if s.parent_span_id.is_empty() || !ids.contains(s.parent_span_id.as_str()) {
            roots.push(s);
        } else {
            children
                .entry(s.parent_span_id.as_str())
                .or_default()
                .push(s);
        }
    }
    roots.sort_by_key(|s| s.start_ns);
    for c in children.values_mut() {
        c.sort_by_key(|s| s.start_ns);
    }
    let mut out = String::new();
    let mut stack: Vec<(&SpanRecord, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((s, depth)) = stack.pop() {
        line(&mut out, s, depth);
        if let Some(cs) = children.get(s.span_id.as_str()) {
            stack.extend(cs.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    out
}

fn line(out: &mut String, s: &SpanRecord, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = write!(
        out,
        "  {:<7}{:>9.2} ms  {indent}{} [{}]",
        s.service,
        s.duration_ms(),
        s.name,
        s.kind.as_str()
    );
    if let Some(extra) = llm_details(s) {
        let _ = write!(out, "  {extra}");
    }
    if s.error {
        let msg = if s.status_message.is_empty() {
            s.attr_str("error.type").unwrap_or("error")
        } else {
            &s.status_message
        };
        let _ = write!(out, "  ERROR: {msg}");
    }
    out.push('\n');
}

/// Whether `s` is one LLM call (`chat …` / `embeddings …` CLIENT span with usage).
///
/// ```
/// assert!(!agent_pipeline::demo::tree::is_llm_call(&Default::default()));
/// ```
pub fn is_llm_call(s: &SpanRecord) -> bool {
    matches!(
        s.attr_str("gen_ai.operation.name"),
        Some("chat" | "embeddings" | "text_completion" | "generate_content")
    ) && s.attr_f64("gen_ai.usage.input_tokens").is_some()
}

/// For LLM calls `model=… tokens=in→out cost=$… [ttfc=… ms]`; for agent and iteration spans the
/// rolled-up `calls=N tokens=in→out cost=$…`.
///
/// ```
/// fn show(span: &agent_pipeline::demo::collector::SpanRecord) {
///     if let Some(d) = agent_pipeline::demo::tree::llm_details(span) { println!("{d}") }
/// }
/// ```
pub fn llm_details(s: &SpanRecord) -> Option<String> {
    let input = s.attr_f64("gen_ai.usage.input_tokens")?;
    let output = s.attr_f64("gen_ai.usage.output_tokens").unwrap_or(0.0);
    let mut text = if is_llm_call(s) {
        let model = s
            .attr_str("gen_ai.response.model")
            .or_else(|| s.attr_str("gen_ai.request.model"))
            .unwrap_or("?");
        let mut t = format!("model={model}");
        if let Some(role) = s.attr_str("baker.llm.role") {
            let _ = write!(t, " role={role}");
        }
        if let Some(i) = s.attr_f64("baker.agent.iteration") {
            let _ = write!(t, " iteration={i}");
        }
        let _ = write!(t, " tokens={input}→{output}");
        t
    } else {
        let calls = s.attr_f64("baker.llm.calls").unwrap_or(0.0);
        let mut t = format!("calls={calls}");
        if let Some(n) = s.attr_f64("baker.agent.iteration_count") {
            let _ = write!(t, " iterations={n}");
        }
        let _ = write!(t, " tokens={input}→{output}");
        t
    };
    if let Some(cost) = cost_of(s) {
        let currency = s.attr_str("gen_ai.usage.cost.currency").unwrap_or("USD");
        if currency == "USD" {
            let _ = write!(text, " cost=${cost:.6}");
        } else {
            let _ = write!(text, " cost={cost:.6} {currency}");
        }
    }
    if let Some(t) = s.attr_f64("gen_ai.response.time_to_first_chunk") {
        let _ = write!(text, " ttfc={:.2} ms", t * 1000.0);
    }
    Some(text)
}

/// The cost of an LLM call, or the rolled-up cost of an agent or iteration span
/// (`gen_ai.usage.cost.amount`, written by baker-otel-llm when the model is priced).
///
/// ```
/// fn cost(span: &agent_pipeline::demo::collector::SpanRecord) -> f64 {
///     agent_pipeline::demo::tree::cost_of(span).unwrap_or(0.0)
/// }
/// ```
pub fn cost_of(s: &SpanRecord) -> Option<f64> {
    s.attr_f64("gen_ai.usage.cost.amount")
}
