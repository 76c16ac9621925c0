//! Price override files (valid and malformed), unknown models, budgets.

use baker_otel::context::BakerScope;
use baker_otel::testing::Capture;
use baker_otel_llm::pricing::{load_overrides, Pricing};
use baker_otel_llm::{llm_span, Budget, JobUsage, LlmTelemetry, PricingError, Usage};
use std::io::Write;

fn file(ext: &str, body: &str) -> tempfile_path::TempPath {
    tempfile_path::write(ext, body)
}

/// Tiny temp-file helper (no extra dependency).
mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    pub fn write(ext: &str, body: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!(
            "baker-llm-prices-{}-{}.{ext}",
            std::process::id(),
            rand_suffix()
        ));
        let mut f = std::fs::File::create(&p).unwrap();
        super::Write::write_all(&mut f, body.as_bytes()).unwrap();
        TempPath(p)
    }
    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}

#[test]
fn valid_toml_and_json_files_price_models() {
    let toml = file("toml", "[[models]]\nprovider = \"internal\"\nmodel = \"llama-private\"\ncurrency = \"EUR\"\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n");
    let json = file(
        "json",
        r#"{"models":[{"model":"claude-sonnet-4-5","input_per_mtok":1.0,"output_per_mtok":1.0}]}"#,
    );
    let p = Pricing::builder()
        .overrides_file(&toml.0)
        .overrides_file(&json.0)
        .build()
        .unwrap();
    let u = Usage {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
        ..Default::default()
    };
    let eur = p.cost("internal", "llama-private", &u).unwrap();
    assert_eq!((eur.amount, eur.currency.as_str()), (3.0, "EUR"));
    assert_eq!(
        p.cost("anthropic", "claude-sonnet-4-5", &u).unwrap().amount,
        2.0,
        "override beats database"
    );
}

