//! Secrets are never printed: a process with an API key in `OTEL_EXPORTER_OTLP_HEADERS` and
//! `RUST_LOG=trace` (and, in a second run, the SDK's own events switched on with
//! `opentelemetry=trace`) writes the key in no stdout/stderr line and exports it in no record;
//! a malformed header variable fails `init` with an error that names the variable, not the key.
//!
//! The test re-runs its own binary as the child process (selected by `BAKER_OTEL_SECRET_CHILD`),
//! so that everything the process writes can be read.
use fake_opentelemetry_collector::FakeCollectorServer;
use std::process::{Command, Output};
use std::time::Duration;

const SECRET: &str = "sk-live-7f3b9c2e41d0a8";
const TEST: &str = "secret_header_values_are_never_printed_nor_exported";

/// What the child does: init from the process environment, log and trace a little, shut down.
fn child() {
    match baker_otel::init() {
        Ok(telemetry) => {
            tracing::info_span!("child work", job.kind = "secret-test").in_scope(|| {
                tracing::info!(answer = 42, "child log line");
                tracing::warn!("child warning");
            });
            telemetry.shutdown().expect("shutdown");
            println!("CHILD-DONE");
        }
        Err(e) => {
            eprintln!("init failed: {e}");
            eprintln!("init failed (debug): {e:?}");
            println!("CHILD-INIT-FAILED");
        }
    }
}

fn run_child(envs: &[(&str, String)]) -> (String, Output) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env("BAKER_OTEL_SECRET_CHILD", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "RUST_LOG" || k.starts_with("BAKER_OTEL") {
            cmd.env_remove(k);
        }
    }
    cmd.env("BAKER_OTEL_SECRET_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_header_values_are_never_printed_nor_exported() {
    if std::env::var_os("BAKER_OTEL_SECRET_CHILD").is_some() {
        child();
        return;
    }
    for rust_log in ["trace", "trace,opentelemetry=trace"] {
        let mut collector = FakeCollectorServer::start().await.expect("collector");
        let envs = [
            ("OTEL_SERVICE_NAME", "secret-child".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("x-api-key={SECRET},x-tenant=acme"),
            ),
            ("OTEL_TRACES_EXPORTER", "otlp,console".to_owned()),
            ("OTEL_LOGS_EXPORTER", "otlp,console".to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()),
            ("RUST_LOG", rust_log.to_owned()),
        ];
        let (text, out) = tokio::task::spawn_blocking(move || run_child(&envs))
            .await
            .unwrap();
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(text.contains("CHILD-DONE"), "{text}");
        assert!(
            text.contains("\"message\":\"child log line\""),
            "the child wrote its JSON lines:\n{text}"
        );
        assert!(
            text.contains("\"target\":\"h2") || text.contains("\"target\":\"tower"),
            "RUST_LOG=trace reaches the exporter stack's own events:\n{text}"
        );
        assert!(
            !text.contains(SECRET),
            "RUST_LOG={rust_log}: the secret was printed:\n{}",
            text.lines()
                .filter(|l| l.contains(SECRET))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if rust_log.contains("opentelemetry=trace") {
            // Asked for, the SDK's own events are written (and still carry no secret).
            assert!(
                text.contains("Global tracer provider is set"),
                "RUST_LOG reaches the SDK's events:\n{text}"
            );
        } else {
            assert!(
                !text.contains("Global tracer provider is set")
                    && !text.contains("TonicChannelBuilt"),
                "the SDK's own events stay quiet unless asked for:\n{text}"
            );
        }
        let spans = collector.exported_spans(1, Duration::from_secs(20)).await;
        let logs = collector.exported_logs(2, Duration::from_secs(20)).await;
        assert!(spans.iter().any(|s| s.name == "child work"));
        assert!(logs.iter().any(|l| l
            .body
            .as_deref()
            .is_some_and(|b| b.contains("child log line"))));
        let exported = format!("{spans:?}{logs:?}");
        assert!(!exported.contains(SECRET), "a record carries the secret");
    }

    // A malformed header variable: init fails naming the variable, and the value is not echoed.
    let envs = [
        ("OTEL_SERVICE_NAME", "secret-child".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("x-api-key={SECRET},{SECRET}-without-equals"),
        ),
        ("RUST_LOG", "trace".to_owned()),
    ];
    let (text, out) = tokio::task::spawn_blocking(move || run_child(&envs))
        .await
        .unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("CHILD-INIT-FAILED"), "{text}");
    assert!(
        text.contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS") && text.contains("[REDACTED]"),
        "{text}"
    );
    assert!(
        !text.contains(SECRET),
        "the malformed value was echoed:\n{text}"
    );
}

#[test]
fn debug_output_of_the_configuration_redacts_header_values() {
    let env = baker_otel::config::EnvSource::from_pairs([
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("x-api-key={SECRET}")),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            format!("authorization=Bearer {SECRET}"),
        ),
    ]);
    let printed = format!("{env:?}");
    assert!(!printed.contains(SECRET) && printed.contains("OTEL_EXPORTER_OTLP_HEADERS"));
    let b = baker_otel::Telemetry::builder()
        .env_source(env)
        .otlp_header("x-other", SECRET);
    let cfg = b.config().unwrap();
    assert_eq!(
        cfg.logs.headers[0].1,
        format!("Bearer {SECRET}"),
        "values are kept"
    );
    for printed in [format!("{cfg:?}"), format!("{cfg:#?}"), format!("{b:?}")] {
        assert!(!printed.contains(SECRET), "{printed}");
    }
    assert!(format!("{cfg:?}").contains("x-api-key"));
    let err = baker_otel::Telemetry::builder()
        .otlp_header("x-bad", format!("{SECRET}\n"))
        .config()
        .unwrap_err();
    assert!(!err.to_string().contains(SECRET) && !format!("{err:?}").contains(SECRET));
}
