use super::*;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn timestamps() {
    let mut s = String::new();
    write_rfc3339(
        &mut s,
        UNIX_EPOCH + Duration::from_micros(1_764_102_379_123_456),
    );
    assert_eq!(s, "2025-11-25T20:26:19.123456Z");
    s.clear();
    write_rfc3339(&mut s, UNIX_EPOCH + Duration::from_secs(951_782_400)); // leap day 2000
    assert_eq!(s, "2000-02-29T00:00:00.000000Z");
    // The digit writer agrees with `format!` over a spread of instants (incl. past 9999).
    for micros in (0..40)
        .map(|i| i * 299_999_999_999_989 + i * 7)
        .chain([u64::from(u32::MAX) * 100_000_000])
    {
        let t = UNIX_EPOCH + Duration::from_micros(micros);
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        let (days, rem) = (d.as_secs() / 86_400, d.as_secs() % 86_400);
        let (y, m, dd) = civil_from_days(days as i64);
        let want = format!(
            "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:06}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60,
            d.subsec_micros()
        );
        s.clear();
        write_rfc3339(&mut s, t);
        assert_eq!(s, want);
    }
}

#[test]
fn first_to_escape_matches_a_byte_scan() {
    let slow = |b: &[u8]| b.iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\');
    let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"plain ascii text, longer than 8".to_vec()];
    for bad in [0u8, 0x1f, b'"', b'\\', b'\n'] {
        for pos in 0..20 {
            let mut v = "héllo wörld, json!!".as_bytes().to_vec();
            v.truncate(19);
            v.insert(pos.min(v.len()), bad);
            cases.push(v);
        }
    }
    cases.push(vec![
        0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0xc3, 0xa9,
    ]);
    for c in &cases {
        assert_eq!(first_to_escape(c), slow(c), "{c:?}");
    }
}

#[test]
fn escaping_is_valid_json() {
    let mut s = String::new();
    write_json_str(&mut s, "a\"b\\c\nd\u{1}é");
    let v: String = serde_json::from_str(&s).unwrap();
    assert_eq!(v, "a\"b\\c\nd\u{1}é");
}

#[test]
fn exporter_events_never_show_header_values() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let layer = JsonLayer::new("svc", JsonSink::Memory(lines.clone()))
        .with_secrets(vec!["s3cr3t-key".into(), "quo\"te".into()]);
    let sub = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(sub, || {
        // The shape of opentelemetry-otlp's `TonicChannelBuilt` debug event.
        tracing::debug!(target: "opentelemetry-otlp", name = "TonicChannelBuilt",
            headers = ?[("x-api-key", "s3cr3t-key"), ("x-q", "quo\"te")], "");
        tracing::trace!(target: "h2::codec", "frame s3cr3t-key");
        tracing::warn!(target: "baker_otel::internal", error = "bad s3cr3t-key", "x");
        tracing::info!(target: "brain", "application line");
    });
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 4);
    for l in &lines[..3] {
        assert!(!l.contains("s3cr3t") && !l.contains("quo\\\"te"), "{l}");
        assert!(l.contains("[REDACTED]"), "{l}");
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
}

#[test]
fn lines_parse_and_carry_fields() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sub = tracing_subscriber::registry()
        .with(JsonLayer::new("svc\"x", JsonSink::Memory(lines.clone())));
    tracing::subscriber::with_default(sub, || {
        let huge = "y".repeat(100_000);
        tracing::info!(n = 5, f = 1.5, ok = true, nan = f64::NAN, s = "str", d = ?vec![1, 2], huge = %huge, "hello {}", "world");
        tracing::warn!(job_id = "j-from-field", "explicit id");
    });
    let lines = lines.lock().unwrap();
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["message"], "hello world");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["n"], 5);
    assert_eq!(v["f"], 1.5);
    assert_eq!(v["ok"], true);
    assert!(v["nan"].is_null());
    assert_eq!(v["d"], "[1, 2]");
    assert_eq!(v["service.name"], "svc\"x");
    assert!(v["huge"].as_str().unwrap().ends_with("…[truncated]"));
    assert!(v.get("trace_id").is_none(), "no span, no trace id");
    let w: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(w["job_id"], "j-from-field");
}