#[test]
fn malformed_files_are_typed_errors() {
    let cases = [
        ("toml", "[[models]]\nmodel = \n", "parse"),
        ("json", r#"{"models":[{"model":"m"}]}"#, "parse"),
        ("json", r#"{"models":[{"model":"m","input_per_mtok":1,"output_per_mtok":1,"colour":"red"}]}"#, "parse"),
        ("json", r#"{"models":[{"model":"m","input_per_mtok":-1,"output_per_mtok":1}]}"#, "invalid"),
        ("toml", "[[models]]\nmodel = \"m\"\ncurrency = \"dollars\"\ninput_per_mtok = 1\noutput_per_mtok = 1\n", "invalid"),
        ("yaml", "models: []", "format"),
    ];
    for (ext, body, kind) in cases {
        let f = file(ext, body);
        let err = load_overrides(&f.0).unwrap_err();
        let ok = match kind {
            "parse" => matches!(err, PricingError::Parse { .. }),
            "invalid" => matches!(err, PricingError::Invalid { .. }),
            _ => matches!(err, PricingError::UnknownFormat(_)),
        };
        assert!(ok, "{ext} {body}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    let capture = Capture::new();
    let err = LlmTelemetry::builder(capture.telemetry())
        .prices_file("/nonexistent/p.toml")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            baker_otel_llm::LlmInitError::Pricing(PricingError::Io { .. })
        ),
        "{err:?}"
    );
    let err = LlmTelemetry::builder(capture.telemetry())
        .env_source(baker_otel::config::EnvSource::from_pairs([(
            "BAKER_LLM_JOB_BUDGET_USD",
            "lots",
        )]))
        .build()
        .unwrap_err();
    match err {
        baker_otel_llm::LlmInitError::Config(e) => assert_eq!(e.name(), "BAKER_LLM_JOB_BUDGET_USD"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_model_is_unpriced_and_budget_exceeded_is_reported() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .job_budget(Budget::usd(0.001))
        .conversation_budget(Budget::usd(0.001))
        .build()
        .unwrap();
    capture.in_scope(|| {
        let _ids = BakerScope::current()
            .conversation_id("conv-b")
            .job_id("job-b")
            .attach();
        let root = tracing::info_span!("job");
        let _e = root.enter();
        let job = JobUsage::start();
        let unknown = llm_span!(model = "my-secret-finetune-v9", provider = "nobody");
        unknown.record_usage(Usage {
            input_tokens: 10,
            output_tokens: 10,
            ..Default::default()
        });
        drop(unknown);
        for _ in 0..2 {
            let s = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
            s.record_usage(Usage {
                input_tokens: 10_000,
                output_tokens: 1_000,
                ..Default::default()
            });
        }
        let t = job.finish();
        assert_eq!(t.unpriced_calls, 1);
        assert_eq!(t.calls, 3);
    });
    let spans = capture.spans();
    let unknown = spans
        .iter()
        .find(|s| s.name == "chat my-secret-finetune-v9")
        .unwrap();
    assert!(
        Capture::attr(unknown, "gen_ai.usage.cost.amount").is_none(),
        "never a guess"
    );
    assert_eq!(capture.metric_total("baker.llm.unpriced_calls"), Some(1.0));
    assert_eq!(
        capture.metric_total("baker.llm.budget.exceeded"),
        Some(2.0),
        "job + conversation, once each"
    );
    let prom = capture.prometheus_text();
    assert!(
        prom.contains("scope=\"job\"") && prom.contains("scope=\"conversation\""),
        "{prom}"
    );
    let warnings: Vec<_> = capture
        .json_lines()
        .into_iter()
        .filter(|l| l["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w["message"] == "job cost budget exceeded" && w["job_id"] == "job-b"));
}

#[test]
fn memory_store_gauges_report_callback_values() {
    let capture = Capture::new();
    let t = LlmTelemetry::builder(capture.telemetry())
        .bundled_prices(false)
        .build()
        .unwrap();
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let reg = t.register_memory_store("notes", move || {
        c.fetch_add(1, Ordering::SeqCst);
        baker_otel_llm::MemoryStoreStats {
            items: 12,
            bytes: 4096,
        }
    });
    assert_eq!(capture.metric_total("baker.memory.store.items"), Some(12.0));
    assert_eq!(
        capture.metric_total("baker.memory.store.size"),
        Some(4096.0)
    );
    assert!(capture
        .prometheus_text()
        .contains("baker_memory_store_size_bytes{"));
    drop(reg);
    let before = calls.load(Ordering::SeqCst);
    assert!(before > 0);
    let _ = capture.prometheus_text();
    capture.flush();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "callback no longer runs after the registration is dropped"
    );
}

/// A flood of new conversation ids (issue #14) cannot reset the budget of a conversation in
/// use: it still goes over its budget exactly when its own cost does.
#[test]
fn a_flood_of_conversation_ids_does_not_reset_a_real_budget() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .conversation_budget(Budget::usd(0.1))
        .conversation_state(100, std::time::Duration::from_secs(3600))
        .price_override(baker_otel_llm::PriceOverride::new("flood-model", 1.0, 1.0))
        .build()
        .unwrap();
    let call = |conv: &str, tokens: u64| {
        BakerScope::current().conversation_id(conv).in_scope(|| {
            let s = llm_span!(model = "flood-model");
            s.record_usage(Usage {
                input_tokens: tokens,
                output_tokens: 0,
                ..Default::default()
            });
        });
    };
    capture.in_scope(|| {
        // $1 per million input tokens: 40 000 tokens = $0.04.
        call("real-conv", 40_000);
        call("real-conv", 40_000); // $0.08, used twice: protected
        for i in 0..10_000 {
            call(&format!("forged-{i}"), 1);
        }
        assert_eq!(capture.metric_total("baker.llm.budget.exceeded"), None);
        call("real-conv", 40_000); // $0.12 > $0.10 only if the $0.08 survived
    });
    assert_eq!(capture.metric_total("baker.llm.budget.exceeded"), Some(1.0));
    let warn = capture
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "conversation cost budget exceeded")
        .expect("the real conversation went over");
    assert_eq!(warn["conversation_id"], "real-conv");
}
