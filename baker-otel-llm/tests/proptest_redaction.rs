//! Redaction never panics and never leaves a known secret; truncation keeps UTF-8 valid.

use baker_otel_llm::content::{truncate, CapturePolicy, ContentKind, Redactor};
use proptest::prelude::*;

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{20,40}".prop_map(|s| format!("sk-ant-api03-{s}")),
        "[A-Za-z0-9]{20,40}".prop_map(|s| format!("sk-proj-{s}")),
        "[A-Z0-9]{16}".prop_map(|s| format!("AKIA{s}")),
        "[A-Za-z0-9]{36}".prop_map(|s| format!("ghp_{s}")),
        "[0-9]{10,12}-[A-Za-z0-9]{20}".prop_map(|s| format!("xoxb-{s}")),
        "[A-Za-z0-9_]{20,40}".prop_map(|s| format!("Bearer {s}")),
        (
            "[A-Za-z0-9_]{10,20}",
            "[A-Za-z0-9_]{10,20}",
            "[A-Za-z0-9_]{10,20}"
        )
            .prop_map(|(a, b, c)| format!("eyJ{a}.{b}.{c}")),
        "[A-Za-z0-9]{8,20}".prop_map(|s| format!("api_key={s}")),
        "[A-Za-z0-9!#%]{8,20}".prop_map(|s| format!("password: {s}")),
    ]
}

proptest! {
    #[test]
    fn redaction_never_panics(text in any::<String>(), max in 0usize..200) {
        let p = CapturePolicy::all().max_bytes(max);
        let out = p.prepare(ContentKind::Input, &text).unwrap();
        prop_assert!(out.len() <= max + 40 || out.len() <= text.len() + 40);
    }

    #[test]
    fn known_secrets_are_removed(prefix in "[ a-z\n]{0,30}", s in secret(), suffix in "[ ,;.\n][ a-z]{0,30}") {
        let text = format!("{prefix} {s}{suffix}");
        let out = Redactor::default().redact(&text).into_owned();
        let payload: String = s.rsplit([' ', '=', '-', '_', ':']).next().unwrap().to_owned();
        prop_assert!(!out.contains(&s), "{out}");
        prop_assert!(payload.len() < 8 || !out.contains(&payload), "{out} still has {payload}");
        prop_assert!(out.contains("[REDACTED]"));
    }

    #[test]
    fn truncation_is_char_safe(text in "\\PC{0,80}", max in 0usize..100) {
        let t = truncate(&text, max);
        prop_assert!(t.len() <= text.len().max(max) + 40);
    }
}
