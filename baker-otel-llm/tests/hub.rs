//! The LLM state belongs to a hub: captures in parallel threads each use their own settings and
//! instruments, and the order of setup does not matter (a span before `build()` works with the
//! defaults, pricing included; after `build()` the built settings apply).
use baker_otel::testing::Capture;
use baker_otel_llm::{llm_span, LlmTelemetry, Usage};

fn one_call(model: &str) {
    let llm = llm_span!(model = model.to_owned());
    llm.record_usage(Usage {
        input_tokens: 1000,
        output_tokens: 100,
        ..Default::default()
    });
}

fn provider_and_cost(c: &Capture, name: &str) -> (String, bool) {
    let s = c.span(name);
    let provider = Capture::attr(&s, "gen_ai.provider.name")
        .map(|v| v.to_string())
        .unwrap_or_default();
    (
        provider,
        Capture::attr(&s, "gen_ai.usage.cost.amount").is_some(),
    )
}

#[test]
fn parallel_hubs_keep_their_own_llm_settings() {
    let run = |provider: Option<&'static str>| {
        std::thread::spawn(move || {
            let capture = Capture::new();
            if let Some(p) = provider {
                LlmTelemetry::builder(capture.telemetry())
                    .default_provider(p)
                    .build()
                    .unwrap();
            }
            for _ in 0..3 {
                capture.in_scope(|| one_call("gpt-4o"));
            }
            let (prov, priced) = provider_and_cost(&capture, "chat gpt-4o");
            (
                prov,
                priced,
                capture.histogram_count("gen_ai.client.operation.duration"),
            )
        })
    };
    let (a, b) = (run(Some("openai")), run(None));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(a, ("openai".to_owned(), true, Some(3)));
    // No LlmTelemetry built for this hub: the defaults, with pricing on.
    assert_eq!(b.0, "_OTHER");
    assert_eq!(b.2, Some(3));
}

#[test]
fn setup_order_does_not_matter() {
    let capture = Capture::new();
    capture.in_scope(|| one_call("gpt-4o-mini"));
    let before = provider_and_cost(&capture, "chat gpt-4o-mini");
    assert_eq!(before.0, "_OTHER");
    LlmTelemetry::builder(capture.telemetry())
        .default_provider("openai")
        .build()
        .unwrap();
    capture.in_scope(|| one_call("gpt-4o"));
    assert_eq!(
        provider_and_cost(&capture, "chat gpt-4o"),
        ("openai".to_owned(), true)
    );
    // Both calls reached the same hub's instruments.
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.duration"),
        Some(2)
    );
}
