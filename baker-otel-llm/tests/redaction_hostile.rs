//! Security audit 2026-12, finding 2: redacting captured content must not be a CPU sink an
//! attacker can drive. `prepare` runs on the task that makes the LLM call, so a 1 MB message of
//! repeated PEM headers (quadratic for an unbounded lazy PEM body) or of non-ASCII text (Unicode
//! word boundaries push the regex engine off its fast path) must cost about as much as any
//! other message.
//!
//! This is the crate's one test with a time bound, and the bound is deliberately generous: the
//! work is bounded by design (redaction only sees `max_bytes` plus a small margin; the unit
//! tests in `content/prepare.rs` assert that), and the bound only has to separate
//! "milliseconds" from "the 35 s a 1 MB hostile message took before", in a debug build, on a
//! loaded 2-core machine. The criterion rows in `benches/llm.rs` (`redaction/*`) give the real
//! figures.

use baker_otel_llm::content::{CapturePolicy, ContentKind};
use std::time::{Duration, Instant};

/// Generous: a debug build on a shared 2-core machine; the fixed code needs a few ms.
const GENEROUS: Duration = Duration::from_secs(2);

fn hostile_inputs() -> Vec<(&'static str, String)> {
    let pem = "-----BEGIN PRIVATE KEY-----".repeat(40_000);
    let non_ascii = "é password=x ".repeat(100_000);
    let pem_json = serde_json::json!([{"role": "user", "content": pem}]).to_string();
    let non_ascii_json = serde_json::json!({"content": non_ascii}).to_string();
    vec![
        ("repeated PEM headers", pem),
        ("non-ASCII key=value text", non_ascii),
        ("repeated PEM headers in JSON", pem_json),
        ("non-ASCII key=value text in JSON", non_ascii_json),
    ]
}

#[test]
fn megabyte_hostile_inputs_are_prepared_in_bounded_time() {
    let policy = CapturePolicy::all();
    for (name, input) in hostile_inputs() {
        assert!(input.len() >= 1_000_000, "{name}");
        let started = Instant::now();
        let text = policy.prepare(ContentKind::Input, &input).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&input).unwrap_or(serde_json::Value::Null);
        let from_value =
            (!json.is_null()).then(|| policy.prepare_json(ContentKind::Input, json).unwrap());
        let took = started.elapsed();
        assert!(took < GENEROUS, "{name}: {took:?}");
        for out in std::iter::once(&text).chain(from_value.as_ref()) {
            assert!(
                out.len() <= CapturePolicy::DEFAULT_MAX_BYTES + 64,
                "{name}: {}",
                out.len()
            );
            assert!(out.contains("[truncated"), "{name}: {out:.200}");
            assert!(!out.contains("password=x"), "{name}: {out:.200}");
            assert!(!out.contains("PRIVATE KEY-----"), "{name}: {out:.200}");
        }
    }
}
