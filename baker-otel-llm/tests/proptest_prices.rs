//! Price files from users are untrusted input: arbitrary text never panics, and whatever is
//! accepted has validated (finite, non-negative) prices.
use baker_otel_llm::pricing::parse_overrides;
use proptest::prelude::*;
use std::path::Path;

fn json_entry() -> impl Strategy<Value = String> {
    (
        "[a-z0-9\\-\\.]{0,24}",
        prop_oneof![Just("1.5".to_string()), Just("-3".to_string()), Just("1e400".to_string()), Just("\"x\"".to_string()), "[0-9]{1,6}"],
        prop_oneof![Just("0".to_string()), Just("null".to_string()), "[0-9]{1,3}\\.[0-9]{1,3}"],
        prop_oneof![Just("USD"), Just(""), Just("EUR"), Just("€€€")],
    )
        .prop_map(|(model, i, o, cur)| {
            format!(r#"{{"model":"{model}","input_per_mtok":{i},"output_per_mtok":{o},"currency":"{cur}"}}"#)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}", fmt in prop_oneof![Just("json"), Just("toml"), Just("yaml")]) {
        let _ = parse_overrides(&text, fmt, Path::new("prices"));
    }

    #[test]
    fn structured_but_hostile_json_is_validated(entries in prop::collection::vec(json_entry(), 0..6)) {
        let text = format!(r#"{{"models":[{}]}}"#, entries.join(","));
        if let Ok(prices) = parse_overrides(&text, "json", Path::new("prices.json")) {
            for p in prices {
                prop_assert!(p.input_per_mtok.is_finite() && p.input_per_mtok >= 0.0, "{p:?}");
                prop_assert!(p.output_per_mtok.is_finite() && p.output_per_mtok >= 0.0, "{p:?}");
                prop_assert!(!p.model.is_empty(), "{p:?}");
            }
        }
    }
}
