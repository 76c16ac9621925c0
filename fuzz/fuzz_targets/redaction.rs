//! Content redaction on arbitrary chat messages and tool arguments: never panics, JSON stays
//! JSON, and a realistic secret embedded in fuzzer-chosen text never survives — also when the
//! value is cut to a small `max_bytes` (redaction then sees a bounded window; a secret across
//! the cut must not be emitted).
//! Input: `<secret index byte><filler bytes>`; the filler is the message around the secret
//! (kept to letters, spaces and light punctuation so it cannot legitimately glue onto it), and
//! the raw bytes are also redacted as they are. The second byte, when there is one, picks the
//! small `max_bytes` (0..=255). A first byte of 0xf0 or more instead repeats the rest to
//! 256 KiB: the hostile-size case, which must take well under 2 s.
#![no_main]
use baker_otel_llm::content::{CapturePolicy, ContentKind};
use libfuzzer_sys::fuzz_target;

/// (text with the secret, part that must not survive) — the realistic corpus of issue #14.
const SECRETS: &[(&str, &str)] = &[
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("DB_PASSWORD=s3cr3t-Pa55", "s3cr3t-Pa55"),
    ("client_secret: 0aB1cD2eF3gH4iJ5kL6m", "0aB1cD2eF3gH4iJ5kL6m"),
    ("refresh_token=1//0gLqT9xVbN", "1//0gLqT9xVbN"),
    ("sk_live_51HxYzAbCdEfGhIjKlMnOp", "sk_live_51HxYzAbCdEfGhIjKlMnOp"),
    ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678"),
    ("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", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"),
    ("AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4==", "Zm9vYmFyYmF6cXV4Zm9vYmFy"),
    ("postgres://app:hunter2pass@db:5432/app", "hunter2pass"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn"),
    ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx"),
    // Security audit 2026-12, finding 4.
    ("DB_PASSWORD=Xk9;mP2&q!", "mP2&q!"),
    ("password: \"correct horse battery staple\"", "horse battery"),
    ("redis://:hunter2pass@redis:6379", "hunter2pass"),
    ("postgres://app:ab/c+d==@db", "ab/c+d=="),
    ("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", "U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8"),
    ("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", "1qH6YytwMe4LbyoVFz8uZdZv8FuKKIBJ"),
    ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0.", "eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0"),
];

fuzz_target!(|data: &[u8]| {
    let policy = CapturePolicy::all().max_bytes(1 << 20);
    // Arbitrary bytes, as text and as (possibly) JSON: never panics; JSON in, JSON out.
    let raw = String::from_utf8_lossy(data);
    let out = policy.prepare(ContentKind::Input, &raw).unwrap();
    if serde_json::from_str::<serde_json::Value>(raw.trim_start())
        .is_ok_and(|v| v.is_object() || v.is_array())
    {
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "{out}"
        );
    }

    let Some((&pick, rest)) = data.split_first() else {
        return;
    };

    // Hostile size (audit finding 2: 1 MB of repeated PEM headers took 34.7 s): the input
    // repeated to 256 KiB, as text and inside a chat message, with the default policy.
    // Redaction sees a bounded window and the rest is linear (a few ms here, instrumented);
    // a rule that is quadratic over the whole text takes seconds, and fails.
    if pick >= 0xf0 && !rest.is_empty() {
        let unit = String::from_utf8_lossy(rest);
        let big = unit.repeat((256 << 10) / unit.len() + 1);
        let policy = CapturePolicy::all();
        let max = CapturePolicy::DEFAULT_MAX_BYTES;
        let msg =
            serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": big}]}]);
        let msg = msg.to_string();
        let start = std::time::Instant::now();
        for input in [&big, &msg] {
            let out = policy.prepare(ContentKind::Input, input).unwrap();
            assert!(out.len() <= max + 40, "{} bytes", out.len());
        }
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_secs(2),
            "256 KiB took {took:?}"
        );
        return;
    }
    let (text, secret) = SECRETS[pick as usize % SECRETS.len()];
    let filler: String = rest
        .iter()
        .map(|b| match b % 32 {
            0..=25 => (b'a' + b % 32) as char,
            26 | 27 => ' ',
            28 => '.',
            29 => ',',
            30 => '!',
            _ => '?',
        })
        .collect();
    let (before, after) = filler.split_at(filler.len() / 2);
    let content = format!("{before} {text} {after}");
    let msg =
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": content}]}]);
    let out = policy
        .prepare(ContentKind::Input, &msg.to_string())
        .unwrap();
    assert!(!out.contains(secret), "{out}");
    let args = serde_json::json!({"query": content, "top_k": 3});
    let out = policy
        .prepare_json(ContentKind::ToolArguments, args.clone())
        .unwrap();
    assert!(!out.contains(secret), "{out}");

    // Cut short: the bounded window, the JSON byte budget and the cut marker.
    let max = rest.first().copied().unwrap_or(0) as usize;
    let small = CapturePolicy::all().max_bytes(max);
    for out in [
        small.prepare(ContentKind::Input, &content).unwrap(),
        small.prepare(ContentKind::Input, &msg.to_string()).unwrap(),
        small
            .prepare_json(ContentKind::ToolArguments, args)
            .unwrap(),
    ] {
        assert!(!out.contains(secret), "max {max}: {out}");
        assert!(out.len() <= max + 40, "max {max}: {} bytes", out.len());
    }
});
