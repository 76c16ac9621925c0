//! Issue #14: redaction holds on realistic secrets embedded in chat messages and tool
//! arguments — in plain text, `key=value`, YAML and JSON forms, on the parsed JSON — and error
//! descriptions follow the content policy.

use baker_otel_llm::content::{CapturePolicy, ContentKind, Redactor};
use proptest::prelude::*;

/// (text containing the secret, the secret's sensitive part that must not survive).
pub fn corpus() -> Vec<(String, String)> {
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END PRIVATE KEY-----\n";
    let pem_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let gcp = serde_json::json!({
        "type": "service_account",
        "project_id": "demo",
        "private_key_id": "4f2c0d1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "private_key": pem,
        "client_email": "bot@demo.iam.gserviceaccount.com",
    })
    .to_string();
    let v = |t: &str, s: &str| (t.to_owned(), s.to_owned());
    vec![
        v("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        v("AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        v("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        v("DB_PASSWORD=s3cr3t-Pa55", "s3cr3t-Pa55"),
        v("client_secret=0aB1cD2eF3gH4iJ5kL6m", "0aB1cD2eF3gH4iJ5kL6m"),
        v("access_token=ya29.a0AfH6SMBx7Qw", "ya29.a0AfH6SMBx7Qw"),
        v("refresh_token: 1//0gLqT9xVbN", "1//0gLqT9xVbN"),
        v("mysql -u root pwd=Tr0ub4dor", "Tr0ub4dor"),
        v("use sk_live_51HxYzAbCdEfGhIjKlMnOp for billing", "sk_live_51HxYzAbCdEfGhIjKlMnOp"),
        v("hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678 is my token", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678"),
        v("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", "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"),
        v("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy==;EndpointSuffix=core.windows.net", "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4"),
        v(pem, pem_body),
        (gcp, pem_body.to_owned()),
        v("connect to postgres://app:hunter2pass@db.internal:5432/app", "hunter2pass"),
        v("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        v("Authorization: Bearer abcdef0123456789xyz", "abcdef0123456789xyz"),
        v("post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now", "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
        v("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
        v("card 5500-0000-0000-0004", "5500-0000-0000-0004"),
        v("GET https://maps.googleapis.com/maps/api?key=AIzaSyD-1234567890abcdefghijklmnopqrs", "AIzaSyD-1234567890abcdefghijklmnopqrs"),
        v("token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
        v("glpat-AbCdEfGhIj0123456789", "glpat-AbCdEfGhIj0123456789"),
        v("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        v("key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx"),
        v("password: hunter2", "hunter2"),
        v("api_key: \"AbC123xyz\"", "AbC123xyz"),
        v("xoxb-123456789012-123456789012-AbCdEfGhIjKl", "xoxb-123456789012-123456789012-AbCdEfGhIjKl"),
        v("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ]
}

fn policy() -> CapturePolicy {
    CapturePolicy::all().max_bytes(1 << 20)
}

#[test]
fn every_corpus_secret_is_redacted_in_text_chat_messages_and_tool_arguments() {
    let p = policy();
    for (text, secret) in corpus() {
        let plain = p.prepare(ContentKind::Input, &text).unwrap();
        assert!(!plain.contains(&secret), "text: {plain}");
        // In a chat message, serialised: JSON escaping must not help the secret survive.
        let msg =
            serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": text}]}]);
        let out = p.prepare(ContentKind::Input, &msg.to_string()).unwrap();
        assert!(!out.contains(&secret), "message: {out}");
        assert!(out.contains("[REDACTED]"), "message: {out}");
        let out = p.prepare_json(ContentKind::Input, msg).unwrap();
        assert!(!out.contains(&secret), "message value: {out}");
        // As a tool argument string.
        let args = serde_json::json!({"note": text, "n": 1});
        let out = p
            .prepare(ContentKind::ToolArguments, &args.to_string())
            .unwrap();
        assert!(!out.contains(&secret), "tool args: {out}");
    }
}

#[test]
fn json_values_of_sensitive_keys_are_redacted_whatever_the_quoting() {
    let r = Redactor::default();
    // The issue's case: `"password": "hunter2"` once became `[REDACTED]"hunter2\"`.
    let out = r.redact_text_or_json(r#"{"user":"ann","password":"hunter2"}"#);
    assert_eq!(out, r#"{"user":"ann","password":"[REDACTED]"}"#);
    let out = r.redact_text_or_json(
        r#"[{"role":"tool","content":"{\"DB_PASSWORD\": \"hunter2\", \"rows\": 3}"}]"#,
    );
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("rows"), "{out}");
    for key in [
        "pwd",
        "client_secret",
        "accessToken",
        "refresh-token",
        "AccountKey",
        "x-api-key",
        "Authorization",
        "private_key",
    ] {
        let mut v =
            serde_json::json!({ key: "value-that-must-go", "max_tokens": 5, "input_tokens": 7 });
        r.redact_json(&mut v);
        assert_eq!(v[key], "[REDACTED]", "{key}");
        assert_eq!(v["max_tokens"], 5, "not a secret");
        assert_eq!(v["input_tokens"], 7, "not a secret");
    }
    // Non-secrets survive: ordinary prose, numbers that fail Luhn, words containing keywords.
    let prose = "The secretary passed 12 tokens; order 1234567890123 ships on 2026-12-03.";
    assert_eq!(r.redact(prose), prose);
}

#[test]
fn error_descriptions_follow_the_content_policy() {
    let e = "400 Bad Request: {\"api_key\": \"sk-proj-AbCdEfGhIjKlMnOpQrSt\"} at https://x.example/v1?key=abc123";
    assert_eq!(
        CapturePolicy::none().error_description(ContentKind::Output, e),
        None
    );
    let d = policy().error_description(ContentKind::Output, e).unwrap();
    assert!(
        !d.contains("sk-proj-AbCdEfGhIjKlMnOpQrSt") && !d.contains("abc123"),
        "{d}"
    );
}

fn secret() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[A-Za-z0-9/+]{40}".prop_map(|s| (format!("aws_secret_access_key={s}"), s)),
        "[A-Za-z0-9]{24}".prop_map(|s| (format!("sk_live_{s}"), format!("sk_live_{s}"))),
        "[A-Za-z]{34}".prop_map(|s| (format!("hf_{s}"), format!("hf_{s}"))),
        ("[A-Za-z0-9]{22}", "[A-Za-z0-9]{43}")
            .prop_map(|(a, b)| (format!("SG.{a}.{b}"), format!("SG.{a}.{b}"))),
        "[A-Za-z0-9!#%]{8,20}".prop_map(|s| (format!("DB_PASSWORD={s}"), s)),
        "[A-Za-z0-9]{12,30}".prop_map(|s| (format!("client_secret: {s}"), s)),
        "[A-Za-z0-9._]{12,30}".prop_map(|s| (format!("refresh_token={s}"), s)),
        "[A-Za-z0-9]{10,20}".prop_map(|s| (format!("postgres://app:{s}@db:5432/x"), s)),
        "[A-Za-z0-9+/]{86}".prop_map(|s| (format!("AccountKey={s}=="), s)),
        "[A-Za-z0-9+/]{24,60}".prop_map(|s| (format!("Authorization: Basic {s}"), s)),
        // Card numbers: 15 random digits + the Luhn check digit.
        "[1-9][0-9]{14}".prop_map(|s| {
            let card = with_luhn_digit(&s);
            (card.clone(), card)
        }),
    ]
}

fn with_luhn_digit(body: &str) -> String {
    for d in 0..10 {
        let c = format!("{body}{d}");
        if baker_otel_llm::content::luhn_valid(&c) {
            return c;
        }
    }
    unreachable!("one check digit always works")
}

proptest! {
    #[test]
    fn secrets_in_chat_messages_and_tool_arguments_never_survive(
        before in "[a-z ]{0,30}",
        after in "[ ,.!?][a-z ]{0,30}",
        (text, payload) in secret(),
        key in prop_oneof![Just("password"), Just("api_key"), Just("client_secret"), Just("note"), Just("query")],
    ) {
        let p = policy();
        let content = format!("{before} {text}{after}");
        let msg = serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": content}]}]);
        let out = p.prepare(ContentKind::Input, &msg.to_string()).unwrap();
        prop_assert!(!out.contains(&payload), "{out}");
        let args = serde_json::json!({ key: content, "limit": 3 });
        let out = p.prepare(ContentKind::ToolArguments, &args.to_string()).unwrap();
        prop_assert!(!out.contains(&payload), "{out}");
        let out = p.prepare_json(ContentKind::ToolArguments, serde_json::json!({ key: &payload })).unwrap();
        prop_assert!(key == "note" || key == "query" || !out.contains(&payload), "{out}");
    }

    #[test]
    fn redaction_output_of_json_input_is_json(s in "\\PC{0,60}") {
        let v = serde_json::json!({"content": s, "password": s});
        let out = Redactor::default().redact_text_or_json(&v.to_string());
        prop_assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok(), "{out}");
    }
}
