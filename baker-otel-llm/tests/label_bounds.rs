//! Security audit 2026-12, finding 7: strings a model (or a prompt injection) chooses — tool
//! names, model, provider and agent names — must not mint metric series without bound. Every
//! such label goes through the hub's bounded-values guard: at most the bound distinct values,
//! plus `_OTHER`. Span attributes keep the raw value.

use baker_otel::testing::Capture;
use baker_otel_llm::{agent_span, llm_span, tool_span, LlmTelemetry, Usage, MAX_LABEL_VALUES};
use std::collections::BTreeSet;

/// Distinct values of `label` on the `{metric}_count` series of the Prometheus text the
/// capture's `/metrics` reader renders.
fn distinct(capture: &Capture, metric: &str, label: &str) -> BTreeSet<String> {
    let text = capture.prometheus_text();
    let needle = format!("{label}=\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .filter_map(|l| {
            let at = l.find(&needle)? + needle.len();
            let end = l[at..].find('"')? + at;
            Some(l[at..end].to_owned())
        })
        .collect()
}

#[test]
fn five_thousand_model_chosen_tool_names_stay_within_the_bound() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .bundled_prices(false)
        .build()
        .unwrap();
    capture.in_scope(|| {
        for i in 0..5000 {
            let t = tool_span!(format!("t{i}"), call_id = "c");
            t.end();
        }
    });
    let names = distinct(
        &capture,
        "baker_tool_duration_seconds_count",
        "gen_ai_tool_name",
    );
    assert!(
        names.len() <= MAX_LABEL_VALUES + 1,
        "{} distinct tool names",
        names.len()
    );
    assert!(
        names.contains("t0") && names.contains("_OTHER"),
        "{names:?}"
    );
    assert_eq!(
        capture.histogram_count("baker.tool.duration"),
        Some(5000),
        "every call still counts"
    );
    // The span keeps the raw name.
    let last = capture.span("execute_tool t4999");
    assert_eq!(
        Capture::attr(&last, "gen_ai.tool.name").map(|v| v.to_string()),
        Some("t4999".to_owned())
    );
}

#[test]
fn model_provider_and_agent_names_stay_within_the_bound() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .bundled_prices(false)
        .build()
        .unwrap();
    capture.in_scope(|| {
        for i in 0..3000 {
            let agent = agent_span!(format!("agent-{i}"));
            agent.in_scope(|| {
                let llm = llm_span!(model = format!("m-{i}"), provider = format!("p-{i}"));
                llm.record_usage(Usage {
                    input_tokens: 1,
                    output_tokens: 1,
                    ..Default::default()
                });
            });
        }
    });
    let prom = capture.prometheus_text();
    for label in [
        "gen_ai_request_model",
        "gen_ai_provider_name",
        "gen_ai_agent_name",
    ] {
        // Every exported metric that carries the label.
        let metrics: BTreeSet<&str> = prom
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(&format!("{label}=\"")))
            .filter_map(|l| l.split('{').next())
            .collect();
        assert!(!metrics.is_empty(), "no metric has {label}:\n{prom}");
        for metric in metrics {
            let v = distinct(&capture, metric, label);
            assert!(
                v.len() <= MAX_LABEL_VALUES + 1,
                "{metric}{{{label}}}: {} values",
                v.len()
            );
        }
    }
}
